"""Course scope: an instructor of course A makes a collection (with a document) and an exercise in A;
A's learners see them (collections, documents, search, ask, the exercise), a learner of course B and
a plain account do not; a learner of A may not make them; A's exercise launched from B is refused
(`lti_course_mismatch`), also by editing a landing URL; B's deep linking never offers it."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import announced, make_admin, register
from tests.exercises.test_authored import MULTIPLE_CHOICE, run
from tests.lti.conftest import Browser, TestPlatform
from tests.lti.test_deep_linking import deep_link, picker
from tests.lti.test_launch_attacks import code_of, refusals
from tests.lti.test_roster import session_of
from tests.profiles.support import wait_job
from tests.support.stack import Stack, wait_until

PROMPT = "Which lobe holds the primary visual cortex? (course A only)"
NOTE = "The occipital lobe holds the primary visual cortex; course A's lecture notes say so."


@dataclass
class CourseA:
    course_id: str
    other_course: str  # course B's context id at the platform
    collection: str
    document_id: str
    exercise_id: str
    open_exercise_id: str  # written by an admin for everyone


def course_b(platform: TestPlatform) -> str:
    """A second course on the platform with an instructor and a learner, and a link there to /lti/home."""
    course = f"{platform.course}-b"
    platform.post(
        "/test/setup",
        {
            "courses": {course: {"title": "Biology 202", "label": "BIO202"}},
            "users": {
                "teacher-b": {"name": "Bo Teacher", "roles": {course: ["Instructor"]}},
                "learner-b": {"name": "Bea Learner", "roles": {course: ["Learner"]}},
            },
        },
    )
    return course


def link_in(stack: Stack, platform: TestPlatform, course: str, target: str, **options) -> str:
    """A new link in the course to the tool's page `target`."""
    link = f"scope-{uuid.uuid4().hex[:6]}"
    platform.post(
        "/test/setup",
        {
            "links": {
                link: {
                    "client_id": platform.client_id,
                    "course": course,
                    "title": "Scoped",
                    "target_link_uri": f"{stack.api_url}{target}",
                    **options,
                }
            }
        },
    )
    return link


def courses_of(client: httpx.Client) -> dict[str, str]:
    listed = client.get("/v1/lti/courses")
    assert listed.status_code == 200, listed.text
    return {course["context_id"]: course["id"] for course in listed.json()["items"]}


@pytest.fixture(scope="module")
def course_a(stack: Stack, lti_platform: TestPlatform) -> CourseA:
    other = course_b(lti_platform)
    with session_of(stack, lti_platform, "teacher") as teacher:
        course_id = courses_of(teacher)[lti_platform.course]
        name = f"psy101-notes-{uuid.uuid4().hex[:4]}"
        made = teacher.post(f"/v1/lti/courses/{course_id}/collections", json={"name": name})
        assert made.status_code == 201, made.text
        assert made.json()["course_id"] == course_id and made.json()["shared"] is False
        assert made.json()["writable"] is True
        sent = teacher.post("/v1/documents/text", json={"collection": name, "title": "Lobes", "text": NOTE})
        assert sent.status_code == 202, sent.text
        assert wait_job(teacher, sent.json()["job"]["id"])["status"] == "succeeded"
        authored = run(
            teacher, f"/v1/lti/courses/{course_id}/exercises", {**MULTIPLE_CHOICE, "prompt": PROMPT}
        )
        assert authored["status"] == "succeeded", authored["error"]
    with register(stack.api_url) as user:
        admin = make_admin(stack, user)
        everyone = run(admin, "/v1/admin/exercises", {**MULTIPLE_CHOICE, "prompt": "Open to all? (scope)"})
    return CourseA(
        course_id,
        other,
        name,
        sent.json()["document"]["id"],
        authored["output"]["exercise_id"],
        everyone["output"]["exercise_id"],
    )


