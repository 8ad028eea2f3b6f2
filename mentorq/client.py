"""A small synchronous client of the mentorq HTTP API (the `jobs` commands and the demo use it)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from core.job_status import TERMINAL
from mentorq.sse import SseEvent, iter_sse

DEFAULT_API_URL = "http://127.0.0.1:8000"
# The admin console's forms carry their CSRF token in this hidden field (api/console/csrf.py).
CONSOLE_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


class ApiError(Exception):
    """An error answer of the API (problem+json), or no answer at all (status 0)."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


class MentorqClient:
    """Typed-enough wrapper over the job API; one instance holds one connection pool and token."""

    def __init__(self, base_url: str = DEFAULT_API_URL, token: str | None = None, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._timeout = timeout
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def __enter__(self) -> MentorqClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def register(self, email: str, password: str) -> dict[str, Any]:
        """Create an account; returns the user resource."""
        return self._request("POST", "/auth/register", json={"email": email, "password": password})

    def login(self, email: str, password: str) -> str:
        """Exchange credentials for a bearer token, which this client then uses."""
        body = self._request("POST", "/auth/jwt/login", data={"username": email, "password": password})
        self.token = body["access_token"]
        return self.token

    def me(self) -> dict[str, Any]:
        """The user the token belongs to."""
        return self._request("GET", "/users/me")

    def submit(
        self,
        kind: str,
        input: dict[str, Any],
        *,
        wait: int | None = None,
        idempotency_key: str | None = None,
        webhook: str | None = None,
        webhook_events_filter: list[str] | None = None,
    ) -> dict[str, Any]:
        """Submit a job; with `wait`, the server holds the request up to that many seconds."""
        body: dict[str, Any] = {"kind": kind, "input": input}
        if webhook is not None:
            body["webhook"] = webhook
        if webhook_events_filter is not None:
            body["webhook_events_filter"] = webhook_events_filter
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._request("POST", "/v1/jobs", json=body, headers=headers, wait=wait)

    def get(self, job_id: str, *, wait: int | None = None) -> dict[str, Any]:
        """One job resource; with `wait`, held until it is done or the wait passes."""
        return self._request("GET", f"/v1/jobs/{job_id}", wait=wait)

    def list(
        self,
        *,
        kind: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """A page of the caller's jobs, newest first: {items, next_cursor}."""
        params = {
            k: v
            for k, v in {"kind": kind, "status": status, "limit": limit, "cursor": cursor}.items()
            if v is not None
        }
        return self._request("GET", "/v1/jobs", params=params)

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Ask for a job to be canceled; returns the job resource."""
        return self._request("POST", f"/v1/jobs/{job_id}/cancel")

    def watch(self, job_id: str, *, last_event_id: int | None = None) -> Iterator[SseEvent]:
        """Follow a job's event stream (replay, then live) until its `done` event."""
        headers = {"Accept": "text/event-stream"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        timeout = httpx.Timeout(self._timeout, read=None)  # keep-alives arrive; the stream may idle long
        try:
            with self._http.stream(
                "GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=timeout
            ) as response:
                if response.is_error:
                    response.read()
                    raise _api_error(response)
                for event in iter_sse(response.iter_lines()):
                    yield event
                    if event.event == "done":
                        return
        except httpx.HTTPError as exc:
            raise ApiError(
                0, "connection_error", f"GET {self.base_url}/v1/jobs/{job_id}/events: {exc!r}"
            ) from exc

    def upload_documents(
        self,
        files: list[tuple[str, bytes]],
        *,
        collection: str = "default",
        tags: list[str] | None = None,
        resource_type: str | None = None,
        level: str | None = None,
    ) -> list[dict[str, Any]]:
        """Upload files (name, bytes) as documents; one item per file: created/replaced/unchanged/rejected."""
        form: dict[str, Any] = {"collection": collection, "tags": ",".join(tags or [])}
        if resource_type:
            form["resource_type"] = resource_type
        if level:
            form["level"] = level
        body = self._request(
            "POST",
            "/v1/documents",
            files=[("files", (name, data)) for name, data in files],
            data=form,
            timeout_extra=120,
        )
        return body["items"]

    def get_document(self, document_id: str) -> dict[str, Any]:
        """One document (status, chunk count, error)."""
        return self._request("GET", f"/v1/documents/{document_id}")

    def transcript(self, document_id: str) -> dict[str, Any]:
        """A recording's transcript: its cues with their times."""
        return self._request("GET", f"/v1/documents/{document_id}/transcript")

    def search(
        self, query: str, *, k: int = 5, mode: str = "hybrid", collections: list[str] | None = None
    ) -> dict[str, Any]:
        """Ranked chunks for a query."""
        payload: dict[str, Any] = {"query": query, "k": k, "mode": mode}
        if collections:
            payload["collections"] = collections
        return self._request("POST", "/v1/search", json=payload)

    def ingest_profile(
        self,
        *,
        text: str | None = None,
        file: tuple[str, bytes] | None = None,
        user_email: str | None = None,
        external_id: str | None = None,
    ) -> dict[str, Any]:
        """Queue a profile ingestion from a text or a file (name, bytes); returns its job. Admins may
        name whose profile it is: an account (`user_email`) or a person without one (`external_id`)."""
        target = {
            key: value for key, value in (("user_email", user_email), ("external_id", external_id)) if value
        }
        if file is not None:
            return self._request(
                "POST", "/api/profiles/ingest", files={"file": file}, data=target, timeout_extra=60
            )
        return self._request("POST", "/api/profiles/ingest", json={"text": text, **target})

    def record_progress(self, **event: Any) -> dict[str, Any]:
        """Record a progress event: {event, mastery, review, job}."""
        return self._request("POST", "/api/profiles/progress", json=event)

    def progress(self) -> dict[str, Any]:
        """Timeline, mastery, reviews due, streak and the latest insight."""
        return self._request("GET", "/api/profiles/progress")

    def suggest_resources(self, query: str, *, k: int = 5) -> dict[str, Any]:
        """Queue a `resources` job for the query; returns the job."""
        return self._request("POST", "/api/learning/resources", json={"query": query, "k": k})

    def request_exercise(self, exercise_type: str, *, topic: str | None = None) -> dict[str, Any]:
        """Queue an `exercise` job (qa, multiple_choice or coding); returns the job."""
        return self._request(
            "POST", "/api/learning/exercises", json={"exercise_type": exercise_type, "topic": topic}
        )

    def create_exercise(self, exercise: dict[str, Any]) -> dict[str, Any]:
        """Admins: queue an `exercise` job that gates and publishes this exercise (with its key)."""
        return self._request("POST", "/v1/admin/exercises", json=exercise)

    def submit_answer(self, exercise_id: str, answer: str) -> dict[str, Any]:
        """Queue a `grade` job for an answer; returns the job."""
        return self._request(
            "POST", f"/api/learning/exercises/{exercise_id}/submissions", json={"answer": answer}
        )

    def ask(
        self, question: str, *, collections: list[str] | None = None, wait: int | None = None
    ) -> dict[str, Any]:
        """Queue an `ask` job (or get one answered from the cache at once); returns the job."""
        body: dict[str, Any] = {"question": question, "collections": collections}
        # Through `wait`, which also lengthens the read timeout by as long as the server may hold it.
        return self._request("POST", "/api/ask", json=body, wait=wait or None)

    def answer(self, job_id: str) -> dict[str, Any]:
        """An ask job's answer with its citations looked up now (current, moved or removed)."""
        return self._request("GET", f"/api/ask/{job_id}")

    def start_conversation(self, title: str | None = None) -> dict[str, Any]:
        return self._request("POST", "/api/conversations", json={"title": title})

    def send_message(self, conversation_id: str, content: str) -> dict[str, Any]:
        """Post a message; returns the `tutor` job that replies."""
        return self._request(
            "POST", f"/api/conversations/{conversation_id}/messages", json={"content": content}
        )

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        """Every message, the tutor's with their citations."""
        return self._request("GET", f"/api/conversations/{conversation_id}")

    def wait_until_done(
        self, job_id: str, *, deadline_s: float = 300.0, poll_wait: int = 30
    ) -> dict[str, Any]:
        """Long-poll a job until it is succeeded, failed or canceled; TimeoutError past the deadline."""
        deadline = time.monotonic() + deadline_s
        while True:
            remaining = deadline - time.monotonic()
            job = self.get(job_id, wait=max(0, min(poll_wait, int(remaining))))
            if job.get("status") in TERMINAL:
                return job
            if time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still {job.get('status')} after {deadline_s:.0f}s")
            # A server that ignores Prefer: wait answers at once; don't spin on it.
            time.sleep(0.5)

    def _request(
        self,
        method: str,
        path: str,
        *,
        wait: int | None = None,
        headers: dict | None = None,
        timeout_extra: float = 0,
        **kwargs: Any,
    ) -> dict[str, Any]:
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        timeout = self._timeout + timeout_extra
        if wait is not None:
            headers["Prefer"] = f"wait={wait}"
            # The server may legitimately hold the request for `wait` seconds.
            timeout = self._timeout + wait
        try:
            response = self._http.request(method, path, headers=headers, timeout=timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, "connection_error", f"{method} {self.base_url}{path}: {exc!r}") from exc
        if response.is_error:
            raise _api_error(response)
        if not response.content:
            return {}
        return response.json()


def _api_error(response: httpx.Response) -> ApiError:
    """Read a problem+json answer; anything else still becomes an ApiError with a code."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = body.get("code") or f"http_{response.status_code}"
        detail = body.get("detail") or body.get("title") or response.reason_phrase
        if not isinstance(detail, str):
            # FastAPI-style validation details are lists; keep them readable.
            detail = str(detail)
        return ApiError(response.status_code, str(code), detail)
    return ApiError(response.status_code, f"http_{response.status_code}", response.text[:500])


@contextmanager
def console_session(
    base_url: str, email: str, password: str, *, timeout: float = 30.0
) -> Iterator[httpx.Client]:
    """An HTTP client signed in to the admin console through its sign-in form, as a browser is:
    the form's CSRF cookie and token, then the session cookie. ApiError when it is refused."""
    with httpx.Client(base_url=base_url, timeout=timeout) as browser:
        form = browser.get("/admin/login")
        token = CONSOLE_CSRF_FIELD.search(form.text)
        if token is None:
            raise ApiError(form.status_code, "no_csrf_token", "the console's sign-in form has no CSRF token")
        fields = {"email": email, "password": password, "csrf_token": token.group(1), "next": "/admin"}
        signed_in = browser.post("/admin/login", data=fields)
        if signed_in.status_code != 303:  # the form again, with its refusal
            raise ApiError(signed_in.status_code, "console_sign_in_refused", f"{email} was not signed in")
        yield browser
