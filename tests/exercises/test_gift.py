"""The GIFT reader and writer, without the stack: a corpus of questions shaped like the ones Moodle users
write, each with its exact import or refusal, and every import written back and read again (the
third-party corpus is test_gift_third_party.py's)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from core.exercises.gift import GiftQuestion, parse
from core.exercises.gift_export import format_question, gift_view
from core.exercises.rules import BLANK, AcceptedAnswer, AuthoredDraft, ChoiceKey, MatchPair, NumericAnswer

DATA = Path(__file__).parent / "data"
CORPUS = (DATA / "gift_corpus.gift").read_text()
EXPECTED = json.loads((DATA / "gift_corpus.json").read_text())
IMPORTED, SKIPPED = parse(CORPUS)


def test_the_corpus_imports_exactly_as_expected():
    assert len(EXPECTED) >= 60
    got = [
        {"line": q.line, "type": q.exercise_type, "draft": q.draft.model_dump(exclude_defaults=True)}
        for q in IMPORTED
    ]
    got += [{"line": s.line, "title": s.title, "refused": s.reason} for s in SKIPPED]
    got.sort(key=lambda item: item["line"])
    for expected, actual in zip(EXPECTED, got, strict=True):
        assert actual == expected


def test_the_corpus_covers_every_kind_and_every_refusal():
    kinds = {q.exercise_type for q in IMPORTED}
    assert kinds == {
        "multiple_choice",
        "multiple_answer",
        "matching",
        "qa",
        "numeric",
        "essay",
        "description",
    }
    drafts = [q.draft for q in IMPORTED]
    assert any(d.choices == ["True", "False"] for d in drafts)
    assert {2, 7} <= {len(q.draft.choices) for q in IMPORTED if q.exercise_type == "multiple_choice"}
    assert any(d.blank_at is not None for d in drafts if d.numeric_answers)
    assert any(k.weight < 0 for d in drafts for k in d.choice_keys)
    assert any(sum(k.weight == 1 for k in d.choice_keys) > 1 for d in drafts)
    assert {d.text_format for d in drafts} == {"moodle", "html", "markdown"}
    reasons = " ".join(s.reason for s in SKIPPED)
    for fault in (
        "category",
        "'->'",
        "items are not unique",
        "add up to 75%",
        "has no match",
        "needs at least 2",
    ):
        assert fault in reasons


@pytest.mark.parametrize("question", IMPORTED, ids=lambda q: q.title or f"line {q.line}")
def test_every_imported_question_exports_and_reads_back_the_same(question: GiftQuestion):
    written = format_question(question.exercise_type, question.draft)
    (again,), skipped = parse(written)
    assert not skipped
    assert again.exercise_type == question.exercise_type
    assert again.draft == question.draft
    assert format_question(again.exercise_type, again.draft) == written  # a fixed point


def test_the_issue_cases():
    (missing_word,), _ = parse("Grant is {~buried =entombed ~living} in Grant's tomb.")
    assert (
        missing_word.draft.prompt == f"Grant is {BLANK} in Grant's tomb." and missing_word.draft.blank_at == 9
    )
    (tagged,), _ = parse("What colour is the sky? {=[plain]blue ~green ~red}")
    assert tagged.draft.choices == ["blue", "green", "red"]
    (general,), _ = parse("Pick one. {=a ~b ~c ####Because a.}")
    assert general.draft.choices == ["a", "b", "c"] and general.draft.general_feedback == "Because a."
    (titled,), _ = parse("::Ratio 1\\:2:: Simplify 2\\:4 {=1\\:2 ~2\\:1 ~1\\:4}")
    assert (titled.title, titled.draft.prompt, titled.draft.choices[0]) == (
        "Ratio 1:2",
        "Simplify 2:4",
        "1:2",
    )
    (true_false,), _ = parse("The sky is blue. {T#It is blue.#Yes.}")
    assert true_false.draft.choice_keys[1].feedback == "It is blue."
    (arrow,), _ = parse("Which means implies? {=-> ~<- ~<->}")
    assert arrow.draft.answer == "->"
    (weighted,), _ = parse("Pick {=%100%a ~b ~c}")
    assert weighted.draft.choices == ["a", "b", "c"]
    (commented,), _ = parse("Pick one {\n=a\n// a comment line inside the question\n~b\n~c\n}")
    assert commented.draft.choices == ["a", "b", "c"]
    (first_wrong,), _ = parse("Which is right? {~wrong =right ~other}")
    assert first_wrong.draft.choices == ["wrong", "right", "other"] and first_wrong.draft.answer == "right"
    written = format_question(
        "qa", AuthoredDraft(prompt="Path?", answer="C:\\", accepted_answers=[{"text": "C:\\"}])
    )
    assert "C\\:\\\\" in written and parse(written)[0][0].draft.answer == "C:\\"


def test_weights_feedback_escapes_and_format_tags_are_understood():
    (question,), skipped = parse("[markdown]What is 50\\% of 10\\{?\\} {=%100%5#right! ~%-50%10#no ~%0%50}")
    assert not skipped
    assert question.draft.prompt == "What is 50\\% of 10{?}"
    assert question.draft.choices == ["5", "10", "50"] and question.draft.answer == "5"
    assert [key.weight for key in question.draft.choice_keys] == [1, -0.5, 0]
    assert question.draft.choice_keys[1].feedback == "no" and question.draft.text_format == "markdown"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("$CATEGORY: course/unit", "a category line"),
        ("::T Pick {=a ~b ~c}", "a title without its closing '::'"),
        ("Match {=a -> 1 =b 2}", "pair 2 has no '->'"),
        ("Match {=a -> 1 =A -> 2}", "the items are not unique"),
        ("Match {=a -> 1 = -> 2}", "at least 2 items to match, not 1"),
        ("Match {=a -> 1 =b -> }", "pair 2 has no match"),
        ("Tick {~%50%a ~%40%b ~%-100%c}", "weights add up to 90%, not 100%"),
        ("Tick {~a ~b ~c}", "without a right option"),
        ("Tick {~%100%a}", "needs 2 to 20 options, not 1"),
        ("::T:: [html]  {}", "a question without text"),
        ("::T:: [markdown]", "a description without text"),
    ],
)
def test_what_moodle_would_misread_is_skipped_with_the_reason(text: str, reason: str):
    questions, (skipped,) = parse(text)
    assert not questions and reason in skipped.reason and skipped.line == 1


def test_every_moodle_type_imports():
    (essay,), _ = parse("::E:: Write an essay on tides. {####Tides follow the Moon.}")
    assert essay.exercise_type == "essay" and essay.draft.general_feedback == "Tides follow the Moon."
    (inline,), _ = parse("Fill {} this essay blank.")
    assert (inline.exercise_type, inline.draft.prompt, inline.draft.blank_at) == (
        "essay",
        f"Fill {BLANK} this essay blank.",
        5,
    )
    (description,), _ = parse(r"::Intro:: [markdown]You may use **notes** \{now\}.")
    assert (description.exercise_type, description.draft.prompt) == (
        "description",
        "You may use **notes** {now}.",
    )
    assert description.draft.text_format == "markdown" and description.title == "Intro"
    (ticked,), _ = parse("Tick the primes {~%50%2 #yes ~%50%3 ~%-100%4 #no, 2 x 2}")
    assert ticked.exercise_type == "multiple_answer" and ticked.draft.answer is None
    assert [(k.weight, k.feedback) for k in ticked.draft.choice_keys] == [
        (0.5, "yes"),
        (0.5, None),
        (-1, "no, 2 x 2"),
    ]
    (pairs,), _ = parse("[html]Match {=[html]<b>a</b> -> 1 #not feedback =b -> 2 -> 3 = -> 4 ####General.}")
    assert pairs.exercise_type == "matching" and pairs.draft.general_feedback == "General."
    assert pairs.draft.pairs == [
        MatchPair(item="<b>a</b>", choice="1 #not feedback"),  # matching has no per-pair feedback in Moodle
        MatchPair(item="b", choice="2 -> 3"),  # cut at the first '->'
        MatchPair(item="", choice="4"),  # a distractor
    ]
    (two,), _ = parse("Which is right? {=this ~that}")
    assert two.exercise_type == "multiple_choice" and two.draft.choices == ["this", "that"]


def test_what_the_old_importer_refused_for_a_wrong_reason_now_imports():
    # Numeric questions, and two options worth 100% (valid in Moodle: either one earns full marks).
    (numeric,), _ = parse("How many? {#4:1}")
    assert numeric.exercise_type == "numeric" and numeric.draft.numeric_answers[0].tolerance == "1"
    (two_right,), _ = parse("::T:: Pick {=a ~b =c}")
    assert [key.weight for key in two_right.draft.choice_keys] == [1, 0, 1]


def test_only_the_four_format_tags_are_read():
    questions, _ = parse("[plain {=a ~b ~c}\n\n[HTML]Pick {=a ~b ~c}\n\n[plain]Pick {=a ~b ~c}")
    assert [(q.draft.text_format, q.draft.prompt) for q in questions] == [
        ("moodle", "[plain"),
        ("moodle", "[HTML]Pick"),
        ("plain", "Pick"),
    ]


def test_files_as_editors_save_them():
    text = "\ufeff// saved on Windows\r\n::A:: One? {=1 ~2 ~3}\r\n\r\n::B:: Two? {=2 ~1 ~3}\r\n"
    questions, skipped = parse(text)
    assert not skipped and [(q.line, q.title) for q in questions] == [(2, "A"), (4, "B")]
    old_mac = "::A:: One? {=1 ~2 ~3}\r\r::B:: Two?\r{=2 ~1 ~3}"
    assert [q.draft.prompt for q in parse(old_mac)[0]] == ["One?", "Two?"]


def test_a_written_question_reads_back_the_same():
    draft = AuthoredDraft(
        prompt="x = {1}? // not a comment",
        title="a: title",
        choices=["~a", "=b", "#c"],
        answer="=b",
    )
    (question,), _ = parse(format_question("multiple_choice", draft))
    assert (question.title, question.draft.prompt) == ("a: title", "x = {1}? // not a comment")
    # The author's order is kept (the correct option is no longer moved first).
    assert question.draft.choices == ["~a", "=b", "#c"] and question.draft.answer == "=b"
    with pytest.raises(ValueError, match="no GIFT form"):
        format_question("coding", AuthoredDraft(prompt="p"))


def test_texts_that_would_read_as_syntax_are_written_so_they_do_not():
    draft = AuthoredDraft(
        prompt="[html] is a format tag, \\n a newline",
        choices=["%50% of them", "[plain]x", "a\\", "->"],
        choice_keys=[ChoiceKey(weight=1), ChoiceKey(weight=0), ChoiceKey(weight=0.5), ChoiceKey(weight=-1)],
        answer="%50% of them",
        general_feedback="####",
    )
    (question,), skipped = parse(format_question("multiple_choice", draft))
    assert not skipped and gift_view("multiple_choice", question.draft) == gift_view("multiple_choice", draft)
    comment = AuthoredDraft(prompt="// is a C comment. True?", choices=["True", "False"], answer="True")
    (read,), _ = parse(format_question("multiple_choice", comment))
    assert read.draft.prompt == comment.prompt


def test_every_type_exports_and_reads_back():
    drafts = [
        (
            "description",
            AuthoredDraft(prompt="[html] is not a tag here: read {this} first.\nThen go on.", title="Intro"),
        ),
        (
            "essay",
            AuthoredDraft(prompt="Discuss tides.", general_feedback="The Moon.", rubric="mentions the Moon"),
        ),
        (
            "multiple_answer",
            AuthoredDraft(
                prompt="Tick the primes",
                choices=["%2", "3 = three", "4"],
                choice_keys=[
                    ChoiceKey(weight=0.5),
                    ChoiceKey(weight=0.5, feedback="#3"),
                    ChoiceKey(weight=-1),
                ],
            ),
        ),
        (
            "matching",
            AuthoredDraft(
                prompt="Match them",
                text_format="html",
                pairs=[
                    MatchPair(item="[plain]x", choice="1 -> one"),
                    MatchPair(item="a ~ b = c", choice="{2}"),
                    MatchPair(item="", choice="#3"),
                ],
            ),
        ),
    ]
    for exercise_type, draft in drafts:
        written = format_question(exercise_type, draft)
        (question,), skipped = parse(written)
        assert not skipped and question.exercise_type == exercise_type, written
        assert gift_view(exercise_type, question.draft) == gift_view(exercise_type, draft), written
    arrow = AuthoredDraft(
        prompt="Match", pairs=[MatchPair(item="a -> b", choice="1"), MatchPair(item="c", choice="2")]
    )
    with pytest.raises(ValueError, match="holding '->'"):
        format_question("matching", arrow)


def test_what_gift_cannot_hold_is_refused_on_export_with_the_reason():
    rubric = AuthoredDraft(prompt="Explain osmosis.", answer="Water moves...", rubric="mentions membranes")
    with pytest.raises(ValueError, match="graded by the model"):
        format_question("qa", rubric)
    arrows = AuthoredDraft(
        prompt="Arrow?", answer="->", accepted_answers=[AcceptedAnswer(text="->"), AcceptedAnswer(text="=>")]
    )
    with pytest.raises(ValueError, match="matching question"):
        format_question("qa", arrows)
    single = arrows.model_copy(update={"accepted_answers": arrows.accepted_answers[:1]})
    (question,), _ = parse(format_question("qa", single))
    assert question.draft.accepted_answers == single.accepted_answers


NASTY = [
    "~",
    "=",
    "#",
    "{",
    "}",
    ":",
    "::",
    "\\",
    "\\n",
    "%",
    "%50%",
    "->",
    "[html]",
    "//",
    "####",
    " ",
    "T",
    "_____",
]


def nasty_text(rng: random.Random) -> str:
    """Text made of GIFT's syntax (no bare newline: GIFT has no place for one)."""
    return "".join(rng.choice([*NASTY, "word", "x", "é"]) for _ in range(rng.randint(1, 6))).strip() or "x"


