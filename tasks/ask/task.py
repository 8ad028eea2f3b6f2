"""The `ask` kind's body: the cache (exact, then semantic with an equal content signature), else hybrid
search, a streamed answer, the citation checks, and a cache entry for an answer the checks passed
whole (grounded, no sentence removed).

The API already answers exact hits without a job; this looks again because the content versions
it keyed on may have moved, and because only here is the question's vector at hand."""

from __future__ import annotations

import time
from datetime import timedelta

from core.ask import questions
from core.metrics import catalog
from core.settings import get_settings
from db import ask as ask_queries
from db import xapi
from db.instructions import use_instructions
from db.unit_of_work import unit_of_work
from tasks.ask import grounded_answer
from tasks.ask.spec import SPEC, AskInput, AskOutput
from tasks.xapi_send.spec import SPEC as XAPI_SEND
from workers.accounts import account_of_job
from workers.instructions import data_message
from workers.llm import get_llm_provider, routing
from workers.retrieval import hybrid_search, query_vector
from workers.runtime import JobContext, job_task

SEARCHED = 20  # chunks fused; the relevant ones among the best k are shown to the model


class Stopwatch:
    """Milliseconds per step, for the output's timings_ms."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round((now - self._last) * 1000, 1)
        self._last = now


@job_task(SPEC)
def ask(ctx: JobContext, payload: AskInput) -> AskOutput:
    output = _answer(ctx, payload)
    with unit_of_work() as session:  # the learning record: a question asked, what the answer cited
        xapi.record_question(
            session,
            XAPI_SEND,
            job_id=ctx.job_id,
            user_id=payload.user_id,
            question=payload.question,
            collection_ids=payload.collection_ids,
            cited=[
                xapi.Cited(citation.document_id, citation.title, recording=citation.time_range is not None)
                for citation in output.citations
            ],
        )
    return output


def _answer(ctx: JobContext, payload: AskInput) -> AskOutput:
    settings = get_settings()
    clock = Stopwatch()
    ctx.progress("searching")
    # The route when the kind has one (as the API keys its exact hits): never across a route change.
    # Read before the transaction: a stale route cache reads the table on a connection of its own.
    llm_identity = routing.answer_identity("ask")
    with unit_of_work() as session:
        account_of_job(session, payload.user_id)
        instructions = use_instructions(session, kind="ask", job_id=ctx.job_id)
        embedded = query_vector(session, payload.question)
        # Before the search (ask_queries.cache_keys says why).
        keys = ask_queries.cache_keys(
            session,
            question=payload.question,
            collection_ids=payload.collection_ids,
            user_id=payload.user_id,
            instructions_version=instructions.version,
            model=llm_identity,
            embed_model=embedded[0],
            speakers=payload.speakers,
        )
        lookup, context, scope = keys.lookup, keys.context, keys.scope
        words = questions.content_signature(payload.question)
        hit, match = _cached(session, lookup=lookup, context=context, vector=embedded[1], words=words)
        catalog.ANSWER_CACHE.labels("job", "miss" if hit is None else "hit").inc()
        if hit is not None:
            return AskOutput.model_validate(
                hit.output | {"cached": True, "cached_from_job_id": str(hit.job_id), "cache_match": match}
            )
        retrieved = hybrid_search(
            session,
            query=payload.question,
            collection_ids=list(scope.collection_versions),
            k=SEARCHED,
            embedded=embedded,
            speakers=payload.speakers,
        )
    clock.lap("search")
    passages = grounded_answer.numbered(retrieved)[: payload.k]
    base = {
        "question": payload.question,
        "cached": False,
        "retrieved": len(passages),
        "instructions_version": instructions.version,
    }
    if not passages:
        return AskOutput.model_validate(grounded_answer.dont_know().as_output() | base | {"model": None})

    ctx.progress("answering", None, f"{len(passages)} passages")
    system = grounded_answer.system_message(instructions.text)
    data = {"question": payload.question, "passages": grounded_answer.passages_data(passages)}
    messages = [
        {"role": "system", "content": system},
        data_message(data),
    ]
    result = grounded_answer.generate(
        get_llm_provider(),
        messages,
        question=payload.question,
        passages=passages,
        embed_model=embedded[0],
        on_token=ctx.emit_output,
    )
    clock.lap("llm")

    ctx.progress("checking")
    with unit_of_work() as session:
        checked = grounded_answer.check(session, result.text, passages, system=system)
        clock.lap("check")
        output = AskOutput.model_validate(
            checked.as_output() | base | {"model": result.model, "timings_ms": clock.laps}
        )
        if checked.cacheable and settings.answer_cache_ttl_days > 0:
            ask_queries.store(
                session,
                lookup_key=lookup,
                context_key=context,
                scope=scope,
                question=payload.question,
                content_words=words,
                vector=embedded[1],
                instructions_version=instructions.version,
                model=llm_identity,
                output=output.model_dump(mode="json"),
                job_id=ctx.job_id,
                ttl=timedelta(days=settings.answer_cache_ttl_days),
            )
    return output


def _cached(session, *, lookup: str, context: str, vector: list[float], words: list[str]):
    """An exact hit, else the nearest earlier question in the same context that is close enough
    and asks the same thing (an equal content signature, core/ask/questions.py): "is X safe" never answers
    "is X unsafe", nor "is a dog bigger than a cat" its reverse."""
    hit = ask_queries.exact_hit_sync(session, lookup_key=lookup)
    if hit is not None:
        return hit, "exact"
    threshold = get_settings().answer_cache_min_similarity
    for neighbour in ask_queries.nearest(session, context_key=context, vector=vector):
        if neighbour.similarity >= threshold and questions.same_content(neighbour.content_words, words):
            entry = ask_queries.take_hit(session, entry_id=neighbour.entry_id)
            if entry is not None:
                return entry, "semantic"
    return None, None
