"""The FastAPI application. Imports no task code and no model library (a test proves it)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from api.accounts import routes as accounts
from api.ask import routes as ask
from api.auth import UserCreate, UserRead, UserUpdate, bearer_backend, cookie_backend, fastapi_users
from api.catalog import routes as catalog
from api.console import UPLOAD_PATH as CONSOLE_UPLOAD_PATH
from api.console import VOICE_ENROL_PATH as CONSOLE_VOICE_ENROL_PATH
from api.console import install_console
from api.conversations import routes as conversations
from api.cookie_guard import CookieSessionGuard
from api.documents import routes as documents
from api.errors import install_error_handlers
from api.exercises import routes as exercises
from api.github_login import install_github_login
from api.health import routes as health
from api.instructions import routes as instructions
from api.jobs import routes as jobs
from api.jobs.event_hub import JobEventHub
from api.learning_sessions import routes as learning_sessions
from api.llm_routes import routes as llm_routes
from api.lti import routes as lti
from api.matches import routes as matches
from api.metrics import routes as metrics
from api.openapi import install_openapi
from api.profiles import routes as profiles
from api.progress import routes as progress
from api.rate_limits import RateLimits
from api.request_guard import RequestGuard
from api.resources import routes as resources
from api.search import routes as search
from api.sources import routes as sources
from api.stats import routes as stats
from api.user_cache import following_user_changes
from api.voices import routes as voices
from api.webhooks import routes as webhooks
from core import __version__, log_redaction, logs, tracing
from core.redis_clients import get_async_broker_redis, get_async_state_redis
from core.settings import get_settings
from db.dispatch_stamps import dispatch_stamps
from db.session import async_engine

COOKIE_AUTH_PREFIX = "/auth/cookie"
# fastapi-users' routes that check a token from account mail; the requests for a message are
# api/accounts/ (answered alike for every address, rate limited, sent by a worker).
ACCOUNT_TOKEN_ROUTES = {"verify:verify", "reset:reset_password"}
LTI_CROSS_SITE_PATHS = frozenset({"/lti/login", "/lti/launch"})


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.event_hub = JobEventHub(get_async_broker_redis())  # the workers publish there
    settings = get_settings()
    async with following_user_changes(settings.database_url, ttl_s=settings.user_cache_seconds):
        yield
    await dispatch_stamps.drain()
    await app.state.event_hub.close()
    await get_async_broker_redis().aclose()
    await get_async_state_redis().aclose()
    await async_engine().dispose()


def create_app() -> FastAPI:
    """Build the API: accounts, the job API, catalog and health routes, problem+json errors."""
    settings = get_settings()
    log_redaction.install(settings)  # before any log line: no credential reaches a log (uvicorn's included)
    logs.configure(settings)  # JSON lines in production, uvicorn's access and error lines included
    if settings.mail_transport == "none":
        logging.getLogger(__name__).error(
            "smtp_not_configured: MENTORQ_SMTP_HOST is not set; verification and password-reset "
            "messages will fail (/v1/admin/health: checks.mail)"
        )
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
            "/v1/admin/voices": settings.max_upload_bytes,
            "/v1/lti/courses/{course_id}/voices": settings.max_upload_bytes,
            CONSOLE_VOICE_ENROL_PATH: settings.max_upload_bytes,
        },
    )
    # Before the body is read: a page of another origin riding the session cookie (or signing the
    # browser in to another account) is refused, 403 csrf_failed.
    app.add_middleware(
        CookieSessionGuard,
        cookie_name=cookie_backend.transport.cookie_name,
        cookie_auth_prefix=COOKIE_AUTH_PREFIX,
        # A platform's page posts these cross-site by design (LTI's login and form_post launch);
        # they act on no cookie's authority: the state, nonce and the platform's signature decide.
        exempt_paths=LTI_CROSS_SITE_PATHS,
    )
    # Added last, so it runs first: a caller over its limit costs one Redis round trip, no body read.
    app.add_middleware(RateLimits)

    # Jobs first: a request is matched against the routes in order (every included router is a
    # regex test or more), and a job's submit and its polls are the most frequent requests. At
    # place 26 of 42, matching POST /v1/jobs took 140 us of the API's CPU, at the top 10 us. The
    # OpenAPI document lists the jobs API first, too.
    app.include_router(jobs.router)
    app.include_router(fastapi_users.get_auth_router(bearer_backend), prefix="/auth/jwt", tags=["auth"])
    app.include_router(
        fastapi_users.get_auth_router(cookie_backend), prefix=COOKIE_AUTH_PREFIX, tags=["auth"]
    )
    app.include_router(fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth", tags=["auth"])
    app.include_router(fastapi_users.get_users_router(UserRead, UserUpdate), prefix="/users", tags=["users"])
    app.include_router(accounts.router)
    for token_router in (
        fastapi_users.get_verify_router(UserRead),
        fastapi_users.get_reset_password_router(),
    ):
        token_router.routes = [
            r for r in token_router.routes if getattr(r, "name", "") in ACCOUNT_TOKEN_ROUTES
        ]
        app.include_router(token_router, prefix="/auth", tags=["auth"])
    install_github_login(app, settings, fastapi_users, bearer_backend)
    # The rest in the order they were first written: the OpenAPI document lists them so.
    for router in [
        profiles.router,
        progress.router,
        matches.router,
        learning_sessions.router,
        resources.router,
        exercises.router,
        ask.router,
        conversations.router,
        instructions.router,
        llm_routes.router,
        ask.admin_router,
        stats.router,
        profiles.admin_router,
        exercises.admin_router,
        sources.router,
        webhooks.router,
        documents.router,
        search.router,
        catalog.router,
        health.router,
        metrics.router,
        lti.router,
        lti.admin_router,
        lti.courses_router,
        voices.router,
        voices.course_router,
    ]:
        app.include_router(router)
    install_console(app)
    lti.install_static(app)
    tracing.start("api", fastapi_app=app)  # when the OTEL_* variables ask: request spans, publish spans
    return app


app = create_app()
