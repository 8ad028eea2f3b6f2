"""One rehearsal for every test of tests/hosts/ (starting one takes a minute): docker-compose.yml's
services on separate network hosts. Each test leaves it as it found it: links healed, hosts and
servers brought back, settings restored."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.rehearsal import topology
from tests.hosts.jobs import leftovers, sign_in

# As an operator whose webhook receivers are on their private network sets them (the client host
# receives the rehearsal's webhooks over plain http at 10.77.250.2).
OPERATOR_SETTINGS = {"MENTORQ_WEBHOOK_ALLOW_PRIVATE": "true", "MENTORQ_WEBHOOK_ALLOW_HTTP": "true"}


@pytest.fixture(scope="session")
def rehearsal() -> Iterator[topology.Rehearsal]:
    prefix = f"mqh{uuid.uuid4().hex[:5]}"
    # A folder of its own, not pytest's: another pytest session on this machine (the rest of the
    # suite, beside this one) closes pytest's temporary root to other accounts when it starts and
    # prunes it when it ends, under the PostgreSQL its account runs (tests/conftest.own_stack too).
    root = Path(tempfile.mkdtemp(prefix="mentorq-rehearsal-"))
    try:
        # Streamed answers that take a while (9 tokens, 0.3 s each): a cut link finds jobs mid-generation.
        started = topology.start(root, prefix=prefix, token_delay_s=0.3, settings=OPERATOR_SETTINGS)
        try:
            yield started
        finally:
            started.close()
            assert leftovers(prefix) == [], "the rehearsal left namespaces or links behind"
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def client(rehearsal: topology.Rehearsal) -> Iterator[httpx.Client]:
    """A signed-in learner on the machine's own namespace, talking to the proxy on the api host."""
    with sign_in(rehearsal) as signed_in:
        yield signed_in
