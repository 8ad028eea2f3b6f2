"""`mentorq demo`: a throwaway stack; chat, embed and streamed chat jobs; the samples ingested (a
recording transcribed), searched and asked about; a learner profiled from a sample intro, with
progress, mastery and an insight; resources suggested, exercises generated through the publish
gate, and code submissions graded in the sandbox."""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from devstack.preflight import sandbox_shortfall
from devstack.supervisor import PROJECT_ROOT, StackError, free_port, start_stack
from mentorq.client import ApiError, MentorqClient, console_session

SAMPLES = PROJECT_ROOT / "samples" / "knowledge"
SAMPLE_INTRO = PROJECT_ROOT / "samples" / "profiles" / "intro.md"
SAMPLE_EXERCISE = PROJECT_ROOT / "samples" / "exercises" / "count_vowels.json"
RESOURCES_QUERY = "how long should I wait between reviews?"
# A wrong answer (it counts every letter) and a right one for the bundled coding exercise.
ASK_ATTEMPTS = 3
ASK_QUESTION = "What happens to something you learned last Monday if you never look at it again?"
# Answered by the bundled recording (samples/knowledge/lecture-testing-effect.ogg), once transcribed.
RECORDING_QUESTION = "How much did students who took a practice test remember a week later?"
TUTOR_MESSAGES = ("What is active recall?", "How do I practise it after a lecture?")
WRONG_CODE = "def count_vowels(text):\n    return len(text)\n"
RIGHT_CODE = "def count_vowels(text):\n    return sum(char in 'aeiouAEIOU' for char in text)\n"
PROGRESS_EVENTS = (
    {"completed_task": "SQL window functions drill", "skills": ["SQL", "statistics"], "score": 0.9},
    {"completed_task": "Hypothesis testing quiz", "skills": ["statistics"], "score": 0.4},
)

DEADLINE_S = 420.0  # the first chat loads the local model into the worker; the learner adds two LLM jobs
CHAT_INPUT = {"prompt": "Explain spaced repetition in one sentence.", "options": {"max_tokens": 64}}
STREAMED_CHAT_INPUT = {"prompt": "Give one tip for remembering vocabulary.", "options": {"max_tokens": 48}}
EMBED_INPUT = {
    "texts": [
        "Spaced repetition schedules reviews.",
        "Retrieval practice strengthens memory.",
        "Interleaving mixes related topics.",
    ]
}


def run_demo(*, keep: bool = False, say=print) -> int:
    """Run the demo; 0 only if both jobs succeeded. The state dir is removed unless kept or failed."""
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
        ok = _run_jobs(stack.api_url, say, database_url=stack.database_url)
    except (StackError, ApiError, TimeoutError) as exc:
        say(f"demo failed: {exc}")
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


def _run_jobs(api_url: str, say, *, database_url: str) -> bool:
    """Register, log in, submit both jobs with Prefer: wait=60, poll to the end, print them."""
    deadline = time.monotonic() + DEADLINE_S
    with MentorqClient(api_url) as client:
        email, password = f"demo-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16)
        client.register(email, password)
        _make_admin(database_url, email)  # as `mentorq users promote` would: it publishes an exercise below
        client.login(email, password)
        say(f"registered and logged in as {email} (an admin)")
        submitted = []
        for kind, payload in (("chat", CHAT_INPUT), ("embed", EMBED_INPUT)):
            job = client.submit(kind, payload, wait=60)
            say(f"submitted {kind} job {job['id']}: {job['status']}")
            submitted.append(job)
        finished = []
        for job in submitted:
            if job["status"] not in ("succeeded", "failed", "canceled"):
                remaining = max(1.0, deadline - time.monotonic())
                job = client.wait_until_done(job["id"], deadline_s=remaining)
            finished.append(job)
        for job in finished:
            say(f"\n{job['kind']} job:")
            say(json.dumps(_shorten(job), indent=2, ensure_ascii=False))
        streamed = _watch_streamed_chat(client, say)
        searched = _ingest_and_search(client, say, deadline)
        learner = _learner(client, say, deadline)
        assistant = _assistant(client, say, deadline)
        answered = _grounded_answers(client, say, deadline)
    console = _sign_in_to_console(api_url, email, password, say)
    return (
        all(job["status"] == "succeeded" for job in finished)
        and streamed
        and searched
        and learner
        and assistant
        and answered
        and console
    )


def _sign_in_to_console(api_url: str, email: str, password: str, say) -> bool:
    """Sign in to the admin console through its form (CSRF token included) and open the overview."""
    try:
        with console_session(api_url, email, password) as browser:
            overview = browser.get("/admin")
    except ApiError as exc:
        say(f"\nadmin console: {api_url}/admin: {exc}")
        return False
    ok = overview.status_code == 200 and "<h1>Overview</h1>" in overview.text
    say(f"\nadmin console: {api_url}/admin (signed in as {email}: {'ok' if ok else overview.status_code})")
    return ok


