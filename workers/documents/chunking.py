"""Structure-aware chunking: sections stay apart, paragraphs stay whole when they fit.

Sizes are in tokens of the embedding model. The issue asks for "about 512 tokens", but the
default embedding model, all-MiniLM-L6-v2, reads at most 256 word pieces
(`SentenceTransformer(packaged_minilm_path()).max_seq_length == 256`, from the packaged
model's sentence_bert_config.json), [CLS] and [SEP] included: sentence-transformers
silently truncates the rest, so the end of a 512-token chunk would never reach its vector
and could not be found by vector search (measured: appending text past the first 256
word pieces leaves the embedding unchanged, cosine 1.0). So the `ingest` job should chunk
for that model with MINILM_TARGET_TOKENS (200): it leaves room under 254 for the
approximation's error and for a heading line (see Chunk.embedding_text). DEFAULT_TARGET_TOKENS
(512) suits models whose window is 512 tokens or more (nomic-embed-text, bge-m3...).
Pass the model's real tokenizer as `count_tokens` for exact sizes; the default is a fast
approximation calibrated against that tokenizer (see approx_token_count).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from workers.documents.model import ParsedDocument, Section

DEFAULT_TARGET_TOKENS = 512
DEFAULT_OVERLAP_TOKENS = 64
# For all-MiniLM-L6-v2 (max_seq_length 256 word pieces): see the module docstring.
MINILM_TARGET_TOKENS = 200
MINILM_OVERLAP_TOKENS = 32
SPEAKER_CHUNK_SHARE = 4  # a chunk with a quarter of the target from one speaker ends at the next

TokenCounter = Callable[[str], int]


@dataclass
class Chunk:
    """A piece of a document to embed and search, with where it came from."""

    text: str
    position: int
    heading_path: list[str]
    start_s: float | None
    end_s: float | None
    page: int | None
    token_count: int
    speakers: list[str] = field(default_factory=list)  # a transcript's, in order of first speech

    def embedding_text(self) -> str:
        """The text to embed: the heading path as a first line (context the text may lack), then the text."""
        if not self.heading_path:
            return self.text
        return " > ".join(self.heading_path) + "\n\n" + self.text


# -- token counting -----------------------------------------------------------------------

# What BERT's basic tokenizer separates: letter runs, digit runs, each punctuation mark,
# each CJK ideograph. Word pieces then split long or rare words further.
_PRE_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W\d_]+|\d+|[^\w\s]|_")
_SHORT_WORD_CHARS = 5
_CHARS_PER_EXTRA_PIECE = 4


def approx_token_count(text: str) -> int:
    """Approximate all-MiniLM-L6-v2 word pieces: one per pre-token, plus one per 4 letters past 5.

    Measured against the model's tokenizer: on technical README text (prose, code, URLs)
    median 1.07x the real count, 5th percentile 0.94x; on plain English prose about 1.25x.
    It errs high on purpose: a chunk sized with it rarely exceeds its target in real word
    pieces, and one that did would lose its end to truncation.
    """
    pieces = _PRE_TOKEN.findall(text)
    extra = sum(
        math.ceil((len(piece) - _SHORT_WORD_CHARS) / _CHARS_PER_EXTRA_PIECE)
        for piece in pieces
        if len(piece) > _SHORT_WORD_CHARS
    )
    return len(pieces) + extra


# -- the public entry point -------------------------------------------------------------


def chunk_document(
    doc: ParsedDocument,
    *,
    target_tokens: int = DEFAULT_TARGET_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
    count_tokens: TokenCounter | None = None,
) -> list[Chunk]:
    """Split a parsed document into chunks of at most about `target_tokens`, in document order.

    - Text under different heading paths (and different PDF pages) never shares a chunk.
    - Inside a section, chunks end at paragraph boundaries; a paragraph too long for one
      chunk is split at sentences, a sentence too long at words. Fenced code blocks split
      only when they alone are too long, then at lines.
    - Consecutive chunks of one section overlap: a chunk starts with the last sentences
      (up to `overlap_tokens`) of the chunk before it.
    - Transcript cues (sections with times) are grouped, never split: consecutive cues of
      one heading path fill a chunk up to the target, and the next chunk repeats the last
      cues (up to `overlap_tokens`). start_s/end_s span the chunk's cues. A single cue
      longer than the target becomes a chunk of its own, over the target. Where cues name their
      speakers, a chunk with a quarter of the target ends where the speaker changes, the overlap
      repeats only the next speaker's cues, and `speakers` lists who speaks in it.
    - Deterministic: the same document and arguments give the same chunks.
    """
    if target_tokens < 1:
        raise ValueError("target_tokens must be at least 1")
    if not 0 <= overlap_tokens < target_tokens:
        raise ValueError("overlap_tokens must be at least 0 and less than target_tokens")
    count = count_tokens or approx_token_count

    pieces: list[Chunk] = []
    for group in _section_groups(doc.sections):
        if group[0].start_s is not None:
            pieces.extend(_chunk_cues(group, target_tokens, overlap_tokens, count))
        else:
            pieces.extend(_chunk_section(group[0], target_tokens, overlap_tokens, count))
    for position, chunk in enumerate(pieces):
        chunk.position = position
    return pieces


def _section_groups(sections: list[Section]) -> list[list[Section]]:
    """Runs of consecutive timed cues under one heading path; every other section alone."""
    groups: list[list[Section]] = []
    for section in sections:
        if not section.text.strip():
            continue
        previous = groups[-1][-1] if groups else None
        if (
            section.start_s is not None
            and previous is not None
            and previous.start_s is not None
            and previous.heading_path == section.heading_path
        ):
            groups[-1].append(section)
        else:
            groups.append([section])
    return groups


# -- transcripts ------------------------------------------------------------------------


def _chunk_cues(cues: list[Section], target: int, overlap: int, count: TokenCounter) -> list[Chunk]:
    texts = [cue.text.strip() for cue in cues]
    tokens = [count(text) for text in texts]
    # A chunk holding this much of one speaker ends where another starts: a search for what one
    # person said, and a citation's "who said it", then see that person alone. Shorter turns
    # ("Yes.", "Right, and?") stay with their neighbours rather than become chunks of their own.
    one_speaker_enough = target // SPEAKER_CHUNK_SHARE
    chunks: list[Chunk] = []
    start = 0  # first new cue of the next chunk
    previous: tuple[int, int] | None = None  # [first, end) cues of the chunk before
    while start < len(cues):
        first = start
        used = 0
        if previous is not None and overlap:
            room = min(overlap, target - tokens[start])
            # Repeat trailing cues of the previous chunk, never all of it, and only the new first
            # cue's speaker's: the overlap must not carry one person's words into another's chunk.
            while (
                first - 1 > previous[0]
                and used + tokens[first - 1] <= room
                and cues[first - 1].speaker == cues[start].speaker
            ):
                first -= 1
                used += tokens[first]
        end = start
        total = used
        while end < len(cues) and (end == start or total + tokens[end] <= target):
            if end > start and _speaker_changes(cues[end - 1], cues[end]) and total >= one_speaker_enough:
                break
            total += tokens[end]
            end += 1
        group = cues[first:end]
        text = "\n".join(texts[first:end])
        chunks.append(
            Chunk(
                text=text,
                position=0,
                heading_path=list(group[0].heading_path),
                start_s=min(cue.start_s for cue in group if cue.start_s is not None),
                end_s=max((cue.end_s for cue in group if cue.end_s is not None), default=None),
                page=group[0].page,
                token_count=count(text),
                speakers=list(dict.fromkeys(cue.speaker for cue in group if cue.speaker)),
            )
        )
        previous = (first, end)
        start = end
    return chunks


def _speaker_changes(before: Section, after: Section) -> bool:
    return before.speaker is not None and after.speaker is not None and before.speaker != after.speaker


# -- prose ------------------------------------------------------------------------------

# Where one sentence ends and the next begins: terminal punctuation, closing quotes or
# brackets, then whitespace; or CJK terminal punctuation, which needs no space.
_SENTENCE_BREAK = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(\s+)|[\u3002\uff01\uff1f]+()")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_WORD = re.compile(r"\S+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_LINE_BREAK = re.compile(r"\n\s*")


@dataclass(frozen=True)
class _Unit:
    """A span of the section text that is packed whole: [start, end) and its token count."""

    start: int
    end: int
    tokens: int


def _chunk_section(section: Section, target: int, overlap: int, count: TokenCounter) -> list[Chunk]:
    text = section.text
    # Every unit leaves room for an overlap in front of it.
    unit_budget = target - overlap
    units: list[_Unit] = []
    for start, end, is_code in _blocks(text):
        units.extend(_split_block(text, start, end, is_code, unit_budget, count))

    chunks: list[Chunk] = []
    index = 0
    previous: tuple[int, int] | None = None  # the span of the chunk before
    while index < len(units):
        chunk_start = units[index].start
        used = 0
        if previous is not None and overlap:
            found = _overlap_start(text, previous, min(overlap, target - units[index].tokens), count)
            if found is not None:
                chunk_start, used = found
        end_index = index
        total = used
        while end_index < len(units) and (end_index == index or total + units[end_index].tokens <= target):
            total += units[end_index].tokens
            end_index += 1
        chunk_end = units[end_index - 1].end
        body = text[chunk_start:chunk_end]
        chunks.append(
            Chunk(
                text=body,
                position=0,
                heading_path=list(section.heading_path),
                start_s=section.start_s,
                end_s=section.end_s,
                page=section.page,
                token_count=count(body),
            )
        )
        previous = (chunk_start, chunk_end)
        index = end_index
    return chunks


def _blocks(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, is_code) of each paragraph and fenced code block; blank lines separate paragraphs."""
    blocks: list[tuple[int, int, bool]] = []
    block_start: int | None = None
    block_end = fence_start = 0
    fence: str | None = None
    offset = 0
    for line in text.split("\n"):
        line_start, line_end = offset, offset + len(line)
        offset = line_end + 1
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence) and set(stripped) == {fence[0]}:
                blocks.append((fence_start, line_end, True))
                block_start, fence = None, None
            continue
        opened = _FENCE.match(line)
        if opened:
            if block_start is not None:
                blocks.append((block_start, block_end, False))
            block_start = fence_start = line_start
            fence = opened.group(1)
            continue
        if not line.strip():
            if block_start is not None:
                blocks.append((block_start, block_end, False))
                block_start = None
            continue
        if block_start is None:
            block_start = line_start + (len(line) - len(line.lstrip()))
        block_end = line_end
    if block_start is not None:
        # An unclosed fence runs to the end of the text, as in CommonMark.
        blocks.append((block_start, len(text.rstrip()) if fence else block_end, fence is not None))
    return blocks


