"""The lookups of held jobs (db/admission.py) use the partial index made for them, ix_jobs_held
(`WHERE held AND status = 'queued'`), on the real PostgreSQL. Each runs often: the worker's finish
in a capped lane asks whether the owner holds anything, the release reads the next held jobs, the
reconciler lists the owners holding some. Written `held IS TRUE`, as they were until 2026-11-30,
PostgreSQL cannot prove that they imply the index's condition and reads every active job of the
owner instead (EXPLAIN ANALYZE, an owner with 2,000 queued jobs: 0.32 ms for a finish's release,
0.13 with the index)."""

from __future__ import annotations

import re
import uuid

import psycopg
import pytest

from db import admission
from db.direct_statement import _prepared
from db.session import sync_engine
from tests.support.stack import Stack

OWNER = str(uuid.uuid4())


def plan(stack: Stack, statement: object, params: dict[str, object]) -> list[str]:
    """The statement's plan as PostgreSQL would run it, with sequential scans priced out: a lookup
    that cannot use ix_jobs_held then shows the index it used instead."""
    prepared = _prepared(statement, sync_engine())
    with psycopg.connect(stack.database_url.replace("+psycopg", ""), autocommit=True) as db:
        db.execute("BEGIN")
        try:
            db.execute("SET LOCAL enable_seqscan = off")
            rows = db.execute("EXPLAIN " + prepared.sql, prepared.parameters(params)).fetchall()
        finally:
            db.execute("ROLLBACK")
    return [row[0] for row in rows]


def scans_of(lines: list[str], alias: str) -> list[str]:
    return [line.strip() for line in lines if re.search(rf"Scan .*on jobs {alias}\b", line)]


def test_a_finish_asks_the_held_index_whether_the_owner_holds_jobs_and_which_go_next(
    on_the_stack: Stack,
) -> None:
    lines = plan(
        on_the_stack,
        admission.released_by_a_finish(),
        {"p_owner": OWNER, "p_job": str(uuid.uuid4()), "p_attempt": 1, "p_claim_stage": None, "p_slots": 2},
    )
    for alias in ("waiting", "held_job"):
        scans = scans_of(lines, alias)
        assert scans and all("ix_jobs_held" in scan for scan in scans), (alias, lines)


@pytest.mark.parametrize(
    ("statement", "params"),
    [
        (admission._held_jobs, {"p_owner": OWNER, "p_limit": 3}),
        (admission._owners_holding, {"p_limit": 100}),
    ],
    ids=["the release through a session", "the reconciler's owners"],
)
def test_the_other_lookups_of_held_jobs_use_the_held_index(
    on_the_stack: Stack, statement: object, params: dict[str, object]
) -> None:
    lines = plan(on_the_stack, statement(), params)
    scans = [line for line in lines if "Scan" in line]
    assert scans and all("ix_jobs_held" in scan for scan in scans), lines
