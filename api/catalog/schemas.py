"""Catalog: the job kinds and models this platform offers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class KindRead(BaseModel):
    name: str
    description: str
    queue: str
    max_attempts: int
    time_limit_s: int
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


class KindList(BaseModel):
    items: list[KindRead]
