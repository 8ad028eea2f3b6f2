"""The `tutor` kind's body: the conversation so far (recent turns in full up to a token budget,
older ones summarised), the learner's profile, a search on the new message, a streamed reply
checked like an `ask` answer, and the reply stored with its citations."""

from __future__ import annotations

import uuid

from core.settings import get_settings
from db import conversations, embeddings, profiles, xapi
from db.instructions import use_instructions
from db.models import ConversationMessage
from db.unit_of_work import unit_of_work
from tasks.ask import grounded_answer
from tasks.tutor.history import history
from tasks.tutor.spec import SPEC, TutorInput, TutorOutput
from tasks.xapi_send.spec import SPEC as XAPI_SEND
from workers.accounts import account_of_job
from workers.errors import JobFailure
from workers.instructions import data_message
from workers.llm import get_llm_provider
from workers.retrieval import hybrid_search
from workers.runtime import JobContext, job_task

SEARCHED = 20
FOLLOW_UP_WORDS = 12  # a message this short ("why?", "and how long?") is searched with the one before


@job_task(SPEC)
def tutor(ctx: JobContext, payload: TutorInput) -> TutorOutput:
    settings = get_settings()
    ctx.progress("reading")
    with unit_of_work() as session:
        user = account_of_job(session, payload.user_id)
        message = session.get(ConversationMessage, payload.message_id)
        if message is None or message.conversation_id != payload.conversation_id:
            raise JobFailure("conversation_not_found", "the conversation was deleted")
        instructions = use_instructions(session, kind="tutor", job_id=ctx.job_id)
        profile = profiles.profile_of_user(session, user=user)
        learner = {
            "level": profile.level,
            "goals": profile.goals[:5],
            "skills": [skill["name"] for skill in profile.skills][:10],
        }
        turns = conversations.turns_before(
            session, conversation_id=payload.conversation_id, message_id=payload.message_id
        )
        past = history(turns, budget_tokens=settings.tutor_history_tokens)
        query = question = message.content
        previous_question = next((t.content for t in reversed(turns) if t.role == "user"), None)
        if previous_question and len(query.split()) < FOLLOW_UP_WORDS:
            query = f"{previous_question} {query}"
        ctx.progress("searching")
        retrieved = hybrid_search(session, query=query, collection_ids=payload.collection_ids, k=SEARCHED)
        embed_model = embeddings.get_active_model_sync(session, default=settings.embed_model)
    passages = grounded_answer.numbered(retrieved)[: payload.k]

    base = {
        "conversation_id": payload.conversation_id,
        "retrieved": len(passages),
        "turns_seen": len(past.recent),
        "turns_summarised": past.summarised,
        "instructions_version": instructions.version,
    }
    if passages:
        ctx.progress("answering", None, f"{len(passages)} passages")
        system = grounded_answer.system_message(instructions.text)
        data = {
            "learner": learner,
            "earlier_in_this_conversation": past.summary,
            "message": message.content,
            "passages": grounded_answer.passages_data(passages),
        }
        chat = [
            {"role": "system", "content": system},
            *past.recent,
            data_message(data),
        ]
        result = grounded_answer.generate(
            get_llm_provider(),
            chat,
            question=query,
            passages=passages,
            embed_model=embed_model,
            on_token=ctx.emit_output,
        )
        model = result.model
    else:
        model = None

    with unit_of_work() as session:
        checked = (
            grounded_answer.check(session, result.text, passages, system=system)
            if passages
            else grounded_answer.dont_know()
        )
        reply_id = conversations.add_reply(
            session,
            conversation_id=payload.conversation_id,
            job_id=ctx.job_id,
            content=checked.answer,
            citations=checked.citations,
            grounded=checked.grounded,
        )
        # The learning record, with the reply: a question asked, what the answer cited.
        xapi.record_question(
            session,
            XAPI_SEND,
            job_id=ctx.job_id,
            user_id=payload.user_id,
            question=question,
            collection_ids=payload.collection_ids,
            cited=[
                xapi.Cited(
                    uuid.UUID(str(citation["document_id"])),
                    citation["title"],
                    recording=citation.get("time_range") is not None,
                )
                for citation in checked.citations
            ],
        )
    return TutorOutput.model_validate(
        checked.as_output() | base | {"model": model, "reply_message_id": reply_id}
    )
