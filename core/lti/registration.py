"""LTI Dynamic Registration 1.0 (1EdTech), the tool's side of the messages: the configuration it
posts to a platform, and what it requires of the platform's OpenID configuration and answer.
The exchange itself (the one-time code, the HTTP calls, storing the platform) is api/lti/service.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from core.lti.errors import LtiError

PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")


def invalid(message: str) -> LtiError:
    return LtiError("lti_registration_invalid", message)


def tool_configuration(*, login_url: str, launch_url: str, jwks_url: str, home_url: str) -> dict[str, Any]:
    """What this tool asks of the platform (section 3.6): OpenID Connect Dynamic Client Registration's
    fields and LTI's own, the messages it takes (launches and deep linking) and the claims it reads."""
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": login_url,
        "redirect_uris": [launch_url],
        "client_name": "mentorq",
        "jwks_uri": jwks_url,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(SCOPES),
        TOOL_CONFIGURATION: {
            "domain": urlsplit(home_url).netloc,
            "target_link_uri": home_url,
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": [
                {"type": "LtiResourceLinkRequest", "target_link_uri": home_url},
                {"type": "LtiDeepLinkingRequest", "target_link_uri": home_url, "label": "mentorq"},
            ],
        },
    }


@dataclass(frozen=True)
class PlatformConfiguration:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    product: str | None


URL_CHARS = 2000
_DEFAULT_PORTS = {"http": 80, "https": 443}


def web_origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL with a host, else None (`file:`, `javascript:`, a
    control character, an unreadable port, anything over URL_CHARS)."""
    if len(url) > URL_CHARS or any(ord(c) < 33 or ord(c) == 127 for c in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def checked_configuration(config: dict[str, Any], configuration_url: str) -> PlatformConfiguration:
    """The platform's OpenID configuration, as far as the tool needs it. Its issuer must be the very
    origin the configuration came from (scheme, host and port; section 3.5.1), else any site on the
    same host could speak for the platform; every endpoint must be an http(s) URL, as registration
    by hand requires (a `file:` or `javascript:` endpoint is refused, never stored)."""
    issuer = config.get("issuer")
    if not isinstance(issuer, str) or any(not isinstance(config.get(name), str) for name in ENDPOINTS):
        raise invalid(f"the platform's configuration lacks issuer or one of {', '.join(ENDPOINTS)}")
    origin = web_origin(configuration_url)
    if origin is None or web_origin(issuer) != origin:
        raise invalid("the platform's issuer is not the origin its configuration came from")
    for name in ENDPOINTS:
        if web_origin(config[name]) is None:
            raise invalid(f"the platform's {name} is not an http(s) URL")
    lti_part = config.get(PLATFORM_CONFIGURATION)
    if not isinstance(lti_part, dict):
        raise invalid("the configuration is not an LTI platform's (no lti-platform-configuration)")
    product = lti_part.get("product_family_code")
    return PlatformConfiguration(
        issuer=issuer,
        product=product if isinstance(product, str) else None,
        **{name: config[name] for name in ENDPOINTS},
    )


def registered_client(answer: dict[str, Any]) -> tuple[str, str | None]:
    """The client id the platform gave the tool, and the deployment id if it made one."""
    client_id = answer.get("client_id")
    if not isinstance(client_id, str) or not _plain_id(client_id):
        raise invalid("the platform's answer has no client_id of 1 to 255 printable characters")
    tool_part = answer.get(TOOL_CONFIGURATION)
    deployment = tool_part.get("deployment_id") if isinstance(tool_part, dict) else None
    if deployment is not None and not isinstance(deployment, bool) and isinstance(deployment, (str, int)):
        deployment = str(deployment)
        if not _plain_id(deployment):
            raise invalid("the platform's deployment_id is not 1 to 255 printable characters")
        return client_id, deployment
    return client_id, None


def _plain_id(value: str) -> bool:
    """1 to 255 characters, none a control character (a NUL no database column takes) or a lone
    surrogate."""
    return 0 < len(value) <= 255 and not any(
        ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in value
    )
