"""The citation checker on claims nobody here wrote: sentences of Wikipedia and the web pages they cite,
labelled by people (WiCE; benchmarks/data/wice/NOTICE.md names its source and licences).

A handful of WiCE's dev claims, each checked exactly as `benchmarks.citations --wice` checks all 707
(the page cut into passages by the ingestion chunker, the real embedding model, `judge()`): claims
whose support is spread over several sentences of the page, which the checker supports and one
passage read alone refuses, and unsupported claims it must still refuse. The whole corpus is the
benchmark's: embedding every page takes minutes.
"""

from __future__ import annotations

import pytest

from benchmarks import _wice
from core.settings import get_settings

# Indices in WiCE's dev split. Supported by the page, each only by facts it states apart (a date in
# one sentence, a team or a name in another): one passage read alone refuses each for a number.
SPREAD_OVER_SENTENCES = (41, 245, 289)
# Not supported by the page: a number or a name it never states.
NOT_SUPPORTED = (1, 15, 205, 325, 342, 343)


@pytest.fixture(scope="module")
def dev() -> list[_wice.Claim]:
    return _wice.load("dev")


@pytest.mark.parametrize("index", SPREAD_OVER_SENTENCES)
def test_a_claim_the_page_supports_across_sentences_is_supported(dev: list[_wice.Claim], index: int):
    claim = dev[index]
    assert claim.label == "supported"
    verdicts = _wice.verdicts(
        claim, model=get_settings().embed_model, threshold=get_settings().citation_min_support
    )
    assert verdicts["one passage, own text"] is not None, (
        "the case this test is about: one passage alone refuses it"
    )
    assert verdicts["checker"] is None, (claim.text, verdicts)


@pytest.mark.parametrize("index", NOT_SUPPORTED)
def test_a_claim_the_page_does_not_support_is_refused(dev: list[_wice.Claim], index: int):
    claim = dev[index]
    assert claim.label == "not_supported"
    verdicts = _wice.verdicts(
        claim, model=get_settings().embed_model, threshold=get_settings().citation_min_support
    )
    assert verdicts["checker"] in ("number", "entity"), (claim.text, verdicts)


def test_the_corpus_is_whole_and_labelled():
    counts = {split: len(_wice.load(split)) for split in ("dev", "test")}
    assert counts == {"dev": 349, "test": 358}
    labels = {claim.label for claim in _wice.load("test")}
    assert labels == set(_wice.LABELS)
