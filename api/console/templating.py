"""The console's Jinja2 environment (autoescaped, strict about undefined names), its filters, and
`render`, which every page goes through: layout context, the CSRF cookie, security headers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from api.console import csrf

TEMPLATES_DIR = Path(__file__).parent / "templates"
# A page's templates live with its feature (api/<feature>/templates); the layout, sign-in and error
# pages here. Template names are unique across them.
FEATURE_TEMPLATE_DIRS = sorted(Path(__file__).parent.parent.glob("*/templates"))
STATIC_DIR = Path(__file__).parent / "static"

# Every asset comes from the app itself: nothing inline, nothing from another origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class NavEntry:
    """A page in the console's navigation: its label and path (the page's module declares it)."""

    label: str
    path: str

    def is_current(self, path: str) -> bool:
        if self.path == "/admin":
            return path in ("/admin", "/admin/")
        return path == self.path or path.startswith(self.path + "/")


def when(value: datetime | str | None) -> str:
    """A moment as `2026-11-23 14:05:03 UTC` (operators compare logs in UTC)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def milliseconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.1f} s" if value >= 10_000 else f"{value:.0f} ms"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def byte_size(value: int | None) -> str:
    if value is None:
        return "—"
    if value < 1024:
        return f"{value} B"
    if value < 1024 * 1024:
        return f"{value / 1024:.1f} KB"
    return f"{value / (1024 * 1024):.1f} MB"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([TEMPLATES_DIR, *FEATURE_TEMPLATE_DIRS]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a typo in a template is an error in the tests, not a blank
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, ms=milliseconds, percent=percent, pretty_json=pretty_json, bytes=byte_size)
    return env


templates = Jinja2Templates(env=_environment())


def render(
    request: Request, template: str, *, title: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A console page: the layout's context (navigation, the signed-in admin, the CSRF field), the
    CSRF cookie if this browser has none yet, and the console's security headers."""
    nav: list[NavEntry] = getattr(request.app.state, "console_nav", [])
    response = templates.TemplateResponse(
        request,
        template,
        {
            "title": title,
            "nav": nav,
            "path": request.url.path,
            "admin": getattr(request.state, "console_admin", None),
            "csrf_field": csrf.CSRF_FIELD,
            "csrf_token": csrf.form_token(request),
            "notice": context.pop("notice", None),
            **context,
        },
        status_code=status_code,
        headers=SECURITY_HEADERS,
    )
    csrf.set_cookie_if_new(request, response)
    return response
