"""Delivery attempts against real receivers on 127.0.0.1, and the retry schedule.

Every receiver here is a raw socket server on loopback, so it can misbehave on purpose (hang,
drip, flood). Addresses that must be refused are named through an injected resolver and refused
before any connection is attempted: no test sends a packet anywhere but 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from core.net import client as guarded_client
from core.webhook_signing import new_message_id, new_secret, webhook_headers
from tests.support.dns import FakeDNS
from tests.support.loopback import ScriptedServer, answer, drip_head, hang, serving
from tests.support.tls import self_signed_pair
from workers.webhooks import delivery
from workers.webhooks.delivery import deliver, parse_retry_after
from workers.webhooks.schedule import MAX_RETRY_AFTER_S, RETRY_SCHEDULE_S, next_delay

BODY = json.dumps(
    {"type": "job.succeeded", "timestamp": "2026-01-01T00:00:00Z", "data": {"id": "j1"}}
).encode()


class Receiver(ScriptedServer):
    @property
    def url(self) -> str:
        return self.url_for("/hook")


def drip_body(conn: socket.socket, receiver: Receiver) -> None:
    receiver.send(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(1000):
        if receiver.stopping.wait(0.1):
            return
        receiver.send(conn, b"x")


def flood(conn: socket.socket, receiver: Receiver) -> None:
    total = 256 * 1024 * 1024
    receiver.send(conn, f"HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n".encode())
    chunk = b"y" * 65536
    for _ in range(total // len(chunk)):
        receiver.send(conn, chunk)


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    yield from serving(Receiver)


DNS = FakeDNS(
    {
        "hooks.example": ["127.0.0.1"],
        "internal.example": ["10.0.0.5"],
        "metadata.example": ["169.254.169.254"],
    }
)


def signed(body: bytes = BODY, *secrets: str) -> dict[str, str]:
    return webhook_headers(list(secrets) or [new_secret()], new_message_id(), int(time.time()), body)


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a delivery gets as far as opening a connection."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a forbidden address got a connection attempt")

    monkeypatch.setattr(delivery, "_post", refuse)


# --- outcomes -------------------------------------------------------------------------------------


def test_2xx_is_success_and_the_request_verifies_with_the_reference_library(receiver) -> None:
    rx = receiver(answer(204))
    secret = new_secret()
    headers = signed(BODY, secret)
    result = deliver(rx.url, BODY, headers, allow_private=True)
    assert (result.outcome, result.status_code, result.error) == ("success", 204, None)
    assert 0 <= result.latency_ms < 5000
    [request] = rx.requests
    assert request["line"] == "POST /hook HTTP/1.1"
    assert request["body"] == BODY
    assert Webhook(secret).verify(request["body"], request["headers"]) == json.loads(BODY)
    assert request["headers"]["user-agent"] == "mentorq-webhooks/1"


def test_500_is_retried_with_the_excerpt_kept(receiver) -> None:
    rx = receiver(answer(500, body=b"database on fire"))
    result = deliver(rx.url, BODY, signed(), allow_private=True)
    assert (result.outcome, result.status_code) == ("retry", 500)
    assert result.response_excerpt == "database on fire"
    assert "500" in (result.error or "")
    assert result.retry_after_s is None


def test_503_with_retry_after_reports_it(receiver) -> None:
    rx = receiver(answer(503, {"Retry-After": "120"}))
    result = deliver(rx.url, BODY, signed(), allow_private=True)
    assert (result.outcome, result.status_code, result.retry_after_s) == ("retry", 503, 120.0)


def test_429_with_an_http_date_retry_after(receiver) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=600)
    rx = receiver(answer(429, {"Retry-After": later.strftime("%a, %d %b %Y %H:%M:%S GMT")}))
    result = deliver(rx.url, BODY, signed(), allow_private=True)
    assert result.outcome == "retry"
    assert 590 <= (result.retry_after_s or 0) <= 601


def test_410_disables(receiver) -> None:
    rx = receiver(answer(410))
    result = deliver(rx.url, BODY, signed(), allow_private=True)
    assert (result.outcome, result.status_code) == ("disable", 410)


def test_other_4xx_is_a_failed_attempt_that_is_retried(receiver) -> None:
    rx = receiver(answer(404))
    assert deliver(rx.url, BODY, signed(), allow_private=True).outcome == "retry"


def test_a_redirect_is_not_followed(receiver) -> None:
    target = receiver(answer(200))
    rx = receiver(answer(302, {"Location": target.url}))
    result = deliver(rx.url, BODY, signed(), allow_private=True)
    assert (result.outcome, result.status_code) == ("retry", 302)
    assert "not followed" in (result.error or "")
    assert len(rx.requests) == 1 and target.requests == []


@pytest.mark.parametrize(
    "location",
    ["http://internal.example/hook", "http://169.254.169.254/latest/meta-data/", "https://metadata.example/"],
)
def test_a_redirect_to_a_forbidden_address_is_refused(
    receiver, loopback_stands_in_for_public, location
) -> None:
    rx = receiver(answer(307, {"Location": location}))
    url = f"http://hooks.example:{rx.port}/hook"
    result = deliver(url, BODY, signed(), allow_private=False, resolver=DNS)
    assert (result.outcome, result.status_code) == ("fail", 307)
    assert "redirect to forbidden address refused" in (result.error or "")
    assert "webhook_address_forbidden" in (result.error or "")
    assert len(rx.requests) == 1


def test_a_relative_redirect_back_to_the_same_host_is_only_not_followed(
    receiver, loopback_stands_in_for_public
) -> None:
    rx = receiver(answer(301, {"Location": "/elsewhere"}))
    result = deliver(
        f"http://hooks.example:{rx.port}/hook", BODY, signed(), allow_private=False, resolver=DNS
    )
    assert (result.outcome, result.status_code) == ("retry", 301)
    assert len(rx.requests) == 1


# --- slow, silent and greedy receivers ------------------------------------------------------------

# A delivery cut at its 1 s deadline ends well before this; the receivers below would hold it 30 s
# or more. Loose on purpose: a loaded CI machine may keep the test process waiting for a core.
CUT_WELL_BEFORE_S = 10.0


def test_a_hanging_receiver_times_out_as_retry(receiver) -> None:
    rx = receiver(hang)
    started = time.monotonic()
    result = deliver(rx.url, BODY, signed(), timeout_s=1.0, allow_private=True)
    elapsed = time.monotonic() - started
    assert result.outcome == "retry" and result.status_code is None
    assert "webhook_timeout" in (result.error or "")
    assert 0.9 <= elapsed < CUT_WELL_BEFORE_S


def test_a_receiver_dripping_its_body_is_cut_at_the_deadline(receiver) -> None:
    rx = receiver(drip_body)
    started = time.monotonic()
    result = deliver(rx.url, BODY, signed(), timeout_s=1.0, allow_private=True)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < CUT_WELL_BEFORE_S
    assert (result.outcome, result.status_code) == ("success", 200)  # the status line arrived in time
    assert 0 < len(result.response_excerpt or "") < 30


def test_a_receiver_dripping_its_status_line_is_cut_at_the_deadline(receiver) -> None:
    rx = receiver(drip_head)
    started = time.monotonic()
    result = deliver(rx.url, BODY, signed(), timeout_s=1.0, allow_private=True)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < CUT_WELL_BEFORE_S
    assert (result.outcome, result.status_code) == ("retry", None)
    assert "webhook_timeout" in (result.error or "")


def test_a_huge_response_is_read_only_up_to_the_cap(receiver) -> None:
    rx = receiver(flood)
    result = deliver(rx.url, BODY, signed(), max_response_bytes=4096, allow_private=True)
    assert (result.outcome, result.status_code) == ("success", 200)
    assert result.response_excerpt == "y" * 4096
    assert result.latency_ms < 5000
    time.sleep(0.2)
    assert rx.bytes_sent < 256 * 1024 * 1024


def test_connection_refused_is_retried() -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    result = deliver(f"http://127.0.0.1:{port}/hook", BODY, signed(), timeout_s=2.0, allow_private=True)
    assert (result.outcome, result.status_code) == ("retry", None)
    assert "webhook_connect_failed" in (result.error or "")


def test_a_failed_lookup_is_retried() -> None:
    result = deliver("https://nowhere.example/hook", BODY, signed(), allow_private=False, resolver=DNS)
    assert result.outcome == "retry"
    assert "webhook_dns_failed" in (result.error or "")


def test_a_hanging_resolver_is_bounded_by_the_deadline() -> None:
    release = threading.Event()

    def stuck(*args: Any, **kwargs: Any) -> list[Any]:
        release.wait(10)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    started = time.monotonic()
    result = deliver(
        "https://slow-dns.example/hook", BODY, signed(), timeout_s=0.5, allow_private=False, resolver=stuck
    )
    release.set()
    assert result.outcome == "retry" and "webhook_timeout" in (result.error or "")
    assert time.monotonic() - started < 1.5


# --- the SSRF guard at delivery time --------------------------------------------------------------


def test_loopback_is_refused_unless_private_addresses_are_allowed(receiver) -> None:
    rx = receiver(answer(200))
    result = deliver(rx.url, BODY, signed(), allow_private=False)
    assert (result.outcome, result.status_code) == ("fail", None)
    assert "webhook_address_forbidden" in (result.error or "")
    assert rx.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "https://internal.example/hook",
        "https://metadata.example/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/hook",
    ],
)
def test_forbidden_addresses_fail_before_any_connection(no_connections, url: str) -> None:
    result = deliver(url, BODY, signed(), allow_private=False, resolver=DNS)
    assert (result.outcome, result.status_code) == ("fail", None)
    assert "webhook_address_forbidden" in (result.error or "")


def test_an_invalid_url_fails(no_connections) -> None:
    result = deliver("ftp://hooks.example/hook", BODY, signed(), allow_private=True, resolver=DNS)
    assert result.outcome == "fail" and "webhook_url_invalid" in (result.error or "")


def test_the_connection_is_pinned_to_the_checked_address_with_the_original_host(receiver) -> None:
    rx = receiver(answer(200))
    dns = FakeDNS({"hooks.example": ["127.0.0.1"]})
    result = deliver(
        f"http://hooks.example:{rx.port}/hook?x=1", BODY, signed(), allow_private=True, resolver=dns
    )
    assert result.outcome == "success"
    assert dns.calls == ["hooks.example"]  # resolved once; the connection used that answer
    [request] = rx.requests
    assert request["line"] == "POST /hook?x=1 HTTP/1.1"
    assert request["headers"]["host"] == f"hooks.example:{rx.port}"


def test_https_is_pinned_with_sni_and_the_certificate_checked_against_the_host_name(
    receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_tls, client_tls = self_signed_pair(tmp_path, "hooks.example")
    monkeypatch.setattr(guarded_client, "ssl_context", lambda: client_tls)
    rx = receiver(answer(200), tls=server_tls)
    server_tls.sni_callback = lambda sock, server_name, ctx: rx.server_names.append(server_name)
    secret = new_secret()
    result = deliver(
        f"https://hooks.example:{rx.port}/hook", BODY, signed(BODY, secret), allow_private=True, resolver=DNS
    )
    assert (result.outcome, result.status_code) == ("success", 200), result.error
    assert rx.server_names == ["hooks.example"]
    [request] = rx.requests
    assert request["headers"]["host"] == f"hooks.example:{rx.port}"
    Webhook(secret).verify(request["body"], request["headers"])

    # The same receiver reached by its IP: the certificate does not name 127.0.0.1, so TLS refuses.
    refused = deliver(rx.url, BODY, signed(), allow_private=True, timeout_s=2.0)
    assert refused.outcome == "retry" and "certificate" in (refused.error or "").lower()
    assert len(rx.requests) == 1


# --- Retry-After and the schedule -----------------------------------------------------------------


def test_parse_retry_after() -> None:
    now = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:05:00 GMT", now=now) == 300.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    for junk in (None, "", "-5", "1.5", "soon", "Thu, 99 Foo 2026"):
        assert parse_retry_after(junk) is None


def test_the_schedule_without_jitter() -> None:
    delays = [next_delay(attempt, None, rng=lambda: 0.5) for attempt in range(1, 9)]
    assert delays == [5, 300, 1800, 7200, 18000, 36000, 36000, None]


def test_jitter_stays_within_twenty_percent() -> None:
    assert next_delay(2, None, rng=lambda: 0.0) == pytest.approx(240)
    assert next_delay(2, None, rng=lambda: 0.999999) == pytest.approx(360, rel=1e-5)
    for attempt, base in enumerate(RETRY_SCHEDULE_S, start=1):
        for _ in range(200):
            delay = next_delay(attempt, None)
            assert delay is not None and 0.8 * base <= delay <= 1.2 * base


def test_retry_after_is_honoured_when_later_never_when_sooner() -> None:
    assert next_delay(1, 120.0, rng=lambda: 0.5) == 120.0
    assert next_delay(2, 10.0, rng=lambda: 0.5) == 300.0
    assert next_delay(1, 30 * 24 * 3600.0, rng=lambda: 0.5) == MAX_RETRY_AFTER_S
    assert next_delay(8, 120.0) is None


def test_attempt_numbers_start_at_one() -> None:
    with pytest.raises(ValueError):
        next_delay(0, None)
