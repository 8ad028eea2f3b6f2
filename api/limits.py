"""A request body cap enforced before anything parses the body (413 payload_too_large)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem_response


class _BodyTooLarge(HTTPException):
    # An HTTPException, so FastAPI's body parsing re-raises it instead of turning it into a 400.
    def __init__(self, max_bytes: int):
        super().__init__(413, f"the request body exceeds {max_bytes} bytes")


class BodySizeLimit:
    """Pure ASGI middleware: checks Content-Length, and counts streamed bytes when there is none."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, upload_paths: dict[str, int] | None = None):
        self.app = app
        self.default_max_bytes = max_bytes
        # Exact paths that take file uploads get their own, larger limit.
        self.upload_paths = upload_paths or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.upload_paths.get(scope.get("path", ""), self.default_max_bytes)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(scope, receive, send, max_bytes)
            return

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _BodyTooLarge(max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await self._refuse(scope, receive, send, max_bytes)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        response = problem_response(
            413,
            "payload_too_large",
            f"the request body exceeds {max_bytes} bytes",
            instance=scope.get("path"),
        )
        await response(scope, receive, send)