def sees(client: httpx.Client, course: CourseA) -> dict[str, bool]:
    """What of course A the client reaches, each way a reader can."""
    collections = [c["name"] for c in client.get("/v1/collections").json()["items"]]
    found = client.post("/v1/search", json={"query": "occipital lobe visual cortex", "mode": "keyword"})
    by_name = client.post("/v1/search", json={"query": "occipital", "collections": [course.collection]})
    asked = client.post("/api/ask", json={"question": "Which lobe?", "collections": [course.collection]})
    return {
        "listed": course.collection in collections,
        "document": client.get(f"/v1/documents/{course.document_id}").status_code == 200,
        "search": any(hit["document_id"] == course.document_id for hit in found.json()["items"]),
        "search_by_name": by_name.status_code == 200,
        "ask_by_name": asked.status_code in (200, 202),
        "exercise": client.get(f"/api/learning/exercises/{course.exercise_id}").status_code == 200,
    }


def default_ask_scope(stack: Stack, client: httpx.Client) -> set[str]:
    asked = client.post("/api/ask", json={"question": f"What is the occipital lobe? {uuid.uuid4().hex}"})
    assert asked.status_code in (200, 202), asked.text
    [(ids,)] = stack.sql("SELECT input->'collection_ids' FROM jobs WHERE id = %s", asked.json()["id"])
    return set(ids)


def collection_id(stack: Stack, course: CourseA) -> str:
    [(found,)] = stack.sql("SELECT id::text FROM collections WHERE name = %s", course.collection)
    return found


def test_the_courses_learners_see_its_collection_and_exercise(
    stack: Stack, lti_platform: TestPlatform, course_a: CourseA
) -> None:
    with session_of(stack, lti_platform, "learner") as learner:
        seen = sees(learner, course_a)
        assert all(seen.values()), seen
        listed = {c["name"]: c for c in learner.get("/v1/collections").json()["items"]}
        assert listed[course_a.collection]["writable"] is False
        assert collection_id(stack, course_a) in default_ask_scope(stack, learner)


def test_a_learner_of_another_course_and_a_plain_account_see_nothing_of_it(
    stack: Stack, lti_platform: TestPlatform, course_a: CourseA
) -> None:
    in_b = link_in(stack, lti_platform, course_a.other_course, "/lti/home")
    with session_of(stack, lti_platform, "learner-b", in_b) as other, register(stack.api_url) as plain:
        for client in (other, plain):
            seen = sees(client, course_a)
            assert not any(seen.values()), seen
            assert collection_id(stack, course_a) not in default_ask_scope(stack, client)
            # Unscoped exercises stay everyone's.
            assert client.get(f"/api/learning/exercises/{course_a.open_exercise_id}").status_code == 200
            refused = client.get(f"/v1/documents/{course_a.document_id}")
            assert refused.status_code == 404 and refused.json()["code"] == "document_not_found"


def test_a_learner_may_not_make_the_courses_collections_or_exercises(
    stack: Stack, lti_platform: TestPlatform, course_a: CourseA
) -> None:
    with session_of(stack, lti_platform, "learner") as learner:
        made = learner.post(f"/v1/lti/courses/{course_a.course_id}/collections", json={"name": "mine-now"})
        assert made.status_code == 403 and made.json()["code"] == "lti_instructor_only"
        authored = learner.post(f"/v1/lti/courses/{course_a.course_id}/exercises", json=MULTIPLE_CHOICE)
        assert authored.status_code == 403 and authored.json()["code"] == "lti_instructor_only"
        added = learner.post(
            "/v1/documents/text", json={"collection": course_a.collection, "title": "Spam", "text": "spam"}
        )
        assert added.status_code == 403 and added.json()["code"] == "lti_instructor_only"
        deleted = learner.delete(f"/v1/documents/{course_a.document_id}")
        assert deleted.status_code == 403 and deleted.json()["code"] == "lti_instructor_only"


