"""A course's voices on the real stack: an instructor enrols a person for their LTI course through
/v1/lti/courses/{id}/voices, the course's recordings are named after them and another course's are
not; learners and other courses' instructors are refused; the course's deletion takes its voices.
Courses, their instructors and learner are rows as a launch leaves them (lti_contexts,
lti_memberships), written directly: the launch itself is tests/lti's."""

from __future__ import annotations

import io
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from core.lti.roles import INSTRUCTOR, LEARNER
from tests.conftest import ApiClient, register
from tests.documents.test_api import upload, wait_document
from tests.profiles.support import wait_job
from tests.recordings import conversations
from tests.support.stack import Stack
from tests.voices.test_voice_profiles import admin, clip, speakers_worker  # noqa: F401 - fixtures


@dataclass
class Course:
    id: str
    collection: str  # the name of the course's collection


@dataclass
class Courses:
    a: Course
    b: Course
    teacher: ApiClient  # Instructor in A
    learner: ApiClient  # Learner in A
    other_teacher: ApiClient  # Instructor in B


def add_course(stack: Stack, platform_id: str, members: dict[ApiClient, str]) -> str:
    """A course of the platform with those members in those roles, as a launch records them."""
    course_id = str(uuid.uuid4())
    stack.sql(
        "INSERT INTO lti_contexts (id, platform_id, context_id, title) VALUES (%s, %s, %s, 'Voices 101')",
        course_id,
        platform_id,
        f"course-{course_id[:8]}",
    )
    for member, role in members.items():
        stack.sql(
            "INSERT INTO lti_memberships (context_id, user_id, roles, updated_at) VALUES (%s, %s, %s, now())",
            course_id,
            member.user_id,
            [role],
        )
    return course_id


def course_collection(teacher: ApiClient, course_id: str) -> Course:
    name = f"lectures-{uuid.uuid4().hex[:6]}"
    made = teacher.post(f"/v1/lti/courses/{course_id}/collections", json={"name": name})
    assert made.status_code == 201, made.text
    return Course(course_id, name)


@pytest.fixture(scope="module")
def courses(stack: Stack) -> Iterator[Courses]:
    platform_id = str(uuid.uuid4())
    stack.sql(
        "INSERT INTO lti_platforms (id, name, issuer, client_id, deployment_ids, auth_login_url,"
        " auth_token_url, jwks_url, accounts_key) VALUES (%s, 'Voices LMS', %s, 'voices', '{}',"
        " 'https://lms.test/auth', 'https://lms.test/token', 'https://lms.test/jwks', %s)",
        platform_id,
        f"https://lms-{platform_id[:8]}.test",
        platform_id,
    )
    with register(stack.api_url) as teacher, register(stack.api_url) as learner:
        with register(stack.api_url) as other_teacher:
            a = add_course(stack, platform_id, {teacher: INSTRUCTOR, learner: LEARNER})
            b = add_course(stack, platform_id, {other_teacher: INSTRUCTOR})
            yield Courses(
                course_collection(teacher, a),
                course_collection(other_teacher, b),
                teacher,
                learner,
                other_teacher,
            )
    stack.sql("DELETE FROM lti_platforms WHERE id = %s", platform_id)


def course_clip(speaker: str, *lines: int) -> bytes:
    """The speaker's lines with 36 s of silence after: past the 1 MiB any other request may send."""
    with wave.open(io.BytesIO(clip(speaker, *lines))) as spoken:
        samples = np.frombuffer(spoken.readframes(spoken.getnframes()), dtype=np.int16)
    silence = np.zeros(36 * conversations.SAMPLE_RATE, dtype=np.int16)
    return conversations.wav_bytes(np.concatenate([samples, silence]))


def enrol_in(client: ApiClient, course_id: str, name: str, data: bytes, **fields: str):
    files = [("clip", (f"{name}.wav", data, "audio/wav"))]
    return client.post(f"/v1/lti/courses/{course_id}/voices", files=files, data={"name": name, **fields})


def speakers_of(client: ApiClient, document: dict) -> set[str]:
    assert document["status"] == "ready", document["error"]
    segments = client.get(f"/v1/documents/{document['id']}/transcript").json()["segments"]
    return {segment["speaker"] for segment in segments}


