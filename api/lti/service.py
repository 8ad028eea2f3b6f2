"""The LTI 1.3 launch, as the tool: OIDC third-party-initiated login, then the id_token's form POST.

1. The platform sends the browser to /lti/login with its issuer, a login hint and the target.
   The tool remembers a new state and nonce (core/lti/launch_state.py), binds the state to the browser
   with a cookie, and sends the browser to the platform's authorization endpoint.
2. The platform posts an id_token and the state to /lti/launch. The state is taken once and must
   match the cookie; the token must verify with the platform's key (RS256), name the platform as
   issuer and this tool's client id as audience, carry the nonce sent in step 1 (spent once), a
   registered deployment, the target of step 1, LTI 1.3.0 and a message type the tool takes.
3. The platform user is linked to a mentorq account by (issuer, sub), made on the first launch;
   the course and the user's roles in it are recorded. The browser goes on to the page it was
   launched to with a one-minute ticket, which signs it in there (api/lti/routes.py).

A browser that blocks third-party cookies never sends the state cookie back from the platform's
frame. A platform that offers its own storage (LTI Client Side postMessage storage: the login names
an `lti_storage_target` frame) keeps the state instead: step 1 answers a page that puts
`state_<state>` and `nonce_<nonce>` into the platform's frame before going on, and in step 2 a
launch without the cookie is checked in full, then its page reads both back from that frame and
posts them to /lti/launch/verify, which signs in the page itself (api/lti/routes.py says how).

Below the launch: Dynamic Registration (a platform registering this tool from an admin's one-time
URL). Every refusal is an LtiError with a stable code, shown on an error page and counted."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ProblemError
from api.jobs.schemas import JobRead
from api.jobs.service import job_read
from api.lti.schemas import (
    CourseList,
    CourseRead,
    LineItemList,
    LineItemRead,
    PlatformRead,
    PlatformStatus,
    RegistrationCodeRead,
    RegistrationUrl,
    Roster,
    RosterMemberRead,
)
from api.same_origin import web_origin
from api.shared import parse_id
from core.lti import id_token, outbound, platform_keys, registration, tool_keys
from core.lti import launch_state as lti_state
from core.lti.claims import DEEP_LINKING_REQUEST, RESOURCE_LINK_REQUEST, Launch, read_launch
from core.lti.errors import LtiError
from core.lti.platform_keys import PLATFORM_KEYS
from core.lti.roles import teaches
from core.passwords import LTI_LAUNCH_ONLY
from core.settings import Settings, get_settings
from db import lti
from db.jobs import create_job
from db.models import LtiContext, LtiPlatform, User
from db.unit_of_work import commit_async
from tasks.lti_roster.spec import SPEC as ROSTER
from tasks.lti_score.spec import SPEC as SCORE

EXERCISE_PATH = re.compile(r"/lti/exercises/(?P<id>[0-9a-fA-F-]{36})")
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
DEEP_LINK_PATH = "/lti/deep-link"
LOGIN_PATH = "/lti/login"
LAUNCH_PATH = "/lti/launch"
HOME_PATH = "/lti/home"
JWKS_PATH = "/lti/jwks"
STATE_COOKIE = "mentorq_lti_state"


def require_configured(settings: Settings) -> None:
    if settings.lti_private_key is None:
        raise LtiError(
            "lti_not_configured",
            "LTI is not configured on this mentorq (MENTORQ_LTI_PRIVATE_KEY)",
            status=503,
        )


def own_url(origin: str, url: str) -> bool:
    """Whether `url` is a page of this tool (its origin is ours): where a launch may land."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() == origin.lower() and not parts.username


async def course_refusal(
    session: AsyncSession, *, exercise_id: uuid.UUID, course_id: str | None
) -> LtiError | None:
    """`lti_course_mismatch` when the exercise belongs to a course other than the launch's (or the
    launch names no course): a course's exercise opens only from its own course, whoever launches
    it, so a link copied into another course (or a landing URL edited to another exercise) shows
    nothing of it. Unscoped exercises open from any course, as before."""
    scoped = await lti.exercise_course(session, exercise_id)
    if scoped is None or str(scoped) == course_id:
        return None
    return LtiError("lti_course_mismatch", "this exercise belongs to another course", status=403)