def test_the_exercise_launches_from_its_course_only(
    stack: Stack, lti_platform: TestPlatform, course_a: CourseA
) -> None:
    target = f"/lti/exercises/{course_a.exercise_id}"
    with httpx.Client(timeout=30) as client:
        launched = Browser(client).launch(
            lti_platform, "learner", link_in(stack, lti_platform, lti_platform.course, target)
        )
        assert launched.status_code == 303, launched.text
        assert PROMPT in client.get(f"{stack.api_url}{launched.headers['location']}").text
    before = refusals(stack, "lti_course_mismatch")
    copied = link_in(stack, lti_platform, course_a.other_course, target)
    with httpx.Client(timeout=30) as client:
        refused = Browser(client).launch(lti_platform, "learner-b", copied)
        assert refused.status_code == 403 and code_of(refused) == "lti_course_mismatch"
        assert PROMPT not in refused.text
    # A landing URL of course B edited to name A's exercise: the ticket's course decides.
    with httpx.Client(timeout=30) as client:
        launched = Browser(client).launch(
            lti_platform, "learner-b", link_in(stack, lti_platform, course_a.other_course, "/lti/home")
        )
        ticket = launched.headers["location"].split("ticket=")[1]
        edited = client.get(f"{stack.api_url}{target}?ticket={ticket}")
        assert edited.status_code == 403 and code_of(edited) == "lti_course_mismatch"
        assert PROMPT not in edited.text
    wait_until(lambda: refusals(stack, "lti_course_mismatch") >= before + 2, timeout=10, message="counted")


def test_deep_linking_offers_a_course_its_own_exercises_and_everyones(
    stack: Stack, lti_platform: TestPlatform, course_a: CourseA
) -> None:
    in_b = link_in(stack, lti_platform, course_a.other_course, "/lti/home", deep_linking=True)
    with httpx.Client(timeout=30) as client:
        page = picker(stack, Browser(client), lti_platform, "teacher-b", in_b)
        assert page.status_code == 200, page.text
        assert f'value="{course_a.open_exercise_id}"' in page.text
        assert course_a.exercise_id not in page.text
        # A forged choice of A's exercise is not one to place in B.
        pick = re.search(r'name="pick" value="([^"]+)"', page.text).group(1)
        forged = client.post(
            f"{stack.api_url}/lti/deep-link", data={"pick": pick, "exercise_id": [course_a.exercise_id]}
        )
        assert code_of(forged) == "lti_exercise_not_found"
    with httpx.Client(timeout=30) as client:
        page = picker(stack, Browser(client), lti_platform, "teacher", deep_link(stack, lti_platform))
        assert f'value="{course_a.exercise_id}"' in page.text


def test_another_courses_exercise_gets_no_gradebook_column_there(
    stack: Stack, lti_platform: TestPlatform, course_a: CourseA
) -> None:
    link = link_in(stack, lti_platform, course_a.other_course, "/lti/home", ags=True)
    with session_of(stack, lti_platform, "teacher-b", link) as teacher_b:
        other = courses_of(teacher_b)[course_a.other_course]
        refused = teacher_b.post(
            f"/v1/lti/courses/{other}/line-items", json={"exercise_id": course_a.exercise_id}
        )
        assert refused.status_code == 404 and refused.json()["code"] == "lti_exercise_not_found"


def test_a_landing_page_never_shows_another_learners_own_exercise(
    stack: Stack, lti_platform: TestPlatform, course_a: CourseA
) -> None:
    """Issue 51, finding 2: a ticket from any launch, and a landing URL edited to name an exercise
    generated for someone else: refused like the API refuses it, its prompt nowhere."""
    secret = f"Private prompt {uuid.uuid4().hex[:8]}: what did you write in your diary?"
    private = str(uuid.uuid4())
    with register(stack.api_url) as someone:
        stack.sql(
            "INSERT INTO exercises SELECT (jsonb_populate_record(NULL::exercises, to_jsonb(e)"
            " || jsonb_build_object('id', %s::text, 'owner_id', %s::text, 'prompt', %s::text))).*"
            " FROM exercises e WHERE e.id = %s",
            private,
            someone.user_id,
            secret,
            course_a.open_exercise_id,
        )
    with httpx.Client(timeout=30) as client:
        launched = Browser(client).launch(
            lti_platform, "learner", link_in(stack, lti_platform, lti_platform.course, "/lti/home")
        )
        ticket = launched.headers["location"].split("ticket=")[1]
        edited = client.get(f"{stack.api_url}/lti/exercises/{private}?ticket={ticket}")
        assert edited.status_code == 404 and code_of(edited) == "lti_exercise_not_found"
        assert secret not in edited.text


