"""core/claims.py, core/claim_text.py and core/amounts.py without a model: amounts, negations,
hedges and names, and `disagreement` on the cases the issue found (similarity kept them at
0.97-0.99) and on paraphrases it must leave alone."""

from __future__ import annotations

import math

import pytest

from core.amounts import quantities
from core.claim_text import negation_indices, sentences, stem, tokenize
from core.claims import CITATION_HEDGES, PROFILE_HEDGES, disagreement

REFUNDS = (
    "Refunds are paid within 3 weeks of the request. Digital downloads are not refundable once opened, "
    "and boxes can be returned for free."
)
GIL = (
    "The global interpreter lock (GIL) lets only one thread execute Python bytecode at a time. "
    "Threads still help with I/O-bound work, because the GIL is released while a thread waits."
)


def amounts(text: str) -> list[tuple[float, str | None]]:
    return [(q.value, q.unit) for q in quantities(text, tokenize(text))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("within 3 weeks", [(3, "week")]),
        ("within three weeks", [(3, "week")]),
        ("10,000 words and 2.5 hours", [(10_000, "word"), (2.5, "hour")]),
        ("50% of students, 12 percent of them", [(50, "percent"), (12, "percent")]),
        ("twenty-one days, twenty five minutes", [(21, "day"), (25, "minute")]),
        ("a ten-minute session for a curious twelve-year-old", [(10, "minute"), (12, "year")]),
        ("forty to fifty minutes", [(40, "minute"), (50, "minute")]),
        ("two or three days", [(2, "day"), (3, "day")]),
        ("a dozen cards, a couple of weeks", [(12, "card"), (2, "week")]),
        ("more than half an hour", [(0.5, "hour")]),
        ("review twice a week, once a day", [(2, "time"), (1, "week"), (1, "time"), (1, "day")]),
        ("all at once, once opened", []),
        ("every card starts in box one", [(1, "#box")]),
        ("after the third reading", [(3, "reading")]),
        ("in 1885, Ebbinghaus", [(1885, None)]),
        ("since 2019 - mostly pipelines", [(2019, None)]),
        ("one of the best, two of them", []),  # number words that count nothing
    ],
)
def test_amounts_are_read_with_their_unit(text: str, expected: list):
    assert amounts(text) == expected


def test_a_vague_amount_keeps_its_unit():
    [(value, unit)] = amounts("within a few days")
    assert math.isnan(value) and unit == "day"


def test_sentences_keep_abbreviations_initials_and_wrapped_lines_whole():
    text = (
        "Use a tool, e.g. Anki. John F. Kennedy spoke. I have never used R. I use SQL.\n"
        "If you never look at it again, you\nwill lose most of it.\n\n# Heading\n- one item\n2. another"
    )
    assert sentences(text) == [
        "Use a tool, e.g. Anki.",
        "John F. Kennedy spoke.",
        "I have never used R.",
        "I use SQL.",
        "If you never look at it again, you will lose most of it.",
        "Heading",
        "one item",
        "another",
    ]


def test_negation_cues():
    def cues(text: str) -> int:
        return len(negation_indices(tokenize(text)))

    assert cues("I don’t know Java") == 1  # a typographic apostrophe
    assert cues("It cannot work without feedback") == 2
    assert cues("Neither Java nor Go") == 1
    assert cues("not only a test but also practice") == 0
    assert cues("no more than three cards") == 0
    assert cues("if you fail to recall it") == 1
    assert cues("she no longer studies") == 1


def test_stems_join_the_forms_of_a_word():
    assert stem("reviewing") == stem("reviewed") == stem("reviews") == stem("review")
    assert stem("memories") == stem("memory") and stem("analyses") == stem("analysis")
    assert stem("spacing") == stem("spaced") == stem("space")


