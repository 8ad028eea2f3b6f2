"""`mentorq demo`: a throwaway stack; chat, embed and streamed chat jobs; the samples ingested (a
recording transcribed), searched and asked about; a learner profiled from a sample intro, with
progress, mastery and an insight; resources suggested, exercises generated through the publish
gate, and code submissions graded in the sandbox; grounded answers, the tutor and the console.

The demo fails only when the platform fails: a job lost, failed with a platform's error code, or
past its time; an HTTP error; a result the platform's own rules forbid (a fully supported answer
not served from the cache). The embedded 135M model's answers being refused by the checks is the
platform at work: it is shown, counted in the closing summary, and passes. Generation is seeded at
temperature 0 (MENTORQ_LLM_SEED), so two runs on one machine print the same grounded answers, tutor
turns and exercise questions (the insight's and the resources' prompts carry the run's own event
times and chunk ids, so those may differ)."""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.preflight import sandbox_shortfall
from devstack.supervisor import PROJECT_ROOT, StackError, free_port, start_stack
from mentorq.client import ApiError, MentorqClient, console_session

SAMPLES = PROJECT_ROOT / "samples" / "knowledge"
SAMPLE_INTRO = PROJECT_ROOT / "samples" / "profiles" / "intro.md"
SAMPLE_EXERCISE = PROJECT_ROOT / "samples" / "exercises" / "count_vowels.json"
RESOURCES_QUERY = "how long should I wait between reviews?"
ASK_QUESTION = "What happens to something you learned last Monday if you never look at it again?"
# Answered by the bundled recording (samples/knowledge/lecture-testing-effect.ogg), once transcribed.
RECORDING_QUESTION = "How much did students who took a practice test remember a week later?"
TUTOR_MESSAGES = ("What is active recall?", "How do I practise it after a lecture?")
EXERCISES = (("multiple_choice", "spaced repetition"), ("coding", "python strings"))
# A wrong answer (it counts every letter) and a right one for the bundled coding exercise.
WRONG_CODE = "def count_vowels(text):\n    return len(text)\n"
RIGHT_CODE = "def count_vowels(text):\n    return sum(char in 'aeiouAEIOU' for char in text)\n"
PROGRESS_EVENTS = (
    {"completed_task": "SQL window functions drill", "skills": ["SQL", "statistics"], "score": 0.9},
    {"completed_task": "Hypothesis testing quiz", "skills": ["statistics"], "score": 0.4},
)
DEMO_EMAIL = "learner@demo.example.com"  # one throwaway stack, one learner: the same on every run

# How long one job (or one document) may take to end once the demo waits for it: a net for a stuck
# platform, not a budget for the whole demo. The first chat loads the local model into the worker;
# on a CI machine running two other suites, the demo's eleven steps took 12 minutes in all, and a
# single budget of 10 minutes for every step failed it while its last job was being answered.
WAIT_S = 600.0
GREEDY = {"temperature": 0}  # with the worker's seed (MENTORQ_LLM_SEED): the same answer on every run
CHAT_INPUT = {"prompt": "Explain spaced repetition in one sentence.", "options": {"max_tokens": 64, **GREEDY}}
STREAMED_CHAT_INPUT = {
    "prompt": "Give one tip for remembering vocabulary.",
    "options": {"max_tokens": 48, **GREEDY},
}
EMBED_INPUT = {
    "texts": [
        "Spaced repetition schedules reviews.",
        "Retrieval practice strengthens memory.",
        "Interleaving mixes related topics.",
    ]
}
# The steps, in order; each prints its name first, and the test holds the demo to all of them.
STEPS = (
    "jobs",
    "streamed chat",
    "documents",
    "learner",
    "resources",
    "exercises",
    "grading",
    "answers",
    "recording",
    "tutor",
    "console",
)
# Error codes that are the checks refusing the model's output: the platform at work, not a fault.
REFUSALS = frozenset({"llm_invalid_output", "exercise_rejected"})


class PlatformFault(Exception):
    """The platform failed a step: the demo stops and says which and why."""

    def __init__(self, step: str, why: str) -> None:
        super().__init__(f"step {step!r}: {why}")
        self.step = step


