"""A real LTI 1.3 platform for tests, run as its own process on loopback (test support, not product).

It speaks LTI 1.3 as Moodle and Canvas do, with its own RSA key and JWKS:
- Core: platform-initiated login (GET /launch sends the browser to the tool's login URL with iss,
  login_hint, target_link_uri and lti_message_hint) and the OIDC authorization endpoint (/auth:
  checks the client id, the registered redirect URI, the user and the link, then answers with a
  page that form-posts a signed id_token and the state to the tool);
- Assignment and Grade Services: the OAuth 2 token endpoint (/token: client credentials with the
  tool's signed assertion, checked against the tool's JWKS URL, each assertion once) and each
  graded link's line item, which keeps the scores posted to it;
- Deep Linking: the deep-linking request, and a return URL that checks the tool's signed answer
  and makes a link of each item;
- Names and Role Provisioning: each course's memberships, two members a page, linked by
  `Link: rel="next"`;
- Dynamic Registration: its OpenID configuration and a registration endpoint that takes the
  tool's configuration with the registration token;
- LTI Client Side postMessage storage, as Moodle and Canvas offer it to browsers that block
  third-party cookies: a course page (/course) that frames the tool's launch and names itself
  (`lti_storage_target=_parent`) in the login initiation, with a responder script (/storage.js)
  that answers `lti.capabilities`, `lti.put_data` and `lti.get_data` from the origins of the
  registered tools only, keeping each origin's data apart.

Tests set it up over HTTP (/test/setup), rotate its key (/test/rotate, to a weak one if asked),
have it sign claims they forge (/test/sign), read what it received (/test/scores/{link},
/test/registered) and break it on purpose (/test/faults: the token endpoint down, refusing the
tool, a roster's next link broken, the registration token it expects); a course page's
`responder=forge` answers every `lti.get_data` with a value of its own, `responder=silent` never
answers it.

Written on PyJWT and cryptography, from the 1EdTech specs: the `lti1p3platform` package would add
Django-style framework glue without changing what goes on the wire.

    python -m tests.lti.platform --port 8123 [--issuer https://lms.test:8443]
"""

from __future__ import annotations

import argparse
import html
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jwt.algorithms import RSAAlgorithm

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
ROSTER_PAGE = 2
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"