@pytest.mark.parametrize(
    ("claim", "reason"),
    [
        # What the issue found: kept as supported at 0.99 and 0.97.
        ("Refunds are paid within 2 weeks.", "number"),
        ("Digital downloads are refundable once opened.", "negation"),
        ("Refunds are paid within 3 days.", "unit"),
        ("Refunds are paid within 3 months.", "unit"),
        ("Refunds have been paid within 3 weeks since 2009.", "number"),  # a number the source lacks
        ("Boxes cannot be returned.", "negation"),
        ("Digital downloads are always refundable, even when opened.", "negation"),
        ("Refunds are paid within 3 weeks by PayPal.", "entity"),
    ],
)
def test_a_claim_that_says_something_else_disagrees(claim: str, reason: str):
    found = disagreement(claim, REFUNDS)
    assert found is not None and found.reason == reason, found


@pytest.mark.parametrize(
    "claim",
    [
        "Refunds are paid within three weeks.",
        "Refunds arrive within 21 days of the request.",
        "Digital downloads cannot be refunded once they are opened.",
        "Digital downloads are non-refundable once opened.",
        "Opened digital downloads are not refundable.",
        "Boxes can be sent back for free.",
        # The negation of the other clause ("not refundable") does not flip this one.
        "Boxes can be returned for free, and refunds take 3 weeks.",
    ],
)
def test_a_faithful_paraphrase_agrees(claim: str):
    assert disagreement(claim, REFUNDS) is None


SCHEDULE = (
    "Review new material on the day you learn it. Review it again one day later. "
    "Then after three days, one week, two weeks and one month."
)


def test_a_sentence_that_joins_two_of_the_sources_keeps_each_amount_where_it_was_said():
    # One answer sentence often joins two steps of a list: "one day" is the second step's, not a
    # rival of the third step's "one week". A rival amount in a sentence about something else stays one.
    assert (
        disagreement("Review it again one day later, then after three days and one week.", SCHEDULE) is None
    )
    found = disagreement("Review it again two days later, then after three days and one week.", SCHEDULE)
    assert found is not None and found.reason in ("number", "unit")
    other = "Refunds are paid within 3 weeks. Exchanges are processed within two weeks."
    assert disagreement("Refunds are paid within 2 weeks.", other).reason == "number"


@pytest.mark.parametrize(
    ("claim", "agrees"),
    [
        ("The GIL lets only one thread execute Python bytecode at a time.", True),
        ("The GIL does not let more than one thread run Python bytecode at a time.", False),  # antonym
        ("The GIL lets two threads execute Python bytecode at a time.", False),
        ("Threads do not help with I/O-bound work.", False),
        ("Threads never help with I/O-bound work, because the GIL is held while a thread waits.", False),
        ("The GIL is not released while a thread waits.", False),
        ("No, the GIL is released while a thread waits.", True),  # "No," answers; it does not negate
        ("The GIL lets just one thread run bytecode at once.", True),
    ],
)
def test_negated_claims_about_the_gil(claim: str, agrees: bool):
    assert (disagreement(claim, GIL) is None) is agrees, disagreement(claim, GIL)


def test_negation_and_antonym_cancel_out():
    source = "Recalling an answer you had to reconstruct is hard."
    assert disagreement("Recalling an answer you had to reconstruct is not easy.", source) is None
    found = disagreement("Recalling an answer you had to reconstruct is easy.", source)
    assert found is not None and found.reason == "antonym"
    found = disagreement(
        "Students who re-read remember more a week later.", "Students who re-read remember less a week later."
    )
    assert found is not None and found.reason == "antonym"


def test_an_antonym_beside_its_own_opposite_still_flips():
    """Both clauses hold "increasing": the flip is in the verb, counted, not merely present."""
    source = "Increasing the temperature increases the reaction rate."
    found = disagreement("Increasing the temperature decreases the reaction rate.", source)
    assert found is not None and found.reason == "antonym"
    assert disagreement("Increasing the temperature increases the rate of the reaction.", source) is None