def _split_block(
    text: str, start: int, end: int, is_code: bool, budget: int, count: TokenCounter
) -> list[_Unit]:
    tokens = count(text[start:end])
    if tokens <= budget:
        return [_Unit(start, end, tokens)]
    pieces = _line_spans(text, start, end) if is_code else _sentence_spans(text, start, end)
    units: list[_Unit] = []
    for piece_start, piece_end in pieces:
        piece_tokens = count(text[piece_start:piece_end])
        if piece_tokens <= budget:
            units.append(_Unit(piece_start, piece_end, piece_tokens))
        else:
            units.extend(_word_units(text, piece_start, piece_end, budget, count))
    return units


def _sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _SENTENCE_BREAK.finditer(text, start, end):
        space = 1 if match.group(1) is not None else 2
        sentence_end = match.start(space)
        if sentence_end > cursor:
            spans.append((cursor, sentence_end))
        cursor = match.end()
    if cursor < end:
        spans.append((cursor, end))
    return [_strip_span(text, a, b) for a, b in spans if text[a:b].strip()]


def _line_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    offset = start
    for line in text[start:end].split("\n"):
        if line.strip():
            spans.append((offset, offset + len(line)))
        offset += len(line) + 1
    return spans


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    return start + (len(piece) - len(piece.lstrip())), end - (len(piece) - len(piece.rstrip()))