class Platform:
    def __init__(self, issuer: str):
        self.issuer = issuer
        self.key = self._new_key()
        self.tools: dict[str, dict[str, Any]] = {}  # client_id -> login_url, redirect_uris, deployment_id
        self.users: dict[str, dict[str, Any]] = {}  # id -> name, email, roles {course: [role]}
        self.courses: dict[str, dict[str, Any]] = {}  # id -> title, label
        self.links: dict[str, dict[str, Any]] = {}  # id -> client_id, course, title, target_link_uri, graded
        self.tokens: dict[str, dict[str, Any]] = {}  # access token -> client_id, scopes, expires
        self.assertions_seen: set[str] = set()  # jti of client assertions, each taken once
        self.scores: dict[str, list[dict[str, Any]]] = {}  # link id -> scores posted, in order
        self.line_items: dict[str, dict[str, Any]] = {}  # id -> a line item a tool created
        self.faults: dict[str, Any] = {"token_down": False, "refuse_tool": False, "broken_next": False}
        self.token_requests = 0
        self.registered: list[dict[str, Any]] = []  # tool configurations posted to /register
        self.configuration_reads = 0
        self.placed: list[dict[str, Any]] = []  # links made from the tool's deep-linking responses

    @staticmethod
    def _new_key(bits: int = 2048) -> tuple[rsa.RSAPrivateKey, str]:
        """A new signing key: 2,048 bits as platforms use, fewer where a test asks for a weak one."""
        if bits < 1024:  # below what cryptography generates: made from primes of our own
            return small_rsa_key(bits), secrets.token_hex(8)
        return rsa.generate_private_key(public_exponent=65537, key_size=bits), secrets.token_hex(8)

    def jwks(self) -> dict[str, Any]:
        private, kid = self.key
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": kid, "alg": "RS256", "use": "sig"}]}

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        private, kid = self.key
        return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid, **(headers or {})})

    def _identity(self, *, client_id: str, user_id: str, nonce: str) -> dict[str, Any]:
        """The OpenID Connect part of every id_token: who, for which tool, when, and the nonce."""
        now = int(time.time())
        return {
            "iss": self.issuer,
            "aud": client_id,
            "sub": user_id,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "name": self.users[user_id].get("name"),
        }

    def launch_claims(self, *, client_id: str, user_id: str, link_id: str, nonce: str) -> dict[str, Any]:
        tool, user, link = self.tools[client_id], self.users[user_id], self.links[link_id]
        course = self.courses[link["course"]]
        if link.get("deep_linking"):
            return self.deep_linking_claims(client_id=client_id, user_id=user_id, link=link, nonce=nonce)
        return {
            **self._identity(client_id=client_id, user_id=user_id, nonce=nonce),
            "email": user.get("email"),
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": tool["deployment_id"],
            LTI + "target_link_uri": link["target_link_uri"],
            LTI + "resource_link": {"id": link_id, "title": link.get("title")},
            LTI + "roles": [MEMBERSHIP + role for role in user.get("roles", {}).get(link["course"], [])],
            LTI + "context": {"id": link["course"], "title": course["title"], "label": course.get("label")},
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": f"{self.issuer}/memberships/{link['course']}",
                "service_versions": ["2.0"],
            },
            **(
                {
                    "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                        "scope": [AGS + "lineitem", AGS + "score", AGS + "result.readonly"],
                        "lineitems": f"{self.issuer}/lineitems",
                        "lineitem": link.get("lineitem_url") or f"{self.issuer}/lineitems/{link_id}",
                    }
                }
                if link.get("graded")
                # A plain link in a course with grade services (Moodle, Canvas): the container and
                # the scopes, no line item of its own.
                else {
                    "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                        "scope": [AGS + "lineitem", AGS + "score"],
                        "lineitems": f"{self.issuer}/lineitems",
                    }
                }
                if link.get("ags")
                else {}
            ),
        }

    def deep_linking_claims(
        self, *, client_id: str, user_id: str, link: dict[str, Any], nonce: str
    ) -> dict[str, Any]:
        """An LtiDeepLinkingRequest: the instructor's "add an activity" in the course (DL 2.0, 4.4)."""
        tool, user = self.tools[client_id], self.users[user_id]
        course = self.courses[link["course"]]
        return {
            **self._identity(client_id=client_id, user_id=user_id, nonce=nonce),
            LTI + "message_type": "LtiDeepLinkingRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": tool["deployment_id"],
            LTI + "target_link_uri": link["target_link_uri"],
            LTI + "roles": [MEMBERSHIP + role for role in user.get("roles", {}).get(link["course"], [])],
            LTI + "context": {"id": link["course"], "title": course["title"], "label": course.get("label")},
            DL + "deep_linking_settings": {
                "deep_link_return_url": f"{self.issuer}/deep_link_return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": link.get("accept_multiple", True),
                "auto_create": True,
                "data": f"course={link['course']}",
            },
        }

    def tool_key(self, client_id: str, kid: str | None) -> Any:
        keys = httpx.get(self.tools[client_id]["jwks_url"], timeout=10).json()["keys"]
        matching = [key for key in keys if key.get("kid") == kid]
        if not matching:
            raise ValueError("no such key at the tool's JWKS URL")
        return jwt.PyJWK.from_dict(matching[0]).key

    def check_assertion(self, assertion: str) -> str:
        """The client id whose key signed this assertion for our token endpoint (RFC 7523); raises."""
        unverified = jwt.decode(assertion, options={"verify_signature": False})
        client_id = unverified.get("iss", "")
        tool = self.tools.get(client_id)
        if tool is None or unverified.get("sub") != client_id:
            raise ValueError("unknown client")
        claims = jwt.decode(
            assertion,
            self.tool_key(client_id, jwt.get_unverified_header(assertion).get("kid")),
            algorithms=["RS256"],
            audience=f"{self.issuer}/token",
            options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
        )
        if claims["jti"] in self.assertions_seen:
            raise ValueError("assertion replayed")
        self.assertions_seen.add(claims["jti"])
        return client_id


def _form_post(action: str, fields: dict[str, str]) -> HTMLResponse:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
        for name, value in fields.items()
    )
    page = (
        f'<!doctype html><form id="lti" method="post" action="{html.escape(action)}">{inputs}</form>'
        "<script>document.getElementById('lti').submit()</script>"
    )
    return HTMLResponse(page)