def test_a_dropped_hedge_disagrees_and_an_added_one_does_not():
    source = "Students who stay up all night before an exam often remember less."
    found = disagreement("Students who stay up all night before an exam remember less.", source)
    assert found is not None and found.reason == "hedge" and found.claim == "often"
    assert disagreement("Students who stay up all night before an exam may remember less.", source) is None
    # A hedge that comes after the shared words is about something else.
    profile = "I also play the cello in an amateur orchestra and want to learn music theory."
    assert (
        disagreement("She plays the cello in an amateur orchestra.", profile, hedges=PROFILE_HEDGES) is None
    )
    assert CITATION_HEDGES == ("uncertain", "frequency")


def test_profile_hedges_catch_a_wish_stated_as_a_fact():
    source = "My goal is to become a machine learning engineer within two years."
    found = disagreement("She is a machine learning engineer.", source, hedges=PROFILE_HEDGES)
    assert found is not None and found.reason == "hedge"
    assert (
        disagreement("She wants to become an ML engineer within two years.", source, hedges=PROFILE_HEDGES)
        is None
    )
    found = disagreement(
        "She wants to become an ML engineer within five years.", source, hedges=PROFILE_HEDGES
    )
    assert found is not None and found.reason == "number"


def test_names():
    source = (
        "The Feynman technique is named after the physicist Richard Feynman, who was known for explaining "
        "difficult ideas in plain language. Tools such as Anki help with machine learning courses."
    )
    found = disagreement("Einstein was known for explaining difficult ideas in plain language.", source)
    assert found is not None and found.reason == "entity" and found.source == "Feynman"
    found = disagreement("Tools such as Quizlet help.", source)
    assert found is not None and found.reason == "entity" and found.claim == "Quizlet"
    assert disagreement("Feynman's technique is named after Richard Feynman.", source) is None
    assert disagreement("Anki helps with ML courses.", source) is None  # an alias
    # A capitalised first word the source lacks is not a name unless it replaces one.
    assert disagreement("Physicists like Richard Feynman explained ideas in plain language.", source) is None


def test_amounts_compare_in_the_aligned_sentence_and_by_unit():
    schedule = "Review it again one day later. Then after three days, one week, two weeks and one month."
    assert disagreement("Then review it after two weeks.", schedule) is None
    found = disagreement("Review it again one week later.", schedule)
    assert found is not None and (found.reason, found.claim, found.source) == ("unit", "one week", "one day")
    found = disagreement("Review it again two days later.", schedule)
    assert found is not None and (found.reason, found.claim, found.source) == (
        "number",
        "two days",
        "one day",
    )
    found = disagreement(
        "You will lose most of it within a few hours.", "You will lose most of it within a few days."
    )
    assert found is not None and found.reason == "unit"
    found = disagreement(
        "It is familiar after the second reading.", "It is familiar after the third reading."
    )
    assert found is not None and found.reason == "number"
    assert disagreement("Ask after 30 minutes.", "Ask when you are stuck for more than half an hour.") is None
    assert (
        disagreement("When you are stuck on one problem, ask.", "When you are stuck on a problem, ask.")
        is None
    )


def test_a_claim_with_nothing_to_compare_is_left_to_the_similarity():
    assert disagreement("Zebras are striped.", REFUNDS) is None
    assert disagreement("", REFUNDS) is None
    assert disagreement("Refunds are paid within 3 weeks.", "") is not None  # its number is nowhere


# --- issue 42: rules found on real claims (WiCE's dev split) and the probe's two false passes --------


def test_a_count_said_without_a_number_disagrees():
    claim = "The global interpreter lock allows many threads to execute Python bytecode at the same time."
    found = disagreement(claim, GIL)
    assert found is not None and found.reason == "number"
    assert disagreement("Only one thread runs Python bytecode at a time under the GIL.", GIL) is None


def test_a_definition_whose_category_the_source_never_names_disagrees():
    source = (
        "Spaced repetition schedules reviews so that each fact returns just before you would forget it. "
        "A failed recall sends a card back to the first box."
    )
    found = disagreement("Spaced repetition is a refund policy for failed recalls.", source)
    assert found is not None and found.reason == "entity" and "policy" in found.claim
    assert disagreement("Spaced repetition is a schedule of reviews.", source + " It is a schedule.") is None


