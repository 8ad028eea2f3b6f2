"""The claims of an LTI 1.3 launch (LTI Core 1.3, Deep Linking 2.0, AGS 2.0, NRPS 2.0), read from an
id_token whose signature, issuer, audience and expiry were already checked (core/lti/id_token.py)
into a `Launch`. What the spec requires of a message is refused here with a stable code: wrong
version, unsupported message type, a deployment the platform never registered, no subject."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.lti.errors import LtiError

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = LTI + "message_type"
VERSION = LTI + "version"
DEPLOYMENT_ID = LTI + "deployment_id"
TARGET_LINK_URI = LTI + "target_link_uri"
RESOURCE_LINK = LTI + "resource_link"
ROLES = LTI + "roles"
CONTEXT = LTI + "context"
CUSTOM = LTI + "custom"
LAUNCH_PRESENTATION = LTI + "launch_presentation"
DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_SERVICE = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
MESSAGE_TYPES = (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST)
LTI_VERSION = "1.3.0"


@dataclass(frozen=True)
class Context:
    id: str
    title: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class Launch:
    """A checked launch: who, from which platform and deployment, in which course, to do what."""

    issuer: str
    client_id: str
    subject: str
    deployment_id: str
    message_type: str
    target_link_uri: str
    roles: tuple[str, ...]
    name: str | None = None
    email: str | None = None
    context: Context | None = None
    resource_link_id: str | None = None
    resource_link_title: str | None = None
    custom: dict[str, str] = field(default_factory=dict)
    # Assignment and Grade Services: the line item of this link (if graded) and the scopes granted.
    lineitem_url: str | None = None
    lineitems_url: str | None = None
    ags_scopes: tuple[str, ...] = ()
    # Names and Role Provisioning: the context's memberships URL.
    memberships_url: str | None = None
    deep_linking_settings: dict[str, Any] | None = None


# The most a field may hold, as LTI and the platforms define them: `sub` and a context id are at
# most 255 characters (LTI Core 1.3, 5.1.2 and 5.1.3.4), an e-mail address 320; a name (Moodle: 100
# + 100) and titles are kept to NAME_CHARS. Longer ids are refused (two of them cut alike would be
# one); longer names and titles are cut; a longer e-mail address is dropped (it is only kept).
ID_CHARS = 255
EMAIL_CHARS = 320
NAME_CHARS = 200
CLAIMS_DEPTH = 20


def _text(value: object, limit: int | None = None) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    return text[:limit].rstrip() if limit else text


def _checked_strings(value: object, depth: int = 0) -> None:
    """No claim, however deep, holds a NUL or a lone surrogate (no database and no page takes them),
    and claims nest no deeper than CLAIMS_DEPTH."""
    if depth > CLAIMS_DEPTH:
        raise LtiError("lti_claim_invalid", "the launch's claims nest too deep")
    if isinstance(value, str):
        if "\x00" in value:
            raise LtiError("lti_claim_invalid", "a claim of the launch holds a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise LtiError("lti_claim_invalid", "a claim of the launch holds a lone surrogate") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _checked_strings(key, depth + 1)
            _checked_strings(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _checked_strings(item, depth + 1)


def _identifier(value: object, what: str) -> str | None:
    text = _text(value)
    if text is not None and len(text) > ID_CHARS:
        raise LtiError("lti_claim_invalid", f"the launch's {what} is over {ID_CHARS} characters")
    return text


def _strings(value: object) -> tuple[str, ...]:
    """A claim that should be a list of strings: its strings (a platform's 5 or true: none)."""
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


def _required(claims: dict[str, Any], name: str, what: str) -> str:
    value = _text(claims.get(name))
    if value is None:
        raise LtiError("lti_claim_missing", f"the launch has no {what} ({name})")
    return value


def _object(claims: dict[str, Any], name: str) -> dict[str, Any]:
    value = claims.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LtiError("lti_claim_invalid", f"the launch's {name} is not an object")
    return value


def read_launch(claims: dict[str, Any], *, client_id: str, deployment_ids: list[str]) -> Launch:
    """The launch the verified claims describe, or LtiError with the spec's reason to refuse it."""
    _checked_strings(claims)
    version = claims.get(VERSION)
    if version != LTI_VERSION:
        raise LtiError("lti_bad_version", f"LTI version {version!r} is not {LTI_VERSION}")
    message_type = claims.get(MESSAGE_TYPE)
    if message_type not in MESSAGE_TYPES:
        raise LtiError("lti_unsupported_message", f"message type {message_type!r} is not one this tool takes")
    deployment_id = _required(claims, DEPLOYMENT_ID, "deployment id")
    if deployment_id not in deployment_ids:
        raise LtiError(
            "lti_unknown_deployment",
            f"deployment {deployment_id!r} is not registered for this platform",
            status=403,
        )
    # An anonymous launch (no `sub`) cannot be linked to an account, and everything here is per learner.
    subject = _identifier(claims.get("sub"), "sub")
    if subject is None:
        raise LtiError(
            "lti_anonymous_launch", "the launch names no user (sub): anonymous launches are not taken"
        )
    roles = claims.get(ROLES)
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise LtiError("lti_claim_invalid", "the launch's roles are not a list of role URIs")
    context_claim = _object(claims, CONTEXT)
    context = None
    if context_claim:
        context_id = _identifier(_required(context_claim, "id", "context id"), "context id")
        assert context_id is not None
        context = Context(
            id=context_id,
            title=_text(context_claim.get("title"), NAME_CHARS),
            label=_text(context_claim.get("label"), NAME_CHARS),
        )
    resource_link = _object(claims, RESOURCE_LINK)
    if message_type == RESOURCE_LINK_REQUEST and not _text(resource_link.get("id")):
        raise LtiError("lti_claim_missing", "a resource link launch has no resource link id")
    deep_linking = _object(claims, DEEP_LINKING_SETTINGS)
    if message_type == DEEP_LINKING_REQUEST and not _text(deep_linking.get("deep_link_return_url")):
        raise LtiError("lti_claim_missing", "a deep linking request has no deep_link_return_url")
    ags = _object(claims, AGS_ENDPOINT)
    nrps = _object(claims, NRPS_SERVICE)
    custom = {str(key): str(value) for key, value in _object(claims, CUSTOM).items()}
    name = (
        _text(claims.get("name"), NAME_CHARS)
        or " ".join(
            part for part in (_text(claims.get("given_name")), _text(claims.get("family_name"))) if part
        )[:NAME_CHARS].strip()
    )
    email = _text(claims.get("email"))
    return Launch(
        issuer=str(claims["iss"]),
        client_id=client_id,
        subject=subject,
        deployment_id=deployment_id,
        message_type=message_type,
        target_link_uri=_text(claims.get(TARGET_LINK_URI)) or "",
        roles=tuple(roles),
        name=name or None,
        email=email if email and len(email) <= EMAIL_CHARS else None,
        context=context,
        resource_link_id=_text(resource_link.get("id")),
        resource_link_title=_text(resource_link.get("title"), NAME_CHARS),
        custom=custom,
        lineitem_url=_text(ags.get("lineitem")),
        lineitems_url=_text(ags.get("lineitems")),
        ags_scopes=_strings(ags.get("scope")),
        memberships_url=_text(nrps.get("context_memberships_url")),
        deep_linking_settings=deep_linking or None,
    )