def _word_units(text: str, start: int, end: int, budget: int, count: TokenCounter) -> list[_Unit]:
    """A sentence too long for one chunk: runs of whole words; a word too long: runs of characters."""
    units: list[_Unit] = []
    run_start: int | None = None
    run_end = 0
    run_tokens = 0
    for match in _WORD.finditer(text, start, end):
        word_tokens = count(match.group())
        if word_tokens > budget:
            if run_start is not None:
                units.append(_Unit(run_start, run_end, run_tokens))
                run_start = None
            units.extend(_character_units(text, match.start(), match.end(), budget, count))
            continue
        if run_start is not None and run_tokens + word_tokens > budget:
            units.append(_Unit(run_start, run_end, run_tokens))
            run_start = None
        if run_start is None:
            run_start, run_tokens = match.start(), 0
        run_end = match.end()
        run_tokens += word_tokens
    if run_start is not None:
        units.append(_Unit(run_start, run_end, run_tokens))
    return units


def _character_units(text: str, start: int, end: int, budget: int, count: TokenCounter) -> list[_Unit]:
    units: list[_Unit] = []
    while start < end:
        # The longest prefix within the budget: gallop to a window that is too long, then
        # bisect, so a huge unbroken string costs O(n log n) counting, not O(n^2).
        low, high = start + 1, min(end, start + 64)
        while high < end and count(text[start:high]) <= budget:
            low, high = high, min(end, start + 2 * (high - start))
        while low < high:
            middle = (low + high + 1) // 2
            if count(text[start:middle]) <= budget:
                low = middle
            else:
                high = middle - 1
        units.append(_Unit(start, low, count(text[start:low])))
        start = low
    return units