STORAGE_TARGET = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # a frame's name, as browsers allow it here
# The login initiation's fields, each refused over this many characters (`lti_login_field_too_long`)
# before anything is looked up or kept: the target is kept in Redis with the login's state, the hints
# go into the redirect to the platform. 2,048 is the longest URL every browser and proxy takes;
# real values are a few dozen characters. `lti_storage_target` is bounded by STORAGE_TARGET.
MAX_LOGIN_FIELD_CHARS = 2048
LOGIN_FIELDS = ("iss", "client_id", "lti_deployment_id", "login_hint", "lti_message_hint", "target_link_uri")
# A URI is printable ASCII (RFC 3986; anything else percent-encoded): so the target kept in the
# state row is as many bytes as characters.
URI_CHARS = re.compile(r"[\x21-\x7e]*")


@dataclasses.dataclass(frozen=True)
class PlatformStorage:
    """Where the browser keeps a login's state and nonce when it keeps no cookie in the platform's
    frame (LTI Client Side postMessage storage): the frame the platform named (`_parent` or a frame
    in the parent window) and the origin its answers must come from, the platform's OIDC
    authorization endpoint's (the spec's target origin for every message)."""

    target: str
    origin: str


@dataclasses.dataclass(frozen=True)
class LoginRedirect:
    url: str
    state: str
    nonce: str
    platform: LtiPlatform
    storage: PlatformStorage | None = None  # the login page stores state and nonce there first


def platform_storage(platform: LtiPlatform, target: str | None) -> PlatformStorage | None:
    """The platform's storage for a login that named `target`, if it names one we can talk to."""
    origin = web_origin(platform.auth_login_url)
    if not target or origin is None:
        return None
    return PlatformStorage(target, origin)


async def _platform_for_login(session: AsyncSession, issuer: str, client_id: str | None) -> LtiPlatform:
    registered = await lti.platforms_of_issuer(session, issuer)
    if client_id:
        registered = [platform for platform in registered if platform.client_id == client_id]
    if not registered:
        raise LtiError(
            "lti_unknown_platform", f"no platform {issuer!r} is registered with this tool", status=404
        )
    if len(registered) > 1:
        raise LtiError(
            "lti_client_id_required",
            f"{issuer!r} registered this tool more than once: the login must name its client_id",
        )
    return registered[0]


async def start_login(
    session: AsyncSession, redis: Redis, params: dict[str, str], *, origin: str
) -> LoginRedirect:
    """Where to send the browser for the platform's authentication, and the state to bind to it."""
    for name in LOGIN_FIELDS:
        if len(params.get(name, "")) > MAX_LOGIN_FIELD_CHARS:
            raise LtiError(
                "lti_login_field_too_long",
                f"the login's {name} is over {MAX_LOGIN_FIELD_CHARS} characters",
            )
    issuer, login_hint = params.get("iss", "").strip(), params.get("login_hint", "").strip()
    target = params.get("target_link_uri", "").strip()
    if not issuer or not login_hint or not target:
        raise LtiError("lti_login_incomplete", "a login initiation needs iss, login_hint and target_link_uri")
    platform = await _platform_for_login(session, issuer, params.get("client_id", "").strip() or None)
    deployment = params.get("lti_deployment_id", "").strip()
    if deployment and deployment not in platform.deployment_ids:
        raise LtiError("lti_unknown_deployment", f"deployment {deployment!r} is not registered", status=403)
    if not own_url(origin, target) or not URI_CHARS.fullmatch(target):
        raise LtiError("lti_bad_target", "the launch's target is not a page of this tool")
    storage_target = params.get("lti_storage_target", "").strip() or None
    if storage_target is not None and not STORAGE_TARGET.fullmatch(storage_target):
        raise LtiError("lti_storage_target_invalid", "the login's lti_storage_target is not a frame's name")
    storage = platform_storage(platform, storage_target)
    state, nonce = lti_state.new_secret(), lti_state.new_secret()
    await lti_state.remember_login(
        redis,
        state,
        lti_state.LoginState(
            str(platform.id), nonce, lti_state.target_digest(target), storage.target if storage else None
        ),
    )
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": origin + LAUNCH_PATH,
        "login_hint": login_hint,
        "state": state,
        "nonce": nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if urlsplit(platform.auth_login_url).query else "?"
    url = f"{platform.auth_login_url}{separator}{urlencode(query)}"
    return LoginRedirect(url, state, nonce, platform, storage)


