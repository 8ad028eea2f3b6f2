"""Chunking: sizes, overlap, structure (headings, paragraphs, code, cues) and determinism."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from workers.documents import (
    MINILM_TARGET_TOKENS,
    Chunk,
    ParsedDocument,
    Section,
    approx_token_count,
    chunk_document,
    parse_document,
)

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "knowledge"
WORDS = (
    "memory",
    "review",
    "spacing",
    "recall",
    "practice",
    "feedback",
    "interval",
    "lecture",
    "notes",
    "exam",
)


def sentence(n: int, length: int = 12) -> str:
    """A distinct, deterministic sentence: 'S17 memory review ... .'"""
    return f"S{n} " + " ".join(WORDS[(n + i) % len(WORDS)] for i in range(length - 1)) + "."


def paragraph(start: int, sentences: int) -> str:
    return " ".join(sentence(start + i) for i in range(sentences))


def doc_of(*sections: Section) -> ParsedDocument:
    return ParsedDocument(format="markdown", title=None, sections=list(sections), metadata={})


def overlap_between(first: str, second: str) -> str:
    """The longest start of `second` that is also the end of `first`."""
    for size in range(min(len(first), len(second)), 0, -1):
        if first.endswith(second[:size]):
            return second[:size]
    return ""


def words_of(text: str) -> list[str]:
    return text.split()


def test_chunks_stay_within_the_target_and_cover_the_section_in_order() -> None:
    text = "\n\n".join(paragraph(i * 10, 6) for i in range(12))  # 12 paragraphs of ~100 tokens
    chunks = chunk_document(doc_of(Section(text, ["Guide"])), target_tokens=256, overlap_tokens=40)
    assert len(chunks) > 4
    assert [c.position for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.token_count == approx_token_count(chunk.text) <= 256
        assert chunk.heading_path == ["Guide"]
    # Dropping each chunk's overlap and joining gives back every word once, in order.
    rebuilt = words_of(chunks[0].text)
    for before, after in zip(chunks, chunks[1:]):
        rebuilt += words_of(after.text[len(overlap_between(before.text, after.text)) :])
    assert rebuilt == words_of(text)


def test_consecutive_chunks_of_a_section_overlap_by_about_the_overlap() -> None:
    text = "\n\n".join(paragraph(i * 10, 6) for i in range(12))
    chunks = chunk_document(doc_of(Section(text, [])), target_tokens=256, overlap_tokens=48)
    for before, after in zip(chunks, chunks[1:]):
        shared = overlap_between(before.text, after.text)
        assert 16 <= approx_token_count(shared) <= 48, shared
        assert re.match(r"S\d+ ", shared), "the overlap starts at a sentence"


def test_no_overlap_when_asked_for_none_and_chunks_end_at_paragraphs() -> None:
    paragraphs = [paragraph(i * 10, 4) for i in range(10)]  # ~70 tokens each
    chunks = chunk_document(doc_of(Section("\n\n".join(paragraphs), [])), target_tokens=200, overlap_tokens=0)
    for before, after in zip(chunks, chunks[1:]):
        assert overlap_between(before.text, after.text) == ""
    for chunk in chunks:
        assert all(part in paragraphs for part in chunk.text.split("\n\n")), "only whole paragraphs"
    assert sum(len(c.text.split("\n\n")) for c in chunks) == len(paragraphs)


def test_a_long_paragraph_splits_at_sentences() -> None:
    text = paragraph(0, 60)  # one paragraph of ~1000 tokens
    chunks = chunk_document(doc_of(Section(text, [])), target_tokens=200, overlap_tokens=0)
    assert len(chunks) >= 5
    for chunk in chunks:
        assert chunk.token_count <= 200
        assert re.fullmatch(r"S\d+ [^.]*\.( S\d+ [^.]*\.)*", chunk.text), "whole sentences only"
    assert " ".join(c.text for c in chunks) == text


def test_a_sentence_longer_than_the_target_splits_at_words() -> None:
    long_sentence = " ".join(f"word{i}" for i in range(600))  # no full stop anywhere
    chunks = chunk_document(doc_of(Section(long_sentence, [])), target_tokens=100, overlap_tokens=10)
    assert len(chunks) > 6
    assert all(c.token_count <= 100 for c in chunks)
    rebuilt = words_of(chunks[0].text)
    for before, after in zip(chunks, chunks[1:]):
        shared = overlap_between(before.text, after.text)
        assert shared and shared[0] == "w", "overlap at a word start"
        rebuilt += words_of(after.text[len(shared) :])
    assert rebuilt == long_sentence.split()


def test_a_word_longer_than_the_target_splits_at_characters() -> None:
    huge_word = "x" * 5000
    chunks = chunk_document(doc_of(Section(huge_word, [])), target_tokens=100, overlap_tokens=0)
    assert len(chunks) > 1
    assert all(c.token_count <= 100 for c in chunks)
    assert "".join(c.text for c in chunks) == huge_word


def test_sections_are_never_merged_and_keep_their_heading_paths() -> None:
    doc = parse_document(
        b"# A\n\nTiny.\n\n## B\n\nAlso tiny.\n\n# C\n\nStill tiny.\n", filename="n.md", content_type=None
    )
    chunks = chunk_document(doc)
    assert [(c.heading_path, c.text) for c in chunks] == [
        (["A"], "Tiny."),
        (["A", "B"], "Also tiny."),
        (["C"], "Still tiny."),
    ]
    assert chunks[1].embedding_text() == "A > B\n\nAlso tiny."


def test_pages_are_never_merged_and_keep_their_numbers() -> None:
    pages = [Section("Page one.", [], page=1), Section("Page two.", [], page=2)]
    doc = ParsedDocument("pdf", None, pages, {})
    assert [(c.page, c.text) for c in chunk_document(doc)] == [(1, "Page one."), (2, "Page two.")]


def test_fenced_code_blocks_stay_whole_when_they_fit() -> None:
    code = "```python\ndef review(card):\n\n    return card.due\n\n\nprint(review)\n```"
    text = "\n\n".join([paragraph(0, 5), code, paragraph(50, 5)])
    chunks = chunk_document(doc_of(Section(text, [])), target_tokens=120, overlap_tokens=0)
    assert any(code in c.text for c in chunks)
    assert not any(("def review" in c.text) != ("print(review)" in c.text) for c in chunks)


def test_a_code_block_too_long_for_one_chunk_splits_at_lines() -> None:
    lines = [f"value_{i} = compute({i}, {i + 1})" for i in range(80)]
    code = "```\n" + "\n".join(lines) + "\n```"
    chunks = chunk_document(doc_of(Section(code, [])), target_tokens=100, overlap_tokens=0)
    assert len(chunks) > 2
    for chunk in chunks:
        assert chunk.token_count <= 100
        for line in chunk.text.split("\n"):
            assert line in lines or line == "```", "lines are never cut"


# -- transcripts ------------------------------------------------------------------------


def cues(count: int, words: int = 9) -> list[Section]:
    return [Section(sentence(i, words), [], start_s=i * 3.0, end_s=i * 3.0 + 2.5) for i in range(count)]


def test_transcript_cues_are_grouped_never_split_and_keep_their_time_range() -> None:
    source = cues(60)
    by_text = {cue.text: cue for cue in source}
    chunks = chunk_document(ParsedDocument("srt", None, source, {}), target_tokens=120, overlap_tokens=30)
    assert len(chunks) > 3
    previous: list[str] = []
    for chunk in chunks:
        lines = chunk.text.split("\n")
        assert all(line in by_text for line in lines), "every line is a whole cue"
        indexes = [source.index(by_text[line]) for line in lines]
        assert indexes == list(range(indexes[0], indexes[-1] + 1)), "consecutive cues"
        assert chunk.start_s == by_text[lines[0]].start_s
        assert chunk.end_s == by_text[lines[-1]].end_s
        assert chunk.token_count <= 120
        if previous:
            assert lines[0] in previous, "starts with trailing cues of the chunk before"
            assert lines[0] != previous[0], "but not with all of them"
            assert lines[-1] not in previous, "and brings new ones"
        previous = lines
    assert chunks[-1].text.split("\n")[-1] == source[-1].text


def test_a_cue_longer_than_the_target_is_its_own_chunk() -> None:
    source = cues(3)
    source[1] = Section(paragraph(100, 10), [], start_s=3.0, end_s=5.5)
    chunks = chunk_document(ParsedDocument("vtt", None, source, {}), target_tokens=50, overlap_tokens=0)
    assert [(c.start_s, c.end_s) for c in chunks] == [(0.0, 2.5), (3.0, 5.5), (6.0, 8.5)]
    assert chunks[1].token_count > 50


def spoken(turns: list[tuple[str, int]], words: int = 9) -> list[Section]:
    """Cues in turns: (speaker, how many cues), in order."""
    speakers = [speaker for speaker, count in turns for _ in range(count)]
    return [
        Section(sentence(i, words), [], start_s=i * 3.0, end_s=i * 3.0 + 2.5, speaker=speaker)
        for i, speaker in enumerate(speakers)
    ]


def test_a_chunk_of_a_conversation_ends_where_the_speaker_changes() -> None:
    source = spoken([("Ana", 6), ("Ben", 6), ("Ana", 1), ("Ben", 6)])
    speaker_of = {cue.text: cue.speaker for cue in source}
    chunks = chunk_document(ParsedDocument("vtt", None, source, {}), target_tokens=200, overlap_tokens=30)
    for chunk in chunks:
        said_by = list(dict.fromkeys(speaker_of[line] for line in chunk.text.split("\n")))
        assert chunk.speakers == said_by, "each chunk names who speaks in it, in order"
    # Six cues fill a chunk past a quarter of the target: the next speaker starts a new one, with
    # none of the words before repeated as overlap; Ana's one-cue reply is too short to stand alone.
    assert [chunk.speakers for chunk in chunks] == [["Ana"], ["Ben"], ["Ana", "Ben"]]
    first_lines = [chunk.text.split("\n")[0] for chunk in chunks]
    assert first_lines == [source[0].text, source[6].text, source[12].text]


def test_cues_without_speakers_chunk_as_before_with_no_speakers() -> None:
    source = cues(30)
    named = [Section(c.text, [], start_s=c.start_s, end_s=c.end_s, speaker="S1") for c in source]
    plain = chunk_document(ParsedDocument("srt", None, source, {}), target_tokens=120, overlap_tokens=30)
    one_voice = chunk_document(ParsedDocument("srt", None, named, {}), target_tokens=120, overlap_tokens=30)
    assert [c.text for c in plain] == [c.text for c in one_voice]
    assert all(c.speakers == [] for c in plain) and all(c.speakers == ["S1"] for c in one_voice)


def test_the_sample_transcript_chunks_by_cue() -> None:
    data = (SAMPLES / "lecture-memory.srt").read_bytes()
    doc = parse_document(data, filename="lecture-memory.srt", content_type=None)
    chunks = chunk_document(doc, target_tokens=MINILM_TARGET_TOKENS, overlap_tokens=32)
    assert len(chunks) >= 2
    assert chunks[0].start_s == doc.sections[0].start_s
    assert chunks[-1].end_s == doc.sections[-1].end_s
    cue_texts = {s.text for s in doc.sections}
    assert all(line in cue_texts for c in chunks for line in c.text.split("\n"))


# -- counting, determinism, arguments ---------------------------------------------------


def test_a_real_tokenizer_can_be_passed_in() -> None:
    def count_words(text: str) -> int:
        return len(text.split())

    text = "\n\n".join(paragraph(i * 10, 2) for i in range(20))  # paragraphs of 24 words
    doc = doc_of(Section(text, []))
    chunks = chunk_document(doc, target_tokens=100, overlap_tokens=20, count_tokens=count_words)
    assert all(c.token_count == count_words(c.text) <= 100 for c in chunks)
    assert max(c.token_count for c in chunks) > 80, "chunks fill up to the target"


def test_same_bytes_give_the_same_chunks() -> None:
    results = []
    for _ in range(2):
        for name in sorted(p.name for p in SAMPLES.iterdir() if p.suffix in {".md", ".srt", ".pdf"}):
            doc = parse_document((SAMPLES / name).read_bytes(), filename=name, content_type=None)
            results.append([vars(c) for c in chunk_document(doc, target_tokens=120, overlap_tokens=24)])
    half = len(results) // 2
    assert json.dumps(results[:half]) == json.dumps(results[half:])
    assert all(isinstance(c, dict) for r in results for c in r)


@pytest.mark.parametrize(("target", "overlap"), [(0, 0), (100, 100), (100, -1)])
def test_bad_sizes_are_refused(target: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_document(doc_of(Section("text", [])), target_tokens=target, overlap_tokens=overlap)


def test_the_approximation_stays_above_the_minilm_tokenizer_on_the_samples() -> None:
    """MINILM_TARGET_TOKENS chunks, heading line included, fit all-MiniLM-L6-v2's 256 word pieces."""
    from core.catalog import packaged_minilm_path

    tokenizers = pytest.importorskip("tokenizers")
    try:
        model = packaged_minilm_path()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    config = json.loads((model / "sentence_bert_config.json").read_text())
    assert config["max_seq_length"] == 256
    tokenizer = tokenizers.Tokenizer.from_file(str(model / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()

    def word_pieces(text: str) -> int:
        return len(tokenizer.encode(text).ids)  # with [CLS] and [SEP], as the model sees it

    for path in sorted(SAMPLES.iterdir()):
        if path.suffix not in {".md", ".srt", ".pdf"}:
            continue
        doc = parse_document(path.read_bytes(), filename=path.name, content_type=None)
        for chunk in chunk_document(doc, target_tokens=MINILM_TARGET_TOKENS, overlap_tokens=32):
            assert word_pieces(chunk.text) - 2 <= chunk.token_count, "the approximation errs high"
            assert word_pieces(chunk.embedding_text()) <= config["max_seq_length"]


def test_chunk_is_a_plain_dataclass() -> None:
    chunk = Chunk("t", 0, [], None, None, None, 1)
    assert vars(chunk) == {
        "text": "t",
        "position": 0,
        "heading_path": [],
        "start_s": None,
        "end_s": None,
        "page": None,
        "token_count": 1,
        "speakers": [],
    }
