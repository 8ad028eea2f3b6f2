"""Assignment and Grade Services: a learner launched from a graded link answers the exercise, and
the score reaches the platform's line item by an `lti.score` job, once, through the token the
platform grants on the tool's signed assertion; and when the platform is down or refuses the tool."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
import redis

from core.lti import tool_keys
from tests.conftest import make_admin, register
from tests.exercises.test_authored import MULTIPLE_CHOICE, run
from tests.lti.conftest import Browser, TestPlatform
from tests.profiles.support import wait_job
from tests.support.stack import Stack, wait_until


@pytest.fixture(scope="module")
def exercise_id(stack: Stack) -> str:
    with register(stack.api_url) as user:
        job = run(make_admin(stack, user), "/v1/admin/exercises", MULTIPLE_CHOICE)
    assert job["status"] == "succeeded", job["error"]
    return job["output"]["exercise_id"]


def graded_link(stack: Stack, platform: TestPlatform, exercise_id: str, learner: str, **options) -> str:
    """A new graded link to the exercise in the course, and a learner of that course."""
    link = f"quiz-{uuid.uuid4().hex[:6]}"
    platform.post(
        "/test/setup",
        {
            "links": {
                link: {
                    "client_id": platform.client_id,
                    "course": platform.course,
                    "title": "Capitals quiz",
                    "target_link_uri": f"{stack.api_url}/lti/exercises/{exercise_id}",
                    "graded": True,
                    **options,
                }
            },
            "users": {learner: {"name": learner.title(), "roles": {platform.course: ["Learner"]}}},
        },
    )
    return link


def learner_session(stack: Stack, platform: TestPlatform, learner: str, link: str) -> httpx.Client:
    """The learner's launch from the link; a client with the session the landing page gave."""
    browser = Browser(httpx.Client(timeout=30))
    launched = browser.launch(platform, learner, link)
    assert launched.status_code == 303, launched.text
    landed = browser.client.get(f"{stack.api_url}{launched.headers['location']}")
    assert landed.status_code == 200 and "What is the capital of Portugal?" in landed.text
    token = landed.cookies["mentorq_session"]
    browser.client.close()
    return httpx.Client(base_url=stack.api_url, timeout=30, headers={"Authorization": f"Bearer {token}"})


def answer(learner: httpx.Client, exercise_id: str, text: str) -> dict:
    submitted = learner.post(f"/api/learning/exercises/{exercise_id}/submissions", json={"answer": text})
    assert submitted.status_code == 202, submitted.text
    graded = wait_job(learner, submitted.json()["id"])
    assert graded["status"] == "succeeded", graded["error"]
    return graded["output"]


def score_job(stack: Stack, submission_id: str) -> tuple[str, str, int, dict | None]:
    [(job_id, status, attempts, error)] = stack.sql(
        "SELECT id::text, status, attempts, error FROM jobs "
        "WHERE kind = 'lti.score' AND input->>'submission_id' = %s",
        submission_id,
    )
    return job_id, status, attempts, error


def scores_at(platform: TestPlatform, link: str) -> list[dict]:
    return httpx.get(f"{platform.url}/test/scores/{link}").json()["scores"]


def test_a_graded_answer_reaches_the_platforms_gradebook_once(
    stack: Stack, lti_platform: TestPlatform, exercise_id: str
) -> None:
    link = graded_link(stack, lti_platform, exercise_id, "ana")
    with learner_session(stack, lti_platform, "ana", link) as learner:
        wrong = answer(learner, exercise_id, "Porto")
        right = answer(learner, exercise_id, "Lisbon")
    for submission in (wrong, right):
        wait_until(
            lambda s=submission: score_job(stack, str(s["submission_id"]))[1] == "succeeded", timeout=60
        )
    # Two jobs, sent in whichever order the io worker's threads finish them: the platform orders
    # scores by their timestamps (AGS 2.0 keeps the newest), which follow the grades.
    scores = sorted(scores_at(lti_platform, link), key=lambda score: score["timestamp"])
    assert [(s["userId"], s["scoreGiven"], s["scoreMaximum"]) for s in scores] == [
        ("ana", 0.0, 1.0),
        ("ana", 1.0, 1.0),
    ]
    assert {(s["activityProgress"], s["gradingProgress"]) for s in scores} == {("Completed", "FullyGraded")}


def test_an_answer_without_a_graded_launch_sends_nothing(
    stack: Stack, lti_platform: TestPlatform, exercise_id: str, client
) -> None:
    submitted = client.post(f"/api/learning/exercises/{exercise_id}/submissions", json={"answer": "Lisbon"})
    output = wait_job(client, submitted.json()["id"])["output"]
    assert stack.sql(
        "SELECT count(*) FROM jobs WHERE kind = 'lti.score' AND input->>'submission_id' = %s",
        str(output["submission_id"]),
    ) == [(0,)]


