"""Calls to an LTI platform's services as the tool (LTI Security Framework 1.0, section 4.1).

The access token comes from the platform's token endpoint by the client-credentials grant with a
client assertion: a JWT the tool signs with its key (iss = sub = the client id, aud = the token
endpoint, a fresh jti), which the platform checks against the tool's JWKS. A token is kept in Redis
until a little before it expires, per platform and scope set, so a burst of scores costs one.

Failures are JobFailures with stable codes: the platform down or busy (5xx, 429, no answer) is
`lti_platform_unavailable`, retried by the job with backoff; the platform refusing the tool
(`invalid_client`, `invalid_grant`, 401 at the token endpoint) is `lti_token_refused`, a refused
score (4xx) `lti_score_refused`, and a URL the platform names that leads where the tool must never
call (cloud metadata, link-local; private addresses unless MENTORQ_LTI_ALLOW_PRIVATE) is
`lti_url_forbidden`: none of those retried, asking again cannot change the answer.

Every call goes through the pinned client (core/lti/outbound.py), as webhooks do: the host is
resolved once and every address checked, one deadline bounds the whole call, and an answer over
MAX_ANSWER_BYTES is `lti_platform_answer_too_large` (not retried)."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import httpx

from core.lti import outbound, tool_keys
from core.lti.errors import LtiError
from core.net.guard import WebhookAddressError, resolve_and_check
from core.redis_clients import get_state_redis
from core.settings import get_settings
from db.models import LtiPlatform
from workers.errors import JobFailure

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TIMEOUT_S = 15.0  # the whole call, however slowly the platform answers
# A roster page of a few thousand members is a few MB; more is not a platform's answer.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
EXPIRY_MARGIN_S = 60  # a cached token this close to its end is not used
# The cache's bounds (docs/production/redis.md): a platform's token is a few hundred bytes; a longer
# one is used but not kept, and none is kept past an hour whatever `expires_in` the platform says.
MAX_CACHED_TOKEN_CHARS = 8192
MAX_CACHED_TOKEN_S = 3600
_CACHE_PREFIX = "mentorq:lti:token:"


def _signing_key() -> tool_keys.ToolKey:
    settings = get_settings()
    if settings.lti_private_key is None:
        raise JobFailure("lti_not_configured", "MENTORQ_LTI_PRIVATE_KEY is not set on this worker")
    retiring = settings.lti_retiring_private_key
    return tool_keys.configured_keys(
        settings.lti_private_key.get_secret_value(), retiring.get_secret_value() if retiring else None
    )[0]


def client_assertion(platform: LtiPlatform) -> str:
    now = int(time.time())
    claims = {
        "iss": platform.client_id,
        "sub": platform.client_id,
        "aud": platform.auth_token_url,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    return tool_keys.sign(claims, _signing_key())


def _callable(url: str) -> None:
    """Refuse, before any request, a URL that leads where the tool must never call (a line item or
    a roster page named by the platform's launch: a rogue registration must not reach the host's
    network through the worker)."""
    try:
        resolve_and_check(url, allow_private=get_settings().lti_allow_private)
    except WebhookAddressError as error:
        raise JobFailure(
            "lti_url_forbidden", f"the platform's URL may not be called: {error.message}"
        ) from None
    except OSError as error:
        raise _unavailable(f"{url} does not resolve: {error}") from None


def _call(
    method: str, url: str, *, what: str, headers: dict[str, str], content: bytes | None = None
) -> httpx.Response:
    """One request through the pinned client (core/lti/outbound.py): the host resolved once and
    every address checked, one deadline, the answer capped at MAX_ANSWER_BYTES."""
    try:
        answer = outbound.call(
            method,
            url,
            what=what,
            unavailable="lti_platform_unavailable",
            deadline_s=TIMEOUT_S,
            max_bytes=MAX_ANSWER_BYTES,
            headers=headers,
            content=content,
        )
    except LtiError as error:
        if error.code == "lti_url_forbidden":
            raise JobFailure("lti_url_forbidden", error.message) from None
        raise _unavailable(error.message) from None
    if answer.too_large:
        raise JobFailure(
            "lti_platform_answer_too_large", f"the platform's {what} answered over {MAX_ANSWER_BYTES} bytes"
        )
    return answer.as_response(method, url)


def _unavailable(what: str) -> JobFailure:
    return JobFailure("lti_platform_unavailable", what, retryable=True)


def _cache_key(platform: LtiPlatform, scopes: tuple[str, ...]) -> str:
    digest = hashlib.sha256(" ".join(sorted(scopes)).encode()).hexdigest()[:16]
    return f"{_CACHE_PREFIX}{platform.id}:{digest}"


def access_token(platform: LtiPlatform, scopes: tuple[str, ...], *, fresh: bool = False) -> str:
    """A bearer token for these scopes at this platform: the cached one, or a new one."""
    redis = get_state_redis()
    key = _cache_key(platform, scopes)
    if not fresh and (cached := redis.get(key)):
        return cached.decode() if isinstance(cached, bytes) else str(cached)
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(platform),
        "scope": " ".join(scopes),
    }
    response = _call(
        "POST",
        platform.auth_token_url,
        what="token endpoint",
        headers={"content-type": "application/x-www-form-urlencoded"},
        content=urlencode(form).encode(),
    )
    if response.status_code == 429 or response.status_code >= 500:
        raise _unavailable(f"the platform's token endpoint answered {response.status_code}")
    body = _json(response)
    if response.status_code != 200 or not isinstance(body.get("access_token"), str):
        reason = body.get("error_description") or body.get("error") or f"HTTP {response.status_code}"
        raise JobFailure("lti_token_refused", f"the platform refused the tool a token: {reason}")
    token = body["access_token"]
    lifetime = int(body.get("expires_in") or 3600)
    if lifetime > EXPIRY_MARGIN_S and len(token) <= MAX_CACHED_TOKEN_CHARS:
        redis.set(key, token, ex=min(lifetime - EXPIRY_MARGIN_S, MAX_CACHED_TOKEN_S))
    return token


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def scores_url(lineitem_url: str) -> str:
    """The line item's scores endpoint: `/scores` after its path, before any query (AGS 2.0, 3.4)."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def _with_token(
    platform: LtiPlatform,
    method: str,
    url: str,
    scopes: tuple[str, ...],
    *,
    headers: dict[str, str],
    content: str | None = None,
    refused: str,
    what: str,
) -> httpx.Response:
    """One call to a platform's service with a bearer token: the cached one, and one new token if
    it was refused (revoked, or the platform restarted). 5xx, 429 or no answer is
    `lti_platform_unavailable` (retried); another 4xx is `refused` (not retried)."""
    for fresh in (False, True):
        token = access_token(platform, scopes, fresh=fresh)
        response = _call(
            method,
            url,
            what=what,
            headers={"authorization": f"Bearer {token}", **{k.lower(): v for k, v in headers.items()}},
            content=content.encode() if content is not None else None,
        )
        if response.status_code == 401 and not fresh:
            continue
        if response.status_code == 429 or response.status_code >= 500:
            raise _unavailable(f"the platform's {what} answered {response.status_code}")
        if response.status_code >= 400:
            raise JobFailure(
                refused, f"the platform refused the {what}: HTTP {response.status_code} {response.text[:200]}"
            )
        return response
    raise JobFailure("lti_token_refused", f"the platform refused a new token for the {what}")


