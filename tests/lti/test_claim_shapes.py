"""Whatever shape a platform's claims take, reading a launch either gives a launch whose every field
fits where it is stored, or refuses it with a stable code: never another exception, which would be
a 5xx with the state and nonce spent (issue 51, finding 5). Generated claims: wrong types, NULs,
lone surrogates, long strings, deep nesting, in every claim the tool reads."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.lti import claims as lti_claims
from core.lti.deep_linking import response_claims
from core.lti.errors import LtiError
from core.lti.registration import registered_client

BASE = {
    "iss": "https://lms.example.edu",
    "sub": "u-1",
    lti_claims.VERSION: lti_claims.LTI_VERSION,
    lti_claims.MESSAGE_TYPE: lti_claims.RESOURCE_LINK_REQUEST,
    lti_claims.DEPLOYMENT_ID: "1",
    lti_claims.TARGET_LINK_URI: "https://tool.example/lti/home",
    lti_claims.RESOURCE_LINK: {"id": "link-1", "title": "Week 1"},
    lti_claims.ROLES: ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
    lti_claims.CONTEXT: {"id": "c-1", "title": "Course", "label": "C1"},
    lti_claims.AGS_ENDPOINT: {"scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"]},
    "name": "Ada",
    "email": "ada@example.edu",
}
HOSTILE_TEXT = st.one_of(
    st.text(max_size=50),
    st.just("a\x00b"),
    st.just("\ud800"),
    st.just("x" * 300),
    st.just("y" * 5000),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), HOSTILE_TEXT)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(HOSTILE_TEXT, inner, max_size=4)),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "sub",
        "name",
        "given_name",
        "family_name",
        "email",
        lti_claims.ROLES,
        lti_claims.CONTEXT,
        lti_claims.RESOURCE_LINK,
        lti_claims.CUSTOM,
        lti_claims.AGS_ENDPOINT,
        lti_claims.NRPS_SERVICE,
        lti_claims.DEEP_LINKING_SETTINGS,
        lti_claims.TARGET_LINK_URI,
    ]
)


def _fits(launch: lti_claims.Launch) -> None:
    """What the database and the pages take: no NUL, UTF-8, within the columns."""
    text = json.dumps(launch.__dict__, default=lambda value: value.__dict__)
    assert "\\u0000" not in text
    text.encode("utf-8")
    assert len(launch.subject) <= 255 and (launch.name is None or len(launch.name) <= 200)
    assert launch.email is None or len(launch.email) <= 320
    if launch.context is not None:
        assert len(launch.context.id) <= 255
        assert all(len(part or "") <= 200 for part in (launch.context.title, launch.context.label))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(FIELDS, VALUES, max_size=4))
def test_any_claims_give_a_launch_that_fits_or_a_stable_refusal(changes: dict) -> None:
    try:
        launch = lti_claims.read_launch({**BASE, **changes}, client_id="tool", deployment_ids=["1"])
    except LtiError as refused:
        assert refused.code.startswith("lti_") and refused.status < 500
        return
    _fits(launch)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "n" * 250),
        ("email", "e" * 330 + "@example.edu"),
        (lti_claims.AGS_ENDPOINT, {"scope": 5}),
        (lti_claims.AGS_ENDPOINT, {"scope": True}),
    ],
)
def test_the_issues_long_and_wrong_typed_claims_are_taken_and_made_to_fit(field: str, value: object) -> None:
    launch = lti_claims.read_launch({**BASE, field: value}, client_id="tool", deployment_ids=["1"])
    _fits(launch)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sub", "s" * 256),
        (lti_claims.CONTEXT, {"id": "c" * 256}),
        ("name", "Ada\x00"),
        ("given_name", "\ud800"),
        (lti_claims.CUSTOM, {"note": "x\x00y"}),
        (
            lti_claims.CUSTOM,
            {
                "a": {
                    "b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": {"k": [[[[[[[[[[[]]]]]]]]]]]}}}}}}}}}
                }
            },
        ),
    ],
)
def test_ids_too_long_and_unstorable_characters_are_refused(field: str, value: object) -> None:
    with pytest.raises(LtiError) as refused:
        lti_claims.read_launch({**BASE, field: value}, client_id="tool", deployment_ids=["1"])
    assert refused.value.code == "lti_claim_invalid"


@pytest.mark.parametrize("accept_types", [5, "ltiResourceLink", None, True])
def test_deep_linking_settings_of_the_wrong_type_are_a_refusal_not_a_crash(accept_types: object) -> None:
    placement = type(
        "Placement", (), {"exercise_id": "e", "title": "t", "url": "https://tool/x", "line_item": None}
    )()
    with pytest.raises(LtiError) as refused:
        response_claims(
            {"deep_link_return_url": "https://lms/return", "accept_types": accept_types},
            [placement],
            client_id="tool",
            platform_issuer="https://lms",
            deployment_id="1",
        )
    assert refused.value.code == "lti_deep_link_refused"


@pytest.mark.parametrize(
    "answer",
    [
        {"client_id": "tool\x00"},
        {"client_id": "x" * 256},
        {
            "client_id": "tool",
            "https://purl.imsglobal.org/spec/lti-tool-configuration": {"deployment_id": "1\x00"},
        },
        {"client_id": 5},
    ],
)
def test_a_registration_answer_with_an_unstorable_id_is_refused(answer: dict) -> None:
    with pytest.raises(LtiError) as refused:
        registered_client(answer)
    assert refused.value.code == "lti_registration_invalid"
