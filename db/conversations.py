"""Tutor conversations: the learner's messages and the tutor's checked replies with citations."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.models import Conversation, ConversationMessage


async def create(session: AsyncSession, *, owner_id: uuid.UUID, title: str | None) -> Conversation:
    conversation = Conversation(id=uuid.uuid4(), owner_id=owner_id, title=title)
    session.add(conversation)
    await session.flush()
    await session.refresh(conversation)
    return conversation


async def owned(
    session: AsyncSession, *, owner_id: uuid.UUID, conversation_id: uuid.UUID
) -> Conversation | None:
    return (
        await session.execute(
            select(Conversation).where(Conversation.id == conversation_id, Conversation.owner_id == owner_id)
        )
    ).scalar_one_or_none()


async def of_owner(session: AsyncSession, *, owner_id: uuid.UUID, limit: int = 50) -> list[Conversation]:
    rows = await session.execute(
        select(Conversation)
        .where(Conversation.owner_id == owner_id)
        .order_by(Conversation.updated_at.desc())
        .limit(limit)
    )
    return list(rows.scalars())


async def messages(session: AsyncSession, *, conversation_id: uuid.UUID) -> list[ConversationMessage]:
    rows = await session.execute(
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation_id)
        .order_by(ConversationMessage.id)
    )
    return list(rows.scalars())


async def add_learner_message(
    session: AsyncSession, *, conversation: Conversation, content: str, job_id: uuid.UUID
) -> ConversationMessage:
    message = ConversationMessage(
        conversation_id=conversation.id, role="user", content=content, job_id=job_id
    )
    session.add(message)
    conversation.updated_at = func.now()
    if conversation.title is None:
        conversation.title = content[:80]
    await session.flush()
    return message


# --- the tutor job ----------------------------------------------------------------------------


def turns_before(
    session: Session, *, conversation_id: uuid.UUID, message_id: int
) -> list[ConversationMessage]:
    """The conversation up to (not including) the given message, oldest first."""
    rows = session.execute(
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation_id, ConversationMessage.id < message_id)
        .order_by(ConversationMessage.id)
    )
    return list(rows.scalars())


def add_reply(
    session: Session,
    *,
    conversation_id: uuid.UUID,
    job_id: uuid.UUID,
    content: str,
    citations: list[dict[str, Any]],
    grounded: bool,
) -> int:
    """The tutor's reply to a job's message; a second run of the same job keeps the first reply."""
    inserted = session.execute(
        insert(ConversationMessage)
        .values(
            conversation_id=conversation_id,
            role="assistant",
            content=content,
            citations=citations,
            grounded=grounded,
            job_id=job_id,
        )
        .on_conflict_do_nothing(
            index_elements=["job_id"], index_where=ConversationMessage.role == "assistant"
        )
        .returning(ConversationMessage.id)
    ).scalar_one_or_none()
    session.execute(
        update(Conversation).where(Conversation.id == conversation_id).values(updated_at=func.now())
    )
    if inserted is not None:
        return inserted
    return session.execute(
        select(ConversationMessage.id).where(
            ConversationMessage.job_id == job_id, ConversationMessage.role == "assistant"
        )
    ).scalar_one()
