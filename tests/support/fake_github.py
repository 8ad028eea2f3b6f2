"""A fake GitHub on a loopback port: the OAuth authorize and token endpoints and the REST API's
`/user` and `/user/emails`, answering the way GitHub does.

GitHub cannot be reached here, so sign-in is tested against this with the real httpx-oauth
client over real HTTP. As on GitHub: `/login/oauth/authorize` redirects the browser back to
`redirect_uri` with `code` and `state`; the token endpoint answers a bad code with 200 and
`{"error": "bad_verification_code"}`; a code works once; the API wants `Authorization: Bearer`
(or `token`) and answers 401 otherwise. Who is signing in is chosen by the test (`sign_in_as`).
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse


@dataclass
class GitHubAccount:
    id: int
    login: str
    public_email: str | None = None
    # As /user/emails lists them: {"email", "primary", "verified", "visibility"}.
    emails: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Grant:
    account: GitHubAccount
    client_id: str
    redirect_uri: str
    scope: str


class FakeGitHub:
    def __init__(self, client_id: str = "fake-client-id", client_secret: str = "fake-client-secret"):
        self.client_id, self.client_secret = client_id, client_secret
        self.account: GitHubAccount | None = None
        self.codes: dict[str, Grant] = {}
        self.tokens: dict[str, Grant] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.api_down = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakeGitHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def sign_in_as(self, account: GitHubAccount) -> None:
        """The person who will click "Authorize" on the next authorize request."""
        self.account = account

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        github = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {name: values[0] for name, values in parse_qs(url.query).items()}
                if url.path == "/login/oauth/authorize":
                    self._authorize(query)
                elif url.path in ("/user", "/user/emails"):
                    self._api(url.path)
                else:
                    self._send(404, {"message": "Not Found"})

            def do_POST(self) -> None:
                if urlparse(self.path).path != "/login/oauth/access_token":
                    self._send(404, {"message": "Not Found"})
                    return
                length = int(self.headers.get("Content-Length", 0))
                form = {
                    name: values[0] for name, values in parse_qs(self.rfile.read(length).decode()).items()
                }
                self._token(form)

            def _authorize(self, query: dict[str, str]) -> None:
                github.authorize_requests.append(query)
                if query.get("client_id") != github.client_id or github.account is None:
                    self._send(404, {"message": "Not Found"})
                    return
                code = secrets.token_hex(10)
                github.codes[code] = Grant(
                    github.account, query["client_id"], query.get("redirect_uri", ""), query.get("scope", "")
                )
                target = (
                    f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
                )
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _token(self, form: dict[str, str]) -> None:
                if (
                    form.get("client_id") != github.client_id
                    or form.get("client_secret") != github.client_secret
                ):
                    self._send(200, {"error": "incorrect_client_credentials"})
                    return
                grant = github.codes.pop(form.get("code", ""), None)
                if grant is None or grant.redirect_uri != form.get("redirect_uri"):
                    self._send(
                        200,
                        {
                            "error": "bad_verification_code",
                            "error_description": "The code passed is incorrect or expired.",
                        },
                    )
                    return
                token = "gho_" + secrets.token_hex(18)
                github.tokens[token] = grant
                self._send(200, {"access_token": token, "token_type": "bearer", "scope": grant.scope})

            def _api(self, path: str) -> None:
                if github.api_down:
                    self._send(502, {"message": "Server Error"})
                    return
                scheme, _, token = self.headers.get("Authorization", "").partition(" ")
                grant = github.tokens.get(token) if scheme.lower() in ("bearer", "token") else None
                if grant is None:
                    self._send(401, {"message": "Bad credentials"})
                    return
                account = grant.account
                if path == "/user":
                    self._send(200, {"id": account.id, "login": account.login, "email": account.public_email})
                elif "user:email" not in grant.scope.replace(",", " ").split():
                    self._send(404, {"message": "Not Found"})  # what GitHub answers without the scope
                else:
                    self._send(200, account.emails)

        return Handler
