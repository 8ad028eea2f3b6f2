"""What the lookups of held jobs cost PostgreSQL (db/admission.py, issue 63): with the partial index
made for them (`ix_jobs_held`, `WHERE held AND status = 'queued'`), as the code now runs them,
against the same statements with that index out of reach (dropped in a transaction that is rolled
back), which is what they got while they were written `held IS TRUE` (PostgreSQL does not take
that for the index's `held`).

    .venv/bin/python -m benchmarks.held_lookups [--runs 200] [--backlog 2000] [--held 5]

An embedded PostgreSQL, migrated, in a temporary folder: 200 users with 1,000 finished jobs each,
and one owner with 5,000 finished jobs, 20 queued chat jobs, --backlog queued embed jobs (another
lane: a big ingestion) and --held held chat jobs. Each lookup runs --runs times each way,
interleaved, under EXPLAIN ANALYZE in a transaction rolled back (the release writes). Printed: the
median of PostgreSQL's execution time, each way, and the ratio; the plan's scans of the owner's
jobs. Nothing is asserted: tests/db/test_held_index.py asserts the plans use the index.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg

from benchmarks._harness import argument_parser, begin_run, print_table, ratio
from devstack.embedded import EmbeddedPostgres

NAME = "held_lookups"


def _fill(db: psycopg.Connection, *, backlog: int, held: int) -> tuple[uuid.UUID, uuid.UUID]:
    """The rows; the owner and a job of theirs that has just succeeded (the finish's job)."""
    db.execute(
        "INSERT INTO users (id, email, hashed_password, is_active, is_superuser, is_verified) "
        "SELECT gen_random_uuid(), 'user' || n || '@example.org', 'x', true, false, true "
        "FROM generate_series(1, 200) n"
    )
    (owner,) = db.execute("SELECT id FROM users ORDER BY email LIMIT 1").fetchone()
    insert = (
        "INSERT INTO jobs (id, kind, owner_id, status, input, attempts, max_attempts, queue, priority, "
        "created_at, held) SELECT gen_random_uuid(), %s, {owner}, %s, '{{}}', 1, 3, %s, 0, "
        "now() - n * interval '1 s', %s FROM {source}"
    )
    db.execute(
        insert.format(owner="u.id", source="users u, generate_series(1, 1000) n"),
        ("chat", "succeeded", "llm", False),
    )
    for kind, status, queue, count, is_held in (
        ("chat", "succeeded", "llm", 5000, False),
        ("chat", "queued", "llm", 20, False),
        ("embed", "queued", "embed", backlog, False),
        ("chat", "queued", "llm", held, True),
    ):
        db.execute(
            insert.format(owner="%s", source=f"generate_series(1, {count}) n"),
            (kind, owner, status, queue, is_held),
        )
    (finished,) = db.execute(
        "INSERT INTO jobs (id, kind, owner_id, status, input, attempts, max_attempts, queue, priority) "
        "VALUES (gen_random_uuid(), 'chat', %s, 'succeeded', '{}', 1, 3, 'llm', 0) RETURNING id",
        (owner,),
    ).fetchone()
    db.execute("ANALYZE")
    return owner, finished


def _explained(
    db: psycopg.Connection, sql: str, values: dict[str, Any], *, index: bool
) -> tuple[float, list[str]]:
    """PostgreSQL's execution time (ms) and the plan's scans, in a transaction rolled back."""
    db.execute("BEGIN")
    try:
        if not index:
            db.execute("DROP INDEX ix_jobs_held")
        rows = db.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, values).fetchone()[0]
    finally:
        db.execute("ROLLBACK")
    plan = rows[0]
    scans: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if "Scan" in node["Node Type"] and node.get("Relation Name") == "jobs":
            scans.append(f"{node['Alias']}: {node['Node Type']} {node.get('Index Name', '')}".strip())
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    return plan["Execution Time"], scans


def main() -> None:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--backlog", type=int, default=2000)
    parser.add_argument("--held", type=int, default=5)
    args = parser.parse_args()
    begin_run()
    folder = Path(tempfile.mkdtemp(prefix="mentorq-bench-held-"))
    postgres = EmbeddedPostgres(folder / "pg").start()
    try:
        from sqlalchemy import create_engine

        from db import admission, migrate
        from db.direct_statement import _prepared

        migrate.upgrade(postgres.url)
        engine = create_engine(postgres.url)
        with psycopg.connect(postgres.url.replace("+psycopg", ""), autocommit=True) as db:
            owner, finished = _fill(db, backlog=args.backlog, held=args.held)
            lookups = {
                "a finish's release (db/admission.py released_by_a_finish)": (
                    admission.released_by_a_finish(),
                    {
                        "p_owner": owner,
                        "p_job": finished,
                        "p_attempt": 1,
                        "p_claim_stage": None,
                        "p_slots": 1000,
                    },
                ),
                "the next held jobs, through a session (_held_jobs)": (
                    admission._held_jobs(),
                    {"p_owner": owner, "p_limit": 5},
                ),
                "the reconciler's owners with held jobs (_owners_holding)": (
                    admission._owners_holding(),
                    {"p_limit": 100},
                ),
            }
            rows = []
            for name, (statement, params) in lookups.items():
                prepared = _prepared(statement, engine)
                values = prepared.parameters(params)
                times: dict[bool, list[float]] = {True: [], False: []}
                scans: dict[bool, list[str]] = {}
                for _ in range(args.runs):
                    for index in (False, True):
                        elapsed, scans[index] = _explained(db, prepared.sql, values, index=index)
                        times[index].append(elapsed)
                without, with_index = statistics.median(times[False]), statistics.median(times[True])
                rows.append(
                    [
                        name,
                        f"{without:.3f}",
                        f"{with_index:.3f}",
                        f"{ratio(with_index, without):.2f}x",
                        "; ".join(scans[True]),
                    ]
                )
        engine.dispose()
    finally:
        postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print_table(
        ["lookup", "without the index ms (baseline)", "with it ms", "÷ baseline", "scans with it"],
        rows,
        title=(
            f"median execution time of {args.runs} runs each way, interleaved; the owner has "
            f"{args.backlog} queued embed jobs and {args.held} held chat jobs"
        ),
    )


if __name__ == "__main__":
    main()
