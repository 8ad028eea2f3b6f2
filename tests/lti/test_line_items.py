"""Gradebook columns for exercises placed without deep linking (AGS line items), and rosters
synced by beat: an instructor makes the column for a plain link's exercise, once however often the
job runs, and a learner launched from the plain link is graded there; a learner may not make one;
beat syncs a course's roster without anyone asking."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import make_admin, register
from tests.exercises.test_authored import MULTIPLE_CHOICE, run
from tests.lti.conftest import TestPlatform
from tests.lti.test_grades import answer
from tests.lti.test_roster import session_of
from tests.profiles.support import wait_job
from tests.support.stack import Stack, wait_until


@pytest.fixture(scope="module")
def exercise_id(stack: Stack) -> str:
    with register(stack.api_url) as user:
        job = run(make_admin(stack, user), "/v1/admin/exercises", MULTIPLE_CHOICE | {"title": "Capitals"})
    assert job["status"] == "succeeded", job["error"]
    return job["output"]["exercise_id"]


def plain_link(stack: Stack, platform: TestPlatform, exercise_id: str) -> str:
    """A link to the exercise in the course, with grade services but no line item of its own."""
    link = f"plain-{uuid.uuid4().hex[:6]}"
    platform.post(
        "/test/setup",
        {
            "links": {
                link: {
                    "client_id": platform.client_id,
                    "course": platform.course,
                    "title": "Capitals (plain link)",
                    "target_link_uri": f"{stack.api_url}/lti/exercises/{exercise_id}",
                    "ags": True,
                }
            }
        },
    )
    return link


def course_of(client: httpx.Client, platform: TestPlatform) -> dict:
    [course] = [
        c for c in client.get("/v1/lti/courses").json()["items"] if c["context_id"] == platform.course
    ]
    return course


def test_an_instructor_makes_a_column_once_and_a_plain_links_learner_is_graded_there(
    stack: Stack, lti_platform: TestPlatform, exercise_id: str
) -> None:
    link = plain_link(stack, lti_platform, exercise_id)
    with session_of(stack, lti_platform, "teacher", link) as teacher:
        course = course_of(teacher, lti_platform)
        assert course["line_items_available"] is True
        outputs = []
        for _ in range(2):  # the second finds the column the first made
            made = teacher.post(
                f"/v1/lti/courses/{course['id']}/line-items", json={"exercise_id": exercise_id}
            )
            assert made.status_code == 202, made.text
            done = wait_job(teacher, made.json()["id"])
            assert done["status"] == "succeeded", done["error"]
            outputs.append(done["output"])
        assert [output["created"] for output in outputs] == [True, False]
        assert outputs[0]["lineitem_url"] == outputs[1]["lineitem_url"]
        listed = teacher.get(f"/v1/lti/courses/{course['id']}/line-items").json()["items"]
        mine = [item for item in listed if item["exercise_id"] == exercise_id]
        assert len(mine) == 1 and mine[0]["created_by_tool"] is True and mine[0]["label"] == "Capitals"
    at_platform = [
        item
        for item in httpx.get(f"{lti_platform.url}/test/line_items").json()["items"]
        if item["resourceId"] == exercise_id
    ]
    assert (
        len(at_platform) == 1 and at_platform[0]["tag"] == "mentorq" and at_platform[0]["scoreMaximum"] == 1
    )
    column = at_platform[0]["id"].rsplit("/", 1)[1]

    with session_of(stack, lti_platform, "learner2", link) as learner:
        assert answer(learner, exercise_id, "Lisbon")["score"] == 1.0
    wait_until(
        lambda: httpx.get(f"{lti_platform.url}/test/scores/{column}").json()["scores"],
        timeout=60,
        message="the score in the column",
    )
    [score] = httpx.get(f"{lti_platform.url}/test/scores/{column}").json()["scores"]
    assert score["userId"] == "learner2" and score["scoreGiven"] == 1.0


def test_a_learner_may_not_make_a_column_and_an_unknown_exercise_has_none(
    stack: Stack, lti_platform: TestPlatform, exercise_id: str
) -> None:
    link = plain_link(stack, lti_platform, exercise_id)
    with session_of(stack, lti_platform, "teacher", link) as teacher:
        course = course_of(teacher, lti_platform)["id"]
        unknown = teacher.post(
            f"/v1/lti/courses/{course}/line-items", json={"exercise_id": str(uuid.uuid4())}
        )
        assert unknown.status_code == 404 and unknown.json()["code"] == "lti_exercise_not_found"
    with session_of(stack, lti_platform, "learner", link) as learner:
        refused = learner.post(f"/v1/lti/courses/{course}/line-items", json={"exercise_id": exercise_id})
        assert refused.status_code == 403 and refused.json()["code"] == "lti_instructor_only"
        listed = learner.get(f"/v1/lti/courses/{course}/line-items")
        assert listed.status_code == 403


def test_beat_syncs_a_courses_roster_without_anyone_asking(stack: Stack, lti_platform: TestPlatform) -> None:
    with session_of(stack, lti_platform, "teacher") as teacher:
        course = course_of(teacher, lti_platform)["id"]
    stack.stop("beat")
    try:
        stack.start_beat({"MENTORQ_LTI_ROSTER_SYNC_SECONDS": "2"})
        wait_until(
            lambda: stack.sql(
                "SELECT 1 FROM jobs WHERE kind = 'lti.roster' AND owner_id IS NULL AND status = 'succeeded' "
                "AND input->>'context_id' = %s",
                course,
            ),
            timeout=60,
            message="a roster sync by beat",
        )
    finally:
        stack.stop("beat")
        stack.start_beat()
    with session_of(stack, lti_platform, "teacher") as teacher:
        members = {m["subject"] for m in teacher.get(f"/v1/lti/courses/{course}/roster").json()["items"]}
    assert {"teacher", "learner", "learner2"} <= members
