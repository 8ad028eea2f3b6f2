"""The statements' shapes and the LRS version, without a platform: what each grade sends, a
question's text only when the operator shares it, and 2.0 only where the LRS's `about` lists it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import ValidationError

from core.settings import get_settings
from core.xapi import statements
from workers.errors import JobFailure
from workers.xapi import lrs_client


@pytest.mark.parametrize(
    ("score", "verbs", "success"),
    [
        (1.0, ["answered", "passed", "completed"], True),
        (0.6, ["answered", "passed", "completed"], True),
        (0.59, ["answered", "failed"], False),
        (0.0, ["answered", "failed"], False),
    ],
)
def test_a_grade_is_answered_then_passed_and_completed_or_failed(score, verbs, success) -> None:
    graded = statements.grade_verbs(score)
    assert [verb for verb, _ in graded] == verbs
    assert all(result.success is success and float(result.score.scaled) == score for _, result in graded)


def test_a_questions_text_goes_only_when_shared() -> None:
    assert statements.question_result("What is FSRS?", share_text=False) is None
    assert statements.question_result("What is FSRS?", share_text=True).response == "What is FSRS?"


def test_a_statement_is_checked_before_it_is_stored() -> None:
    """Ralph's models refuse an activity id that is no IRI, in the event's transaction."""
    with pytest.raises(ValidationError):
        statements.statement(
            statement_id=uuid.uuid4(),
            actor=statements.Actor("https://lms.example.com", "u1"),
            verb="attempted",
            activity=statements.Activity("/exercises/x", statements.EXERCISE_TYPE),
            base_url="not a url",
            timestamp=datetime.now(UTC),
        )


@pytest.fixture
def xapi_endpoint(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MENTORQ_XAPI_ENDPOINT", f"https://lrs-{uuid.uuid4().hex[:6]}.example.com/xAPI/")
    monkeypatch.setenv("MENTORQ_PUBLIC_URL", "https://learn.example.com")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def lrs(status: int, body: object = None) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/xAPI/about"
        return httpx.Response(status, json=body)

    return httpx.Client(transport=httpx.MockTransport(answer))


@pytest.mark.usefixtures("xapi_endpoint")
@pytest.mark.parametrize(
    ("status", "body", "version"),
    [
        (200, {"version": ["1.0.3", "2.0.0"]}, "2.0.0"),
        (200, {"version": ["1.0.3"]}, "1.0.3"),
        (404, None, "1.0.3"),
    ],
)
def test_the_version_is_2_0_only_where_the_lrs_lists_it(status, body, version) -> None:
    assert lrs_client.version(lrs(status, body)) == version


@pytest.mark.usefixtures("xapi_endpoint")
def test_an_lrs_that_cannot_say_its_version_now_is_retried_later() -> None:
    with pytest.raises(JobFailure) as failed:
        lrs_client.version(lrs(503))
    assert failed.value.code == "xapi_lrs_unavailable" and failed.value.retryable


def test_the_endpoint_needs_the_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENTORQ_XAPI_ENDPOINT", "https://lrs.example.com/xAPI/")
    monkeypatch.delenv("MENTORQ_PUBLIC_URL", raising=False)
    with pytest.raises(ValidationError, match="MENTORQ_PUBLIC_URL"):
        type(get_settings())()