def _overlap_start(
    text: str, previous: tuple[int, int], limit: int, count: TokenCounter
) -> tuple[int, int] | None:
    """Where the next chunk starts inside the previous one, and the overlap's token count.

    The earliest sentence (or paragraph) start whose tail fits in `limit` tokens, so an
    overlap reads as whole sentences; failing that (the last sentence alone is longer),
    the earliest line start, then the earliest word start. Never the previous chunk's own
    start: every chunk brings new text.
    """
    if limit <= 0:
        return None
    chunk_start, chunk_end = previous
    for starts in (_sentence_starts, _line_starts, _word_starts):
        best: tuple[int, int] | None = None
        for position in reversed(starts(text, chunk_start, chunk_end)):
            tokens = count(text[position:chunk_end])
            if tokens > limit:
                break
            best = (position, tokens)
        if best is not None:
            return best
    return None


def _sentence_starts(text: str, start: int, end: int) -> list[int]:
    """Sentence and paragraph starts strictly inside (start, end), ascending."""
    starts = {a for a, _ in _sentence_spans(text, start, end)}
    starts.update(match.end() for match in _PARAGRAPH_BREAK.finditer(text, start, end))
    return sorted(position for position in starts if start < position < end)


def _line_starts(text: str, start: int, end: int) -> list[int]:
    """Line starts (after indentation) strictly inside (start, end): lists, code, hard-wrapped PDF text."""
    starts = {match.end() for match in _LINE_BREAK.finditer(text, start, end)}
    return sorted(position for position in starts if start < position < end)


def _word_starts(text: str, start: int, end: int) -> list[int]:
    return [match.start() for match in _WORD.finditer(text, start, end) if match.start() > start]