@dataclasses.dataclass(frozen=True)
class Launched:
    launch: Launch
    user: User
    platform: LtiPlatform
    context_row_id: str | None
    # Set when no state cookie came back: the browser is not bound to the login yet, and the launch
    # page must read the state and nonce back from the platform's storage first.
    storage: PlatformStorage | None = None
    nonce: str = ""


async def complete_launch(
    session: AsyncSession, redis: Redis, *, token: str, state: str, state_cookie: str | None
) -> Launched:
    """The checked launch and the user it signs in; LtiError for every reason to refuse it."""
    if not token or not state:
        raise LtiError("lti_launch_incomplete", "a launch needs an id_token and a state")
    login = await lti_state.take_login(redis, state)
    if login is None:
        raise LtiError(
            "lti_state_unknown", "the launch's state is unknown, used already, or expired", status=403
        )
    # The state was bound to this browser by a cookie at login: another browser's form (login CSRF)
    # carries a state this browser never had. A browser that sent no cookie back (third-party
    # cookies blocked in the platform's frame) may still prove it with the platform's storage, if
    # the login used it: the launch is checked in full here, and signs nobody in until the launch
    # page has read the same state back from the platform's frame (api/lti/routes.py).
    cookie_bound = state_cookie is not None and secrets.compare_digest(state_cookie, state)
    platform = await lti.platform(session, uuid.UUID(login.platform_id))
    if platform is None:
        raise LtiError("lti_unknown_platform", "the platform was removed during the login", status=404)
    storage = None if cookie_bound else platform_storage(platform, login.storage_target)
    if not cookie_bound and storage is None:
        raise LtiError(
            "lti_state_mismatch", "the launch's state is not the one this browser started", status=403
        )
    if id_token.unverified_issuer(token) != platform.issuer:
        raise LtiError(
            "lti_wrong_issuer", "the id_token's issuer is not the platform the login began with", status=403
        )
    key = await PLATFORM_KEYS.key(platform.jwks_url, id_token.key_id(token))
    claims = id_token.verify(token, key, issuer=platform.issuer, client_id=platform.client_id)
    if not secrets.compare_digest(str(claims["nonce"]), login.nonce):
        raise LtiError(
            "lti_nonce_mismatch", "the id_token's nonce is not the one this login sent", status=403
        )
    if not await lti_state.spend_nonce(redis, platform.issuer, login.nonce):
        raise LtiError("lti_nonce_replayed", "the id_token's nonce was used already", status=403)
    launch = read_launch(claims, client_id=platform.client_id, deployment_ids=list(platform.deployment_ids))
    if launch.message_type == DEEP_LINKING_REQUEST and not teaches(launch.roles):
        # Placing content in a course is the course's instructors' (a learner's platform would not
        # send this; a forged or misconfigured one might).
        raise LtiError(
            "lti_instructor_only", "only the course's instructors may place content in it", status=403
        )
    if not login.targets(launch.target_link_uri):
        raise LtiError("lti_target_mismatch", "the id_token's target is not the one the login named")
    user = await lti.link(
        session,
        accounts_key=platform.accounts_key,
        issuer=launch.issuer,
        subject=launch.subject,
        name=launch.name,
        email=launch.email,
        hashed_password=LTI_LAUNCH_ONLY,  # no password: an LTI account signs in by launch, no hash to make
    )
    context_row_id = None
    if launch.context is not None:
        context = await lti.enrol(
            session,
            platform_id=platform.id,
            context_id=launch.context.id,
            title=launch.context.title,
            label=launch.context.label,
            memberships_url=launch.memberships_url,
            user_id=user.id,
            roles=launch.roles,
            lineitems_url=launch.lineitems_url if LINEITEM_SCOPE in launch.ags_scopes else None,
        )
        context_row_id = str(context.id)
    await _link_grades(session, launch, platform, user, context_row_id)
    await commit_async(session)
    return Launched(launch, user, platform, context_row_id, storage, login.nonce)


def exercise_of(target_link_uri: str) -> uuid.UUID | None:
    """The exercise a launch's target is the page of (/lti/exercises/{id}), if it is one."""
    found = EXERCISE_PATH.fullmatch(urlsplit(target_link_uri).path)
    if found is None:
        return None
    try:
        return uuid.UUID(found["id"])
    except ValueError:
        return None