@dataclass
class Shown:
    """What a learner got from the model, counted for the closing summary."""

    answers: int = 0
    supported_answers: int = 0  # every sentence the model wrote kept, nothing withheld
    tutor_turns: int = 0
    tutor_answered: int = 0
    exercises: int = 0
    exercises_published: int = 0
    drafts: int = 0  # drafts the model wrote for them; each published exercise's last one passed


def run_demo(*, keep: bool = False, say=print) -> int:
    """Run the demo; 0 unless the platform failed a step. The state dir is removed unless kept or failed."""
    shortfall = sandbox_shortfall()  # before anything starts: the demo grades code in the sandbox
    if shortfall:
        say("the demo grades code in the sandbox, which cannot run on this host:")
        for line in shortfall:
            say(f"  - {line}")
        say("demo FAILED (nothing was started)")
        return 1
    # A short path under /tmp: Unix socket paths (Redis, PostgreSQL) must stay under ~100 bytes.
    folder = Path(tempfile.mkdtemp(prefix="mentorq-demo-"))
    say(f"demo state dir: {folder}")
    ok = False
    stack = None
    try:
        stack = start_stack(folder, api_port=free_port(), flower_port=free_port(), say=say)
        shown = Demo(stack.api_url, say, database_url=stack.database_url).run()
        _summary(shown, say)
        ok = True
    except PlatformFault as exc:
        say(f"\nthe platform failed at {exc}")
    except (StackError, ApiError, TimeoutError) as exc:
        say(f"\nthe platform failed to start: {exc}")
    except KeyboardInterrupt:
        say("interrupted")
    finally:
        if stack is not None:
            stack.stop(say)
        if ok and not keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            say(f"logs kept in {folder / 'logs'}")
    say("demo succeeded" if ok else "demo FAILED")
    return 0 if ok else 1


def _summary(shown: Shown, say) -> None:
    say(
        "\nwhat a learner got from the embedded model:\n"
        f"  grounded answers with every sentence supported: {shown.supported_answers} of {shown.answers}\n"
        f"  tutor turns answered from the library: {shown.tutor_answered} of {shown.tutor_turns}\n"
        f"  exercises that passed the publish gate: {shown.exercises_published} of {shown.exercises}"
    )


