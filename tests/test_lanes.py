"""The lanes (core/lanes.py) as the command line, `mentorq dev` and compose run them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from core import lanes
from devstack import supervisor
from mentorq import cli


def test_each_lane_runs_the_way_it_waits() -> None:
    assert lanes.worker_arguments("llm", llm_parallel=6) == [
        "-Q",
        "llm",
        "--pool",
        "threads",
        "--concurrency",
        "6",
    ]
    assert lanes.worker_arguments("query", llm_parallel=6) == ["-Q", "query", "--concurrency", "1"]
    assert lanes.worker_arguments("embed", llm_parallel=6) == [
        "-Q",
        "embed",
        "--pool",
        "threads",
        "--concurrency",
        "2",
    ]
    assert lanes.worker_arguments("cpu", llm_parallel=6)[:2] == ["-Q", "cpu,maintenance"]
    with pytest.raises(ValueError, match="unknown lane 'gpu'"):
        lanes.worker_arguments("gpu", llm_parallel=6)


def test_mentorq_dev_starts_a_worker_per_lane_and_every_queue_is_consumed(tmp_path: Path) -> None:
    children = supervisor._children(
        tmp_path, "127.0.0.1", 8000, None, False, 2, {"MENTORQ_LLM_PARALLEL": "3"}
    )
    argv = {child.name: child.argv for child in children}
    llm = argv["worker-llm"]
    assert llm[llm.index("-Q") + 1] == "llm" and llm[llm.index("--pool") + 1] == "threads"
    assert llm[llm.index("--concurrency") + 1] == "3"
    consumed = {
        queue
        for name, args in argv.items()
        if name.startswith("worker")
        for queue in args[args.index("-Q") + 1].split(",")
    }
    assert consumed == set(lanes.ALL)
    query = argv["worker-query"]
    assert query[query.index("-Q") + 1] == "query", "search query embeddings have a process of their own"


def test_mentorq_worker_lane_sets_queue_pool_and_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(cli, "_exec", lambda argv, env: seen.append(argv))
    monkeypatch.setattr(cli, "service_env", lambda needs: {"MENTORQ_LLM_PARALLEL": "8"})
    result = CliRunner().invoke(cli.app, ["worker", "--lane", "llm", "--hostname", "llm@h"])
    assert result.exit_code == 0, result.output
    (argv,) = seen
    assert argv[argv.index("-Q") + 1] == "llm" and argv[argv.index("--pool") + 1] == "threads"
    assert argv[argv.index("--concurrency") + 1] == "8"
    refused = CliRunner().invoke(cli.app, ["worker", "--lane", "llm", "-Q", "cpu"])
    assert refused.exit_code != 0 and "not both" in refused.output


def test_mentorq_llm_threads_sets_the_llm_workers_threads_apart_from_the_slots(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A GPU host far from the data host runs more threads than its model server has slots (a job
    holds its thread through its round trips to PostgreSQL and Redis, not only its generation)."""
    seen: list[list[str]] = []
    monkeypatch.setattr(cli, "_exec", lambda argv, env: seen.append(argv))
    environment = {"MENTORQ_LLM_PARALLEL": "4", "MENTORQ_LLM_THREADS": "8"}
    monkeypatch.setattr(cli, "service_env", lambda needs: environment)
    result = CliRunner().invoke(cli.app, ["worker", "--lane", "llm", "--hostname", "llm@h"])
    assert result.exit_code == 0, result.output
    (argv,) = seen
    assert argv[argv.index("--concurrency") + 1] == "8"
    children = supervisor._children(Path("/tmp"), "127.0.0.1", 8000, None, False, 2, environment)
    llm = next(child.argv for child in children if child.name == "worker-llm")
    assert llm[llm.index("--concurrency") + 1] == "8"
    assert lanes.worker_arguments("llm", llm_parallel=4)[-1] == "4"  # unset: one thread a slot