def _make_admin(database_url: str, email: str) -> None:
    import psycopg

    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("UPDATE users SET is_superuser = true WHERE email = %s", (email,))


def _assistant(client: MentorqClient, say, deadline: float) -> bool:
    """Resources for a query; a multiple-choice and a coding exercise asked of the local model (the
    publish gate shows what it refuses); a bundled coding exercise graded wrong, then right."""
    remaining = lambda: max(1.0, deadline - time.monotonic())  # noqa: E731
    job = client.wait_until_done(client.suggest_resources(RESOURCES_QUERY, k=3)["id"], deadline_s=remaining())
    if job["status"] != "succeeded":
        return _model_refused(job, say, "resources") and _graded(client, say, remaining)
    output = job["output"]
    say(f"\nresources for {RESOURCES_QUERY!r}:")
    for resource in output["resources"]:
        by = "model" if resource["explained_by_model"] else "code"
        say(
            f"  - {resource['title']} ({resource['resource_type']}; why, by the {by}): "
            f"{resource['why'][:160]}"
        )
    say(
        f"  checks: {output['dropped_invented']} invented dropped, {output['duplicates_replaced']} repeats "
        f"replaced, {output['dropped_citations']} citations removed"
        + (f"; shortfall: {output['shortfall']}" if output["shortfall"] else "")
    )
    for exercise_type, topic in (("multiple_choice", "spaced repetition"), ("coding", "python strings")):
        job = client.wait_until_done(
            client.request_exercise(exercise_type, topic=topic)["id"], deadline_s=remaining()
        )
        say(f"\n{exercise_type} exercise on {topic!r} from the local model: {job['status']}")
        if job["status"] == "succeeded":
            say(f"  {job['output']['prompt'][:200]}")
            for choice in job["output"]["choices"] or []:
                say(f"    ( ) {choice}")
        elif (job.get("error") or {}).get("code") == "exercise_rejected":
            for number, reasons in enumerate(job["error"]["details"]["reasons"], start=1):
                say(f"  draft {number} refused by the gate: {'; '.join(reasons)[:200]}")
        elif not _model_refused(job, say, f"{exercise_type} exercise"):
            return False
    return _graded(client, say, remaining)


def _grounded_answers(client: MentorqClient, say, deadline: float) -> bool:
    """One question asked until an answer is grounded and then once more, from the cache (the tiny
    local model is not always grounded: a withheld answer is not cached), with its citations and
    the lecture's time ranges; then a two-turn tutor conversation."""
    remaining = lambda: max(1.0, deadline - time.monotonic())  # noqa: E731
    cache_ok, previous = True, None
    for attempt in range(1, ASK_ATTEMPTS + 1):
        job = client.ask(ASK_QUESTION, collections=["study-skills"], wait=30)
        job = client.wait_until_done(job["id"], deadline_s=remaining())
        if job["status"] != "succeeded":
            return _model_refused(job, say, "ask")
        output = job["output"]
        took = f"{job['metrics']['run_ms']} ms" if job["metrics"]["run_ms"] is not None else "—"
        say(
            f"\nask ({attempt}): {ASK_QUESTION!r}: grounded {output['grounded']}, cached {output['cached']}"
            f" ({took}; instructions v{job['instructions_version']})"
        )
        say(f"  {output['answer'][:400]}")
        if output["withheld"]:
            say(f"  (the model's own answer was withheld: {output['withheld']})")
        for citation in output["citations"]:
            when = citation["time_range"]
            at = f" at {when['start_s']:.1f}-{when['end_s']:.1f} s" if when else ""
            page = f" page {citation['page']}" if citation["page"] else ""
            say(f"  [{citation['marker']}] {citation['title']}{at}{page}: {citation['quote'][:120]!r}")
        removed = ", ".join(f"{count} {why}" for why, count in output.get("removed", {}).items())
        say(
            f"  {output['unsupported_sentences']} sentence(s) no passage supported, removed"
            + (f" ({removed})" if removed else "")
            + f"; {output['dropped_markers']} invented marker(s)"
        )
        if previous is not None:  # only grounded answers are kept, and a kept one must answer now
            cache_ok = cache_ok and output["cached"] == previous["grounded"]
        if output["cached"]:
            say(f"  answered from the cache: job {output['cached_from_job_id']}")
            break
        previous = output

    if not _ask_the_recording(client, say, remaining):
        return False

    conversation = client.start_conversation("Memory")["id"]
    replies = []
    for message in TUTOR_MESSAGES:
        job = client.wait_until_done(client.send_message(conversation, message)["id"], deadline_s=remaining())
        if job["status"] != "succeeded":
            return _model_refused(job, say, "tutor")
        replies.append(job)
    replay = client.conversation(conversation)
    say(f"\ntutor conversation {conversation} ({len(replay['messages'])} messages, replayed):")
    for message in replay["messages"]:
        who = "learner" if message["role"] == "user" else "tutor"
        say(f"  {who}: {message['content'][:300]}")
        for item in message["citations"]:
            citation = item["citation"]
            say(
                f"    [{citation['marker']}] {citation['title']} ({item['status']}): "
                f"{citation['quote'][:100]!r}"
            )
    return cache_ok and len(replay["messages"]) == 2 * len(TUTOR_MESSAGES)


