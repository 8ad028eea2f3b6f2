"""/api/conversations: tutor conversations that remember their turns and cite the library."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api.conversations import service as conversation_service
from api.conversations.schemas import ConversationCreate, ConversationList, ConversationRead, MessageCreate
from api.jobs.schemas import JobRead
from api.openapi import problems
from api.shared import CurrentUser, SessionDep

router = APIRouter(prefix="/api/conversations", tags=["assistant"])


@router.post("", response_model=ConversationRead, status_code=201)
async def create(request: ConversationCreate, session: SessionDep, user: CurrentUser) -> ConversationRead:
    return await conversation_service.create(session, user=user, title=request.title)


@router.get("", response_model=ConversationList)
async def list_conversations(session: SessionDep, user: CurrentUser) -> ConversationList:
    """Your conversations, most recently active first (without their messages)."""
    return ConversationList(items=await conversation_service.list_conversations(session, user=user))


@router.get("/{conversation_id}", response_model=ConversationRead, responses=problems(404))
async def replay(conversation_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> ConversationRead:
    """Every message in order, the tutor's with their citations looked up again now."""
    return await conversation_service.replay(session, user=user, conversation_id=conversation_id)


@router.post(
    "/{conversation_id}/messages",
    response_model=JobRead,
    status_code=202,
    responses=problems(404, 413, 429),
)
async def post_message(
    conversation_id: uuid.UUID,
    request: MessageCreate,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
) -> JobRead:
    """Your message, and a `tutor` job that replies (it streams on /v1/jobs/{id}/events)."""
    job = await conversation_service.post_message(
        session, user=user, conversation_id=conversation_id, content=request.content
    )
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job
