"""RAGTruth's question-answering development set checked as `ask` checks an answer (issue 50).

RAGTruth (Niu et al., ACL 2024; MIT) holds answers by six LLMs to MS MARCO questions, each written
from three retrieved passages, with the hallucinated spans human annotators marked. The development
set lives outside the repository, in the shared data folder beside it
(`../shared/data/ragtruth-qa-dev/`, with its NOTICE and LICENSE); the rest of the split is held out
and is never fetched.

Each answer is read as the checks read a draft (`readable_draft`, `without_markup`,
`split_sentences`); each sentence that the checks treat as a claim (not a question, not a short
uncited connective) is scored against the three passages (`support_matrix`) and judged as the
checker judges an uncited sentence (`judge`). A sentence overlapping a labelled span is
hallucinated. Beside it, the trivial rule the issue measured: a sentence is flagged when under half
of its content words appear in the passages.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from benchmarks._rules_checker import judge
from devstack.supervisor import PROJECT_ROOT
from tasks.ask.grounded_answer import (
    SCORED_MIN_WORDS,
    Passage,
    readable_draft,
    split_sentences,
    support_matrix,
    without_markup,
)
from workers.retrieval import Retrieved

DATA = PROJECT_ROOT.parent / "shared" / "data" / "ragtruth-qa-dev" / "qa_dev.jsonl"
_PASSAGE = re.compile(r"passage \d+:", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")
# Words that carry no content of their own, for the word-overlap rule.
_STOP = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being it its
    this that these those there here you your we our they their he she his her i me my not no yes can
    could will would should may might must do does did done have has had about into over than then so
    such also which who whom what when where why how all any each more most other some only own same
    very just based given passage passages""".split()
)


@dataclass(frozen=True)
class Sentence:
    text: str
    hallucinated: bool


@dataclass(frozen=True)
class Answer:
    source: str
    model: str
    passages: list[Passage]
    sentences: list[Sentence]  # the claims the checker judges
    hallucinated: bool  # any labelled span in the answer


def load(path: Path = DATA) -> list[Answer]:
    answers = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        passages = _passages(row)
        for response in row["responses"]:
            spans = [(label["start"], label["end"]) for label in response["labels"]]
            answers.append(
                Answer(
                    row["source_id"],
                    response["model"],
                    passages,
                    _claims(response["response"], spans),
                    bool(spans),
                )
            )
    return answers


def _passages(row: dict) -> list[Passage]:
    texts = [text.strip() for text in _PASSAGE.split(row["passages"]) if text.strip()]
    found = []
    for label, text in enumerate(texts, start=1):
        chunk_id = int(uuid.uuid5(uuid.NAMESPACE_URL, f"{row['source_id']}/{label}").int % 2**62)
        found.append(
            Passage(label, Retrieved(chunk_id, uuid.UUID(int=chunk_id), f"passage {label}", text, "", 1.0))
        )
    return found


def _claims(response: str, spans: list[tuple[int, int]]) -> list[Sentence]:
    """The sentences the checker judges, each hallucinated when its place in the answer overlaps a
    labelled span (found by searching the answer for the sentence's words, in order)."""
    readable = readable_draft(response)
    if readable is None:
        return []
    found, cursor = [], 0
    for text, numbers in split_sentences(without_markup(readable)):
        start = response.find(text[:40], cursor)
        if start < 0:
            start = cursor
        end = start + len(text)
        cursor = max(cursor, end)
        if text.endswith("?") or (len(text.split()) < SCORED_MIN_WORDS and not numbers):
            continue
        found.append(Sentence(text, any(start < b and a < end for a, b in spans)))
    return found


def checker_flags(answer: Answer, *, model: str, threshold: float) -> list[bool]:
    """Per claim, whether the checker leaves it unsupported (it would be removed)."""
    if not answer.sentences:
        return []
    rows = support_matrix([s.text for s in answer.sentences], answer.passages, model=model)
    return [
        judge(s.text, [], row, answer.passages, threshold=threshold).unsupported
        for s, row in zip(answer.sentences, rows, strict=True)
    ]


def model_flags(answer: Answer, *, with_rules: bool = False, model=None) -> list[bool]:
    """Per claim, whether verify() removes it (the support model: what ask and the tutor do now).
    With the agreement rules, also when core/claims.py finds a number, negation or name of the
    sentence that the passages it rests on say otherwise (to show whether the rules still add)."""
    from core import claims
    from workers.support.verify import verify

    passages = [p.chunk.text for p in answer.passages]
    verdicts = verify([s.text for s in answer.sentences], passages, model=model)
    flags = []
    for verdict in verdicts:
        flagged = not verdict.kept
        if with_rules and not flagged and verdict.passages:
            evidence = "\n\n".join(passages[i] for i in verdict.passages)
            flagged = claims.disagreement(verdict.text, evidence) is not None
        flags.append(flagged)
    return flags


def unsupported_scores(answers: list[Answer], model=None) -> tuple[list[float], list[int]]:
    """Each judged sentence's probability of "not stated" by verify()'s model, with its label (1:
    hallucinated), for ROC AUC and recall at a false-alarm rate."""
    from workers.support.verify import verify

    scores, labels = [], []
    for answer in answers:
        passages = [p.chunk.text for p in answer.passages]
        for sentence, verdict in zip(
            answer.sentences, verify([s.text for s in answer.sentences], passages, model=model), strict=True
        ):
            scores.append(0.0 if verdict.score is None else 1 - verdict.score)  # a non-claim is kept
            labels.append(int(sentence.hallucinated))
    return scores, labels


def in_split(answer: Answer, split: str) -> bool:
    """Whether the answer's question is in `split`: `train` or `validation` (training/support_data.py's
    split of the development set), or `all`."""
    from training.support_train import is_validation

    return split == "all" or is_validation(answer.source) == (split == "validation")


def overlap_flags(answer: Answer) -> list[bool]:
    """Per claim, whether under half of its content words appear in the passages."""
    known = {w for p in answer.passages for w in _WORD.findall(p.chunk.text.casefold())}
    flags = []
    for sentence in answer.sentences:
        words = [w for w in _WORD.findall(sentence.text.casefold()) if w not in _STOP]
        flags.append(bool(words) and sum(w in known for w in words) / len(words) < 0.5)
    return flags


def scores(answers: list[Answer], flags: list[list[bool]]) -> dict[str, float | int]:
    """Sentence recall and false alarms; answers caught, clean answers untouched, answer-level F1."""
    pairs = [(s.hallucinated, f) for a, fs in zip(answers, flags) for s, f in zip(a.sentences, fs)]
    bad = [f for h, f in pairs if h]
    good = [f for h, f in pairs if not h]
    caught = [any(fs) for a, fs in zip(answers, flags) if a.hallucinated]
    clean = [not any(fs) for a, fs in zip(answers, flags) if not a.hallucinated]
    true_pos = sum(caught)
    false_pos = len(clean) - sum(clean)
    precision = true_pos / max(true_pos + false_pos, 1)
    recall = true_pos / max(len(caught), 1)
    return {
        "answers": len(answers),
        "claims": len(pairs),
        "hallucinated_claims": len(bad),
        "sentence_recall": sum(bad) / max(len(bad), 1),
        "false_alarms": sum(good) / max(len(good), 1),
        "answers_caught": recall,
        "clean_untouched": sum(clean) / max(len(clean), 1),
        "answer_f1": 2 * precision * recall / max(precision + recall, 1e-9),
    }