@pytest.mark.parametrize(
    ("claim", "source"),
    [
        (
            "Psychologists call this benefit the spacing effect.",
            "Psychologists call the benefit the testing effect.",
        ),
        (
            "The technique is named after the chemist Richard Feynman.",
            "It is named after the physicist Richard Feynman.",
        ),
        (
            "During sleep the heart replays what you practised.",
            "During sleep the brain replays what you practised.",
        ),
    ],
)
def test_a_word_swapped_into_the_same_slot_disagrees(claim: str, source: str):
    found = disagreement(claim, source)
    assert found is not None and found.reason == "entity"


def test_a_word_inflected_in_the_same_slot_agrees():
    source = (
        "Students who stay up all night often remember less than those who study less and sleep normally."
    )
    claim = (
        "Students who stay up all night often remember less than peers who studied less and slept normally."
    )
    assert disagreement(claim, source) is None


def test_opposites_align_their_clauses_and_a_less_suffix_negates():
    source = "If you never look at it again, you will lose most of it within a few days."
    assert (
        disagreement("If you never look at something again, you will keep most of it.", source).reason
        == "antonym"
    )
    found = disagreement(
        "The effect is strongest when recall is effortless.",
        "The effect is strongest when recall takes some effort.",
    )
    assert found is not None and found.reason == "negation"


def test_dates_and_counted_nouns_are_read_as_a_reader_reads_them():
    # A day written as an ordinal, an academic year, a score, "once again", the same count of people.
    assert (
        disagreement(
            "The title fight was on April 9, 2011.", "The title fight takes place on April 9th. 2011."
        )
        is None
    )
    assert (
        disagreement(
            "It changes during the 2018–19 academic year.", "It changes in the 2018-2019 academic year."
        )
        is None
    )
    assert (
        disagreement(
            "United defeated Arsenal 5–4 in 1958.",
            "In 1958 United won by five goals to Arsenal's four, 5 in all.",
        )
        is None
    )
    assert disagreement("He pulled away once again to lead.", "He pulled away to lead.") is None
    assert disagreement("It gathered 66 playwrights.", "It gathered sixty-six writers.") is None
    found = disagreement("Refunds are paid within 3 days.", "Refunds are paid within 3 weeks.")
    assert found is not None and found.reason == "unit"


@pytest.mark.parametrize(
    ("claim", "source"),
    [
        ("It was released on U.S Election Day.", "It came out on US Election Day."),
        ("He was killed in the Libyan civil war.", "He was killed in the civil war in Libya."),
        ("She studied African-American history.", "She studied African American history."),
        ("Richard Amardi was selected for the team.", "Amardi was selected for the team."),
        ("It aired in November.", "It aired in Nov."),
    ],
)
def test_names_are_known_by_their_other_spellings(claim: str, source: str):
    assert disagreement(claim, source) is None


def test_a_surname_is_never_excused_by_a_first_name():
    found = disagreement(
        "Prince William was selected for the team.", "Prince Harry was selected for the team."
    )
    assert found is not None and found.reason == "entity"


def test_names_and_amounts_of_the_context_count_but_it_is_never_aligned():
    source = "The album came out on November 2, when the election was held."
    context = "Emotive (2004). The band's third album."
    assert disagreement("The album Emotive came out on November 2, 2004.", source) is not None
    assert disagreement("The album Emotive came out on November 2, 2004.", source, context=context) is None
    # A heading in the context shares words with the claim but decides nothing about its polarity.
    assert (
        disagreement(
            "Tobacco and alcohol are not allowed.",
            "Tobacco and alcohol are not allowed.",
            context="Alcohol and tobacco",
        )
        is None
    )


def test_a_claim_read_against_several_passages_may_add_little_of_its_own():
    from core.claims import unsupported_words

    source = "Spaced repetition schedules reviews. Recall after a failure starts the card again."
    assert unsupported_words("Spaced repetition is a refund policy for failed recalls.", source)
    assert unsupported_words("Spaced repetition schedules reviews after a failed recall.", source) == []


