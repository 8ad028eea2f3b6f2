"""Tutor conversations: create, list, replay with citations looked up again, and a new message,
which is stored with its `tutor` job in one transaction."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from api.ask.schemas import ResolvedCitation
from api.ask.service import ask_collections, checked_question
from api.conversations.schemas import ConversationRead, MessageRead
from api.errors import ProblemError
from api.jobs.schemas import JobRead
from api.jobs.service import job_read
from api.quotas import check_job_quota
from core.job_status import ACTIVE
from db import ask as ask_queries
from db import conversations
from db.jobs import create_job
from db.models import Conversation, Job, User
from db.unit_of_work import commit_async
from tasks.tutor.spec import SPEC as TUTOR


async def create(session: AsyncSession, *, user: User, title: str | None) -> ConversationRead:
    conversation = await conversations.create(session, owner_id=user.id, title=title)
    await commit_async(session)
    return _read(conversation, [])


async def _owned(session: AsyncSession, *, user: User, conversation_id: uuid.UUID) -> Conversation:
    """The caller's conversation; another user's is 404, as if it did not exist."""
    conversation = await conversations.owned(session, owner_id=user.id, conversation_id=conversation_id)
    if conversation is None:
        raise ProblemError(404, "conversation_not_found", "no such conversation")
    return conversation


async def list_conversations(session: AsyncSession, *, user: User) -> list[ConversationRead]:
    return [_read(c, []) for c in await conversations.of_owner(session, owner_id=user.id)]


async def replay(session: AsyncSession, *, user: User, conversation_id: uuid.UUID) -> ConversationRead:
    conversation = await _owned(session, user=user, conversation_id=conversation_id)
    rows = await conversations.messages(session, conversation_id=conversation.id)
    messages = []
    for row in rows:
        resolved = await ask_queries.resolve(session, row.citations) if row.role == "assistant" else []
        messages.append(
            MessageRead(
                id=row.id,
                role=row.role,  # type: ignore[arg-type]
                content=row.content,
                grounded=row.grounded,
                citations=[ResolvedCitation.model_validate(item) for item in resolved],
                job_id=row.job_id,
                created_at=row.created_at,
            )
        )
    answered = {row.job_id for row in rows if row.role == "assistant"}
    waiting = [row.job_id for row in rows if row.role == "user" and row.job_id not in answered]
    pending = None
    if waiting and waiting[-1] is not None:
        job = await session.get(Job, waiting[-1])
        pending = job.id if job is not None and job.status in ACTIVE else None
    return _read(conversation, messages, pending=pending)


async def post_message(
    session: AsyncSession, *, user: User, conversation_id: uuid.UUID, content: str
) -> JobRead:
    text = checked_question(content, field="content")
    conversation = await _owned(session, user=user, conversation_id=conversation_id)
    await check_job_quota(session, user=user)
    job_id = uuid.uuid4()
    message = await conversations.add_learner_message(
        session, conversation=conversation, content=text, job_id=job_id
    )
    collection_ids = await ask_collections(session, user=user, names=None)
    job = create_job(
        session,
        TUTOR,
        job_id=job_id,
        input={
            "user_id": str(user.id),
            "conversation_id": str(conversation.id),
            "message_id": message.id,
            "collection_ids": [str(c) for c in collection_ids],
        },
        owner_id=user.id,
    )
    await commit_async(session)
    return job_read(job)


def _read(
    conversation: Conversation, messages: list[MessageRead], pending: uuid.UUID | None = None
) -> ConversationRead:
    return ConversationRead(
        id=conversation.id,
        title=conversation.title,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        messages=messages,
        pending_job_id=pending,
    )
