"""The framework's floor: what FastAPI under uvicorn costs for one request before mentorq does anything.

`benchmarks.platform_overhead` serves this app with the same uvicorn command as the platform's API
and sends it the same requests from the same clients: `POST /v1/jobs` with the chat job's body and
`Prefer: wait`, a bearer token. The route reads the token through FastAPI's `HTTPBearer`, validates
the body with pydantic and answers a finished job's shape (200, `succeeded`), so a client never
falls back to a GET. No middleware, no database, no Redis: its CPU per request beside the bare
Celery worker's per task is the least a job through a FastAPI API and a Celery worker can cost
here, whatever mentorq does on top (issue 30 compares the platform with Procrastinate, which has
neither an HTTP API nor Celery).

    uvicorn benchmarks.framework_floor:app
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
bearer = HTTPBearer()


class JobCreate(BaseModel):
    kind: str
    input: dict[str, Any]


class JobRead(BaseModel):
    id: uuid.UUID
    kind: str
    status: str
    created_at: datetime
    completed_at: datetime
    output: dict[str, Any]


@app.post("/v1/jobs", response_model=JobRead)
async def submit(
    request: JobCreate,
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
    prefer: Annotated[str | None, Header()] = None,
) -> JobRead:
    now = datetime.now(UTC)
    return JobRead(
        id=uuid.uuid4(),
        kind=request.kind,
        status="succeeded",
        created_at=now,
        completed_at=now,
        output={"text": "hello"},
    )
