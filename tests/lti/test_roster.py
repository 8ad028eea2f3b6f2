"""Names and Role Provisioning: an instructor syncs the course's roster from the platform, every page
of it, and sees its members before they launch; a learner may not; a broken page keeps the roster
as it was."""

from __future__ import annotations

import httpx

from tests.lti.conftest import Browser, TestPlatform
from tests.profiles.support import wait_job
from tests.support.stack import Stack

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"


def session_of(stack: Stack, platform: TestPlatform, user: str, link: str | None = None) -> httpx.Client:
    with httpx.Client(timeout=30) as client:
        launched = Browser(client).launch(platform, user, link)
        assert launched.status_code == 303, launched.text
        landed = client.get(f"{stack.api_url}{launched.headers['location']}")
        token = landed.cookies["mentorq_session"]
    return httpx.Client(base_url=stack.api_url, timeout=30, headers={"Authorization": f"Bearer {token}"})


def course_id(client: httpx.Client, platform: TestPlatform) -> str:
    listed = client.get("/v1/lti/courses")
    assert listed.status_code == 200, listed.text
    [course] = [c for c in listed.json()["items"] if c["context_id"] == platform.course]
    assert course["roster_available"] is True and course["title"] == "Cognitive Psychology 101"
    return course["id"]


def test_an_instructor_syncs_every_page_of_the_roster(stack: Stack, lti_platform: TestPlatform) -> None:
    lti_platform.post(
        "/test/setup",
        {
            "users": {
                f"roster-only-{n}": {"name": f"Not Yet {n}", "roles": {lti_platform.course: ["Learner"]}}
                for n in range(3)
            }
            | {"gone": {"name": "Gone", "status": "Inactive", "roles": {lti_platform.course: ["Learner"]}}}
        },
    )
    learner = session_of(stack, lti_platform, "learner")  # launched: linked to an account
    with session_of(stack, lti_platform, "teacher") as teacher:
        course = course_id(teacher, lti_platform)
        job = teacher.post(f"/v1/lti/courses/{course}/roster")
        assert job.status_code == 202, job.text
        done = wait_job(teacher, job.json()["id"])
        assert done["status"] == "succeeded", done["error"]
        members = {m["subject"]: m for m in teacher.get(f"/v1/lti/courses/{course}/roster").json()["items"]}
    expected = {"teacher", "learner", "learner2", "gone", "roster-only-0", "roster-only-1", "roster-only-2"}
    assert expected <= set(members)
    assert done["output"]["pages"] == -(-done["output"]["members"] // 2)  # two a page, every page read
    assert members["teacher"]["roles"] == [MEMBERSHIP + "Instructor"]
    assert members["gone"]["status"] == "Inactive" and members["roster-only-0"]["user_id"] is None
    assert members["learner"]["user_id"] == learner.get("/users/me").json()["id"]
    learner.close()


def test_a_learner_may_not_sync_or_read_the_roster(stack: Stack, lti_platform: TestPlatform) -> None:
    with session_of(stack, lti_platform, "teacher") as teacher:
        course = course_id(teacher, lti_platform)
    with session_of(stack, lti_platform, "learner") as learner:
        assert learner.get("/v1/lti/courses").json()["items"] == []
        refused = learner.post(f"/v1/lti/courses/{course}/roster")
        assert refused.status_code == 403 and refused.json()["code"] == "lti_instructor_only"
        assert learner.get(f"/v1/lti/courses/{course}/roster").json()["code"] == "lti_instructor_only"
        assert stack.sql(
            "SELECT count(*) FROM jobs WHERE kind = 'lti.roster' AND owner_id = %s",
            learner.get("/users/me").json()["id"],
        ) == [(0,)]


def test_a_broken_next_link_fails_the_sync_and_keeps_the_roster(
    stack: Stack, lti_platform: TestPlatform
) -> None:
    with session_of(stack, lti_platform, "teacher") as teacher:
        course = course_id(teacher, lti_platform)
        first = wait_job(teacher, teacher.post(f"/v1/lti/courses/{course}/roster").json()["id"])
        assert first["status"] == "succeeded", first["error"]
        before = teacher.get(f"/v1/lti/courses/{course}/roster").json()["items"]
        lti_platform.post("/test/faults", {"broken_next": True})
        try:
            broken = wait_job(teacher, teacher.post(f"/v1/lti/courses/{course}/roster").json()["id"])
        finally:
            lti_platform.post("/test/faults", {"broken_next": False})
        assert broken["status"] == "failed" and broken["error"]["code"] == "lti_roster_invalid", broken
        assert teacher.get(f"/v1/lti/courses/{course}/roster").json()["items"] == before
