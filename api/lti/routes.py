"""LTI 1.3 over HTTP: /lti/jwks, /lti/login, /lti/launch and /lti/home, and the admin API for
platforms (/v1/admin/lti). api/lti/service.py says what each step checks."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, FastAPI, Form, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.documents import service as document_service
from api.documents.schemas import CollectionCreate, CollectionRead
from api.errors import ProblemError
from api.exercises import service as exercise_service
from api.exercises.schemas import AuthoredExercise
from api.jobs.schemas import JobRead
from api.jobs.service import job_read
from api.lti import pages, service
from api.lti.schemas import (
    CourseList,
    LineItemCreate,
    LineItemList,
    PlatformCreate,
    PlatformList,
    PlatformRead,
    RegistrationUrl,
    Roster,
    ToolConfiguration,
)
from api.openapi import problems
from api.same_origin import foreign_origin, own_origin
from api.shared import CurrentUser, SessionDep, require_admin
from api.tokens import get_token_strategy
from core.lti import deep_linking, tool_keys
from core.lti import launch_state as lti_state
from core.lti.claims import DEEP_LINKING_REQUEST
from core.lti.errors import LtiError
from core.lti.roles import short_names
from core.metrics import catalog
from core.redis_clients import get_async_state_redis
from core.settings import get_settings
from db import lti
from db.jobs import create_job
from db.models import LtiContext, LtiPlatform, User
from db.unit_of_work import commit_async
from tasks.lti_line_item.spec import SPEC as LINE_ITEM

router = APIRouter(prefix="/lti", tags=["lti"])
STATIC_DIR = Path(__file__).parent / "static"


def install_static(app: FastAPI) -> None:
    """The launch pages' one script (the form post back to the platform), from our own origin."""
    app.mount("/lti/static", StaticFiles(directory=STATIC_DIR), name="lti-static")


admin_router = APIRouter(prefix="/v1/admin/lti", tags=["admin"], responses=problems(403))
courses_router = APIRouter(prefix="/v1/lti/courses", tags=["lti"], responses=problems(403, 404))

ADMINS_ONLY = "manage LTI platforms"
SESSION_COOKIE = "mentorq_session"


def _keys() -> list[tool_keys.ToolKey]:
    return service.configured_keys()


def _origin(request: Request) -> str:
    origin = own_origin(request.scope)
    if origin is None:
        raise LtiError("lti_login_incomplete", "the request names no host")
    return origin


def _refused(request: Request, error: LtiError) -> HTMLResponse:
    catalog.LTI_LAUNCHES.labels(catalog.bounded(error.code)).inc()
    return pages.error_page(request, error)


def _cookie_attributes(request: Request) -> dict[str, object]:
    # In the platform's iframe the browser sends a cookie back only if it is SameSite=None, which
    # browsers take only with Secure, which needs https (plain-http development: Lax, same site only).
    if request.url.scheme == "https" or (own_origin(request.scope) or "").startswith("https://"):
        return {"secure": True, "samesite": "none", "httponly": True}
    return {"secure": False, "samesite": "lax", "httponly": True}


@router.get("/jwks", include_in_schema=True, summary="The tool's public keys (JWKS)")
async def jwks() -> JSONResponse:
    """Every published key of the tool: the signing one first, a retiring one while rotating."""
    try:
        keys = _keys()
    except LtiError as error:
        raise ProblemError(error.status, error.code, error.message) from None
    return JSONResponse(tool_keys.jwks(keys), headers={"Cache-Control": "public, max-age=3600"})


@router.api_route("/login", methods=["GET", "POST"], response_class=HTMLResponse, include_in_schema=False)
async def login(request: Request, session: SessionDep) -> Response:
    """OIDC third-party-initiated login: the platform sends the browser here first."""
    params = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        params.update({key: value for key, value in form.items() if isinstance(value, str)})
    try:
        _keys()
        redirect = await service.start_login(
            session, get_async_state_redis(), params, origin=_origin(request)
        )
    except LtiError as error:
        return _refused(request, error)
    response: Response
    if redirect.storage is None:
        response = RedirectResponse(redirect.url, status_code=302)
    else:
        # The platform keeps the state too (LTI Client Side postMessage storage): a page of ours puts
        # it in the platform's frame, then goes on to the platform. The cookie is set all the same,
        # and used at the launch whenever the browser sends it back.
        response = pages.storage_login(
            request,
            frame_ancestors=_platform_origins(redirect.platform),
            auth_url=redirect.url,
            storage_target=redirect.storage.target,
            storage_origin=redirect.storage.origin,
            state=redirect.state,
            nonce=redirect.nonce,
        )
    response.set_cookie(
        service.STATE_COOKIE, redirect.state, max_age=lti_state.STATE_TTL_S, **_cookie_attributes(request)
    )
    return response


