"""The citation check before issue 50, kept as the benchmarks' rules-only baseline: the embedding
model's similarity, then the agreement rules of core/claims.py (numbers, units, negation, hedges,
names), one passage at a time, else the closest few read together. ask and the tutor now use the
support model (workers/support/verify.py); `benchmarks.citations` measures both on the same
sentences, which is the only reason this code is still here.
"""

from __future__ import annotations

from core import claims
from tasks.ask.grounded_answer import (
    CITATION_MARGIN,
    Choice,
    Passage,
    Support,
    _speakers_disagreement,
    speaker_disagreement,
)

# The least cosine similarity of a sentence and a passage's closest sentence for the passage to
# support it (MENTORQ_CITATION_MIN_SUPPORT's default while the rules were ask's check).
SIMILARITY_THRESHOLD = 0.5
# A sentence joining facts from several passages is less close to each than a sentence taken from
# one: how far below the threshold such a passage may be, and how many are read.
JOINT_SLACK = 0.1
JOINT_PASSAGES = 5


def judge(
    text: str, cited: list[Passage], row: dict[int, Support], passages: list[Passage], *, threshold: float
) -> Choice:
    """The passages that support one sentence of the draft: one passage that does on its own (see
    `one_passage`), else the closest few read together (see `_together`), else none."""
    if not passages:
        return Choice(text, [], None, unsupported=True)
    single = one_passage(text, cited, row, passages, threshold=threshold)
    if not single.unsupported:
        return single
    together = _together(text, cited, row, passages, threshold=threshold)
    if together is not None:
        return together
    return single


def _together(
    text: str, cited: list[Passage], row: dict[int, Support], passages: list[Passage], *, threshold: float
) -> Choice | None:
    """A sentence that joins facts the library states apart ("born on July 11, 1909 in Los Angeles"
    from a passage with the date and another with the place, or a date given once in a dateline):
    the closest passages, each close enough to be about the same thing, read together with their
    documents' openings. Every fact must then be there and agree (claims.disagreement over the
    whole), and the sentence's own words must be the passages' (claims.unsupported_words): joined
    text says more than any one passage, so it must be held to saying only what is in it."""
    ranked = sorted(passages, key=lambda p: row[p.label].score, reverse=True)
    best = row[ranked[0].label].score
    floor = max(threshold - JOINT_SLACK, best - CITATION_MARGIN)
    candidates = {p.label: p for p in [*cited, *ranked[:JOINT_PASSAGES]]}.values()
    near = [p for p in candidates if row[p.label].score >= floor]
    if not near:
        return None
    evidence = "\n\n".join(p.chunk.text for p in near)
    # Names and amounts may also come from the documents' openings and the other passages shown.
    around = "\n\n".join(
        [
            *dict.fromkeys(p.context for p in passages if p.context),
            *(p.chunk.text for p in passages if p not in near),
        ]
    )
    if _speakers_disagreement(text, near, passages) is not None:
        return None
    if claims.disagreement(text, evidence, context=around) is not None:
        return None
    if claims.words_disagreement(text, f"{around}\n\n{evidence}") is not None:
        return None
    used = [p for p in near if claims.shares_content(text, p.evidence)] or near[:1]
    cited_labels = {p.label for p in cited}
    by = "model" if all(p.label in cited_labels for p in used) else "checker"
    return Choice(text, [(p, row[p.label]) for p in used], max(row[p.label].score for p in used), by=by)


def one_passage(
    text: str, cited: list[Passage], row: dict[int, Support], passages: list[Passage], *, threshold: float
) -> Choice:
    """One passage that supports the sentence on its own. A passage supports it when it is close
    in meaning (its closest sentence scores at least `threshold`, and nearly as well as the best
    passage: a shared rare word lifts every passage of a document a little, the right one much
    more) and agrees with it (claims.disagreement finds nothing). The model's own citations are
    kept when they support it; otherwise the closest passage that does is attributed by the checker;
    otherwise the sentence is unsupported, with the reason a close passage disagreed."""
    ranked = sorted(passages, key=lambda p: row[p.label].score, reverse=True)
    best = row[ranked[0].label].score
    floor = max(threshold, best - CITATION_MARGIN)
    found: dict[int, claims.Disagreement | None] = {}

    def agrees(passage: Passage) -> bool:
        if passage.label not in found:
            found[passage.label] = speaker_disagreement(text, passage, passages) or claims.disagreement(
                text, passage.chunk.text, context=passage.context
            )
        return found[passage.label] is None

    kept = [p for p in cited if row[p.label].score >= floor and agrees(p)]
    if kept:
        return Choice(text, [(p, row[p.label]) for p in kept], max(row[p.label].score for p in kept))
    for passage in ranked:
        if row[passage.label].score < floor:
            break
        if agrees(passage):
            return Choice(text, [(passage, row[passage.label])], row[passage.label].score, by="checker")
    reason = next((d.reason for p in [*cited, *ranked] if (d := found.get(p.label))), None)
    return Choice(text, [], best, unsupported=True, disagrees=reason)