async def _link_grades(
    session: AsyncSession, launch: Launch, platform: LtiPlatform, user: User, context_row_id: str | None
) -> None:
    """A launch of an exercise from a graded link (it carries a line item and the score scope):
    the learner's grades on that exercise go to that line item from now on, and it is the course's
    column for the exercise. A launch from a plain link (no line item) with the score scope uses the
    course's column for the exercise if it has one (one mentorq created: POST
    /v1/lti/courses/{id}/line-items)."""
    exercise_id = exercise_of(launch.target_link_uri)
    if exercise_id is None or launch.message_type != RESOURCE_LINK_REQUEST:
        return
    if not await lti.exercise_exists(session, exercise_id, for_user=user.id):
        raise LtiError("lti_exercise_not_found", "the launched exercise does not exist here", status=404)
    # Refused before anything is recorded: another course's exercise gets no column or grade link
    # here (the launch route refuses it too, for deep links and landing pages).
    refusal = await course_refusal(session, exercise_id=exercise_id, course_id=context_row_id)
    if refusal is not None:
        raise refusal
    if SCORE_SCOPE not in launch.ags_scopes:
        return
    course = uuid.UUID(context_row_id) if context_row_id else None
    lineitem_url = launch.lineitem_url
    if lineitem_url and course is not None:
        await lti.remember_line_item(
            session,
            context_id=course,
            exercise_id=exercise_id,
            lineitem_url=lineitem_url,
            label=launch.resource_link_title,
            created_by_tool=False,
        )
    elif lineitem_url is None and course is not None:
        column = await lti.course_line_item(session, context_id=course, exercise_id=exercise_id)
        lineitem_url = column.lineitem_url if column else None
    if lineitem_url:
        await lti.link_grades(
            session,
            user_id=user.id,
            exercise_id=exercise_id,
            platform_id=platform.id,
            lineitem_url=lineitem_url,
            subject=launch.subject,
        )


async def refuse_weak_keys(jwks_url: str) -> None:
    """At a registration (by hand or dynamic): `lti_weak_key` when the platform's key set, read now,
    holds an RSA signing key under 2,048 bits (RFC 7518 3.3). A set that cannot be read now does not
    stop the registration: every launch checks the key it is signed with (core/lti/platform_keys.py)."""
    try:
        jwks = await platform_keys.fetch_jwks(jwks_url)
        weak = platform_keys.weak_keys(jwks) if jwks is not None else []
    except LtiError:
        return
    if weak:
        raise LtiError(
            "lti_weak_key",
            f"the platform's key set holds RSA keys under {platform_keys.MIN_KEY_BITS} bits: "
            + ", ".join(weak),
            status=422,
        )


# --- Dynamic Registration (LTI Dynamic Registration 1.0) -------------------------------------------
#
# A mentorq admin makes a one-time registration URL (valid a day) and pastes it into the platform's
# "add a tool" screen; the platform opens it with its `openid_configuration` URL and a
# `registration_token`. The code in the URL is what allows it: without a fresh code nothing is
# fetched, so the URL cannot make mentorq fetch addresses of an attacker's choosing or register a
# rogue platform. A failure gives the code back, so the administrator can try again.

REGISTER_PATH = "/lti/register"
REGISTRATION_CODE_VALID_FOR = timedelta(days=1)
REGISTRATION_TIMEOUT_S = 10.0
MAX_REGISTRATION_BYTES = 256 * 1024


def code_digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def new_registration_code(session: AsyncSession, *, created_by: uuid.UUID) -> tuple[str, datetime]:
    code = secrets.token_urlsafe(24)
    row = await lti.add_registration_code(
        session, code_sha256=code_digest(code), created_by=created_by, valid_for=REGISTRATION_CODE_VALID_FOR
    )
    return code, row.expires_at


async def register(
    session: AsyncSession,
    *,
    code: str,
    openid_configuration: str,
    registration_token: str | None,
    origin: str,
) -> LtiPlatform:
    """The platform registered from its configuration, with this tool registered there."""
    digest = code_digest(code)
    if not await lti.claim_registration_code(session, digest):
        raise LtiError(
            "lti_registration_code_unknown",
            "this registration URL is unknown, used already or expired",
            status=403,
        )
    await commit_async(session)  # taken now: a second use at the same moment finds it taken
    try:
        platform = await _register(session, openid_configuration, registration_token, origin)
    except BaseException:
        await session.rollback()
        await lti.release_registration_code(session, digest)
        await commit_async(session)
        raise
    await lti.registered_with_code(session, digest, platform.id)
    await commit_async(session)
    return platform