def post_score(platform: LtiPlatform, lineitem_url: str, score: dict[str, Any]) -> int:
    """POST the score; its HTTP status when the platform took it."""
    response = _with_token(
        platform,
        "POST",
        scores_url(lineitem_url),
        (SCORE_SCOPE,),
        headers={"Content-Type": "application/vnd.ims.lis.v1.score+json"},
        content=json.dumps(score),
        refused="lti_score_refused",
        what="score",
    )
    return response.status_code


LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
TOOL_TAG = "mentorq"  # on every line item mentorq creates, so it finds its own again


def find_line_item(platform: LtiPlatform, lineitems_url: str, resource_id: str) -> dict[str, Any] | None:
    """The course's line item mentorq made for this resource, if the platform has one (AGS 2.0:
    the container filtered by `resource_id` and `tag`), so a job retried after the platform made
    the column does not make a second."""
    parts = urlsplit(lineitems_url)
    query = "&".join(filter(None, [parts.query, f"resource_id={quote(resource_id)}", f"tag={TOOL_TAG}"]))
    response = _with_token(
        platform,
        "GET",
        urlunsplit(parts._replace(query=query)),
        (LINEITEM_SCOPE,),
        headers={"Accept": LINEITEMS_TYPE},
        refused="lti_line_item_refused",
        what="line items",
    )
    try:
        items = response.json()
    except ValueError:
        items = None
    if not isinstance(items, list):
        raise JobFailure("lti_line_item_refused", "the platform's line items are not a line item container")
    return next(
        (
            item
            for item in items
            if isinstance(item, dict)
            and item.get("resourceId") == resource_id
            and isinstance(item.get("id"), str)
        ),
        None,
    )