def _ask_the_recording(client: MentorqClient, say, remaining) -> bool:
    """A question the transcribed lecture answers, asked until the answer is grounded (the tiny
    local model often is not): its citations carry the recording's time range."""
    for attempt in range(1, ASK_ATTEMPTS + 1):
        job = client.ask(RECORDING_QUESTION, collections=["study-skills"], wait=30)
        job = client.wait_until_done(job["id"], deadline_s=remaining())
        if job["status"] != "succeeded":
            return _model_refused(job, say, "ask (the recording)")
        output = job["output"]
        say(f"\nask ({attempt}): {RECORDING_QUESTION!r}: grounded {output['grounded']}")
        say(f"  {output['answer'][:400]}")
        for citation in output["citations"]:
            when = citation["time_range"]
            at = f" at {when['start_s']:.1f}-{when['end_s']:.1f} s" if when else ""
            say(f"  [{citation['marker']}] {citation['title']}{at}: {citation['quote'][:120]!r}")
        if output["grounded"]:
            break
    return True


def _graded(client: MentorqClient, say, remaining) -> bool:
    """The bundled coding exercise published through the gate, then graded wrong and right."""
    exercise = json.loads(SAMPLE_EXERCISE.read_text())
    job = client.wait_until_done(client.create_exercise(exercise)["id"], deadline_s=remaining())
    if job["status"] != "succeeded":
        say(f"  the bundled exercise failed the gate: {job['error']}")
        return False
    exercise_id = job["output"]["exercise_id"]
    say(
        "\nthe bundled exercise passed the gate (its solution passes its tests in the sandbox): "
        f"{exercise['prompt']}"
    )
    grades = []
    for label, code in (("wrong", WRONG_CODE), ("right", RIGHT_CODE)):
        graded = client.wait_until_done(client.submit_answer(exercise_id, code)["id"], deadline_s=remaining())
        if graded["status"] != "succeeded":
            say(f"  grading failed: {graded['error']}")
            return False
        result = graded["output"]
        grades.append(result)
        mastery = ", ".join(f"{m['skill']} {m['p_known']:.3f}" for m in result["mastery"])
        say(f"  {label} answer: score {result['score']:.2f}, {result['feedback']} mastery: {mastery}")
    return grades[0]["score"] < 1.0 and grades[1]["score"] == 1.0


def _learner(client: MentorqClient, say, deadline: float) -> bool:
    """A profile from the sample intro, two progress events, the mastery table and one insight."""
    job = client.ingest_profile(file=(SAMPLE_INTRO.name, SAMPLE_INTRO.read_bytes()))
    say(f"\nprofile ingestion {job['id']} from {SAMPLE_INTRO.name}")
    job = client.wait_until_done(job["id"], deadline_s=max(1.0, deadline - time.monotonic()))
    if job["status"] != "succeeded":
        say(f"  failed: {job['error']}")
        return False
    profile = job["output"]
    saved = "saved revision" if profile.get("saved", True) else "nothing kept, still revision"
    say(
        f"  {saved} {profile['revision']} of {profile['username']}: "
        f"{len(profile['skills'])} skills, {len(profile['interests'])} interests, "
        f"{len(profile['goals'])} goals kept; {profile['dropped_unsupported']} unsupported item(s) dropped"
    )
    for skill in profile["skills"]:
        say(f"    skill: {skill['name']}" + (f" ({skill['level']})" if skill["level"] else ""))
    insight_job = None
    for event in PROGRESS_EVENTS:
        recorded = client.record_progress(**event)
        insight_job = recorded["job"]["id"]
        say(f"  progress: {event['completed_task']!r} score {event['score']}")
    state = client.progress()
    say("\n  skill            mastery  evidence")
    for row in state["mastery"]:
        say(f"  {row['skill']:<16} {row['p_known']:>7.3f}  {row['evidence']:>8}")
    insight = client.wait_until_done(insight_job, deadline_s=max(1.0, deadline - time.monotonic()))
    if insight["status"] != "succeeded":
        return _model_refused(insight, say, "insight") and len(state["mastery"]) == 2
    output = insight["output"]
    say(f"\n  insight: {output['summary']}")
    for step in output["next_steps"][:3]:
        say(
            f"    next: {step['action']}"
            + (f" (cites chunks {step['cited_chunk_ids']})" if step["cited_chunk_ids"] else "")
        )
    return len(state["mastery"]) == 2