def nasty_drafts(rng: random.Random) -> list[tuple[str, AuthoredDraft]]:
    choices = list(dict.fromkeys(nasty_text(rng) for _ in range(4)))
    mc = AuthoredDraft(
        prompt=nasty_text(rng),
        title=nasty_text(rng),
        text_format=rng.choice(["moodle", "html", "plain", "markdown"]),
        choices=choices,
        choice_keys=[ChoiceKey(weight=1, feedback=nasty_text(rng))]
        + [ChoiceKey(weight=rng.choice([0, 0.5, -0.25]), feedback=nasty_text(rng)) for _ in choices[1:]],
        answer=choices[0],
        general_feedback=nasty_text(rng),
    )
    before = nasty_text(rng)
    numeric = AuthoredDraft(
        prompt=f"{before} {BLANK} {nasty_text(rng)}",
        blank_at=len(before) + 1,
        answer="-1.5",
        numeric_answers=[NumericAnswer(value="-1.5", tolerance="0.5", feedback=nasty_text(rng))],
        other_feedback=nasty_text(rng),
    )
    accepted = [AcceptedAnswer(text=nasty_text(rng).replace("->", "").strip() or "x") for _ in range(2)]
    qa = AuthoredDraft(prompt=nasty_text(rng), answer=accepted[0].text, accepted_answers=accepted)
    ticked = AuthoredDraft(
        prompt=nasty_text(rng),
        choices=choices,
        choice_keys=[ChoiceKey(weight=1, feedback=nasty_text(rng))]
        + [ChoiceKey(weight=rng.choice([0, -0.5, -1]), feedback=nasty_text(rng)) for _ in choices[1:]],
    )
    items = list(dict.fromkeys(nasty_text(rng).replace("->", "").strip() or "x" for _ in range(3)))
    pairs = [MatchPair(item=item, choice=nasty_text(rng)) for item in items] + [
        MatchPair(choice=nasty_text(rng))
    ]
    matching = AuthoredDraft(prompt=nasty_text(rng), pairs=pairs, general_feedback=nasty_text(rng))
    essay = AuthoredDraft(prompt=nasty_text(rng), title=nasty_text(rng), general_feedback=nasty_text(rng))
    description = AuthoredDraft(
        prompt=nasty_text(rng), text_format=rng.choice(["moodle", "html", "markdown"])
    )
    return [
        ("multiple_choice", mc),
        ("numeric", numeric),
        ("qa", qa),
        ("multiple_answer", ticked),
        ("matching", matching),
        ("essay", essay),
        ("description", description),
    ]