def create_line_item(platform: LtiPlatform, lineitems_url: str, item: dict[str, Any]) -> dict[str, Any]:
    """POST a new line item to the course's container; the platform's copy (with its `id` URL)."""
    response = _with_token(
        platform,
        "POST",
        lineitems_url,
        (LINEITEM_SCOPE,),
        headers={"Content-Type": LINEITEM_TYPE, "Accept": LINEITEM_TYPE},
        content=json.dumps({**item, "tag": TOOL_TAG}),
        refused="lti_line_item_refused",
        what="line items",
    )
    created = _json(response)
    if not isinstance(created.get("id"), str):
        raise JobFailure("lti_line_item_refused", "the platform's new line item has no id")
    _callable(created["id"])
    return created


NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
NRPS_MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_ROSTER_PAGES = 500
MAX_ROSTER_MEMBERS = 50_000


def _same_origin(a: str, b: str) -> bool:
    first, second = urlsplit(a), urlsplit(b)
    return (first.scheme, first.netloc) == (second.scheme, second.netloc)


def roster_pages(platform: LtiPlatform, memberships_url: str) -> Iterator[list[dict[str, Any]]]:
    """The members of each page of the course's roster, following `Link: rel="next"` (NRPS 2.0).

    A next link to another origin, a page that is not a membership container, more than
    MAX_ROSTER_PAGES pages or MAX_ROSTER_MEMBERS members: `lti_roster_invalid`, not retried (the
    platform would answer the same). A page the platform fails (5xx, 429, no answer) is
    `lti_platform_unavailable`, retried."""
    url: str | None = memberships_url
    pages = members = 0
    while url is not None:
        if not _same_origin(url, memberships_url):
            raise JobFailure("lti_roster_invalid", "the roster's next page is on another site")
        pages += 1
        if pages > MAX_ROSTER_PAGES:
            raise JobFailure("lti_roster_invalid", f"the roster has more than {MAX_ROSTER_PAGES} pages")
        response = _get_with_token(platform, url, (NRPS_SCOPE,), NRPS_MEDIA_TYPE)
        body = _json(response)
        page = body.get("members")
        if not isinstance(page, list) or not all(isinstance(member, dict) for member in page):
            raise JobFailure("lti_roster_invalid", f"roster page {pages} is not a membership container")
        members += len(page)
        if members > MAX_ROSTER_MEMBERS:
            raise JobFailure("lti_roster_invalid", f"the roster has more than {MAX_ROSTER_MEMBERS} members")
        yield page
        following = response.links.get("next", {}).get("url")
        url = str(response.url.join(following)) if following else None


def _get_with_token(platform: LtiPlatform, url: str, scopes: tuple[str, ...], accept: str) -> httpx.Response:
    return _with_token(
        platform, "GET", url, scopes, headers={"Accept": accept}, refused="lti_roster_invalid", what="roster"
    )
