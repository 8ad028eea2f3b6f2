"""Log lines (core/logs.py): one JSON object a line in production, naming the job, kind and user it
belongs to, with no credential in any field; a readable line in dev. Each case runs in a fresh
Python process, configured as a service configures itself, so the record factory and the root
logger are that process's own."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core import logs
from core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SECRET = "sk-live-0123456789abcdef0123"

SCRIPT = textwrap.dedent(
    """
    import logging, uuid
    from core import log_redaction, logs
    from core.settings import get_settings

    log_redaction.install()
    logs.configure(get_settings())
    log = logging.getLogger("mentorq.test")
    log.info("before any job")
    job = uuid.UUID("00000000-0000-0000-0000-00000000abcd")
    with logs.bound(job_id=job, kind="chat"):
        logs.bind(user_id="u-1")
        log.warning("calling with key %s", "SECRET")
        log.info("a detail", extra={"endpoint": "https://user:SECRET@llm.example/v1", "tries": 2})
        try:
            raise RuntimeError("failed at https://x.example/?api_key=SECRET")
        except RuntimeError:
            log.exception("the call failed")
    log.info("after the job")
    """
).replace("SECRET", SECRET)


def run_lines(fmt: str) -> list[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "MENTORQ_ENV": "production",
        "SECRET_KEY": "a-long-enough-secret-key-for-production-0123456789",
        "MENTORQ_OPENAI_API_KEY": SECRET,
        "MENTORQ_LOG_FORMAT": fmt,
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


def test_json_lines_name_the_job_kind_and_user_and_hold_no_secret() -> None:
    lines = run_lines("json")
    records = [json.loads(line) for line in lines if line.strip()]  # every line is one JSON object
    assert [r["message"] for r in records] == [
        "before any job",
        f"calling with key {'*' * 3}",
        "a detail",
        "the call failed",
        "after the job",
    ]
    outside, calling, detail, failed, after = records
    for record in records:
        assert {"time", "level", "logger", "message", "pid"} <= record.keys()
        assert record["logger"] == "mentorq.test"
    assert "job_id" not in outside and "job_id" not in after and "user_id" not in after
    for inside in (calling, detail, failed):
        assert inside["job_id"] == "00000000-0000-0000-0000-00000000abcd"
        assert (inside["kind"], inside["user_id"]) == ("chat", "u-1")
    assert calling["level"] == "WARNING"
    # extra= fields are written, scrubbed (the record factory never saw them).
    assert detail["tries"] == 2 and detail["endpoint"].startswith("https://llm.example")
    assert "RuntimeError" in failed["exc_info"]
    assert SECRET not in "\n".join(lines)


TRACED = textwrap.dedent(
    """
    import logging
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from core import logs
    from core.settings import get_settings

    trace.set_tracer_provider(TracerProvider())
    logs.configure(get_settings())
    with trace.get_tracer("t").start_as_current_span("work") as span:
        logging.getLogger("mentorq.test").info("in a span")
        print(format(span.get_span_context().trace_id, "032x"))
    logging.getLogger("mentorq.test").info("outside")
    """
)


def test_a_line_written_in_a_span_names_its_trace() -> None:
    env = {"PATH": "/usr/bin:/bin", "MENTORQ_ENV": "test", "MENTORQ_LOG_FORMAT": "json"}
    done = subprocess.run(
        [sys.executable, "-c", TRACED], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    inside, outside = (json.loads(line) for line in done.stderr.splitlines())
    assert inside["trace_id"] == done.stdout.strip() and len(inside["trace_id"]) == 32
    assert "trace_id" not in outside


def test_console_lines_stay_readable_with_the_context_in_brackets() -> None:
    lines = run_lines("console")
    assert lines[0].endswith("INFO mentorq.test: before any job")
    context = "[job_id=00000000-0000-0000-0000-00000000abcd kind=chat user_id=u-1]"
    assert any(f"WARNING mentorq.test {context}: calling with key" in line for line in lines), lines
    assert SECRET not in "\n".join(lines)


@pytest.mark.parametrize(
    ("env", "chosen"),
    [
        ({"MENTORQ_ENV": "production"}, "json"),
        ({}, "json"),
        ({"MENTORQ_ENV": "dev"}, "console"),
        ({"MENTORQ_ENV": "production", "MENTORQ_LOG_FORMAT": "console"}, "console"),
        ({"MENTORQ_ENV": "test", "MENTORQ_LOG_FORMAT": "json"}, "json"),
    ],
)
def test_production_writes_json_unless_told_otherwise(env: dict[str, str], chosen: str) -> None:
    assert logs.log_format_in(env) == chosen
    settings = Settings(_env_file=None, SECRET_KEY="x" * 40, **({"MENTORQ_ENV": "production"} | env))
    assert logs.log_format(settings) == chosen
