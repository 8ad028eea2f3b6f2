"""A support model that reads: any Hugging Face sequence-classification model (an NLI or grounding
checker: MiniCheck, an NLI cross-encoder, the project's own trained cross-encoder) that an operator
placed in a local folder and named in MENTORQ_SUPPORT_MODEL. verify() gives it each claim with its
evidence window (workers/support/evidence.py `evidence_window`: the WINDOW passage sentences that
share the claim's rarest words, so the cost per claim is bounded whatever the passages' length) and
takes its probability of the "supported" label as the claim's score.

Never downloaded and never runs code from the folder: the weights load with `local_files_only` and
without `trust_remote_code`, and a folder whose config asks for its own code (`auto_map`: HHEM-2.1,
for one) is refused. It runs on MENTORQ_DEVICE (fp16 on a GPU), in batches.

Which label means "supported": MENTORQ_SUPPORT_MODEL_LABEL (a label's name or index), else the one
label the config's `id2label` names supported, entailment, consistent or factual. Which text goes
first: MENTORQ_SUPPORT_MODEL_PAIR, `evidence-claim` (premise, hypothesis: NLI's and MiniCheck's
order; the default) or `claim-evidence` (training/support_cross_encoder.py's order).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from workers.support.model import SupportModelUnavailable

SUPPORTED_NAMES = ("supported", "entailment", "entails", "entailed", "consistent", "factual")
PAIRS = ("evidence-claim", "claim-evidence")
WINDOW = 4
BATCH = 32
MAX_TOKENS = 512
# A claim whose probability of "supported" is under this is removed (MENTORQ_SUPPORT_MIN_SCORE
# overrides it, as for the logistic model): a classifier's own decision boundary.
THRESHOLD = 0.5


class ReadingModel:
    """`threshold` is on the probability of NOT supported, as SupportModel's is."""

    threshold = THRESHOLD
    window = WINDOW

    def __init__(self, folder: Path, *, label: str = "", pair: str = PAIRS[0], device: str = "cpu") -> None:
        config_file = folder / "config.json"
        if not config_file.is_file():
            raise SupportModelUnavailable(
                f"MENTORQ_SUPPORT_MODEL is a folder without config.json: {folder}. Place a Hugging Face "
                "sequence-classification model there (config.json, weights and tokenizer)."
            )
        try:
            config = json.loads(config_file.read_text())
        except ValueError as error:
            raise SupportModelUnavailable(
                f"the support model's config {config_file} is corrupt: {error}"
            ) from error
        if "auto_map" in config:
            raise SupportModelUnavailable(
                f"the support model in {folder} needs its own code (config.json has auto_map); mentorq "
                "never runs code that comes with weights. Use a model of a standard architecture."
            )
        if pair not in PAIRS:
            raise SupportModelUnavailable(
                f"MENTORQ_SUPPORT_MODEL_PAIR is {pair!r}: use one of {', '.join(PAIRS)}"
            )
        self.labels = {int(k): str(v) for k, v in (config.get("id2label") or {}).items()}
        self.supported_index = _supported_index(self.labels, label, folder)
        self.claim_first = pair == "claim-evidence"
        self.device = device
        self.name = folder.name
        self._lock = threading.Lock()
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            self._torch = torch
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            dtype = torch.float16 if device.startswith("cuda") else torch.float32
            self.model = AutoModelForSequenceClassification.from_pretrained(
                folder, local_files_only=True, trust_remote_code=False, dtype=dtype
            )
        except (OSError, ValueError, ImportError) as error:
            raise SupportModelUnavailable(
                f"the support model in {folder} cannot be loaded: {error}"
            ) from error
        self.model.to(device).eval()
        self.max_tokens = min(MAX_TOKENS, int(getattr(self.tokenizer, "model_max_length", MAX_TOKENS)))

    def supported(self, claims: list[str], windows: list[str]) -> list[float]:
        """Each claim's probability that its evidence window states it."""
        torch = self._torch
        out: list[float] = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(claims), BATCH):
                firsts, seconds = claims[start : start + BATCH], windows[start : start + BATCH]
                if not self.claim_first:
                    firsts, seconds = seconds, firsts
                encoded = self.tokenizer(
                    firsts,
                    seconds,
                    truncation="longest_first",
                    max_length=self.max_tokens,
                    padding=True,
                    return_tensors="pt",
                ).to(self.device)
                logits = self.model(**encoded).logits.float()
                out.extend(torch.softmax(logits, -1)[:, self.supported_index].tolist())
        return out


def _supported_index(labels: dict[int, str], wanted: str, folder: Path) -> int:
    if wanted:
        if wanted.isdigit() and int(wanted) in labels:
            return int(wanted)
        found = [i for i, name in labels.items() if name.casefold() == wanted.casefold()]
        if len(found) == 1:
            return found[0]
        raise SupportModelUnavailable(
            f"MENTORQ_SUPPORT_MODEL_LABEL is {wanted!r} but the model in {folder} has the labels "
            f"{sorted(labels.items())}"
        )
    found = [i for i, name in labels.items() if name.casefold() in SUPPORTED_NAMES]
    if len(found) != 1:
        raise SupportModelUnavailable(
            f"which label of the model in {folder} means supported? Its labels are {sorted(labels.items())}; "
            "set MENTORQ_SUPPORT_MODEL_LABEL to that label's name or index"
        )
    return found[0]