def test_texts_full_of_gift_syntax_round_trip():
    rng = random.Random(23)
    refused, tried = [], 0
    for _ in range(150):
        for exercise_type, draft in nasty_drafts(rng):
            tried += 1
            try:
                written = format_question(exercise_type, draft)
            except ValueError as error:  # only ever with its reason, never a silent change
                refused.append(str(error))
                continue
            (question,), skipped = parse(written)
            assert not skipped, written
            assert gift_view(question.exercise_type, question.draft) == gift_view(exercise_type, draft), (
                written
            )
    # What is refused is what the publish gate refuses anyway (options equal once spacing and case go).
    assert all("not unique" in reason or "GIFT form would" in reason for reason in refused)
    assert len(refused) < tried / 10


GIFT_SYNTAX = [*"~=#{}:\\%->[]/ \n\tTF0123456789.eE+-_*abc", "::", "####", "[html]", "[plain]", "//", "\\n"]
GIFT_SYNTAX += ["$CATEGORY:", "TRUE", "..", "->", "\r", "\ufeff", "\ue000", "\u00a0", "\u2028"]


def test_random_gift_is_read_or_refused_and_every_import_round_trips():
    rng = random.Random(8)
    imported = 0
    for _ in range(5000):
        text = "".join(rng.choice(GIFT_SYNTAX) for _ in range(rng.randint(1, 40)))
        questions, skipped = parse(text)  # never raises: a question imports or is skipped with a reason
        assert all(s.reason for s in skipped)
        for question in questions:
            imported += 1
            (again,), _ = parse(format_question(question.exercise_type, question.draft))
            assert again.draft == question.draft, text
    assert imported > 50