# The course page's storage responder (LTI Client Side postMessage storage, platform side): a tool's
# frame asks the page that framed it; answers go back to the asking window and origin only.
STORAGE_RESPONDER = """
"use strict";
(() => {
  const kept = new Map();  // tool origin -> Map(key -> value): one tool never reads another's data
  window.addEventListener("message", (event) => {
    const course = document.getElementById("course");
    const data = event.data;
    if (!course || !data || typeof data !== "object" || typeof data.subject !== "string") return;
    if (!JSON.parse(course.dataset.tools).includes(event.origin)) return;
    const mode = course.dataset.responder;
    const answer = (body) => event.source.postMessage(
      { subject: `${data.subject}.response`, message_id: data.message_id, ...body }, event.origin);
    const store = kept.get(event.origin) || new Map();
    kept.set(event.origin, store);
    if (data.subject === "lti.capabilities") {
      answer({ supported_messages: [
        { subject: "lti.capabilities" }, { subject: "lti.put_data" }, { subject: "lti.get_data" }] });
    } else if (data.subject === "lti.put_data") {
      if (typeof data.key !== "string" || typeof data.value !== "string") {
        answer({ error: { code: "bad_request", message: "key and value must be strings" } });
        return;
      }
      store.set(data.key, data.value);
      answer({ key: data.key, value: data.value });
    } else if (data.subject === "lti.get_data") {
      if (mode === "silent") return;
      if (mode === "forge") { answer({ key: data.key, value: "forged-" + data.key }); return; }
      if (!store.has(data.key)) {
        answer({ error: { code: "bad_request", message: "no such key" } });
        return;
      }
      answer({ key: data.key, value: store.get(data.key) });
    } else {
      answer({ error: { code: "unsupported_subject", message: "not a message this page answers" } });
    }
  });
})();
"""


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _probable_prime(bits: int) -> int:
    """A random prime of exactly `bits` bits (Miller-Rabin, 40 rounds), p - 1 prime to 65537."""
    while True:
        candidate = secrets.randbits(bits) | (3 << (bits - 2)) | 1
        if candidate % 65537 != 1 and _miller_rabin(candidate):
            return candidate


def _miller_rabin(n: int) -> bool:
    if any(n % p == 0 for p in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)):
        return False
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(40):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def small_rsa_key(bits: int) -> rsa.RSAPrivateKey:
    """An RSA key of `bits` bits (512 say): cryptography generates none under 1,024, but loads and
    signs with one, as a platform configured with an old key would."""
    e = 65537
    p, q = _probable_prime(bits // 2), _probable_prime(bits // 2)
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p,
        q,
        d,
        rsa.rsa_crt_dmp1(d, p),
        rsa.rsa_crt_dmq1(d, q),
        rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(e, p * q),
    )
    return numbers.private_key()