def test_an_admins_upload_to_a_shared_collection_never_lands_in_a_course_collection_named_alike(
    stack: Stack, lti_platform: TestPlatform, course_a: CourseA
) -> None:
    """Issue 51, finding 3: an instructor names a course collection like the admins' shared one; an
    admin who is also a member of the course uploads to that name: it goes to the shared one."""
    name = f"library-{uuid.uuid4().hex[:6]}"
    with session_of(stack, lti_platform, "learner") as admin:
        me = admin.get("/users/me").json()["id"]
        stack.sql("UPDATE users SET is_superuser = true WHERE id = %s", me)
        assert announced(lambda: admin.get("/users/me").json()["is_superuser"])
        shared = admin.post("/v1/collections", json={"name": name, "shared": True})
        assert shared.status_code == 201, shared.text
        with session_of(stack, lti_platform, "teacher") as teacher:
            made = teacher.post(f"/v1/lti/courses/{course_a.course_id}/collections", json={"name": name})
            assert made.status_code == 201, made.text
        sent = admin.post("/v1/documents/text", json={"collection": name, "title": "Staff", "text": NOTE})
        assert sent.status_code == 202, sent.text
        document = sent.json()["document"]["id"]
        [(course,)] = stack.sql(
            "SELECT c.course_id FROM documents d JOIN collections c ON c.id = d.collection_id"
            " WHERE d.id = %s",
            document,
        )
        assert course is None
        stack.sql("UPDATE users SET is_superuser = false WHERE id = %s", me)


def test_a_graded_link_to_another_courses_exercise_records_no_column_and_no_grade_link(
    stack: Stack, lti_platform: TestPlatform, course_a: CourseA
) -> None:
    """Issue 51, finding 6: the refusal comes before the line item and the grade link are kept."""
    lineitem = f"{lti_platform.issuer}/lineitems/copied-{uuid.uuid4().hex[:6]}"
    copied = link_in(
        stack,
        lti_platform,
        course_a.other_course,
        f"/lti/exercises/{course_a.exercise_id}",
        ags=True,
        graded=True,
        lineitem_url=lineitem,
    )
    with httpx.Client(timeout=30) as client:
        refused = Browser(client).launch(lti_platform, "learner-b", copied)
        assert refused.status_code == 403 and code_of(refused) == "lti_course_mismatch"
    assert stack.sql("SELECT count(*) FROM lti_line_items WHERE lineitem_url = %s", lineitem) == [(0,)]
    assert stack.sql("SELECT count(*) FROM lti_grade_links WHERE lineitem_url = %s", lineitem) == [(0,)]


def test_a_learner_the_roster_drops_no_longer_sees_the_course(
    stack: Stack, lti_platform: TestPlatform, course_a: CourseA
) -> None:
    lti_platform.post(
        "/test/setup",
        {"users": {"dropout": {"name": "Dee Parting", "roles": {lti_platform.course: ["Learner"]}}}},
    )
    with session_of(stack, lti_platform, "dropout") as dropout:
        assert sees(dropout, course_a)["exercise"] is True
        lti_platform.post(
            "/test/setup",
            {
                "users": {
                    "dropout": {
                        "name": "Dee Parting",
                        "status": "Deleted",
                        "roles": {lti_platform.course: ["Learner"]},
                    }
                }
            },
        )
        with session_of(stack, lti_platform, "teacher") as teacher:
            synced = teacher.post(f"/v1/lti/courses/{course_a.course_id}/roster")
            assert synced.status_code == 202, synced.text
            assert wait_job(teacher, synced.json()["id"])["status"] == "succeeded"
        assert not any(sees(dropout, course_a).values())