async def _platform_call(method: str, url: str, what: str, **options: Any) -> outbound.Answer:
    """A call to the registering platform, through the pinned client (core/lti/outbound.py): one
    deadline, a capped body, the host resolved once; a forbidden address is an invalid registration."""
    try:
        return await outbound.call_async(
            method,
            url,
            what=what,
            unavailable="lti_registration_unavailable",
            deadline_s=REGISTRATION_TIMEOUT_S,
            max_bytes=MAX_REGISTRATION_BYTES,
            **options,
        )
    except LtiError as error:
        if error.code == "lti_url_forbidden":
            raise registration.invalid(error.message) from None
        raise


def _json_object(answer: outbound.Answer, what: str) -> dict[str, Any]:
    if answer.too_large:
        raise registration.invalid(f"the platform's {what} is too large")
    body = answer.json_object()
    if body is None:
        raise registration.invalid(f"the platform's {what} is not a JSON object")
    return body


def _unavailable(what: str) -> LtiError:
    return LtiError("lti_registration_unavailable", what, status=502)


async def _register(
    session: AsyncSession, configuration_url: str, registration_token: str | None, origin: str
) -> LtiPlatform:
    ours = registration.tool_configuration(
        login_url=origin + LOGIN_PATH,
        launch_url=origin + LAUNCH_PATH,
        jwks_url=origin + JWKS_PATH,
        home_url=origin + HOME_PATH,
    )
    fetched = await _platform_call("GET", configuration_url, "openid_configuration URL")
    if fetched.status != 200:
        raise _unavailable(f"the platform's configuration answered {fetched.status}")
    config = registration.checked_configuration(_json_object(fetched, "configuration"), configuration_url)
    await refuse_weak_keys(config.jwks_uri)  # before the platform is told of this tool
    headers = {"authorization": f"Bearer {registration_token}"} if registration_token else {}
    answered = await _platform_call(
        "POST", config.registration_endpoint, "registration endpoint", json_body=ours, headers=headers
    )
    if answered.status not in (200, 201):
        excerpt = answered.body[:200].decode("utf-8", errors="replace")
        raise LtiError(
            "lti_registration_refused",
            f"the platform refused the registration: HTTP {answered.status} {excerpt}",
            status=502,
        )
    client_id, deployment = registration.registered_client(_json_object(answered, "registration answer"))
    platform = await lti.add_platform(
        session,
        name=f"{config.product or 'LTI platform'} at {urlsplit(config.issuer).hostname}"[:200],
        issuer=config.issuer,
        client_id=client_id,
        deployment_ids=[deployment] if deployment else [],
        auth_login_url=config.authorization_endpoint,
        auth_token_url=config.token_endpoint,
        jwks_url=config.jwks_uri,
    )
    if platform is None:
        raise LtiError("lti_platform_exists", "this issuer and client id are registered already", status=409)
    return platform


# --- what an admin does with LTI, one function each, for /v1/admin/lti, /v1/lti/courses and the
# console's LMS page alike: registration URLs, registered platforms, and a course's roster sync,
# gradebook columns and failed jobs.


def configured_keys() -> list[tool_keys.ToolKey]:
    """The tool's published keys, the signing one first (LtiError `lti_not_configured` without)."""
    settings = get_settings()
    require_configured(settings)
    secret = settings.lti_private_key.get_secret_value() if settings.lti_private_key else None
    retiring = settings.lti_retiring_private_key
    return tool_keys.configured_keys(secret, retiring.get_secret_value() if retiring else None)


def require_keys() -> list[tool_keys.ToolKey]:
    """configured_keys, its refusal as a problem (an admin's request, not a launch's page)."""
    try:
        return configured_keys()
    except LtiError as error:
        raise ProblemError(error.status, error.code, error.message) from None


async def new_registration_url(session: AsyncSession, *, admin: User, origin: str) -> RegistrationUrl:
    """A one-time Dynamic Registration URL on `origin`, valid a day (REGISTRATION_CODE_VALID_FOR)."""
    require_keys()
    code, expires_at = await new_registration_code(session, created_by=admin.id)
    await commit_async(session)
    return RegistrationUrl(registration_url=f"{origin}{REGISTER_PATH}/{code}", expires_at=expires_at)


async def open_registrations(session: AsyncSession) -> list[RegistrationCodeRead]:
    """The registration URLs a platform may still use, newest first (their codes are not kept)."""
    return [
        RegistrationCodeRead(
            code_id=code.code_sha256[:12],
            created_by=email,
            created_at=code.created_at,
            expires_at=code.expires_at,
        )
        for code, email in await lti.open_registration_codes(session)
    ]