@pytest.mark.timeout(480)  # a worker restart, an enrolment and two transcriptions beside a busy machine
def test_a_course_s_voice_names_its_recordings_and_no_other_course_s(
    speakers_worker: Stack,  # noqa: F811
    courses: Courses,
    admin: ApiClient,  # noqa: F811
) -> None:
    teacher, a, b = courses.teacher, courses.a, courses.b
    data = course_clip("ann", 10, 11)
    assert len(data) > 1_048_576
    sent = enrol_in(teacher, a.id, "Ann Course", data, role="host")
    assert sent.status_code == 202, sent.text
    enrolled = wait_job(teacher, sent.json()["id"])
    assert enrolled["status"] == "succeeded", enrolled["error"]
    profile_id = enrolled["output"]["profile_id"]
    [listed] = teacher.get(f"/v1/lti/courses/{a.id}/voices").json()["items"]
    assert listed["name"] == "Ann Course" and listed["course_id"] == a.id and listed["clip_count"] == 1
    exported = teacher.get(f"/v1/lti/courses/{a.id}/voices/{profile_id}/export").json()
    assert len(exported["clips"][0]["embedding"]) == 256 and exported["course_id"] == a.id
    # Admins see and reach every profile, the courses' too.
    assert profile_id in {p["id"] for p in admin.get("/v1/admin/voices").json()["items"]}
    assert admin.get(f"/v1/lti/courses/{a.id}/voices/{profile_id}").status_code == 200

    # The same office hours in A's collection and in B's, transcribed side by side (two at a time).
    spoken = conversations.dialogue(["ann", "bob"], 6, seed=3).wav_bytes()
    sent_a = upload(teacher, [("office-hours.wav", spoken, None)], collection=a.collection)
    sent_b = upload(courses.other_teacher, [("office-hours.wav", spoken, None)], collection=b.collection)
    in_a = wait_document(teacher, sent_a["body"]["items"][0]["document"]["id"], timeout=240)
    in_b = wait_document(courses.other_teacher, sent_b["body"]["items"][0]["document"]["id"], timeout=240)
    named = speakers_of(teacher, in_a)
    assert "Ann Course" in named and len(named) == 2, named
    assert speakers_of(courses.other_teacher, in_b) == {"S1", "S2"}
    [(matches,)] = speakers_worker.sql(
        "SELECT speaker_matches FROM transcripts WHERE document_id = %s", in_b["id"]
    )
    assert profile_id not in {match["profile_id"] for match in matches or []}, matches  # not even as nearest

    # Names are unique in the course, and the course's people alone may be linked.
    again = enrol_in(teacher, a.id, "ann course", data, role="guest")
    assert again.status_code == 409 and again.json()["code"] == "voice_profile_exists", again.text
    stranger = enrol_in(teacher, a.id, "Bea", data, role="guest", user_id=courses.other_teacher.user_id)
    assert stranger.status_code == 404 and stranger.json()["code"] == "user_not_found", stranger.text

    url = f"/v1/lti/courses/{a.id}/voices/{profile_id}"
    assert courses.other_teacher.get(f"/v1/lti/courses/{b.id}/voices/{profile_id}").status_code == 404
    assert teacher.delete(url).status_code == 204
    assert teacher.get(url).json()["code"] == "voice_profile_not_found"


def test_learners_and_other_courses_instructors_are_refused(courses: Courses) -> None:
    a = courses.a
    for client in (courses.learner, courses.other_teacher):
        for response in (
            enrol_in(client, a.id, "Me", b"RIFF", role="host"),
            client.get(f"/v1/lti/courses/{a.id}/voices"),
            client.get(f"/v1/lti/courses/{a.id}/voices/{uuid.uuid4()}/export"),
            client.delete(f"/v1/lti/courses/{a.id}/voices/{uuid.uuid4()}"),
        ):
            assert response.status_code == 403, response.text
            assert response.json()["code"] == "lti_instructor_only", response.text
        # The admins' book is no instructor's.
        assert client.get("/v1/admin/voices").json()["code"] == "admin_only"
    assert (
        courses.teacher.get(f"/v1/lti/courses/{uuid.uuid4()}/voices").json()["code"] == "lti_course_not_found"
    )


def test_deleting_the_course_deletes_its_voices(
    speakers_worker: Stack,  # noqa: F811
    courses: Courses,
) -> None:
    [(platform_id,)] = speakers_worker.sql(
        "SELECT platform_id::text FROM lti_contexts WHERE id = %s", courses.a.id
    )
    course_id = add_course(speakers_worker, platform_id, {courses.teacher: INSTRUCTOR})
    sent = enrol_in(courses.teacher, course_id, "Cal Course", clip("cal", 12, 13), role="guest")
    assert sent.status_code == 202, sent.text
    assert wait_job(courses.teacher, sent.json()["id"])["status"] == "succeeded"
    count = "SELECT count(*) FROM voice_profiles WHERE course_id = %s"
    assert speakers_worker.sql(count, course_id) == [(1,)]
    speakers_worker.sql("DELETE FROM lti_contexts WHERE id = %s", course_id)
    assert speakers_worker.sql(count, course_id) == [(0,)]
