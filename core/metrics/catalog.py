"""Every metric, declared once (core/metrics/__init__.py says which process counts what)."""

from __future__ import annotations

import re

from prometheus_client import Counter, Gauge, Histogram

# Seconds, from a quick job's queue wait to a long generation or an ingestion.
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
_FIRST_TOKEN_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)
_CODE = re.compile(r"[a-z][a-z0-9_.]{0,47}")
NONE = "none"
OTHER = "other"


def bounded(value: str | None) -> str:
    """A label value from a bounded vocabulary: a snake_case code (or a dotted kind) as it is,
    nothing as `none`, and anything else (free text, an id) as `other`, so that a bad value cannot
    make a series per request."""
    if not value:
        return NONE
    return value if _CODE.fullmatch(value) else OTHER


# --- jobs: counted from the committed transitions (db/unit_of_work.py) ----------------------------

JOBS_CREATED = Counter("mentorq_jobs_created_total", "Jobs created, by kind.", ["kind"])
JOBS_ENDED = Counter(
    "mentorq_jobs_ended_total",
    "Jobs that ended, by kind, status (succeeded, failed, canceled) and error code (none unless failed).",
    ["kind", "status", "code"],
)
JOB_RETRIES = Counter("mentorq_job_retries_total", "Attempts of a job sent again, by kind.", ["kind"])
JOB_QUEUE_WAIT = Histogram(
    "mentorq_job_queue_wait_seconds",
    "From a job's creation to its first start, by kind.",
    ["kind"],
    buckets=_SECONDS,
)
JOB_RUN = Histogram(
    "mentorq_job_run_seconds",
    "From a job's last start to its end, by kind and status.",
    ["kind", "status"],
    buckets=_SECONDS,
)

# --- the model lanes ------------------------------------------------------------------------------

LLM_REQUESTS = Counter(
    "mentorq_llm_requests_total",
    "Chat completions asked of a provider, by provider and outcome (ok or the error's code).",
    ["provider", "outcome"],
)
LLM_INPUT_TOKENS = Counter(
    "mentorq_llm_input_tokens_total", "Prompt tokens sent, as the provider counted them.", ["provider"]
)
LLM_OUTPUT_TOKENS = Counter(
    "mentorq_llm_output_tokens_total",
    "Completion tokens received, as the provider counted them.",
    ["provider"],
)
LLM_FIRST_TOKEN = Histogram(
    "mentorq_llm_time_to_first_token_seconds",
    "From a streamed completion's request to its first token, by provider.",
    ["provider"],
    buckets=_FIRST_TOKEN_SECONDS,
)
LLM_DURATION = Histogram(
    "mentorq_llm_request_duration_seconds",
    "A chat completion's whole time, by provider.",
    ["provider"],
    buckets=_SECONDS,
)
LLM_IN_FLIGHT = Gauge(
    "mentorq_llm_requests_in_flight",
    "Chat completions waiting on a provider now: the model server's slots this host keeps busy.",
    ["provider"],
    multiprocess_mode="livesum",
)
EMBEDDED_TEXTS = Counter(
    "mentorq_embedded_texts_total", "Texts embedded (rate() is embeddings per second), by model.", ["model"]
)
TRANSCRIBED_AUDIO = Counter(
    "mentorq_transcribed_audio_seconds_total", "Seconds of recordings transcribed, by engine.", ["engine"]
)

# --- delivery, the answer cache, the sandbox, fair use, the reconciler ----------------------------

WEBHOOK_DELIVERIES = Counter(
    "mentorq_webhook_delivery_attempts_total",
    "Webhook delivery attempts, by the attempt's outcome (success, retry, disable, fail) and the "
    "delivery's status after it (succeeded, pending: another attempt is due, failed: given up, disabled).",
    ["outcome", "status"],
)
ANSWER_CACHE = Counter(
    "mentorq_answer_cache_lookups_total",
    "Answer cache lookups, by where (api: exact, before a job; job: exact or near, in the ask job) "
    "and result (hit, miss).",
    ["where", "result"],
)
SANDBOX_RUNS = Counter(
    "mentorq_sandbox_runs_total",
    "Programs run in the code sandbox, by how each ended: ok, error, or a limit or guard "
    "(timeout, memory, output_limit, forbidden, sandbox_unavailable).",
    ["status"],
)
REFUSED_REQUESTS = Counter(
    "mentorq_refused_requests_total",
    "API requests refused for fair use (429), by code: rate_limited, too_many_jobs, "
    "too_many_collections, ...",
    ["code"],
)
LTI_LAUNCHES = Counter(
    "mentorq_lti_launches_total",
    "LTI launches, by outcome: ok, or the refusal's code of a login, launch, landing page, deep-linking "
    "answer or dynamic registration (lti_bad_signature, lti_nonce_replayed, lti_unknown_deployment, ...)",
    ["outcome"],
)
RECONCILER_ACTIONS = Counter(
    "mentorq_reconciler_actions_total",
    "What the reconciler did, by action: dispatched (a job's message sent again: never sent, or "
    "lost with Redis), stranded and vanished (of those, taken by a lost worker and never claimed; "
    "gone from a running Redis), "
    "requeued and failed (jobs of dead workers), released (held jobs sent), "
    "webhooks (due deliveries queued, retries included), mails (lost account mails sent again), "
    "submissions (left ungraded, failed).",
    ["action"],
)
