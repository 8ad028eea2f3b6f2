"""The answer cache's labelled question pairs (benchmarks/data/question_pairs.json) through the ask
job's own rule, with the real embedding model, beside the rule before issue 23 in the same run.

A pair is a hit when its exact keys are equal, or when its embeddings are at least
MENTORQ_ANSWER_CACHE_MIN_SIMILARITY apart in cosine similarity (the configured embedding model,
the vector the ask job stores and searches) and the content check passes: what `tasks/ask/task.py`
does with a neighbour. A false hit is a must-miss pair that hits; the paraphrase share is the share
of should-hit pairs that hit. Nothing is asserted here; tests/ask/test_question_identity.py
holds the rule to the labels without the embeddings.
"""

from __future__ import annotations

import json
import re
import statistics
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks._harness import print_table
from core.ask import questions
from core.settings import get_settings
from workers.embeddings import get_embedding_provider

PAIRS_FILE = Path(__file__).with_name("data") / "question_pairs.json"
THRESHOLDS = (0.8, 0.85, 0.9, 0.95)


# --- the rule before issue 23, copied here as the baseline (core/ask/questions.py at 82e60fd) ---------

_OLD_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_OLD_STOP_WORDS = frozenset(
    """a an the of to in on at for from by with about into over as and or
    is are was were be been being am do does did done doing have has had having
    i me my we our you your it its this that these those there here
    what which who whom whose how why when where
    can could would should shall will may might must
    please tell explain describe give show me us some any""".split()
)
_OLD_CONTRACTIONS = {"n't": " not", "'s": "", "'re": "", "'ve": "", "'ll": "", "'d": "", "'m": ""}


def old_normalize_question(question: str) -> str:
    text = unicodedata.normalize("NFKC", question).casefold().replace("’", "'")
    return " ".join(_OLD_WORD.findall(text))


def old_content_words(question: str) -> list[str]:
    text = unicodedata.normalize("NFKC", question).casefold().replace("’", "'")
    for contraction, replacement in _OLD_CONTRACTIONS.items():
        text = text.replace(contraction, replacement)
    return sorted({_old_singular(word) for word in _OLD_WORD.findall(text) if word not in _OLD_STOP_WORDS})


def _old_singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def old_same_content(a: Sequence[str], b: Sequence[str]) -> bool:
    return sorted(set(a)) == sorted(set(b))


# --- measuring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    name: str
    normalize: Callable[[str], str]
    content: Callable[[str], list[str]]
    same_content: Callable[[Sequence[str], Sequence[str]], bool]


OLD_RULE = Rule("before issue 23 (baseline)", old_normalize_question, old_content_words, old_same_content)
NEW_RULE = Rule("now", questions.normalize_question, questions.content_signature, questions.same_content)


@dataclass
class Figures:
    """One rule's outcome over the labelled pairs at one threshold."""

    false_hits: list[dict] = field(default_factory=list)
    missed_paraphrases: list[dict] = field(default_factory=list)
    paraphrase_hits: int = 0
    content_false_hits: int = 0  # must-miss pairs passing the content check (the embeddings aside)
    content_paraphrases: int = 0  # should-hit pairs passing the exact key or the content check


def load_pairs() -> list[dict]:
    """The labelled pairs: {a, b, label: hit|miss, why[, known_miss]}."""
    return json.loads(PAIRS_FILE.read_text(encoding="utf-8"))["pairs"]


def similarities(pairs: list[dict]) -> tuple[str, list[float]]:
    """The configured embedding model and each pair's cosine similarity under it (unit vectors)."""
    model = get_settings().embed_model
    texts = sorted({p["a"] for p in pairs} | {p["b"] for p in pairs})
    vectors = dict(zip(texts, get_embedding_provider(model).embed(texts, model=model).vectors, strict=True))
    return model, [sum(x * y for x, y in zip(vectors[p["a"]], vectors[p["b"]], strict=True)) for p in pairs]


