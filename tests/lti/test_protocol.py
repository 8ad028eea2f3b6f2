"""The protocol pieces without a server: the tool key's id against RFC 7638's own example, keys
refused, and a launch's claims read or refused (core/lti/)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from core.lti import claims as lti_claims
from core.lti import tool_keys
from core.lti.errors import LtiError
from core.lti.outbound import call
from core.lti.roles import INSTRUCTOR, LEARNER, teaches
from core.settings import Settings

# RFC 7638, section 3.1: the example RSA key and its SHA-256 thumbprint.
RFC7638_KEY = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
        "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY"
        "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f"
        "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_a_key_id_is_its_rfc7638_thumbprint() -> None:
    public = RSAAlgorithm.from_jwk(RFC7638_KEY)
    assert tool_keys.thumbprint(public) == RFC7638_THUMBPRINT


def test_the_published_set_holds_public_halves_the_signing_key_first() -> None:
    signing, retiring = (tool_keys.load_key(tool_keys.generate_pem()) for _ in range(2))
    published = tool_keys.jwks([signing, retiring])["keys"]
    assert [key["kid"] for key in published] == [signing.kid, retiring.kid]
    assert all(set(key) == {"kty", "n", "e", "kid", "alg", "use"} for key in published)


def _pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize(
    "pem",
    [
        "not a key",
        _pem(ec.generate_private_key(ec.SECP256R1())),
        _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
    ],
    ids=["garbage", "elliptic curve", "rsa 1024"],
)
def test_a_key_that_is_not_rsa_2048_or_more_is_refused(pem: str) -> None:
    with pytest.raises(LtiError) as refused:
        tool_keys.load_key(pem)
    assert refused.value.code == "lti_key_invalid"


def launch(**changes) -> dict:
    claims = {
        "iss": "https://lms.example",
        "sub": "u1",
        lti_claims.VERSION: "1.3.0",
        lti_claims.MESSAGE_TYPE: "LtiResourceLinkRequest",
        lti_claims.DEPLOYMENT_ID: "d1",
        lti_claims.TARGET_LINK_URI: "https://tool.example/lti/home",
        lti_claims.RESOURCE_LINK: {"id": "r1", "title": "Week 1"},
        lti_claims.ROLES: [LEARNER],
        lti_claims.CONTEXT: {"id": "c1", "title": "Course"},
    }
    return {**claims, **changes}


def test_a_launch_is_read_with_its_course_roles_and_services() -> None:
    read = lti_claims.read_launch(
        launch(
            given_name="Ada",
            family_name="Lovelace",
            **{
                lti_claims.AGS_ENDPOINT: {"lineitem": "https://lms.example/li/1", "scope": ["s"]},
                lti_claims.NRPS_SERVICE: {"context_memberships_url": "https://lms.example/m"},
            },
        ),
        client_id="c",
        deployment_ids=["d1"],
    )
    assert (read.name, read.context.id, read.resource_link_id) == ("Ada Lovelace", "c1", "r1")
    assert (read.lineitem_url, read.ags_scopes, read.memberships_url) == (
        "https://lms.example/li/1",
        ("s",),
        "https://lms.example/m",
    )


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({lti_claims.VERSION: "1.1"}, "lti_bad_version"),
        ({lti_claims.MESSAGE_TYPE: "LtiSubmissionReviewRequest"}, "lti_unsupported_message"),
        ({lti_claims.DEPLOYMENT_ID: "d2"}, "lti_unknown_deployment"),
        ({"sub": None}, "lti_anonymous_launch"),
        ({lti_claims.ROLES: "Instructor"}, "lti_claim_invalid"),
        ({lti_claims.CONTEXT: ["c1"]}, "lti_claim_invalid"),
        ({lti_claims.RESOURCE_LINK: {}}, "lti_claim_missing"),
        ({lti_claims.MESSAGE_TYPE: "LtiDeepLinkingRequest"}, "lti_claim_missing"),  # no return URL
    ],
)
def test_a_launch_the_spec_forbids_is_refused_with_its_code(changes: dict, code: str) -> None:
    with pytest.raises(LtiError) as refused:
        lti_claims.read_launch(launch(**changes), client_id="c", deployment_ids=["d1"])
    assert refused.value.code == code


def test_only_a_context_teaching_role_teaches() -> None:
    assert teaches([INSTRUCTOR]) and not teaches([LEARNER])
    assert not teaches(["Instructor"])  # the deprecated short name is not taken
    assert not teaches(["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"])


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/jwks", "http://[fe80::1]/jwks", "file:///etc/passwd", "gopher://lms/"],
)
def test_a_platform_url_to_metadata_link_local_or_another_scheme_is_never_called(url: str) -> None:
    with pytest.raises(LtiError) as refused:
        call(
            "GET",
            url,
            what="JWKS URL",
            unavailable="lti_platform_keys_unavailable",
            deadline_s=2,
            max_bytes=1024,
        )
    assert refused.value.code == "lti_url_forbidden"


def test_a_key_on_one_env_file_line_loads_and_a_blank_one_is_lti_off() -> None:
    pem = tool_keys.generate_pem()
    one_line = Settings(MENTORQ_ENV="test", MENTORQ_LTI_PRIVATE_KEY=pem.replace("\n", "\\n"))
    assert tool_keys.load_key(one_line.lti_private_key.get_secret_value()).kid == tool_keys.load_key(pem).kid
    assert Settings(MENTORQ_ENV="test", MENTORQ_LTI_PRIVATE_KEY="  ").lti_private_key is None