def _platform_origins(platform: LtiPlatform) -> str:
    return pages.framing_origins(platform.issuer, platform.auth_login_url)


@router.post("/launch", response_class=HTMLResponse, include_in_schema=False)
async def launch(
    request: Request,
    session: SessionDep,
    id_token: Annotated[str, Form(max_length=65_536)] = "",
    state: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    """The platform's form POST of the id_token (response_mode=form_post)."""
    try:
        _keys()
        launched = await service.complete_launch(
            session,
            get_async_state_redis(),
            token=id_token,
            state=state,
            state_cookie=request.cookies.get(service.STATE_COOKIE),
        )
    except LtiError as error:
        return _refused(request, error)
    launch = launched.launch
    launched_exercise = service.exercise_of(launch.target_link_uri)
    if launched_exercise is not None and launch.message_type != DEEP_LINKING_REQUEST:
        mismatch = await service.course_refusal(
            session, exercise_id=launched_exercise, course_id=launched.context_row_id
        )
        if mismatch is not None:
            return _refused(request, mismatch)
    landing = {
        "user_id": str(launched.user.id),
        "platform_id": str(launched.platform.id),
        "context": launch.context.title or launch.context.id if launch.context else None,
        "course_id": launched.context_row_id,  # the course's row (lti_contexts.id): its scope
        "roles": list(launch.roles),
        "resource": launch.resource_link_title,
        "target": launch.target_link_uri,
        # The ticket is good only in the browser that started the login (its state cookie):
        # an attacker's own ticket, sent to someone else, would sign them in as the attacker.
        "state": state,
        "deep_linking": (
            {"deployment_id": launch.deployment_id, "settings": launch.deep_linking_settings}
            if launch.message_type == DEEP_LINKING_REQUEST
            else None
        ),
    }
    if launched.storage is not None:
        check = await lti_state.remember_storage_check(
            get_async_state_redis(), {"landing": landing, "state": state, "nonce": launched.nonce}
        )
        return pages.storage_launch(
            request,
            frame_ancestors=_platform_origins(launched.platform),
            check=check,
            storage_target=launched.storage.target,
            storage_origin=launched.storage.origin,
            state=state,
            nonce=launched.nonce,
        )
    catalog.LTI_LAUNCHES.labels("ok").inc()
    ticket = await lti_state.issue_ticket(get_async_state_redis(), landing)
    if launch.message_type == DEEP_LINKING_REQUEST:
        where = service.DEEP_LINK_PATH
    else:
        exercise_id = service.exercise_of(launch.target_link_uri)
        where = f"/lti/exercises/{exercise_id}" if exercise_id else service.HOME_PATH
    return RedirectResponse(f"{where}?ticket={ticket}", status_code=303)


@router.post("/launch/verify", response_class=HTMLResponse, include_in_schema=False)
async def verify_storage(
    request: Request,
    session: SessionDep,
    check: Annotated[str, Form(max_length=100)] = "",
    state: Annotated[str, Form(max_length=512)] = "",
    nonce: Annotated[str, Form(max_length=512)] = "",
    error: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A cookie-less launch's second step: the state and nonce its page read back from the
    platform's frame. Signs in the page it answers, never the browser's cookies.

    Why this binds the launch to the browser that started the login, as the state cookie does:
    - the values come from the platform's storage in the frame the login wrote them to; the page's
      script sends to, and takes answers from, the platform's authorization origin only, so a page
      of an attacker that frames or opens ours neither receives the request nor can answer it;
    - this POST must come from a page of our own origin (Sec-Fetch-Site / Origin): an attacker who
      ran the launch from their own machine knows `check` and the state, but cannot have another
      person's browser post them here from their site;
    - the answer is the landing page itself, with a session token that lives in that page
      (sessionStorage of the frame, sent as a bearer token): there is no landing URL or cookie to
      hand to someone else, so nothing here signs a victim in to the attacker's account.
    The check is taken once, within a minute; state and nonce stay single use as in the cookie path."""
    foreign = foreign_origin(request.scope)
    if foreign is not None:
        return _refused(request, LtiError("lti_storage_foreign", foreign, status=403))
    pending = await lti_state.take_storage_check(get_async_state_redis(), check) if check else None
    if pending is None:
        return _refused(
            request,
            LtiError("lti_storage_unknown", "this launch was checked already, or expired", status=403),
        )
    if error or not state or not nonce:
        why = f" ({error})" if error else ""
        return _refused(
            request,
            LtiError(
                "lti_storage_unavailable",
                f"the platform's frame did not give back this launch's state{why}",
                status=403,
            ),
        )
    if not (
        secrets.compare_digest(state, pending["state"]) and secrets.compare_digest(nonce, pending["nonce"])
    ):
        return _refused(
            request,
            LtiError(
                "lti_storage_mismatch",
                "the platform's frame holds another state: this launch was started elsewhere",
                status=403,
            ),
        )
    signed_in = await _account(session, pending["landing"])
    if isinstance(signed_in, LtiError):
        return _refused(request, signed_in)
    catalog.LTI_LAUNCHES.labels("ok").inc()
    if signed_in.landed.get("deep_linking"):
        return await _deep_link_page(request, session, signed_in, cookie=False)
    exercise_id = service.exercise_of(signed_in.landed.get("target") or "")
    return await _landing_page(request, session, signed_in, exercise_id=exercise_id, cookie=False)


@router.get("/home", response_class=HTMLResponse, include_in_schema=False)
async def home(request: Request, session: SessionDep, ticket: str = "") -> Response:
    """Where a launch lands: the ticket signs the browser in (once), and the page says where it is."""
    return await _landing(request, session, ticket, exercise_id=None)


@router.get("/exercises/{exercise_id}", response_class=HTMLResponse, include_in_schema=False)
async def exercise_page(
    request: Request, session: SessionDep, exercise_id: uuid.UUID, ticket: str = ""
) -> Response:
    """A launched exercise: signed in by the ticket, the exercise's prompt."""
    return await _landing(request, session, ticket, exercise_id=exercise_id)


class SignedIn(NamedTuple):
    landed: dict[str, Any]  # what the launch put in its ticket
    user: User
    platform: LtiPlatform
    token: str  # a new session token for the user


async def _signed_in(request: Request, session: SessionDep, ticket: str) -> SignedIn | LtiError:
    """The launch a ticket carried (taken once), its user and platform, and a new session token."""
    landed = await lti_state.redeem_ticket(get_async_state_redis(), ticket) if ticket else None
    if landed is None:
        return LtiError("lti_ticket_unknown", "this page was opened without a fresh launch", status=403)
    if not secrets.compare_digest(request.cookies.get(service.STATE_COOKIE, ""), landed["state"]):
        return LtiError("lti_ticket_foreign", "this launch was started in another browser", status=403)
    return await _account(session, landed)


async def _account(session: SessionDep, landed: dict[str, Any]) -> SignedIn | LtiError:
    """The user and platform of a checked launch, and a new session token for the user."""
    user = await lti.user_by_id(session, uuid.UUID(landed["user_id"]))
    platform = await lti.platform(session, uuid.UUID(landed["platform_id"]))
    if user is None or platform is None or not user.is_active:
        return LtiError("lti_account_gone", "the account of this launch is gone", status=403)
    token = await (await get_token_strategy(session)).write_token(user)
    return SignedIn(landed, user, platform, token)


def _with_session(request: Request, response: Response, token: str, *, cookie: bool) -> Response:
    response.delete_cookie(service.STATE_COOKIE, **_cookie_attributes(request))  # the login is over
    if cookie:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=get_settings().access_token_lifetime_seconds,
            **_cookie_attributes(request),
        )
    return response


async def _landing(
    request: Request, session: SessionDep, ticket: str, *, exercise_id: uuid.UUID | None
) -> Response:
    signed_in = await _signed_in(request, session, ticket)
    if isinstance(signed_in, LtiError):
        return _refused(request, signed_in)
    return await _landing_page(request, session, signed_in, exercise_id=exercise_id, cookie=True)


async def _landing_page(
    request: Request,
    session: SessionDep,
    signed_in: SignedIn,
    *,
    exercise_id: uuid.UUID | None,
    cookie: bool,
) -> Response:
    """Where the launch landed, signed in: by the session cookie (`cookie`), or else by a token
    handed to the page itself, which keeps it in its frame and sends it as a bearer token."""
    landed, user, platform, token = signed_in
    if exercise_id is not None:
        # The page's URL names the exercise, not the ticket: check it against the launch's course.
        mismatch = await service.course_refusal(
            session, exercise_id=exercise_id, course_id=landed.get("course_id")
        )
        if mismatch is not None:
            return _refused(request, mismatch)
        # Nor another learner's own generated exercise: the API answers 404 for it, so does the page.
        if not await lti.exercise_exists(session, exercise_id, for_user=user.id):
            return _refused(
                request,
                LtiError("lti_exercise_not_found", "the launched exercise does not exist here", status=404),
            )
    account = await lti.lti_account_of(session, user.id)
    prompt = await lti.exercise_prompt(session, exercise_id) if exercise_id else None
    await commit_async(session)
    response = pages.page(
        request,
        "lti_home.html",
        frame_ancestors=_platform_origins(platform),
        title="mentorq",
        person=(account.name if account and account.name else "you"),
        course=landed["context"],
        roles=short_names(landed["roles"]),
        resource=landed["resource"],
        exercise=prompt,
        page_session=None if cookie else token,
    )
    return _with_session(request, response, token, cookie=cookie)


@router.get("/deep-link", response_class=HTMLResponse, include_in_schema=False)
async def deep_link_page(request: Request, session: SessionDep, ticket: str = "") -> Response:
    """An instructor's deep-linking launch lands here: pick the exercises to place in the course."""
    signed_in = await _signed_in(request, session, ticket)
    if isinstance(signed_in, LtiError):
        return _refused(request, signed_in)
    return await _deep_link_page(request, session, signed_in, cookie=True)


async def _deep_link_page(
    request: Request, session: SessionDep, signed_in: SignedIn, *, cookie: bool
) -> Response:
    landed, user, platform, token = signed_in
    if not landed.get("deep_linking"):
        return _refused(
            request, LtiError("lti_ticket_unknown", "this launch did not ask for content", status=403)
        )
    course_id = landed.get("course_id")
    pick = await lti_state.remember_pick(
        get_async_state_redis(),
        {
            "user_id": str(user.id),
            "platform_id": str(platform.id),
            "course_id": course_id,
            **landed["deep_linking"],
        },
    )
    # The course's own exercises and those written for everyone, never another course's.
    exercises = await lti.authored_exercises(session, course_id=uuid.UUID(course_id) if course_id else None)
    await commit_async(session)
    response = pages.page(
        request,
        "lti_deep_link.html",
        frame_ancestors=_platform_origins(platform),
        title="Place exercises in the course",
        course=landed["context"],
        pick=pick,
        exercises=exercises,
        multiple=landed["deep_linking"]["settings"].get("accept_multiple") is not False,
    )
    return _with_session(request, response, token, cookie=cookie)


@router.post("/deep-link", response_class=HTMLResponse, include_in_schema=False)
async def deep_link_answer(request: Request, session: SessionDep) -> Response:
    """The instructor's choice, as a signed LtiDeepLinkingResponse posted back to the platform."""
    form = await request.form()
    picked = await lti_state.take_pick(get_async_state_redis(), str(form.get("pick", ""))[:100])
    if picked is None:
        return _refused(
            request, LtiError("lti_deep_link_unknown", "this choice was sent already, or expired", status=403)
        )
    try:
        chosen = [uuid.UUID(str(value)) for value in form.getlist("exercise_id")][:100]
    except ValueError:
        return _refused(request, LtiError("lti_deep_link_invalid", "an exercise id is malformed"))
    course_id = picked.get("course_id")
    found = await lti.authored_exercises_by_id(
        session, chosen, course_id=uuid.UUID(course_id) if course_id else None
    )
    platform = await lti.platform(session, uuid.UUID(picked["platform_id"]))
    if platform is None:
        return _refused(request, LtiError("lti_unknown_platform", "the platform was removed", status=404))
    if len(found) != len(set(chosen)):
        return _refused(
            request, LtiError("lti_exercise_not_found", "an exercise picked is not one to place", status=404)
        )
    origin = _origin(request)
    placements = [
        deep_linking.Placement(
            title=found[exercise_id].title or found[exercise_id].prompt[:80],
            url=f"{origin}/lti/exercises/{exercise_id}",
            graded=True,
            resource_id=str(exercise_id),
        )
        for exercise_id in dict.fromkeys(chosen)
    ]
    settings = picked["settings"]
    try:
        claims = deep_linking.response_claims(
            settings,
            placements,
            client_id=platform.client_id,
            platform_issuer=platform.issuer,
            deployment_id=picked["deployment_id"],
        )
        signed = tool_keys.sign(claims, _keys()[0])
    except LtiError as error:
        return _refused(request, error)
    return pages.form_post(request, settings["deep_link_return_url"], {"JWT": signed})


@router.get("/register/{code}", response_class=HTMLResponse, include_in_schema=False)
async def dynamic_registration(
    request: Request,
    session: SessionDep,
    code: str,
    openid_configuration: str = "",
    registration_token: str | None = None,
) -> Response:
    """LTI Dynamic Registration: the platform opens the admin's one-time URL (api/lti/registration.py)."""
    try:
        _keys()
        if not openid_configuration:
            raise LtiError("lti_registration_invalid", "the platform named no openid_configuration URL")
        platform = await service.register(
            session,
            code=code[:100],
            openid_configuration=openid_configuration[:2000],
            registration_token=registration_token[:4000] if registration_token else None,
            origin=_origin(request),
        )
    except LtiError as error:
        return _refused(request, error)
    return pages.registered(request, issuer=platform.issuer, client_id=platform.client_id)


@admin_router.post("/registrations", response_model=RegistrationUrl, status_code=201)
async def new_registration(request: Request, session: SessionDep, user: CurrentUser) -> RegistrationUrl:
    """A one-time URL (valid a day) to paste into a platform's Dynamic Registration screen."""
    require_admin(user, to=ADMINS_ONLY)
    return await service.new_registration_url(session, admin=user, origin=own_origin(request.scope) or "")


@admin_router.get("/tool", response_model=ToolConfiguration)
async def tool_configuration(request: Request, user: CurrentUser) -> ToolConfiguration:
    """The URLs and key ids a platform administrator enters to register this tool by hand."""
    require_admin(user, to=ADMINS_ONLY)
    try:
        keys = _keys()
    except LtiError as error:
        raise ProblemError(error.status, error.code, error.message) from None
    origin = own_origin(request.scope) or ""
    return ToolConfiguration(
        login_url=origin + service.LOGIN_PATH,
        redirect_uris=[origin + service.LAUNCH_PATH],
        target_link_uri=origin + service.HOME_PATH,
        jwks_url=origin + service.JWKS_PATH,
        signing_key_ids=[key.kid for key in keys],
    )


@admin_router.get("/platforms", response_model=PlatformList)
async def list_platforms(session: SessionDep, user: CurrentUser) -> PlatformList:
    """Every platform registered with this tool."""
    require_admin(user, to=ADMINS_ONLY)
    return PlatformList(items=[PlatformRead.model_validate(row) for row in await lti.platforms(session)])


@admin_router.post("/platforms", response_model=PlatformRead, status_code=201, responses=problems(409, 422))
async def add_platform(request: PlatformCreate, session: SessionDep, user: CurrentUser) -> PlatformRead:
    """Register a platform by hand (409 `lti_platform_exists` for an issuer and client id known
    already, 422 `lti_weak_key` when its key set holds an RSA key under 2,048 bits)."""
    require_admin(user, to=ADMINS_ONLY)
    try:
        await service.refuse_weak_keys(request.jwks_url)
    except LtiError as error:
        raise ProblemError(error.status, error.code, error.message) from None
    row = await lti.add_platform(session, **request.model_dump())
    if row is None:
        raise ProblemError(409, "lti_platform_exists", "this issuer and client id are registered already")
    read = PlatformRead.model_validate(row)
    await commit_async(session)
    return read


@admin_router.delete("/platforms/{platform_id}", status_code=204, responses=problems(404))
async def delete_platform(platform_id: str, session: SessionDep, user: CurrentUser) -> Response:
    """Remove a platform: its launches are refused from now on; its accounts stay."""
    require_admin(user, to=ADMINS_ONLY)
    await service.remove_platform(session, platform_id=platform_id)
    return Response(status_code=204)


async def _taught_course(session: SessionDep, user: User, course_id: str) -> LtiContext:
    return await service.taught_course(session, user=user, course_id=course_id)


@courses_router.get("", response_model=CourseList)
async def list_courses(session: SessionDep, user: CurrentUser) -> CourseList:
    """The courses the caller teaches (launched as Instructor or Administrator); an admin sees all."""
    return await service.list_courses(session, user=user)


@courses_router.post("/{course_id}/roster", response_model=JobRead, status_code=202, responses=problems(409))
async def sync_roster(course_id: str, session: SessionDep, user: CurrentUser) -> JobRead:
    """Read the course's roster from its platform (NRPS, every page) as an `lti.roster` job."""
    return await service.sync_roster(session, user=user, course_id=course_id)


@courses_router.get("/{course_id}/roster", response_model=Roster)
async def read_roster(course_id: str, session: SessionDep, user: CurrentUser) -> Roster:
    """The course's members as the latest roster sync read them, launched here or not."""
    return await service.read_roster(session, user=user, course_id=course_id)


@courses_router.get("/{course_id}/line-items", response_model=LineItemList)
async def list_line_items(course_id: str, session: SessionDep, user: CurrentUser) -> LineItemList:
    """The course's gradebook columns mentorq knows, one per exercise: those its placements
    (deep linking, graded links) named, and those it made."""
    return await service.line_items(session, user=user, course_id=course_id)


@courses_router.post(
    "/{course_id}/line-items", response_model=JobRead, status_code=202, responses=problems(404, 409)
)
async def create_line_item(
    course_id: str, request: LineItemCreate, session: SessionDep, user: CurrentUser
) -> JobRead:
    """A gradebook column at the course's platform for an exercise placed as a plain link, as an
    `lti.line_item` job; learners who launch the exercise in the course are graded there."""
    course = await _taught_course(session, user, course_id)
    if course.lineitems_url is None:
        raise ProblemError(
            409,
            "lti_line_items_unavailable",
            "the platform never let mentorq manage this course's line items",
        )
    title = await lti.exercise_title(session, request.exercise_id, course_id=course.id)
    if title is None:
        raise ProblemError(404, "lti_exercise_not_found", "no such exercise to grade in the course")
    job = create_job(
        session,
        LINE_ITEM,
        input={
            "context_id": str(course.id),
            "exercise_id": str(request.exercise_id),
            "label": (request.label or title)[:200],
        },
        owner_id=user.id,
    )
    await commit_async(session)
    return job_read(job)


@courses_router.post(
    "/{course_id}/collections", response_model=CollectionRead, status_code=201, responses=problems(409, 422)
)
async def create_course_collection(
    course_id: str, request: CollectionCreate, session: SessionDep, user: CurrentUser
) -> CollectionRead:
    """A collection of the course: its members (and admins) read it, and find it by name in
    /v1/documents, /v1/search and /v1/ask; its instructors add documents to it. Names are unique in
    the course (409 `collection_exists`)."""
    course = await _taught_course(session, user, course_id)
    return await document_service.create_collection(session, user=user, request=request, course_id=course.id)


@courses_router.post("/{course_id}/exercises", response_model=JobRead, status_code=202)
async def create_course_exercise(
    course_id: str, request: AuthoredExercise, session: SessionDep, user: CurrentUser, response: Response
) -> JobRead:
    """An exercise of the course, checked by the same publish gate as an admin's: an `exercise` job
    whose output names it. Only the course's members (and admins) see it, and it launches only from
    the course (`lti_course_mismatch` elsewhere)."""
    course = await _taught_course(session, user, course_id)
    job = await exercise_service.create_authored(session, user=user, request=request, course_id=course.id)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job