def evaluate(rule: Rule, pairs: list[dict], similarity: list[float], threshold: float) -> Figures:
    figures = Figures()
    for pair, close in zip(pairs, similarity, strict=True):
        exact = rule.normalize(pair["a"]) == rule.normalize(pair["b"])
        content = rule.same_content(rule.content(pair["a"]), rule.content(pair["b"]))
        hit = exact or (close >= threshold and content)
        if pair["label"] == "miss":
            figures.content_false_hits += 1 if exact or content else 0
            if hit:
                figures.false_hits.append(pair | {"similarity": round(close, 3)})
        else:
            figures.paraphrase_hits += 1 if hit else 0
            if not hit:
                figures.missed_paraphrases.append(pair | {"similarity": round(close, 3)})
            figures.content_paraphrases += 1 if exact or content else 0
    return figures


def report() -> dict:
    """Print the pairs' figures for both rules and return them for the results file."""
    pairs = load_pairs()
    threshold = get_settings().answer_cache_min_similarity
    model, similarity = similarities(pairs)
    misses = sum(p["label"] == "miss" for p in pairs)
    paraphrases = len(pairs) - misses
    close_misses = sum(s >= threshold for p, s in zip(pairs, similarity, strict=True) if p["label"] == "miss")
    by_rule = {rule.name: evaluate(rule, pairs, similarity, threshold) for rule in (OLD_RULE, NEW_RULE)}
    print_table(
        ["rule", "false hits", "paraphrases hit", "share", "content check alone: false hits", "share"],
        [
            [
                name,
                f"{len(f.false_hits)} of {misses}",
                f"{f.paraphrase_hits} of {paraphrases}",
                f"{f.paraphrase_hits / paraphrases:.2f}",
                f"{f.content_false_hits} of {misses}",
                f"{f.content_paraphrases / paraphrases:.2f}",
            ]
            for name, f in by_rule.items()
        ],
        title=(
            f"labelled question pairs: {len(pairs)} ({paraphrases} should hit, {misses} must miss); {model}; "
            f"a hit: the same exact key, or similarity >= {threshold} and the content check"
        ),
    )
    miss_similarity = [s for p, s in zip(pairs, similarity, strict=True) if p["label"] == "miss"]
    hit_similarity = [s for p, s in zip(pairs, similarity, strict=True) if p["label"] == "hit"]
    print(
        f"similarity, median: must-miss pairs {statistics.median(miss_similarity):.3f}, "
        f"should-hit pairs {statistics.median(hit_similarity):.3f}; "
        f"must-miss pairs at or above {threshold}: {close_misses} of {misses} (embeddings alone would hit)"
    )
    sweep = {t: evaluate(NEW_RULE, pairs, similarity, t) for t in THRESHOLDS}
    print(
        "the rule now by threshold: "
        + "; ".join(
            f"{t}: false hits {len(f.false_hits)}, share {f.paraphrase_hits / paraphrases:.2f}"
            for t, f in sweep.items()
        )
    )
    for name, figures in by_rule.items():
        for pair in figures.false_hits:
            print(f"  false hit ({name}, similarity {pair['similarity']}): {pair['a']!r} / {pair['b']!r}")
    for pair in by_rule[NEW_RULE.name].missed_paraphrases:
        reason = "known miss" if "known_miss" in pair else "embeddings"
        print(
            f"  paraphrase missed ({reason}, similarity {pair['similarity']}): {pair['a']!r} / {pair['b']!r}"
        )
    return {
        "pairs": len(pairs),
        "should_hit": paraphrases,
        "must_miss": misses,
        "embed_model": model,
        "threshold": threshold,
        "must_miss_at_threshold": close_misses,
        "rules": {
            name: {
                "false_hits": len(f.false_hits),
                "paraphrase_hits": f.paraphrase_hits,
                "paraphrase_share": round(f.paraphrase_hits / paraphrases, 3),
                "content_alone_false_hits": f.content_false_hits,
                "content_alone_share": round(f.content_paraphrases / paraphrases, 3),
                "false_hit_pairs": [[p["a"], p["b"], p["similarity"]] for p in f.false_hits],
                "missed_paraphrases": [[p["a"], p["b"], p["similarity"]] for p in f.missed_paraphrases],
            }
            for name, f in by_rule.items()
        },
        "threshold_sweep": {
            str(t): {
                "false_hits": len(f.false_hits),
                "paraphrase_share": round(f.paraphrase_hits / paraphrases, 3),
            }
            for t, f in sweep.items()
        },
    }
