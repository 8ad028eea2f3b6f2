"""Who said it: a sentence that names a speaker must cite a passage where that speaker speaks
(tasks/ask/grounded_answer.attributed), and a recording's passages tell the model when and who. The
rule alone, for a sentence the support model kept, with both passages holding its evidence (as a
student's guess and the lecturer's correction of it do)."""

from __future__ import annotations

import uuid

from tasks.ask.grounded_answer import Passage, Support, attributed, passages_data, split_sentences
from workers.retrieval import Retrieved

GUESS = "I think the nucleus makes most of the cell's energy."
ANSWER = "The mitochondria make most of the cell's energy."
SAM_SAYS = "Sam says the mitochondria make most of the cell's energy."


def spoken(label: int, text: str, speakers: list[str], start_s: float | None = 760.0) -> Passage:
    chunk = Retrieved(label, uuid.uuid4(), "Office hours", text, "c", 1.0, start_s=start_s, speakers=speakers)
    return Passage(label, chunk)


def test_a_sentence_naming_the_wrong_speaker_is_not_supported_by_that_passage() -> None:
    student = spoken(1, f"{GUESS} Is that right?", ["Sam"])
    lecturer = spoken(2, f"Not quite. {ANSWER}", ["Dr. Lee"])
    row = {1: Support(0.62, GUESS), 2: Support(0.93, ANSWER)}
    sentence = "At 12:40, Sam says the mitochondria make most of the cell's energy."
    choice = attributed(sentence, [lecturer], [lecturer, student], row, 0.9, [student, lecturer])
    assert choice.unsupported and choice.disagrees == "speaker"


def test_the_citation_moves_to_the_passage_of_the_speaker_named() -> None:
    first = spoken(1, ANSWER, ["Dr. Lee"])
    second = spoken(2, ANSWER, ["Sam"], start_s=800.0)
    row = {1: Support(0.95, ANSWER), 2: Support(0.95, ANSWER)}
    choice = attributed(SAM_SAYS, [first], [first, second], row, 0.9, [first, second])
    assert not choice.unsupported and choice.by == "checker"
    assert [passage.label for passage, _ in choice.cited] == [2]


def test_naming_the_right_speaker_or_none_keeps_the_citation() -> None:
    student = spoken(1, GUESS, ["Sam"])
    lecturer = spoken(2, ANSWER, ["Dr. Lee", "Sam"])
    row = {1: Support(0.6, GUESS), 2: Support(0.95, ANSWER)}
    for sentence in (
        "At 12:40, Dr. Lee says the mitochondria make most of the cell's energy.",
        "The mitochondria make most of the cell's energy.",
        "Samantha notes that the mitochondria make most of the cell's energy.",  # not "Sam"
    ):
        choice = attributed(sentence, [lecturer], [lecturer, student], row, 0.9, [student, lecturer])
        assert not choice.unsupported and choice.by == "model", sentence


def test_a_passage_with_no_speakers_is_not_judged_by_who_is_named() -> None:
    plain = spoken(1, ANSWER, [], start_s=None)
    student = spoken(2, GUESS, ["Sam"])
    row = {1: Support(0.95, ANSWER), 2: Support(0.6, GUESS)}
    choice = attributed(SAM_SAYS, [plain], [plain], row, 0.9, [plain, student])
    assert not choice.unsupported


def test_the_prompt_says_when_a_recordings_passage_starts_and_who_speaks() -> None:
    late = spoken(1, ANSWER, ["Dr. Lee"], start_s=3725.4)
    page = Passage(2, Retrieved(2, uuid.uuid4(), "Notes", "Cells need energy.", "c", 1.0))
    first, second = passages_data([spoken(3, GUESS, ["Sam"]), late, page][1:])
    assert first == {
        "number": 1,
        "title": "Office hours",
        "at": "1:02:05",
        "speakers": ["Dr. Lee"],
        "text": ANSWER,
    }
    assert second == {"number": 2, "title": "Notes", "text": "Cells need energy."}
    (early,) = passages_data([spoken(1, GUESS, ["Sam"])])
    assert early["at"] == "12:40"


def test_a_title_before_a_name_ends_no_sentence() -> None:
    draft = (
        "At 12:40, Dr. Lee says the mitochondria make energy [1]. Prof. Ng, e.g. in week 2, agrees [2]. End."
    )
    assert split_sentences(draft) == [
        ("At 12:40, Dr. Lee says the mitochondria make energy.", [1]),
        ("Prof. Ng, e.g. in week 2, agrees.", [2]),
        ("End.", []),
    ]