def _model_refused(job: dict[str, Any], say, what: str) -> bool:
    """A job the local model failed: the checks refusing a tiny model's answer is the platform at work
    (the demo goes on); any other failure is the platform's, and fails the demo."""
    error = job.get("error") or {}
    if error.get("code") != "llm_invalid_output":
        say(f"  {what} failed: {error}")
        return False
    say(
        f"  {what}: the local 135M model's answer failed validation twice "
        f"({error.get('message', '')[:120]}); "
        "the raw answer is kept in the job. A production model behind Ollama is what this is for."
    )
    return True


def _ingest_and_search(client: MentorqClient, say, deadline: float) -> bool:
    """Ingest the bundled sample corpus (Markdown notes, a PDF, an SRT transcript and a recording,
    which is transcribed), then one hybrid search, and one that finds the recording's words."""
    files = sorted(p for p in SAMPLES.iterdir() if p.suffix in {".md", ".pdf", ".srt", ".ogg"})
    items = client.upload_documents([(p.name, p.read_bytes()) for p in files], collection="study-skills")
    say(f"\ningesting {len(items)} sample documents: {', '.join(p.name for p in files)}")
    documents = {}
    for item in items:
        document_id = item["document"]["id"]
        while (document := client.get_document(document_id))["status"] not in ("ready", "failed"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"document {document_id} still {document['status']}")
            time.sleep(0.5)
        documents[document["filename"]] = document
        say(
            f"  {document['filename']}: {document['status']}, {document['chunk_count']} chunks"
            + (f" ({document['error']['code']})" if document["error"] else "")
        )
    recording = _show_transcript(client, say, documents)
    query = "how long should I wait between reviews?"
    found = client.search(query, k=3, mode="hybrid")
    say(f"\nhybrid search {query!r} ({found['model']}):")
    for hit in found["items"]:
        where = " > ".join(hit["heading_path"]) or (
            f"{hit['start_s']:.0f}s" if hit["start_s"] is not None else ""
        )
        say(
            f"  {hit['score']:.4f}  vector #{hit['vector_rank']}  keyword #{hit['keyword_rank']}  "
            f"{hit['document_title']} [{where}]: {hit['text'][:90]!r}"
        )
    return all(d["status"] == "ready" for d in documents.values()) and len(found["items"]) > 0 and recording


def _show_transcript(client: MentorqClient, say, documents: dict[str, dict[str, Any]]) -> bool:
    """The recording's transcript (its first cues), and a search that lands in it at a time range."""
    recording = next((d for d in documents.values() if d["format"] == "recording"), None)
    if recording is None or recording["status"] != "ready":
        return False
    transcript = client.transcript(recording["id"])
    say(
        f"\n{recording['filename']}: transcribed by {transcript['engine']}, "
        f"{transcript['duration_s']:.1f} s, {len(transcript['segments'])} cues:"
    )
    for cue in transcript["segments"][:3]:
        say(f"  {cue['start_s']:6.2f}-{cue['end_s']:6.2f} s  {cue['text']}")
    found = client.search(RECORDING_QUESTION, k=1, mode="hybrid")
    hit = found["items"][0] if found["items"] else None
    if hit is None or hit["start_s"] is None:
        say(f"  search {RECORDING_QUESTION!r} found no time range")
        return False
    say(
        f"  search {RECORDING_QUESTION!r}: {hit['document_title']} at "
        f"{hit['start_s']:.1f}-{hit['end_s']:.1f} s: {hit['text'][:90]!r}"
    )
    return hit["document_id"] == recording["id"]


def _watch_streamed_chat(client: MentorqClient, say) -> bool:
    """Submit one more chat and follow its server-sent events, tokens as they come."""
    job = client.submit("chat", STREAMED_CHAT_INPUT)
    say(f"\nwatching chat job {job['id']} live (GET {job['urls']['events']}):")
    tokens, final = [], None
    for event in client.watch(job["id"]):
        if event.event == "output":
            tokens.append(event.data["data"]["delta"])
            print(event.data["data"]["delta"], end="", flush=True)
        elif event.event == "status":
            say(f"[{event.data['type']}]")
        elif event.event == "done":
            final = event.data
    say(f"\nstream done: {len(tokens)} output events, job {final and final['status']}")
    return bool(final) and final["status"] == "succeeded" and "".join(tokens) == final["output"]["text"]


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
