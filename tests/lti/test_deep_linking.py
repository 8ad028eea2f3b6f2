"""Deep Linking 2.0: an instructor places two exercises in the course from inside the platform; the
platform checks the tool's signed answer and makes two graded links; a learner's answer through
one reaches its gradebook column. A learner's deep-linking launch and a choice sent twice are refused."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.conftest import make_admin, register
from tests.exercises.test_authored import MULTIPLE_CHOICE, run
from tests.lti.conftest import Browser, TestPlatform, form_of
from tests.lti.test_grades import answer, scores_at
from tests.lti.test_launch_attacks import code_of
from tests.support.stack import Stack, wait_until


@pytest.fixture(scope="module")
def two_exercises(stack: Stack) -> list[str]:
    with register(stack.api_url) as user:
        admin = make_admin(stack, user)
        made = [
            run(admin, "/v1/admin/exercises", {**MULTIPLE_CHOICE, "prompt": prompt})
            for prompt in (
                "Which city is the capital of Portugal? (deep 1)",
                "Name Portugal's capital. (deep 2)",
            )
        ]
    assert all(job["status"] == "succeeded" for job in made), made
    return [job["output"]["exercise_id"] for job in made]


def deep_link(stack: Stack, platform: TestPlatform, **options) -> str:
    link = f"add-{uuid.uuid4().hex[:6]}"
    platform.post(
        "/test/setup",
        {
            "links": {
                link: {
                    "client_id": platform.client_id,
                    "course": platform.course,
                    "target_link_uri": f"{stack.api_url}/lti/home",
                    "deep_linking": True,
                    **options,
                }
            }
        },
    )
    return link


def picker(stack: Stack, browser: Browser, platform: TestPlatform, user: str, link: str) -> httpx.Response:
    launched = browser.launch(platform, user, link)
    assert launched.status_code == 303, launched.text
    assert launched.headers["location"].startswith("/lti/deep-link?ticket=")
    return browser.client.get(f"{stack.api_url}{launched.headers['location']}")


def test_an_instructor_places_two_exercises_and_a_learner_is_graded_through_one(
    stack: Stack, lti_platform: TestPlatform, browser: Browser, two_exercises: list[str]
) -> None:
    page = picker(stack, browser, lti_platform, "teacher", deep_link(stack, lti_platform))
    assert page.status_code == 200, page.text
    assert all(f'value="{exercise}"' in page.text for exercise in two_exercises)
    pick = re.search(r'name="pick" value="([^"]+)"', page.text).group(1)
    answered = browser.client.post(
        f"{stack.api_url}/lti/deep-link", data={"pick": pick, "exercise_id": two_exercises}
    )
    assert answered.status_code == 200, answered.text
    policy = answered.headers["content-security-policy"]
    assert f"form-action {lti_platform.url};" in policy  # the one form that may leave our origin
    action, fields = form_of(answered.text)
    assert action == f"{lti_platform.url}/deep_link_return"
    placed = browser.client.post(action, data=fields)
    assert placed.status_code == 200, placed.text
    items = placed.json()["placed"]
    assert [item["url"] for item in items] == [f"{stack.api_url}/lti/exercises/{e}" for e in two_exercises]
    assert all(item["lineItem"]["scoreMaximum"] == 1 for item in items)
    # A learner opens the first placed activity and answers: the grade reaches that column.
    lti_platform.post(
        "/test/setup", {"users": {"eve": {"name": "Eve", "roles": {lti_platform.course: ["Learner"]}}}}
    )
    first = items[0]["link"]
    with httpx.Client(timeout=30) as client:
        launched = Browser(client).launch(lti_platform, "eve", first)
        landed = client.get(f"{stack.api_url}{launched.headers['location']}")
        assert "(deep 1)" in landed.text
        token = landed.cookies["mentorq_session"]
    with httpx.Client(
        base_url=stack.api_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as eve:
        answer(eve, two_exercises[0], "Lisbon")
    wait_until(lambda: scores_at(lti_platform, first), timeout=60, message="the score at the platform")
    assert [(s["userId"], s["scoreGiven"]) for s in scores_at(lti_platform, first)] == [("eve", 1.0)]


def test_a_learners_deep_linking_launch_is_refused(
    stack: Stack, lti_platform: TestPlatform, browser: Browser
) -> None:
    refused = browser.launch(lti_platform, "learner", deep_link(stack, lti_platform))
    assert refused.status_code == 403 and code_of(refused) == "lti_instructor_only"


def test_a_choice_is_sent_once_and_only_of_exercises_to_place(
    stack: Stack, lti_platform: TestPlatform, browser: Browser, two_exercises: list[str]
) -> None:
    page = picker(
        stack, browser, lti_platform, "teacher", deep_link(stack, lti_platform, accept_multiple=False)
    )
    assert 'type="radio"' in page.text
    pick = re.search(r'name="pick" value="([^"]+)"', page.text).group(1)
    two = browser.client.post(
        f"{stack.api_url}/lti/deep-link", data={"pick": pick, "exercise_id": two_exercises}
    )
    assert code_of(two) == "lti_deep_link_one_item"
    again = browser.client.post(
        f"{stack.api_url}/lti/deep-link", data={"pick": pick, "exercise_id": two_exercises[:1]}
    )
    assert code_of(again) == "lti_deep_link_unknown"  # the choice was spent by the first post
    # An id that is not an exercise an admin wrote (unknown here, or a learner's own) is refused.
    page = picker(stack, browser, lti_platform, "teacher", deep_link(stack, lti_platform))
    pick = re.search(r'name="pick" value="([^"]+)"', page.text).group(1)
    theirs = str(uuid.uuid4())
    refused = browser.client.post(
        f"{stack.api_url}/lti/deep-link", data={"pick": pick, "exercise_id": [theirs]}
    )
    assert code_of(refused) == "lti_exercise_not_found"
