"""Voice profile names that cannot pass for another (issue 60, found by a hostile pass): a name is
stored NFC, refused `voice_name_invalid` when it holds a bidi control, an invisible format character
or a pile of combining marks, and `voice_name_confusable` when its TR39 skeleton is another
profile's in the same scope. And a recording's `speakers` count is digits or a JSON integer only.

The refusals come before any job is made, so the API alone is tested on the real stack; a profile
to be confused with is a row written directly (its enrolment is tests/voices/test_voice_profiles.py)."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterator

import pytest

from core import voice_names
from tests.conftest import ApiClient
from tests.documents.test_api import upload
from tests.profiles.support import wait_job
from tests.recordings import media
from tests.support.stack import Stack
from tests.voices.test_voice_profiles import admin, clip  # noqa: F401 - fixtures

REFUSED_NAMES = {
    "right-to-left override": "Dr. Roe\u202e",
    "left-to-right embedding": "\u202aAna",
    "first strong isolate": "Ana\u2068 Lee",
    "pop directional isolate": "Ana\u2069",
    "zero-width space": "An\u200ba",
    "zero-width joiner": "A\u200dna",
    "byte order mark": "\ufeffAna",
    "soft hyphen": "Ana\u00adLee",
    "word joiner": "Ana\u2060",
    "three combining marks": "Ana\u0301\u0302\u0303",
    "a precomposed letter and two more": "Jos\u00e9\u0301\u0301",
}
KEPT_NAMES = ["Nguyễn Thị Ệ", "José García", "Zoë O'Neil", "Søren Kierkegaard", "李小龙", "Dr. Ana-María Roe"]


@pytest.mark.parametrize("name", REFUSED_NAMES.values(), ids=REFUSED_NAMES.keys())
def test_a_name_with_hidden_or_reordering_characters_is_refused(name: str) -> None:
    assert voice_names.refusal(voice_names.normalised(name)) is not None


@pytest.mark.parametrize("name", KEPT_NAMES)
def test_names_of_living_scripts_are_kept(name: str) -> None:
    assert voice_names.refusal(voice_names.normalised(name)) is None


def test_names_that_look_alike_share_a_skeleton() -> None:
    lookalikes = ["Paul", "PAUL", "Pau1", "P\u0430ul", "\uff30aul"]  # 1 for l, Cyrillic а, fullwidth Ｐ
    assert {voice_names.skeleton(name) for name in lookalikes} == {voice_names.skeleton("paul")}
    assert voice_names.skeleton("Pauline") != voice_names.skeleton("Paul")
    assert voice_names.confusable("Pau1", ["Ana", "Paul"]) == "Paul"
    assert voice_names.confusable("Paula", ["Ana", "Paul"]) is None


@pytest.fixture
def paul(stack: Stack) -> Iterator[str]:
    """A deployment-wide profile named Paul, as an enrolment leaves it."""
    profile_id = str(uuid.uuid4())
    stack.sql(
        "INSERT INTO voice_profiles (id, name, role, encoder) VALUES (%s, 'Paul', 'host', 'test')", profile_id
    )
    yield profile_id
    stack.sql("DELETE FROM voice_profiles WHERE id = %s", profile_id)


def enrolment(client: ApiClient, name: str) -> dict:
    files = [("clip", ("clip.wav", clip("ann", 10), "audio/wav"))]
    response = client.post("/v1/admin/voices", data={"name": name, "role": "guest"}, files=files)
    return {"http": response.status_code, **response.json()}


def enrol_jobs(stack: Stack) -> int:
    return stack.sql("SELECT count(*) FROM jobs WHERE kind = 'voice.enrol'")[0][0]


@pytest.mark.parametrize(
    "name", [REFUSED_NAMES["right-to-left override"], REFUSED_NAMES["zero-width joiner"]], ids=["rlo", "zwj"]
)
def test_the_api_refuses_a_hidden_character_before_any_job(stack: Stack, admin: ApiClient, name: str) -> None:  # noqa: F811
    jobs = enrol_jobs(stack)
    refused = enrolment(admin, name)
    assert refused["http"] == 422 and refused["code"] == "voice_name_invalid", refused
    assert enrol_jobs(stack) == jobs


@pytest.mark.parametrize("name", ["Pau1", "P\u0430ul", "PAUL"])
def test_the_api_refuses_a_name_that_reads_as_an_enrolled_one(
    stack: Stack,
    admin: ApiClient,  # noqa: F811
    paul: str,
    name: str,
) -> None:
    jobs = enrol_jobs(stack)
    refused = enrolment(admin, name)
    # PAUL is the same name, case aside (voice_profile_exists, as before); the others only look so.
    code = "voice_profile_exists" if name == "PAUL" else "voice_name_confusable"
    assert refused["http"] == 409 and refused["code"] == code, refused
    assert enrol_jobs(stack) == jobs


def test_the_api_stores_a_name_nfc(stack: Stack, admin: ApiClient) -> None:  # noqa: F811
    decomposed = "Jose\u0301 Nfc-Test"
    accepted = enrolment(admin, decomposed)
    admin.post(f"/v1/jobs/{accepted['id']}/cancel")
    assert accepted["http"] == 202, accepted
    assert accepted["input"]["name"] == unicodedata.normalize("NFC", decomposed) != decomposed
    stack.sql("DELETE FROM voice_profiles WHERE name LIKE %s", "Jos% Nfc-Test")


@pytest.mark.parametrize("value", ["2_0", " 2", "+2", "\uff12", "2.0", "0", "21", "true"])
def test_a_recordings_speakers_field_is_digits_only(admin: ApiClient, value: str) -> None:  # noqa: F811
    opus = media.encode(media.sample_pcm()[: 16_000 * 2], "opus")
    refused = upload(admin, [("two.ogg", opus, None)], speakers=value)
    assert refused["status"] == 422, refused


@pytest.mark.parametrize("value", [True, False, "2", 2.5, "2_0"])
def test_a_json_speakers_count_is_an_integer_only(admin: ApiClient, value: object) -> None:  # noqa: F811
    refused = admin.post("/v1/documents/url", json={"url": "http://127.0.0.1:9/talk.mp3", "speakers": value})
    assert refused.status_code == 422, refused.text


def test_an_enrolment_refuses_a_name_enrolled_as_it_waited(stack: Stack, admin: ApiClient) -> None:  # noqa: F811
    """Two enrolments asked for at once both pass the API's check; the job checks again as it
    inserts, holding the scope's names (an advisory lock), so the one that comes second fails."""
    stack.stop("worker")
    try:
        asked = enrolment(admin, "Pau1")
        assert asked["http"] == 202, asked
        # The other enrolment, asked for meanwhile, is inserted first.
        stack.sql(
            "INSERT INTO voice_profiles (id, name, role, encoder) VALUES (%s, 'Paul', 'host', 'test')",
            str(uuid.uuid4()),
        )
    finally:
        stack.start_worker()
    try:
        job = wait_job(admin, asked["id"])
        assert job["status"] == "failed" and job["error"]["code"] == "voice_name_confusable", job
        assert stack.sql("SELECT count(*) FROM voice_profiles WHERE name = 'Pau1'")[0][0] == 0
        assert stack.sql("SELECT count(*) FROM job_attachments WHERE job_id = %s", asked["id"])[0][0] == 0
    finally:
        stack.sql("DELETE FROM voice_profiles WHERE name IN ('Paul', 'Pau1')")