def test_scores_due_while_the_token_endpoint_is_down_go_later_once(
    stack: Stack, lti_platform: TestPlatform, exercise_id: str
) -> None:
    link = graded_link(stack, lti_platform, exercise_id, "ben")
    with learner_session(stack, lti_platform, "ben", link) as learner:
        httpx.post(f"{lti_platform.url}/test/faults", json={"token_down": True})
        try:
            _flush_tokens(stack)
            submission = answer(learner, exercise_id, "Lisbon")
            wait_until(lambda: score_job(stack, str(submission["submission_id"]))[2] >= 2, timeout=30)
            assert scores_at(lti_platform, link) == []
        finally:
            httpx.post(f"{lti_platform.url}/test/faults", json={"token_down": False})
    wait_until(lambda: score_job(stack, str(submission["submission_id"]))[1] == "succeeded", timeout=90)
    assert [s["scoreGiven"] for s in scores_at(lti_platform, link)] == [1.0]


def test_a_platform_refusing_the_tool_fails_the_score_with_its_code_not_endless_retries(
    stack: Stack, lti_platform: TestPlatform, exercise_id: str
) -> None:
    link = graded_link(stack, lti_platform, exercise_id, "cy")
    with learner_session(stack, lti_platform, "cy", link) as learner:
        httpx.post(f"{lti_platform.url}/test/faults", json={"refuse_tool": True})
        try:
            _flush_tokens(stack)
            submission = answer(learner, exercise_id, "Lisbon")
            wait_until(lambda: score_job(stack, str(submission["submission_id"]))[1] == "failed", timeout=60)
        finally:
            httpx.post(f"{lti_platform.url}/test/faults", json={"refuse_tool": False})
    _, _, attempts, error = score_job(stack, str(submission["submission_id"]))
    assert attempts == 1 and error["code"] == "lti_token_refused", error
    assert scores_at(lti_platform, link) == []


def _flush_tokens(stack: Stack) -> None:
    """Forget the tool's cached access tokens, so the next score asks the token endpoint."""
    client = redis.Redis.from_url(stack.redis.url)
    for key in client.scan_iter("mentorq:lti:token:*"):
        client.delete(key)


def test_a_line_item_on_a_forbidden_address_is_never_called(
    stack: Stack, lti_platform: TestPlatform, exercise_id: str
) -> None:
    """A rogue platform's launch names its line item on the cloud metadata address: the worker
    refuses it before any request (`lti_url_forbidden`), whatever MENTORQ_LTI_ALLOW_PRIVATE says."""
    metadata = "http://169.254.169.254/latest/meta-data/lineitem"
    link = graded_link(stack, lti_platform, exercise_id, "dee", lineitem_url=metadata)
    with learner_session(stack, lti_platform, "dee", link) as learner:
        submission = answer(learner, exercise_id, "Lisbon")
    wait_until(lambda: score_job(stack, str(submission["submission_id"]))[1] == "failed", timeout=60)
    _, _, attempts, error = score_job(stack, str(submission["submission_id"]))
    assert attempts == 1 and error["code"] == "lti_url_forbidden", error


def test_the_platform_grants_no_token_on_a_forged_or_replayed_assertion(
    stack: Stack, lti_platform: TestPlatform
) -> None:
    """The other side of the tool's assertion (LTI Security Framework 4.1): signed by a key that is
    not at the tool's JWKS URL, or sent a second time, it gets no token; the tool's own gets one."""
    tool_key = tool_keys.load_key(stack.env["MENTORQ_LTI_PRIVATE_KEY"])
    forger = tool_keys.load_key(tool_keys.generate_pem())

    def assertion(key: tool_keys.ToolKey, *, kid: str) -> str:
        now = int(time.time())
        claims = {
            "iss": lti_platform.client_id,
            "sub": lti_platform.client_id,
            "aud": f"{lti_platform.url}/token",
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        }
        return tool_keys.sign(claims, tool_keys.ToolKey(key.private_key, kid))

    def token(signed: str) -> httpx.Response:
        return httpx.post(
            f"{lti_platform.url}/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": signed,
                "scope": "https://purl.imsglobal.org/spec/lti-ags/scope/score",
            },
        )

    forged = token(assertion(forger, kid=tool_key.kid))  # the tool's key id, another key
    assert forged.status_code == 400 and forged.json()["error"] == "invalid_grant"
    genuine = assertion(tool_key, kid=tool_key.kid)
    assert token(genuine).status_code == 200
    replayed = token(genuine)
    assert replayed.status_code == 400 and "replayed" in replayed.json()["error_description"]
