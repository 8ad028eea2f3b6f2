"""The console's route class: what a page or form refuses becomes a page (or problem+json for a
client that asks for JSON), never a bare 401 or a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api.console.csrf import CsrfFailed
from api.console.templating import render
from api.errors import ProblemError, problem_response

log = logging.getLogger(__name__)


class SignInRequired(Exception):
    """Nobody (or an inactive account) is signed in: off to the sign-in page."""


class NotAnAdmin(Exception):
    """Signed in, but not a superuser."""


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "json" in accept and "text/html" not in accept


def error_page(request: Request, status: int, code: str, detail: str, *, headers=None) -> Response:
    if wants_json(request):
        return problem_response(status, code, detail, headers=headers, instance=request.url.path)
    response = render(
        request, "error.html", title=f"{status} {code}", status_code=status, code=code, detail=detail
    )
    response.headers.update(headers or {})
    return response


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = "/admin/login"
    if request.method == "GET" and request.url.path != "/admin/login":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += f"?next={quote(here, safe='')}"
    return RedirectResponse(target, status_code=303)


class ConsoleRoute(APIRoute):
    """Turns the console's refusals into answers a browser can show."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return sign_in_redirect(request)
            except NotAnAdmin:
                return error_page(request, 403, "admin_only", "the console is for admins (superusers) only")
            except CsrfFailed as refusal:
                return error_page(request, 403, "csrf_failed", refusal.reason)
            except ProblemError as problem:
                return error_page(
                    request, problem.status, problem.code, problem.detail, headers=problem.headers
                )
            except (RequestValidationError, ValidationError) as error:
                detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
                return error_page(request, 422, "validation_error", detail)

        return console_handler