class Demo:
    """The steps, over HTTP, as one learner who is also the deployment's admin."""

    def __init__(self, api_url: str, say, *, database_url: str) -> None:
        self.api_url = api_url
        self.say = say
        self.database_url = database_url
        self.shown = Shown()
        self.step_name = ""

    def run(self) -> Shown:
        password = secrets.token_urlsafe(16)
        with MentorqClient(self.api_url) as client:
            self.client = client
            with self.step("jobs"):
                client.register(DEMO_EMAIL, password)
                # As `mentorq users promote` would: the demo publishes the bundled exercise.
                make_admin(self.database_url, DEMO_EMAIL)
                client.login(DEMO_EMAIL, password)
                self.say(f"registered and logged in as {DEMO_EMAIL} (an admin)")
                self._jobs()
            with self.step("streamed chat"):
                self._streamed_chat()
            with self.step("documents"):
                self.ingest_and_search()
            with self.step("learner"):
                self._learner()
            with self.step("resources"):
                self._resources()
            with self.step("exercises"):
                self.exercises()
            with self.step("grading"):
                self._graded()
            with self.step("answers"):
                self._grounded_answer()
            with self.step("recording"):  # the transcribed lecture answers it, its time ranges cited
                self.ask(RECORDING_QUESTION)
            with self.step("tutor"):
                self.tutor()
        with self.step("console"):
            self._sign_in_to_console(password)
        return self.shown

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Print the step's name; an HTTP error or a time-out inside it is the platform's fault."""
        self.step_name = name
        self.say(f"\n== {STEPS.index(name) + 1}/{len(STEPS)} {name}")
        try:
            yield
        except ApiError as exc:
            raise PlatformFault(name, f"HTTP {exc}") from exc
        except TimeoutError as exc:
            raise PlatformFault(name, f"timed out: {exc}") from exc

    def fault(self, why: str) -> PlatformFault:
        return PlatformFault(self.step_name, why)

    def finish(self, job: dict[str, Any]) -> dict[str, Any]:
        """The job once it ended (long-polled for up to WAIT_S)."""
        if job["status"] in ("succeeded", "failed", "canceled"):
            return job
        return self.client.wait_until_done(job["id"], deadline_s=WAIT_S)

    def outcome(self, job: dict[str, Any], what: str) -> dict[str, Any] | None:
        """The job's output once it succeeded; None if the checks refused the model's output (shown,
        the demo goes on); a PlatformFault for any other end."""
        job = self.finish(job)
        if job["status"] == "succeeded":
            return job["output"]
        error = job.get("error") or {}
        if job["status"] == "failed" and error.get("code") in REFUSALS:
            if error["code"] == "exercise_rejected":
                for number, reasons in enumerate(error["details"]["reasons"], start=1):
                    self.say(f"  draft {number} refused by the gate: {'; '.join(reasons)[:200]}")
            else:
                self.say(
                    f"  {what}: the local 135M model's answer failed validation twice "
                    f"({error.get('message', '')[:120]}); the raw answer is kept in the job"
                )
            return None
        raise self.fault(f"{what} job {job['id']} {job['status']}: {error}")

    def _jobs(self) -> None:
        """A chat and an embed job, each submitted with Prefer: wait=60 and polled to the end."""
        submitted = []
        for kind, payload in (("chat", CHAT_INPUT), ("embed", EMBED_INPUT)):
            job = self.client.submit(kind, payload, wait=60)
            self.say(f"submitted {kind} job {job['id']}: {job['status']}")
            submitted.append(job)
        for job in submitted:
            job = self.finish(job)
            if job["status"] != "succeeded":
                raise self.fault(f"{job['kind']} job {job['id']} {job['status']}: {job['error']}")
            self.say(f"\n{job['kind']} job:")
            self.say(json.dumps(_shorten(job), indent=2, ensure_ascii=False))

    def _sign_in_to_console(self, password: str) -> None:
        """Sign in to the admin console through its form (CSRF token included) and open the overview."""
        with console_session(self.api_url, DEMO_EMAIL, password) as browser:
            overview = browser.get("/admin")
        if overview.status_code != 200 or "<h1>Overview</h1>" not in overview.text:
            raise self.fault(f"the console's overview answered {overview.status_code}")
        self.say(f"admin console: {self.api_url}/admin (signed in as {DEMO_EMAIL})")

    def _resources(self) -> None:
        output = self.outcome(self.client.suggest_resources(RESOURCES_QUERY, k=3), "resources")
        if output is None:
            return
        self.say(f"resources for {RESOURCES_QUERY!r}:")
        for resource in output["resources"]:
            by = "model" if resource["explained_by_model"] else "code"
            self.say(
                f"  - {resource['title']} ({resource['resource_type']}; why, by the {by}): "
                f"{resource['why'][:160]}"
            )
        self.say(
            f"  checks: {output['dropped_invented']} invented dropped, {output['duplicates_replaced']} "
            f"repeats replaced, {output['dropped_citations']} citations removed"
            + (f"; shortfall: {output['shortfall']}" if output["shortfall"] else "")
        )

    def exercises(self) -> None:
        """Exercises asked of the local model: published through the gate, or refused with its reasons."""
        for exercise_type, topic in EXERCISES:
            job = self.finish(self.client.request_exercise(exercise_type, topic=topic))
            self.shown.exercises += 1
            self.say(f"{exercise_type} exercise on {topic!r} from the local model: {job['status']}")
            output = self.outcome(job, f"{exercise_type} exercise")
            self.shown.drafts += _drafts(job)
            if output is None:
                continue
            self.shown.exercises_published += 1
            self.say(f"  published after {output['drafts']} draft(s): {output['prompt'][:200]}")
            for choice in output["choices"] or []:
                self.say(f"    ( ) {choice}")
            for test in output["visible_tests"]:
                self.say(f"    {test.get('call')} == {test.get('expected')}")

    def _graded(self) -> None:
        """The bundled coding exercise published through the gate, then graded wrong and right."""
        exercise = json.loads(SAMPLE_EXERCISE.read_text())
        job = self.finish(self.client.create_exercise(exercise))
        if job["status"] != "succeeded":
            raise self.fault(f"the bundled exercise did not pass the gate: {job['error']}")
        exercise_id = job["output"]["exercise_id"]
        self.say(
            "the bundled exercise passed the gate (its solution passes its tests in the sandbox): "
            f"{exercise['prompt']}"
        )
        scores = []
        for label, code in (("wrong", WRONG_CODE), ("right", RIGHT_CODE)):
            graded = self.finish(self.client.submit_answer(exercise_id, code))
            if graded["status"] != "succeeded":
                raise self.fault(f"grading the {label} answer {graded['status']}: {graded['error']}")
            result = graded["output"]
            scores.append(result["score"])
            mastery = ", ".join(f"{m['skill']} {m['p_known']:.3f}" for m in result["mastery"])
            self.say(
                f"  {label} answer: score {result['score']:.2f}, {result['feedback']} mastery: {mastery}"
            )
        if not (scores[0] < 1.0 and scores[1] == 1.0):
            raise self.fault(f"the sandbox graded the wrong answer {scores[0]} and the right one {scores[1]}")

    def _grounded_answer(self) -> None:
        """A question about the library. An answer the checks passed whole is kept in the answer cache
        and must be served from it when asked again; one from which a sentence was removed, or that
        was withheld, is not kept (asking again would only repeat it)."""
        output = self.ask(ASK_QUESTION)
        if not _fully_supported(output):
            self.say("  not kept in the answer cache: only an answer the checks passed whole is")
            return
        again = self.ask(ASK_QUESTION)
        if not again["cached"]:
            raise self.fault("a fully supported answer was not served from the answer cache")
        self.say(f"  answered from the cache: job {again['cached_from_job_id']}")

    def ask(self, question: str) -> dict[str, Any]:
        job = self.finish(self.client.ask(question, collections=["study-skills"], wait=30))
        if job["status"] != "succeeded":
            raise self.fault(f"ask job {job['id']} {job['status']}: {job['error']}")
        output = job["output"]
        if not output["cached"]:
            self.shown.answers += 1
            self.shown.supported_answers += _fully_supported(output)
        took = f"{job['metrics']['run_ms']} ms" if job["metrics"]["run_ms"] is not None else "—"
        self.say(
            f"ask: {question!r}: grounded {output['grounded']}, cached {output['cached']} "
            f"({took}; instructions v{job['instructions_version']})"
        )
        self.say(f"  {output['answer'][:400]}")
        if output["withheld"]:
            self.say(f"  (the model's own answer was withheld: {output['withheld']})")
        for citation in output["citations"]:
            when = citation["time_range"]
            at = f" at {when['start_s']:.1f}-{when['end_s']:.1f} s" if when else ""
            page = f" page {citation['page']}" if citation["page"] else ""
            self.say(f"  [{citation['marker']}] {citation['title']}{at}{page}: {citation['quote'][:120]!r}")
        removed = ", ".join(f"{count} {why}" for why, count in output.get("removed", {}).items())
        self.say(
            f"  {output['unsupported_sentences']} sentence(s) no passage supported, removed"
            + (f" ({removed})" if removed else "")
            + f"; {output['dropped_markers']} invented marker(s)"
        )
        return output

    def tutor(self) -> None:
        """A two-turn tutor conversation, replayed with its citations."""
        conversation = self.client.start_conversation("Memory")["id"]
        for message in TUTOR_MESSAGES:
            job = self.finish(self.client.send_message(conversation, message))
            if job["status"] != "succeeded":
                raise self.fault(f"tutor job {job['id']} {job['status']}: {job['error']}")
            self.shown.tutor_turns += 1
            self.shown.tutor_answered += job["output"]["grounded"]
        replay = self.client.conversation(conversation)
        if len(replay["messages"]) != 2 * len(TUTOR_MESSAGES):
            raise self.fault(
                f"the conversation holds {len(replay['messages'])} messages, not {2 * len(TUTOR_MESSAGES)}"
            )
        self.say(f"tutor conversation {conversation} ({len(replay['messages'])} messages, replayed):")
        for message in replay["messages"]:
            who = "learner" if message["role"] == "user" else "tutor"
            self.say(f"  {who}: {message['content'][:300]}")
            for item in message["citations"]:
                citation = item["citation"]
                self.say(
                    f"    [{citation['marker']}] {citation['title']} ({item['status']}): "
                    f"{citation['quote'][:100]!r}"
                )

    def _learner(self) -> None:
        """A profile from the sample intro, two progress events, the mastery table and one insight."""
        job = self.client.ingest_profile(file=(SAMPLE_INTRO.name, SAMPLE_INTRO.read_bytes()))
        self.say(f"profile ingestion {job['id']} from {SAMPLE_INTRO.name}")
        job = self.finish(job)
        if job["status"] != "succeeded":
            raise self.fault(f"profile job {job['id']} {job['status']}: {job['error']}")
        profile = job["output"]
        saved = "saved revision" if profile.get("saved", True) else "nothing kept, still revision"
        self.say(
            f"  {saved} {profile['revision']} of {profile['username']}: "
            f"{len(profile['skills'])} skills, {len(profile['interests'])} interests, "
            f"{len(profile['goals'])} goals kept; "
            f"{profile['dropped_unsupported']} unsupported item(s) dropped"
        )
        for skill in profile["skills"]:
            self.say(f"    skill: {skill['name']}" + (f" ({skill['level']})" if skill["level"] else ""))
        insight_job = None
        for event in PROGRESS_EVENTS:
            insight_job = self.client.record_progress(**event)["job"]
            self.say(f"  progress: {event['completed_task']!r} score {event['score']}")
        state = self.client.progress()
        self.say("\n  skill            mastery  evidence")
        for row in state["mastery"]:
            self.say(f"  {row['skill']:<16} {row['p_known']:>7.3f}  {row['evidence']:>8}")
        if len(state["mastery"]) != 2:
            raise self.fault(f"two skills practised, {len(state['mastery'])} in the mastery table")
        output = self.outcome(insight_job, "insight") if insight_job else None
        if output is None:
            return
        self.say(f"\n  insight: {output['summary']}")
        for step in output["next_steps"][:3]:
            self.say(
                f"    next: {step['action']}"
                + (f" (cites chunks {step['cited_chunk_ids']})" if step["cited_chunk_ids"] else "")
            )

    def ingest_and_search(self) -> None:
        """Ingest the bundled sample corpus (Markdown notes, a PDF, an SRT transcript and a recording,
        which is transcribed), then one hybrid search, and one that finds the recording's words."""
        files = sorted(p for p in SAMPLES.iterdir() if p.suffix in {".md", ".pdf", ".srt", ".ogg"})
        items = self.client.upload_documents(
            [(p.name, p.read_bytes()) for p in files], collection="study-skills"
        )
        self.say(f"ingesting {len(items)} sample documents: {', '.join(p.name for p in files)}")
        documents = {}
        for item in items:
            document_id = item["document"]["id"]
            deadline = time.monotonic() + WAIT_S
            while (document := self.client.get_document(document_id))["status"] not in ("ready", "failed"):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"document {document_id} still {document['status']}")
                time.sleep(0.5)
            documents[document["filename"]] = document
            self.say(
                f"  {document['filename']}: {document['status']}, {document['chunk_count']} chunks"
                + (f" ({document['error']['code']})" if document["error"] else "")
            )
        failed = [name for name, document in documents.items() if document["status"] != "ready"]
        if failed:
            raise self.fault(f"bundled samples failed to ingest: {failed}")
        self._show_transcript(documents)
        query = "how long should I wait between reviews?"
        found = self.client.search(query, k=3, mode="hybrid")
        self.say(f"\nhybrid search {query!r} ({found['model']}):")
        for hit in found["items"]:
            where = " > ".join(hit["heading_path"]) or (
                f"{hit['start_s']:.0f}s" if hit["start_s"] is not None else ""
            )
            self.say(
                f"  {hit['score']:.4f}  vector #{hit['vector_rank']}  keyword #{hit['keyword_rank']}  "
                f"{hit['document_title']} [{where}]: {hit['text'][:90]!r}"
            )
        if not found["items"]:
            raise self.fault(f"searching the samples for {query!r} found nothing")

    def _show_transcript(self, documents: dict[str, dict[str, Any]]) -> None:
        """The recording's transcript (its first cues), and a search that lands in it at a time range."""
        recording = next((d for d in documents.values() if d["format"] == "recording"), None)
        if recording is None:
            raise self.fault("the bundled recording was not read as a recording")
        transcript = self.client.transcript(recording["id"])
        self.say(
            f"\n{recording['filename']}: transcribed by {transcript['engine']}, "
            f"{transcript['duration_s']:.1f} s, {len(transcript['segments'])} cues:"
        )
        for cue in transcript["segments"][:3]:
            self.say(f"  {cue['start_s']:6.2f}-{cue['end_s']:6.2f} s  {cue['text']}")
        found = self.client.search(RECORDING_QUESTION, k=1, mode="hybrid")
        hit = found["items"][0] if found["items"] else None
        if hit is None or hit["start_s"] is None or hit["document_id"] != recording["id"]:
            raise self.fault(f"searching {RECORDING_QUESTION!r} did not land in the recording: {hit}")
        self.say(
            f"  search {RECORDING_QUESTION!r}: {hit['document_title']} at "
            f"{hit['start_s']:.1f}-{hit['end_s']:.1f} s: {hit['text'][:90]!r}"
        )

    def _streamed_chat(self) -> None:
        """One more chat, followed over its server-sent events, tokens as they come."""
        job = self.client.submit("chat", STREAMED_CHAT_INPUT)
        self.say(f"watching chat job {job['id']} live (GET {job['urls']['events']}):")
        tokens, final = [], None
        for event in self.client.watch(job["id"]):
            if event.event == "output":
                tokens.append(event.data["data"]["delta"])
                print(event.data["data"]["delta"], end="", flush=True)
            elif event.event == "status":
                self.say(f"[{event.data['type']}]")
            elif event.event == "done":
                final = event.data
        self.say(f"\nstream done: {len(tokens)} output events, job {final and final['status']}")
        if not final or final["status"] != "succeeded":
            raise self.fault(f"the streamed chat ended {final and final['status']}: {final}")
        if "".join(tokens) != final["output"]["text"]:
            raise self.fault("the streamed tokens do not add up to the job's output")