def create_app(issuer: str) -> FastAPI:
    app = FastAPI()
    platform = Platform(issuer)
    app.state.platform = platform

    @app.get("/jwks")
    async def jwks() -> JSONResponse:
        return JSONResponse(platform.jwks())

    @app.post("/test/setup")
    async def setup(request: Request) -> dict[str, str]:
        body = await request.json()
        for part in ("tools", "users", "courses", "links"):
            getattr(platform, part).update(body.get(part, {}))
        return {"issuer": issuer}

    @app.post("/test/rotate")
    async def rotate(request: Request) -> dict[str, str]:
        """A new signing key ({"bits": 1024} for a weak one), published in place of the old."""
        body = await request.json() if await request.body() else {}
        platform.key = platform._new_key(int(body.get("bits", 2048)))
        return {"kid": platform.key[1]}

    @app.post("/test/sign")
    async def sign(request: Request) -> dict[str, str]:
        body = await request.json()
        return {"id_token": platform.sign(body["claims"], body.get("headers"))}

    @app.post("/test/claims")
    async def claims(request: Request) -> dict[str, Any]:
        """The claims /auth would sign for this launch: tests change one and have it signed."""
        body = await request.json()
        return platform.launch_claims(
            client_id=body["client_id"], user_id=body["user"], link_id=body["link"], nonce=body["nonce"]
        )

    @app.post("/test/faults")
    async def faults(request: Request) -> dict[str, Any]:
        platform.faults.update(await request.json())
        return platform.faults

    @app.get("/test/line_items")
    async def created_line_items() -> dict[str, Any]:
        return {"items": list(platform.line_items.values())}

    @app.get("/test/scores/{link}")
    async def scores(link: str) -> dict[str, Any]:
        return {"scores": platform.scores.get(link, []), "token_requests": platform.token_requests}

    @app.post("/token")
    async def token(request: Request) -> JSONResponse:
        """OAuth 2 client credentials with a JWT client assertion (LTI Security Framework 4.1)."""
        platform.token_requests += 1
        if platform.faults["token_down"]:
            return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
        form = await request.form()
        if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") != (
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        try:
            client_id = platform.check_assertion(str(form.get("client_assertion", "")))
        except (ValueError, jwt.PyJWTError, httpx.HTTPError) as error:
            return JSONResponse({"error": "invalid_grant", "error_description": str(error)}, status_code=400)
        if platform.faults["refuse_tool"]:
            return JSONResponse(
                {"error": "invalid_client", "error_description": "tool disabled"}, status_code=401
            )
        access = secrets.token_urlsafe(24)
        scopes = str(form.get("scope", "")).split()
        platform.tokens[access] = {"client_id": client_id, "scopes": scopes, "expires": time.time() + 3600}
        return JSONResponse(
            {"access_token": access, "token_type": "Bearer", "expires_in": 3600, "scope": " ".join(scopes)}
        )

    def _granted(request: Request, scope: str) -> bool:
        grant = platform.tokens.get(request.headers.get("authorization", "").removeprefix("Bearer "))
        return grant is not None and grant["expires"] >= time.time() and AGS + scope in grant["scopes"]

    @app.get("/lineitems")
    async def line_items(
        request: Request, resource_id: str | None = None, tag: str | None = None
    ) -> JSONResponse:
        """AGS 2.0 line item container, filtered by resource_id and tag as the spec says."""
        if not _granted(request, "lineitem"):
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        items = [
            item
            for item in platform.line_items.values()
            if (resource_id is None or item.get("resourceId") == resource_id)
            and (tag is None or item.get("tag") == tag)
        ]
        return JSONResponse(items, media_type="application/vnd.ims.lis.v2.lineitemcontainer+json")

    @app.post("/lineitems")
    async def create_line_item(request: Request) -> JSONResponse:
        if not _granted(request, "lineitem"):
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        if request.headers.get("content-type") != "application/vnd.ims.lis.v2.lineitem+json":
            return JSONResponse({"error": "unsupported media type"}, status_code=415)
        item = await request.json()
        if not isinstance(item.get("label"), str) or not isinstance(item.get("scoreMaximum"), int | float):
            return JSONResponse({"error": "label and scoreMaximum are required"}, status_code=400)
        item_id = f"li-{secrets.token_hex(4)}"
        platform.line_items[item_id] = {**item, "id": f"{platform.issuer}/lineitems/{item_id}"}
        return JSONResponse(
            platform.line_items[item_id],
            status_code=201,
            media_type="application/vnd.ims.lis.v2.lineitem+json",
        )

    @app.post("/lineitems/{link}/scores")
    async def post_score(link: str, request: Request) -> JSONResponse:
        grant = platform.tokens.get(request.headers.get("authorization", "").removeprefix("Bearer "))
        if grant is None or grant["expires"] < time.time() or AGS + "score" not in grant["scopes"]:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        if request.headers.get("content-type") != "application/vnd.ims.lis.v1.score+json":
            return JSONResponse({"error": "unsupported media type"}, status_code=415)
        if link not in platform.line_items and (
            link not in platform.links or not platform.links[link].get("graded")
        ):
            return JSONResponse({"error": "no such line item"}, status_code=404)
        score = await request.json()
        required = {
            "userId",
            "scoreGiven",
            "scoreMaximum",
            "activityProgress",
            "gradingProgress",
            "timestamp",
        }
        if not required <= set(score):
            return JSONResponse({"error": f"missing {sorted(required - set(score))}"}, status_code=400)
        platform.scores.setdefault(link, []).append(score)
        return JSONResponse({}, status_code=200)

    @app.get("/memberships/{course}")
    async def memberships(course: str, request: Request, page: int = 0) -> JSONResponse:
        """NRPS 2.0: the course's members, ROSTER_PAGE at a time, each page linking the next."""
        grant = platform.tokens.get(request.headers.get("authorization", "").removeprefix("Bearer "))
        if grant is None or NRPS_SCOPE not in grant["scopes"]:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        if course not in platform.courses:
            return JSONResponse({"error": "no such course"}, status_code=404)
        members = [
            {
                "user_id": user_id,
                "name": user.get("name"),
                "email": user.get("email"),
                "roles": [MEMBERSHIP + role for role in user["roles"][course]],
                "status": user.get("status", "Active"),
            }
            for user_id, user in sorted(platform.users.items())
            if course in user.get("roles", {})
        ]
        chunk = members[page * ROSTER_PAGE : (page + 1) * ROSTER_PAGE]
        headers = {}
        if (page + 1) * ROSTER_PAGE < len(members):
            following = "broken-page" if platform.faults["broken_next"] and page == 1 else str(page + 1)
            headers["Link"] = f'<{issuer}/memberships/{course}?page={following}>; rel="next"'
        body = {"id": str(request.url), "context": {"id": course}, "members": chunk}
        return JSONResponse(
            body, headers=headers, media_type="application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
        )

    @app.get("/.well-known/openid-configuration")
    async def openid_configuration() -> JSONResponse:
        """Its OpenID configuration, as LTI Dynamic Registration 1.0 (3.4) has a platform publish it."""
        platform.configuration_reads += 1
        return JSONResponse(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/auth",
                "token_endpoint": f"{issuer}/token",
                "jwks_uri": f"{issuer}/jwks",
                "registration_endpoint": f"{issuer}/register",
                "scopes_supported": ["openid", AGS + "score", NRPS_SCOPE],
                "response_types_supported": ["id_token"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                PLATFORM_CONFIGURATION: {
                    "product_family_code": "testplatform",
                    "version": "1.0",
                    "messages_supported": [
                        {"type": "LtiResourceLinkRequest"},
                        {"type": "LtiDeepLinkingRequest"},
                    ],
                },
            }
        )

    @app.post("/register")
    async def register(request: Request) -> JSONResponse:
        """The registration endpoint (Dynamic Registration 3.6): the tool's configuration, with the
        registration token this platform put in the tool's URL; answers the new client id."""
        expected = platform.faults.get("registration_token")
        if request.headers.get("authorization") != f"Bearer {expected}":
            return JSONResponse(
                {"error": "invalid_token", "error_description": "bad registration token"}, status_code=401
            )
        body = await request.json()
        tool_part = body.get(TOOL_CONFIGURATION) or {}
        if (
            body.get("token_endpoint_auth_method") != "private_key_jwt"
            or not body.get("jwks_uri")
            or not tool_part
        ):
            return JSONResponse({"error": "invalid_client_metadata"}, status_code=400)
        client_id = f"dyn-{secrets.token_hex(4)}"
        platform.tools[client_id] = {
            "login_url": body["initiate_login_uri"],
            "redirect_uris": body["redirect_uris"],
            "jwks_url": body["jwks_uri"],
            "deployment_id": "dyn-1",
        }
        platform.registered.append(body)
        return JSONResponse(
            {**body, "client_id": client_id, TOOL_CONFIGURATION: {**tool_part, "deployment_id": "dyn-1"}}
        )

    @app.get("/test/registered")
    async def registered() -> dict[str, Any]:
        return {"registered": platform.registered, "configuration_reads": platform.configuration_reads}

    @app.post("/deep_link_return")
    async def deep_link_return(request: Request) -> JSONResponse:
        """The tool's LtiDeepLinkingResponse (DL 2.0, 4.5): checked, and each item made a link."""
        token = str((await request.form()).get("JWT", ""))
        try:
            client_id = jwt.decode(token, options={"verify_signature": False})["iss"]
            claims = jwt.decode(
                token,
                platform.tool_key(client_id, jwt.get_unverified_header(token).get("kid")),
                algorithms=["RS256"],
                audience=issuer,
                options={"require": ["iss", "aud", "exp", "iat", "nonce"]},
            )
        except (KeyError, ValueError, jwt.PyJWTError, httpx.HTTPError) as error:
            return JSONResponse({"error": f"refused: {error}"}, status_code=400)
        if (
            claims.get(LTI + "message_type") != "LtiDeepLinkingResponse"
            or claims.get(LTI + "deployment_id") != (platform.tools[client_id]["deployment_id"])
        ):
            return JSONResponse({"error": "not a deep linking response for this deployment"}, status_code=400)
        course = str(claims.get(DL + "data", "")).removeprefix("course=")
        made = []
        for item in claims.get(DL + "content_items", []):
            link = f"placed-{secrets.token_hex(4)}"
            platform.links[link] = {
                "client_id": client_id,
                "course": course,
                "title": item["title"],
                "target_link_uri": item["url"],
                "graded": "lineItem" in item,
            }
            made.append({"link": link, **item})
        platform.placed.extend(made)
        return JSONResponse({"placed": made})

    @app.get("/storage.js")
    async def storage_js() -> Response:
        return Response(STORAGE_RESPONDER, media_type="text/javascript")

    @app.get("/course")
    async def course_page(user: str, link: str, responder: str = "answer") -> HTMLResponse:
        """A course page with the link's activity framed in it, as Moodle and Canvas embed a tool,
        offering its storage to the tool's frame (the login names `_parent`)."""
        if user not in platform.users or link not in platform.links:
            raise HTTPException(404, "no such user or link")
        tools = sorted({_origin_of(tool["login_url"]) for tool in platform.tools.values()})
        course = platform.courses[platform.links[link]["course"]]
        src = "/launch?" + urlencode({"user": user, "link": link, "storage_target": "_parent"})
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Course</title>"
            '<script src="/storage.js"></script></head><body>'
            f'<main id="course" data-tools="{html.escape(json.dumps(tools))}" '
            f'data-responder="{html.escape(responder)}"><h1>{html.escape(course["title"])}</h1>'
            f'<iframe name="activity" id="activity" src="{html.escape(src)}" width="900" height="600">'
            "</iframe></main></body></html>"
        )
        return HTMLResponse(page)

    @app.get("/launch")
    async def launch(user: str, link: str, storage_target: str = "") -> RedirectResponse:
        """The course page's link: platform-initiated login at the tool."""
        if user not in platform.users or link not in platform.links:
            raise HTTPException(404, "no such user or link")
        client_id = platform.links[link]["client_id"]
        tool = platform.tools[client_id]
        query = {
            "iss": issuer,
            "login_hint": user,
            "target_link_uri": platform.links[link]["target_link_uri"],
            "lti_message_hint": link,
            "client_id": client_id,
            "lti_deployment_id": tool["deployment_id"],
        }
        if storage_target:
            query["lti_storage_target"] = storage_target
        return RedirectResponse(f"{tool['login_url']}?{urlencode(query)}", status_code=302)

    @app.api_route("/auth", methods=["GET", "POST"])
    async def auth(request: Request) -> HTMLResponse:
        """The OIDC authorization endpoint (LTI Core 1.3, 5.1.1.2: the authentication request)."""
        params = dict(request.query_params)
        if request.method == "POST":
            params.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
        expected = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
        }
        for name, value in expected.items():
            if params.get(name) != value:
                raise HTTPException(400, f"invalid_request: {name} must be {value}")
        client_id = params.get("client_id", "")
        tool = platform.tools.get(client_id)
        if tool is None:
            raise HTTPException(400, "unauthorized_client")
        if params.get("redirect_uri") not in tool["redirect_uris"]:
            raise HTTPException(400, "invalid_request: redirect_uri is not registered")
        user_id, link_id = params.get("login_hint", ""), params.get("lti_message_hint", "")
        if user_id not in platform.users or link_id not in platform.links or not params.get("nonce"):
            raise HTTPException(400, "login_required")
        claims = platform.launch_claims(
            client_id=client_id, user_id=user_id, link_id=link_id, nonce=params["nonce"]
        )
        return _form_post(
            params["redirect_uri"], {"id_token": platform.sign(claims), "state": params.get("state", "")}
        )

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--issuer", help="its public URL, where a browser reaches it through a proxy")
    args = parser.parse_args()
    issuer = args.issuer or f"http://127.0.0.1:{args.port}"
    uvicorn.run(create_app(issuer), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
