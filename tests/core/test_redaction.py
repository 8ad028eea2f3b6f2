"""core/redaction.py and core/log_redaction.py: no configured secret in a message, and no credential
in a log line, whatever the handlers and formatters of the process."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import textwrap

import pytest

from core.redaction import MASK, Scrubber, configured_secrets
from core.settings import Settings
from tests.support.fake_openai import FakeOpenAI
from tests.support.stack import REPO

OPENAI_KEY = "sk-openai-5f1c0e9d2b"
PASSWORD = "db-pw-8e41c07a"
TOKEN = "tok-ab12cd34ef"


def test_the_configured_secrets_are_the_keys_and_the_credentials_in_urls() -> None:
    settings = Settings(
        env="test",
        database_url=f"postgresql+psycopg://mentorq:{PASSWORD}@db/mentorq?host=/run/postgresql&sslmode=verify-full",
        redis_url="redis://:short@redis:6379/0",
        ollama_host=f"http://gpu-box:11434/?token={TOKEN}",
        openai_api_key=OPENAI_KEY,
        secret_key="a-signing-key-long-enough-0123456789",
    )

    secrets = configured_secrets(settings)

    assert {PASSWORD, TOKEN, OPENAI_KEY, "a-signing-key-long-enough-0123456789"} <= secrets
    assert base64.b64encode(f"mentorq:{PASSWORD}".encode()).decode() in secrets  # as basic auth sends it
    # Not credentials: a socket folder and a TLS mode stay readable; too short to search for: "short".
    assert not {"/run/postgresql", "verify-full", "short", "mentorq"} & secrets


def test_a_scrubbed_text_has_urls_in_display_form_and_no_secret() -> None:
    scrub = Scrubber({OPENAI_KEY, TOKEN})

    text = f"refused key {OPENAI_KEY} at http://u:{PASSWORD}@gpu-box/v1?api-key={TOKEN} (token {TOKEN})"
    assert scrub(text) == f"refused key {MASK} at http://gpu-box/v1 (token {MASK})"


# A process that installs the redaction, then replaces every handler and formatter the way uvicorn and
# Celery do when they start, and logs: httpx's request line, our own lines with URLs and keys, a
# traceback quoting a URL, a line with a URL split across arguments, and uvicorn's access line
# (whose formatter reads the record's arguments).
LOGGING_SCRIPT = textwrap.dedent(
    """
    import logging, logging.config, os, sys
    import httpx
    if sys.argv[1] == "installed":
        from core import log_redaction
        log_redaction.install()
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(levelname)s %(name)s %(message)s"},
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": "%(client_addr)s %(request_line)s %(status_code)s",
            },
        },
        "handlers": {
            "out": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain"},
            "access": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "access"},
        },
        "root": {"level": "INFO", "handlers": ["out"]},
        "loggers": {"uvicorn.access": {"handlers": ["access"], "propagate": False}},
    })
    base = os.environ["MENTORQ_OPENAI_BASE_URL"]
    httpx.get(base.replace("/v1?", "/v1/models?"), timeout=5)
    log = logging.getLogger("mentorq.test")
    log.info("asking %s with key %s", base, os.environ["MENTORQ_OPENAI_API_KEY"])
    log.warning("the key again: " + os.environ["MENTORQ_OPENAI_API_KEY"])
    host, rest = base.split("@", 1)
    log.info("assembled %s@%s", host, rest)
    try:
        raise RuntimeError(f"failed for {base}")
    except RuntimeError:
        log.exception("it broke")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/v1/jobs?limit=5", "1.1", 200
    )
    print("DONE", flush=True)
    """
)


@pytest.mark.parametrize("mode", ["installed", "not installed"])
def test_no_log_line_of_a_process_shows_a_credential(mode: str) -> None:
    with FakeOpenAI() as server:
        base = f"http://proxy:{PASSWORD}@{server.url.removeprefix('http://')}/v1?api-key={TOKEN}"
        env = {
            **os.environ,
            "MENTORQ_ENV": "test",
            "MENTORQ_OPENAI_BASE_URL": base,
            "MENTORQ_OPENAI_API_KEY": OPENAI_KEY,
        }
        run = subprocess.run(
            [sys.executable, "-c", LOGGING_SCRIPT, mode],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    output = run.stdout + run.stderr
    assert "DONE" in output, output
    leaked = [secret for secret in (PASSWORD, TOKEN, OPENAI_KEY) if secret in output]
    if mode == "not installed":
        assert leaked == [PASSWORD, TOKEN, OPENAI_KEY]  # the test sees what it looks for
        return
    assert leaked == [], output
    assert f"HTTP Request: GET {server.url}/v1/models " in output  # httpx's line, display form
    assert f"asking {server.url}/v1 with key {MASK}" in output
    assert f"the key again: {MASK}" in output and f"assembled {server.url}/v1" in output
    assert f"RuntimeError: failed for {server.url}/v1" in output  # the traceback, scrubbed
    assert "127.0.0.1:5000 GET /v1/jobs?limit=5 HTTP/1.1 200 OK" in output  # our API's own query kept
    assert "Logging error" not in output