@pytest.mark.parametrize(
    ("claim", "source"),
    [
        # an acronym and what it stands for, either way round, or spelled out by the claim itself
        (
            "According to the CDC, the test finds 50% of cases.",
            "The test finds 50% of cases, say the Centers for Disease Control and Prevention.",
        ),
        ("The song sold 132,000 units in the United Kingdom.", "The song sold 132,000 units in the UK."),
        (
            "In 1971 it was shown at the National Air and Space Museum (NASM) in Washington.",
            "In 1971 it was shown at the National Air and Space Museum in Washington.",
        ),
        # a connective or a participle opening the sentence is no name
        ("However, Nelson left the band in July 2009.", "Nelson left ANTHRAX in July 2009."),
        ("According to Nelson, the band split in 2009.", "The band split in 2009, Nelson said."),
    ],
)
def test_names_are_known_by_their_acronyms_and_openers_are_no_names(claim: str, source: str):
    assert disagreement(claim, source) is None


def test_a_name_opening_the_sentence_is_no_opener_whatever_its_ending():
    # A suffix rule ("-ed" or "-ing" before a preposition) let a swapped first name through.
    for claim in ("Ahmed in the lab found the cause.", "Manning in the lab found the cause."):
        found = disagreement(claim, "In the lab, Tom found the cause.")
        assert found is not None and found.reason == "entity" and found.source == "Tom"


def test_an_acronym_or_a_name_the_source_never_spells_disagrees():
    source = "The test finds 50% of cases, say the Centers for Disease Control and Prevention."
    found = disagreement("According to the FBI, the test finds 50% of cases.", source)
    assert found is not None and found.reason == "entity" and found.claim == "FBI"
    found = disagreement(
        "The song sold 132,000 units in the United Kingdom.", "The song sold 132,000 units in the US."
    )
    assert found is not None and found.reason == "entity"


def test_years_and_numeric_dates_are_read_as_dates():
    # A year is no rival of a small bare number, a year after a month or a determiner is a year,
    # "18 October" is "October 18", and "2003.06.11" states the year and the day.
    assert (
        disagreement(
            "The court ruled on April 24, 2018, by a vote of 5-4.",
            "The court ruled 5-4 on Tuesday. Published April 24, 2018.",
        )
        is None
    )
    assert disagreement("The debates begin in June 2019.", "The debates begin in June. 2019.") is None
    assert disagreement("It was shown on 18 October 2018.", "It was shown on October 18, 2018.") is None
    found = disagreement("It was shown on 18 October 2018.", "It was shown on October 19, 2018.")
    assert found is not None and found.reason == "number"
    assert (
        disagreement("He was bishop of Arba from 11 June 2003.", "Bishop of Arba (2003.06.11 - 2009.05.07)")
        is None
    )
    found = disagreement(
        "He was bishop of Arba from 12 June 2003.", "Bishop of Arba (2003.06.11 - 2009.05.07)"
    )
    assert found is not None and found.reason == "number"
    found = disagreement("It won the cup in 2019.", "It won the cup in 2018.")
    assert found is not None and found.reason == "number" and found.source == "2018"


def test_a_conversion_in_brackets_is_the_same_amount_and_a_wrong_one_is_not():
    source = "The rounds weigh 23 pounds and are 18 inches long."
    assert disagreement("The rounds weigh 10 kg (23 lb) and are 18 in (460 mm) long.", source) is None
    assert disagreement("The rounds weigh 10 kg.", "The rounds weigh 22 pounds.") is None
    found = disagreement("The rounds weigh 10 kg (50 lb).", "The rounds weigh 10 kg.")
    assert found is not None and found.reason == "number" and found.claim == "50 lb"
    found = disagreement("The rounds weigh 10 kg.", "The rounds weigh 30 pounds.")
    assert found is not None and found.reason == "number" and found.source == "30 pounds"