def _drafts(job: dict[str, Any]) -> int:
    """How many drafts an exercise job had the model write (one that failed validation counts once)."""
    if job["status"] == "succeeded":
        return job["output"]["drafts"]
    details = (job.get("error") or {}).get("details") or {}
    return len(details.get("reasons") or [None])


def _fully_supported(output: dict[str, Any]) -> bool:
    """An answer the checks passed whole: grounded, nothing withheld or removed (what the cache keeps)."""
    return bool(output["grounded"]) and not output["withheld"] and output["unsupported_sentences"] == 0


def make_admin(database_url: str, email: str) -> None:
    import psycopg

    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("UPDATE users SET is_superuser = true WHERE email = %s", (email,))


def _shorten(job: dict[str, Any]) -> dict[str, Any]:
    """The job resource with each embedding vector cut to a few numbers, one line each."""
    output = job.get("output")
    if isinstance(output, dict) and isinstance(output.get("vectors"), list):
        vectors = [_brief_vector(v) for v in output["vectors"]]
        job = {**job, "output": {**output, "vectors": vectors}}
    return job


def _brief_vector(vector: object) -> object:
    if not isinstance(vector, list) or not all(isinstance(x, (int, float)) for x in vector):
        return vector
    head = ", ".join(f"{x:.4f}" for x in vector[:4])
    return f"[{head}, ... ({len(vector)} numbers)]" if len(vector) > 4 else f"[{head}]"
