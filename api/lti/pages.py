"""The pages a launch shows inside the platform's iframe: where it landed, or why it was refused.

They are framed by another site, so unlike the console's pages they may not say
`frame-ancestors 'none'`: a landing page names the platform's origins (issuer and authorization
endpoint; nothing else may frame a signed-in page), an error page, which shows nothing private and
does nothing, any origin, so the learner reads the code instead of a blank frame.

The two pages of LTI Client Side postMessage storage (a browser without cookies in the frame) carry
what their own-origin scripts need in data attributes, since CSP allows no inline script: the
login's page puts the state and nonce in the platform's frame, the launch's page reads them back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from api.same_origin import web_origin
from core.lti.errors import LtiError

_templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
)

ERROR_TITLES = {
    400: "This launch could not be read",
    403: "This launch was refused",
    404: "This platform is not connected",
    502: "The platform did not answer",
    503: "LTI is not set up here",
}


def _headers(frame_ancestors: str, form_action: str = "'self'") -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self'; form-action {form_action}; frame-ancestors {frame_ancestors}; "
            "base-uri 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def framing_origins(*urls: str) -> str:
    origins = sorted({origin for url in urls if (origin := web_origin(url))})
    return " ".join(origins) if origins else "'none'"


def error_page(request: Request, error: LtiError) -> HTMLResponse:
    title = ERROR_TITLES.get(error.status, "This launch was refused")
    context = {"title": title, "detail": error.message, "code": error.code}
    return _templates.TemplateResponse(
        request, "lti_error.html", context, status_code=error.status, headers=_headers("*")
    )


def page(request: Request, template: str, *, frame_ancestors: str, **context: Any) -> HTMLResponse:
    return _templates.TemplateResponse(request, template, context, headers=_headers(frame_ancestors))


def form_post(request: Request, action: str, fields: dict[str, str]) -> HTMLResponse:
    """A page that posts `fields` to `action` on another site at once (the platform's return URL):
    the one place a form of ours may leave our origin, so CSP's form-action names that origin."""
    context = {"title": "Back to the course", "action": action, "fields": fields}
    return _templates.TemplateResponse(
        request, "lti_form_post.html", context, headers=_headers("*", framing_origins(action))
    )


def registered(request: Request, *, issuer: str, client_id: str) -> HTMLResponse:
    """The end of a Dynamic Registration: the platform's window is told to close (its own page
    frames this one, or opened it)."""
    context = {"title": "mentorq is registered", "issuer": issuer, "client_id": client_id}
    return _templates.TemplateResponse(request, "lti_registered.html", context, headers=_headers("*"))


def storage_login(
    request: Request,
    *,
    frame_ancestors: str,
    auth_url: str,
    storage_target: str,
    storage_origin: str,
    state: str,
    nonce: str,
) -> HTMLResponse:
    """The login's page when the platform keeps the state: api/lti/static/storage_login.js puts
    `state_<state>` and `nonce_<nonce>` in the platform's frame, then goes on to `auth_url`."""
    context = {
        "title": "Opening the activity",
        "auth_url": auth_url,
        "storage_target": storage_target,
        "storage_origin": storage_origin,
        "state": state,
        "nonce": nonce,
    }
    return _templates.TemplateResponse(
        request, "lti_storage_login.html", context, headers=_headers(frame_ancestors)
    )


def storage_launch(
    request: Request,
    *,
    frame_ancestors: str,
    check: str,
    storage_target: str,
    storage_origin: str,
    state: str,
    nonce: str,
) -> HTMLResponse:
    """The launch's page when no state cookie came back: api/lti/static/storage_launch.js reads the
    state and nonce back from the platform's frame and posts them, with `check`, to
    /lti/launch/verify (our own origin)."""
    context = {
        "title": "Opening the activity",
        "check": check,
        "storage_target": storage_target,
        "storage_origin": storage_origin,
        "state_key": f"state_{state}",
        "nonce_key": f"nonce_{nonce}",
    }
    return _templates.TemplateResponse(
        request, "lti_storage_launch.html", context, headers=_headers(frame_ancestors)
    )
