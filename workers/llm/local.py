"""LLM provider running the packaged SmolLM2-135M-Instruct GGUF in-process with llama.cpp.

llama_cpp is imported only when the model first loads, so importing this module is cheap and
a parent process that forks workers never holds the model.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.catalog import DEFAULT_LOCAL_LLM, packaged_gguf_path
from core.settings import get_settings
from workers import deadline
from workers.llm.base import (
    DEFAULT_MAX_TOKENS,
    ChatResult,
    ContextTooLong,
    LLMError,
    ModelNotFound,
    TimeLimitReached,
    TokenCallback,
    option,
    sampling_options,
)

log = logging.getLogger(__name__)

N_CTX = 2048

_llama: Any = None
_llama_pid: int | None = None
_prompt_formatter: Any = None
# One generation at a time per process: a Llama object keeps one KV cache and is not reentrant.
_lock = threading.RLock()


@contextmanager
def _model_turn() -> Iterator[None]:
    """Hold the model; in a job, give up when its time limit comes first (threads queue up here in
    the `llm` lane's pool, where no Celery time limit would cut them)."""
    left = deadline.seconds_left()
    if not _lock.acquire(timeout=-1 if left is None else max(0.0, left)):
        raise TimeLimitReached("the job's time limit came while it waited for the local model")
    try:
        yield
    finally:
        _lock.release()


def wait_passively() -> None:
    """OpenMP's idle threads spin briefly, then sleep, in this process and those it starts.

    ggml's CPU threads are OpenMP's (libgomp), which wait at a barrier after every step. libgomp's
    default spins there, and beside busy processes (the API, PostgreSQL, other lanes) a spinning
    thread holds a core the other one needs. The local model on 2 cores, beside three busy
    processes, then on idle cores (one run each, a 200-token answer and a 1,900-word prompt):

    | wait | busy: answer | busy: prompt | idle: answer | idle: prompt |
    |---|---|---|---|---|
    | spin (ACTIVE) | 5.6 tokens/s, 28 CPU-s | 56-59 s, 44-45 CPU-s | 47-63 tokens/s | 14-18 s |
    | sleep (PASSIVE) | 17-20 tokens/s, 7 CPU-s | 41-44 s, 29-31 CPU-s | 36-38 tokens/s | 16-17 s |
    | spin 300, then sleep | 15-16 tokens/s, 8 CPU-s | 40-43 s, 29-31 CPU-s | 49-62 tokens/s | 16-17 s |

    The last is nearly as frugal as sleeping on busy cores, and on idle ones within the spread of
    spinning: faster in three runs, 0.78x in one (`python -m benchmarks.llm_threads_wait`).
    libgomp reads these once, when it loads, and torch brings its own copy under the same name that
    ggml then shares: so a worker calls this before anything imports torch (workers/celery_app.py),
    and the model's first load calls it for a process that is not a worker. An operator's own
    values stand.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("GOMP_SPINCOUNT", "300")


def _n_threads() -> int:
    # MENTORQ_LOCAL_LLM_THREADS, else the CPUs this process may use (a container or taskset may
    # give fewer than cpu_count), capped because a 135M model gains nothing from more.
    if get_settings().local_llm_threads:
        return get_settings().local_llm_threads
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:
        available = os.cpu_count() or 1
    return max(1, min(available, 8))


def gpu_layers(offload_built: bool) -> int:
    """Layers llama.cpp puts on the GPU: all of them (-1) when it was built with a GPU backend
    (CMAKE_ARGS="-DGGML_CUDA=on", docs/production/gpu.md) and MENTORQ_DEVICE is not `cpu`; none
    with the registry's wheel, which is built for the CPU alone."""
    if not offload_built:
        if get_settings().device.startswith("cuda"):
            log.warning(
                "MENTORQ_DEVICE is %s but llama.cpp was built without GPU offload", get_settings().device
            )
        return 0
    return 0 if get_settings().device == "cpu" else -1


def load_llama() -> Any:
    """The process's Llama object, loaded on first use (and again after a fork)."""
    global _llama, _llama_pid, _prompt_formatter
    with _lock:
        if _llama is None or _llama_pid != os.getpid():
            wait_passively()
            import llama_cpp

            _llama = llama_cpp.Llama(
                model_path=str(packaged_gguf_path()),
                n_ctx=N_CTX,
                n_threads=_n_threads(),
                # Else llama-cpp-python reads the prompt on cpu_count() threads: every core of the
                # host, whatever the affinity or the setting says.
                n_threads_batch=_n_threads(),
                n_gpu_layers=gpu_layers(llama_cpp.llama_supports_gpu_offload()),
                verbose=False,
            )
            _llama_pid = os.getpid()
            _prompt_formatter = _build_prompt_formatter(_llama)
            # Free it while the interpreter is intact; Llama.__del__ at shutdown finds its
            # native bindings already torn down and prints a traceback.
            atexit.register(_llama.close)
        return _llama


def _build_prompt_formatter(llm: Any) -> Any:
    # The same Jinja template llama.cpp applies to chat messages; a stream carries no usage,
    # so the prompt's token count is measured by rendering and tokenizing it ourselves.
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def text(token: int) -> str:
        return llm.detokenize([token], special=True).decode("utf-8", "ignore") if token >= 0 else ""

    return Jinja2ChatFormatter(
        template=template, eos_token=text(llm.token_eos()), bos_token=text(llm.token_bos())
    )


def _prompt_tokens(llm: Any, messages: list[dict]) -> int:
    if _prompt_formatter is not None:
        rendered = _prompt_formatter(messages=messages)
        return len(llm.tokenize(rendered.prompt.encode(), add_bos=not rendered.added_special, special=True))
    return sum(len(llm.tokenize(str(m.get("content", "")).encode(), add_bos=False)) for m in messages)


# max_tokens is a ceiling for the answer, not a demand: llama.cpp refuses a prompt when prompt +
# max_tokens exceeds the context, so the ceiling is lowered to the room the prompt leaves (as
# Ollama stops a generation at its context's end). Below this much room the prompt is too long.
MIN_ANSWER_TOKENS = 64


def _fitted(kwargs: dict, prompt_tokens: int) -> dict:
    room = N_CTX - prompt_tokens
    if room < MIN_ANSWER_TOKENS:
        raise ContextTooLong(
            f"the prompt does not fit the local model's context: {prompt_tokens} prompt tokens leave "
            f"{max(room, 0)} of {N_CTX} for the answer (at least {MIN_ANSWER_TOKENS} needed)"
        )
    return kwargs | {"max_tokens": min(kwargs["max_tokens"], room)}


# Ollama's default (llama.cpp's own is 1.0, off). Without it the 135M model at temperature 0 can
# loop on one phrase inside a JSON string until max_tokens cuts the JSON (seen in `make demo`).
REPEAT_PENALTY = 1.1


def _completion_kwargs(json_schema: dict | None, options: dict | None) -> dict:
    kwargs: dict[str, Any] = {
        "max_tokens": option(options, "max_tokens", DEFAULT_MAX_TOKENS),
        "repeat_penalty": option(options, "repeat_penalty", REPEAT_PENALTY),
    }
    kwargs |= sampling_options(options)
    if json_schema is not None:
        # llama.cpp turns the schema into a grammar, so the output is constrained, not hoped for.
        kwargs["response_format"] = {"type": "json_object", "schema": json_schema}
    return kwargs


class LocalProvider:
    """SmolLM2-135M-Instruct through llama.cpp; the only model it serves."""

    name = "local"

    def __init__(self, default_model: str | None = None) -> None:
        self.default_model = default_model or DEFAULT_LOCAL_LLM

    def _check_model(self, model: str | None) -> str:
        requested = model or self.default_model
        if requested.lower() != DEFAULT_LOCAL_LLM.lower():
            raise ModelNotFound(
                f"the local provider serves only {DEFAULT_LOCAL_LLM!r}, not {requested!r} "
                "(set OLLAMA_HOST to use Ollama models)"
            )
        return DEFAULT_LOCAL_LLM

    def chat(
        self,
        messages: list[dict],
        *,
        model: str | None = None,
        json_schema: dict | None = None,
        options: dict | None = None,
        on_token: TokenCallback | None = None,
    ) -> ChatResult:
        """Complete `messages` in-process, streaming deltas to `on_token` when given."""
        name = self._check_model(model)
        kwargs = _completion_kwargs(json_schema, options)
        with _model_turn():
            llm = load_llama()
            prompt_tokens = _prompt_tokens(llm, messages)
            kwargs = _fitted(kwargs, prompt_tokens)
            if on_token is None:
                try:
                    response = llm.create_chat_completion(messages=messages, **kwargs)
                except (ValueError, RuntimeError) as exc:  # prompt too long, bad schema grammar
                    raise _provider_error(exc) from exc
                usage = response.get("usage") or {}
                return ChatResult(
                    text=response["choices"][0]["message"].get("content") or "",
                    model=name,
                    provider=self.name,
                    prompt_tokens=int(usage.get("prompt_tokens", 0)),
                    completion_tokens=int(usage.get("completion_tokens", 0)),
                )
            text = self._stream(llm, messages, kwargs, on_token)
            return ChatResult(
                text=text,
                model=name,
                provider=self.name,
                prompt_tokens=prompt_tokens,
                completion_tokens=len(llm.tokenize(text.encode(), add_bos=False)) if text else 0,
            )

    def _stream(self, llm: Any, messages: list[dict], kwargs: dict, on_token: TokenCallback) -> str:
        parts: list[str] = []
        stream: Iterator[dict] = llm.create_chat_completion(messages=messages, stream=True, **kwargs)
        try:
            while True:
                try:
                    chunk = next(stream)
                except StopIteration:
                    break
                except (ValueError, RuntimeError) as exc:
                    raise _provider_error(exc) from exc
                delta = chunk["choices"][0]["delta"].get("content") or ""
                if delta:
                    parts.append(delta)
                    on_token(delta)  # may raise to cancel; the finally stops llama.cpp's loop
                if deadline.passed():
                    raise TimeLimitReached("the local model was still answering at the job's time limit")
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        return "".join(parts)

    def list_models(self) -> list[str]:
        """The packaged model's name (no model is loaded to answer)."""
        packaged_gguf_path()
        return [DEFAULT_LOCAL_LLM]


def _provider_error(exc: Exception) -> LLMError:
    """llama.cpp says "Requested tokens (N) exceed context window of M" for a prompt too long."""
    if "context window" in str(exc):
        return ContextTooLong(f"the prompt does not fit the local model's context: {exc}")
    return LLMError(f"local model failed: {exc}")
