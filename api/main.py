"""The FastAPI application. Imports no task code and no model library (a test proves it)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from api.auth import UserCreate, UserRead, UserUpdate, bearer_backend, cookie_backend, fastapi_users
from api.console import UPLOAD_PATH as CONSOLE_UPLOAD_PATH
from api.console import install_console
from api.cookie_guard import CookieSessionGuard
from api.errors import install_error_handlers
from api.events import JobEventHub
from api.github_login import install_github_login
from api.openapi import install_openapi
from api.rate_limits import RateLimits
from api.request_guard import RequestGuard
from api.routes import (
    admin_cache,
    admin_exercises,
    admin_instructions,
    admin_llm_routes,
    admin_profiles,
    admin_sources,
    admin_stats,
    ask,
    conversations,
    documents,
    events,
    health,
    jobs,
    learning,
    meta,
    profiles,
    search,
    sessions,
    webhooks,
)
from core import __version__, log_redaction
from core.redis_clients import get_async_redis
from core.settings import get_settings
from db.dispatch_stamps import dispatch_stamps
from db.session import async_engine

COOKIE_AUTH_PREFIX = "/auth/cookie"


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.event_hub = JobEventHub(get_async_redis())
    yield
    await dispatch_stamps.drain()
    await app.state.event_hub.close()
    await get_async_redis().aclose()
    await async_engine().dispose()


def create_app() -> FastAPI:
    """Build the API: accounts, the job API, catalog and health routes, problem+json errors."""
    settings = get_settings()
    log_redaction.install(settings)  # before any log line: no credential reaches a log (uvicorn's included)
    logging.basicConfig(level=logging.INFO)
    app = FastAPI(
        title="mentorq",
        version=__version__,
        description="Asynchronous jobs for AI learning products: submit, wait, poll, cancel.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(
        RequestGuard,
        max_bytes=settings.max_body_bytes,
        upload_paths={
            "/v1/documents": settings.max_upload_bytes,
            "/v1/documents/text": settings.max_upload_bytes,
            # The source itself plus the multipart framing and fields.
            "/api/profiles/ingest": settings.max_profile_source_bytes + 65_536,
            CONSOLE_UPLOAD_PATH: settings.max_upload_bytes,
        },
    )
    # Before the body is read: a page of another origin riding the session cookie (or signing the
    # browser in to another account) is refused, 403 csrf_failed.
    app.add_middleware(
        CookieSessionGuard,
        cookie_name=cookie_backend.transport.cookie_name,
        cookie_auth_prefix=COOKIE_AUTH_PREFIX,
    )
    # Added last, so it runs first: a caller over its limit costs one Redis round trip, no body read.
    app.add_middleware(RateLimits)

    app.include_router(fastapi_users.get_auth_router(bearer_backend), prefix="/auth/jwt", tags=["auth"])
    app.include_router(
        fastapi_users.get_auth_router(cookie_backend), prefix=COOKIE_AUTH_PREFIX, tags=["auth"]
    )
    app.include_router(fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth", tags=["auth"])
    app.include_router(fastapi_users.get_users_router(UserRead, UserUpdate), prefix="/users", tags=["users"])
    install_github_login(app, settings, fastapi_users, bearer_backend)
    app.include_router(profiles.router)
    app.include_router(sessions.router)
    app.include_router(learning.router)
    app.include_router(ask.router)
    app.include_router(conversations.router)
    app.include_router(admin_instructions.router)
    app.include_router(admin_llm_routes.router)
    app.include_router(admin_cache.router)
    app.include_router(admin_stats.router)
    app.include_router(admin_profiles.router)
    app.include_router(admin_exercises.router)
    app.include_router(admin_sources.router)
    app.include_router(jobs.router)
    app.include_router(events.router)
    app.include_router(webhooks.router)
    app.include_router(documents.router)
    app.include_router(search.router)
    app.include_router(meta.router)
    app.include_router(health.router)
    install_console(app)
    return app


app = create_app()
