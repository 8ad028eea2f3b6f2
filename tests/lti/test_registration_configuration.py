"""A platform's OpenID configuration as dynamic registration reads it (core/lti/registration.py):
the issuer is the configuration's own origin, exactly, and every endpoint is an http(s) URL
(issue 51, findings 1 and 9). The end-to-end registration is tests/lti/test_registration.py."""

from __future__ import annotations

import pytest

from core.lti.errors import LtiError
from core.lti.registration import PLATFORM_CONFIGURATION, checked_configuration

URL = "https://lms.example.edu:8443/.well-known/openid-configuration"


def configuration(**changes: str) -> dict:
    base = {
        "issuer": "https://lms.example.edu:8443",
        "authorization_endpoint": "https://lms.example.edu:8443/auth",
        "token_endpoint": "https://lms.example.edu:8443/token",
        "jwks_uri": "https://lms.example.edu:8443/jwks",
        "registration_endpoint": "https://lms.example.edu:8443/register",
        PLATFORM_CONFIGURATION: {"product_family_code": "moodle"},
    }
    return base | changes


def test_a_configuration_from_its_issuers_origin_is_read() -> None:
    found = checked_configuration(configuration(), URL)
    assert found.issuer == "https://lms.example.edu:8443" and found.product == "moodle"
    # The default port written out is the same origin.
    checked_configuration(configuration(issuer="https://LMS.example.edu:443"), "https://lms.example.edu/x")


@pytest.mark.parametrize(
    "issuer",
    [
        "https://lms.example.edu:9443",  # another port of the same host: another site
        "http://lms.example.edu:8443",  # another scheme
        "https://lms.example.edu",  # the default port, not the configuration's
        "https://other.example.edu:8443",
        "lms.example.edu:8443",
    ],
)
def test_an_issuer_not_the_configurations_own_origin_is_refused(issuer: str) -> None:
    with pytest.raises(LtiError) as refused:
        checked_configuration(configuration(issuer=issuer), URL)
    assert refused.value.code == "lti_registration_invalid"


@pytest.mark.parametrize(
    "endpoint", ["jwks_uri", "token_endpoint", "authorization_endpoint", "registration_endpoint"]
)
@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://lms.example.edu:70/_x",
        "https://",
        "https://lms.example.edu:99999/x",
        "https://lms.example.edu/\x00x",
        "https://lms.example.edu/" + "x" * 2100,
    ],
)
def test_an_endpoint_that_is_not_a_web_url_is_refused_not_stored(endpoint: str, url: str) -> None:
    with pytest.raises(LtiError) as refused:
        checked_configuration(configuration(**{endpoint: url}), URL)
    assert refused.value.code == "lti_registration_invalid" and endpoint in refused.value.message