async def platform_statuses(session: AsyncSession) -> list[PlatformStatus]:
    """Every registration, oldest first, with whose accounts its launches reach and the latest launch."""
    rows = await lti.platforms(session)
    accounts = await lti.accounts_by_key(session)
    statuses = []
    for row in rows:
        count, last = accounts.get(row.accounts_key, (0, None))
        statuses.append(
            PlatformStatus(
                **PlatformRead.model_validate(row).model_dump(),
                accounts_key=row.accounts_key,
                shares_accounts_with=[
                    other.id
                    for other in rows
                    if other.accounts_key == row.accounts_key and other.id != row.id
                ],
                accounts=count,
                last_launch_at=last,
            )
        )
    return statuses


async def get_platform(session: AsyncSession, *, platform_id: str) -> PlatformRead:
    found = parse_id(platform_id, code="lti_platform_not_found", detail="no such platform")
    row = await lti.platform(session, found)
    if row is None:
        raise ProblemError(404, "lti_platform_not_found", "no such platform")
    return PlatformRead.model_validate(row)


async def remove_platform(session: AsyncSession, *, platform_id: str) -> None:
    """Its launches are refused from now on; its courses go with it, its accounts stay."""
    found = parse_id(platform_id, code="lti_platform_not_found", detail="no such platform")
    if not await lti.delete_platform(session, found):
        raise ProblemError(404, "lti_platform_not_found", "no such platform")
    await commit_async(session)


async def taught_course(session: AsyncSession, *, user: User, course_id: str) -> LtiContext:
    """The course, if the user is an admin or has an Instructor or Administrator role in it."""
    found = parse_id(course_id, code="lti_course_not_found", detail="no such course")
    course = await lti.context(session, found)
    if course is None:
        raise ProblemError(404, "lti_course_not_found", "no such course")
    if not user.is_superuser and not teaches(
        await lti.roles_in(session, context_id=course.id, user_id=user.id)
    ):
        raise ProblemError(403, "lti_instructor_only", "only the course's instructors and admins may do this")
    return course


def course_read(course: LtiContext) -> CourseRead:
    return CourseRead(
        id=course.id,
        platform_id=course.platform_id,
        context_id=course.context_id,
        title=course.title,
        label=course.label,
        roster_available=course.memberships_url is not None,
        line_items_available=course.lineitems_url is not None,
    )


async def list_courses(session: AsyncSession, *, user: User) -> CourseList:
    """The courses the user teaches (launched as Instructor or Administrator); an admin sees all."""
    rows = await lti.contexts_taught_by(session, user.id, everything=user.is_superuser)
    return CourseList(items=[course_read(row) for row in rows])


async def read_roster(session: AsyncSession, *, user: User, course_id: str) -> Roster:
    """The course's members as the latest roster sync read them, launched here or not."""
    course = await taught_course(session, user=user, course_id=course_id)
    return Roster(
        items=[RosterMemberRead.model_validate(row) for row in await lti.roster(session, course.id)]
    )


async def line_items(session: AsyncSession, *, user: User, course_id: str) -> LineItemList:
    """The course's gradebook columns mentorq knows, one per exercise."""
    course = await taught_course(session, user=user, course_id=course_id)
    rows = await lti.course_line_items(session, course.id)
    return LineItemList(items=[LineItemRead.model_validate(row) for row in rows])


async def sync_roster(session: AsyncSession, *, user: User, course_id: str) -> JobRead:
    """An `lti.roster` job reading the course's roster from its platform (NRPS, every page)."""
    course = await taught_course(session, user=user, course_id=course_id)
    if course.memberships_url is None:
        raise ProblemError(409, "lti_roster_unavailable", "the platform never offered this course's roster")
    job = create_job(session, ROSTER, input={"context_id": str(course.id)}, owner_id=user.id)
    await commit_async(session)
    return job_read(job)


async def course_failures(session: AsyncSession, *, course_id: uuid.UUID, limit: int) -> list[JobRead]:
    """The course's failed `lti.roster` and `lti.score` jobs, newest first."""
    jobs = await lti.course_failures(
        session, context_id=course_id, roster_kind=ROSTER.name, score_kind=SCORE.name, limit=limit
    )
    return [job_read(job) for job in jobs]
