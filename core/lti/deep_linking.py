"""LTI Deep Linking 2.0 (1EdTech): the tool's answer to a deep-linking request, as JWT claims.

An instructor picked what to place in the course; each pick becomes an `ltiResourceLink` content
item with this tool's URL for it, and a graded one carries a `lineItem` (Moodle makes a gradebook
column only for an item with one). The response echoes the request's `data` untouched, as the spec
requires, and is signed by the tool's key (core/lti/tool_keys.py) for the platform to check."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from core.lti.claims import DEPLOYMENT_ID, LTI_VERSION, MESSAGE_TYPE, VERSION
from core.lti.errors import LtiError

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
CONTENT_ITEMS = DL + "content_items"
DATA = DL + "data"
RESPONSE_TYPE = "LtiDeepLinkingResponse"
RESOURCE_LINK = "ltiResourceLink"
LIFETIME_S = 600


@dataclass(frozen=True)
class Placement:
    """One thing the instructor placed: its title, this tool's URL for it, and whether it is graded."""

    title: str
    url: str
    graded: bool
    resource_id: str


def content_item(placement: Placement) -> dict[str, Any]:
    item: dict[str, Any] = {"type": RESOURCE_LINK, "title": placement.title, "url": placement.url}
    if placement.graded:
        item["lineItem"] = {"scoreMaximum": 1, "label": placement.title, "resourceId": placement.resource_id}
    return item


def response_claims(
    settings: dict[str, Any],
    placements: list[Placement],
    *,
    client_id: str,
    platform_issuer: str,
    deployment_id: str,
    now: float | None = None,
) -> dict[str, Any]:
    """The claims of the LtiDeepLinkingResponse for these placements, within the request's settings."""
    accepted = settings.get("accept_types")
    accepted = accepted if isinstance(accepted, list) else []  # a platform's 5 or "link": none
    if placements and RESOURCE_LINK not in accepted:
        raise LtiError("lti_deep_link_refused", "the platform does not accept links to resources here")
    if len(placements) > 1 and settings.get("accept_multiple") is False:
        raise LtiError("lti_deep_link_one_item", "the platform accepts one item here; pick one")
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": client_id,
        "aud": platform_issuer,
        "iat": issued,
        "exp": issued + LIFETIME_S,
        "nonce": uuid.uuid4().hex,
        DEPLOYMENT_ID: deployment_id,
        MESSAGE_TYPE: RESPONSE_TYPE,
        VERSION: LTI_VERSION,
        CONTENT_ITEMS: [content_item(placement) for placement in placements],
    }
    if settings.get("data") is not None:
        claims[DATA] = settings["data"]
    return claims
