"""LLM routing: which provider and model answer a job kind, with fallbacks and limits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class LLMRoute(Base):
    """One kind's route. A kind without a row uses the settings' provider (MENTORQ_LLM_PROVIDER).
    Keys are never stored here: a provider's credentials come from the settings only."""

    __tablename__ = "llm_routes"

    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(200))  # None: the provider's default model
    # [{"provider": ..., "model": ...}, ...], tried in order on llm_unavailable only.
    fallbacks: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    max_tokens: Mapped[int | None] = mapped_column(Integer)  # caps what the kind asks for
    temperature: Mapped[float | None] = mapped_column(Float)  # replaces what the kind asks for
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
