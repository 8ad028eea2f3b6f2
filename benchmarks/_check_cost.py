"""What the support check adds to an answer (issue 50): one answer of six sentences against five
passages, checked the way ask checked it before (similarity and the agreement rules, `judge`) and by
verify() (the support model), in the same run on the same answers.

The answers are RAGTruth development answers (real LLM sentences, ../shared/data) of six judged
sentences or more, cut to six, with their three passages and two passages of the next question
(retrieval's near misses), so five passages. The embedding step (every answer sentence and every
passage sentence) runs in both paths and is timed on its own: ask computes it for the citations'
quotes either way, so what the model adds is verify()'s time. Wall time and this process's CPU
time per answer (both cores may work), p50 and p90, after 3 uncounted answers.
"""

from __future__ import annotations

import statistics
import time

from benchmarks import _ragtruth
from benchmarks._rules_checker import SIMILARITY_THRESHOLD, judge
from core.settings import get_settings
from tasks.ask.grounded_answer import support_matrix
from workers.support.model import support_model
from workers.support.verify import verify

SENTENCES = 6
PASSAGES = 5
WARM_UP = 3


def answers(limit: int) -> list[tuple[list[str], list]]:
    found = _ragtruth.load()
    chosen = []
    for index, answer in enumerate(found):
        if len(answer.sentences) < SENTENCES:
            continue
        other = found[(index + 7) % len(found)]
        passages = [*answer.passages, *other.passages][:PASSAGES]
        passages = [p.__class__(label, p.chunk, p.head) for label, p in enumerate(passages, start=1)]
        chosen.append(([s.text for s in answer.sentences[:SENTENCES]], passages))
        if len(chosen) == limit + WARM_UP:
            break
    return chosen


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def report(limit: int = 40) -> dict:
    settings = get_settings()
    model, threshold = settings.embed_model, SIMILARITY_THRESHOLD
    support_model()  # loaded before timing, as a worker loads it at start
    rows: dict[str, list[tuple[float, float]]] = {"embedding": [], "rules only": [], "support model": []}
    for number, (sentences, passages) in enumerate(answers(limit)):
        wall, cpu = _clock()
        matrix = support_matrix(sentences, passages, model=model)
        embedded = _clock()
        for sentence, row in zip(sentences, matrix, strict=True):
            judge(sentence, [], row, passages, threshold=threshold)
        judged = _clock()
        verify(sentences, [p.evidence for p in passages])
        verified = _clock()
        if number < WARM_UP:
            continue
        rows["embedding"].append((embedded[0] - wall, embedded[1] - cpu))
        rows["rules only"].append((judged[0] - embedded[0], judged[1] - embedded[1]))
        rows["support model"].append((verified[0] - judged[0], verified[1] - judged[1]))
    return {
        name: {
            "answers": len(values),
            "wall_ms_p50": 1000 * statistics.median(w for w, _ in values),
            "wall_ms_p90": 1000 * statistics.quantiles([w for w, _ in values], n=10)[-1],
            "cpu_ms_p50": 1000 * statistics.median(c for _, c in values),
        }
        for name, values in rows.items()
    }
