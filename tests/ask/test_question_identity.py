"""When two questions are the same question (core.ask.questions), driven by the labelled pairs in
benchmarks/data/question_pairs.json: a must-miss pair shares neither the exact key nor the content
signature, so no embedding, however close, can make it a hit; a paraphrase shares one of them.

The embedding half of a semantic hit is measured, with the real model, by `benchmarks.ask`."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest

from core.ask import questions

PAIRS_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "question_pairs.json"
PAIRS = json.loads(PAIRS_FILE.read_text(encoding="utf-8"))["pairs"]
CONTEXT = questions.context_key(
    collection_versions={uuid.UUID(int=1): 3},
    owner_id=None,
    instructions_version=1,
    model="m",
    embed_model="e",
)

# The examples issue 23 found answered from each other's cache entry.
ISSUE_EXAMPLES = [
    ("What is C++?", "What is C#?"),
    ("x+1", "x-1"),
    ("==", "!="),
    ("x > y", "x < y"),
    ("-5 squared", "5 squared"),
    ("Is a dog bigger than a cat?", "Is a cat bigger than a dog?"),
    ("How do I convert Celsius to Fahrenheit?", "How do I convert Fahrenheit to Celsius?"),
    ("When was the Eiffel Tower built?", "Where was the Eiffel Tower built?"),
    ("Can I retake the exam?", "Must I retake the exam?"),
]
# The pairs issue 42's probe found answered from each other's cache entry.
PROBE_EXAMPLES = [
    ("What does %M mean in strftime?", "What does %m mean in strftime?"),
    ("What does \\D match in a regex?", "What does \\d match in a regex?"),
    ("How many bits are in a MB?", "How many bits are in a Mb?"),
    ("Is O(n) slower than O(n log n)?", "Is o(n) slower than O(n log n)?"),
    ("What does ls -a do?", "What does ls -A do?"),
    ("What does ✓ mean on my grade?", "What does ✗ mean on my grade?"),
    ("What is x̄ in statistics?", "What is x in statistics?"),
    ("How do I compute p̂?", "How do I compute p?"),
    ("What is pandas?", "What is a panda?"),
    ("Is pi exactly 3.14?", "Is pi 3.14?"),
]


def same_key(a: str, b: str) -> bool:
    return questions.lookup_key(CONTEXT, a) == questions.lookup_key(CONTEXT, b)


def same_signature(a: str, b: str) -> bool:
    return questions.same_content(questions.content_signature(a), questions.content_signature(b))


def answered_by(a: str, b: str) -> bool:
    """Whether one could answer the other, if their embeddings were as close as can be."""
    return same_key(a, b) or same_signature(a, b)


def pair_id(pair: dict) -> str:
    return f"{pair['a']} | {pair['b']}"


MUST_MISS = [p for p in PAIRS if p["label"] == "miss"]
PARAPHRASES = [p for p in PAIRS if p["label"] == "hit" and "known_miss" not in p]
KNOWN_MISSES = [p for p in PAIRS if p["label"] == "hit" and "known_miss" in p]


def test_the_labelled_set_is_large_varied_and_holds_every_example_of_the_issue():
    assert len(PAIRS) >= 60
    assert all(p["label"] in ("hit", "miss") and p["why"] and p["a"] != p["b"] for p in PAIRS)
    assert len(MUST_MISS) >= 30 and len(PARAPHRASES) >= 30
    assert len({(p["a"], p["b"]) for p in PAIRS}) == len(PAIRS)
    labelled = {(p["a"], p["b"]) for p in MUST_MISS}
    assert set(ISSUE_EXAMPLES) <= labelled and set(PROBE_EXAMPLES) <= labelled


@pytest.mark.parametrize("pair", MUST_MISS, ids=pair_id)
def test_a_different_question_shares_neither_the_key_nor_the_content(pair):
    assert questions.normalize_question(pair["a"]) != questions.normalize_question(pair["b"])
    assert not same_key(pair["a"], pair["b"])
    assert not same_signature(pair["a"], pair["b"]), questions.content_signature(pair["a"])


@pytest.mark.parametrize("pair", PARAPHRASES, ids=pair_id)
def test_a_paraphrase_shares_the_key_or_the_content(pair):
    assert answered_by(pair["a"], pair["b"]), (
        questions.content_signature(pair["a"]),
        questions.content_signature(pair["b"]),
    )


@pytest.mark.parametrize("pair", KNOWN_MISSES, ids=pair_id)
def test_a_known_miss_still_misses(pair):
    # The data says why the rule misses it; a rule that starts catching it must update the data.
    assert not answered_by(pair["a"], pair["b"])


def test_at_least_four_in_five_labelled_paraphrases_hit():
    paraphrases = [p for p in PAIRS if p["label"] == "hit"]
    hits = sum(answered_by(p["a"], p["b"]) for p in paraphrases)
    assert hits / len(paraphrases) >= 0.8, f"{hits}/{len(paraphrases)}"


@pytest.mark.parametrize(
    ("question", "normalized"),
    [
        ("  What is  C++? ", "what is C ++"),
        ("What is 5²?", "what is 5 ^ 2"),
        ("What is 5! ?", "what is 5 !"),
        ("Hello! What is x!=y?", "hello what is x != y"),
        ("What is f'(x)?", "what is f ' ( x )"),
        ("What is a self-attention layer?", "what is a self attention layer"),
        ("What is x-1?", "what is x - 1"),
        ("Is −5 < 3.5?", "is - 5 < 3.5"),
        ("What is ½ of $10?", "what is 1 / 2 of $ 10"),
        ("What is __init__ in .NET's os.path?", "what is __init__ in .net's os.path"),
        ("Is x ≤ 30 °C?", "is x ≤ 30 ° C"),
        ("Is it sa\u200bfe?", "is it safe"),
        ("What does ✓️ mean?", "what does ✓ mean"),
        ("Is 1️⃣ a keycap?", "is 1\u20e3 a keycap"),
        ("What is x\u0304?", "what is x\u0304"),
        ("« What is \u201cFSRS\u201d? »", "what is fsrs"),
    ],
)
def test_the_exact_key_keeps_every_sign_and_drops_only_what_frames_a_sentence(question, normalized):
    assert questions.normalize_question(question) == normalized


def test_a_name_in_a_formula_is_never_dropped_as_a_pronoun_or_an_article():
    assert not same_signature("What does i++ return?", "What does ++i return?")
    assert not same_signature("Is a + b commutative?", "Is + b commutative?")
    assert same_signature("Is it safe?", "is it safe")


def test_a_question_made_only_of_small_words_keeps_them():
    assert not same_signature('What does "the" mean?', 'What does "a" mean?')
    assert not same_signature("What is it?", "What is this?")


def test_an_entry_stored_under_an_older_rule_is_never_found():
    # Issue 23's rule keyed on the bare normalized text and stored sorted content words.
    old_key = hashlib.sha256(f"{CONTEXT}\nwhat is c".encode()).hexdigest()
    assert questions.lookup_key(CONTEXT, "What is C?") != old_key
    old_words = ["c", "what"]
    signature = questions.content_signature("What is C?")
    assert not questions.same_content(old_words, signature)
    assert not questions.same_content(signature[1:], signature[1:])
    assert questions.same_content(signature, questions.content_signature("what's C"))
    # Issue 42's: key version 2 folded case and dropped symbols, so "%m" was filed where "%M" is
    # looked up; signatures "sig:2". Neither is ever found under the current rule.
    version_2 = hashlib.sha256(f"q2\n{CONTEXT}\nwhat does % m mean in strftime".encode()).hexdigest()
    for asked in ("What does %M mean in strftime?", "What does %m mean in strftime?"):
        assert questions.lookup_key(CONTEXT, asked) != version_2
    stored = ["sig:2", "q:what", "w:%", "w:m", "w:mean", "w:in", "w:strftime"]
    assert not questions.same_content(stored, stored)
    assert questions.KEY_VERSION == 4 and questions.SIGNATURE_VERSION == "sig:4"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What does %M mean in strftime?", "What does %m mean in strftime?"),
        ("What does % M mean in strftime?", "what does % m mean in strftime?"),
        ("What does \\W match?", "What does \\w match?"),
        ("How big is 5MB?", "How big is 5Mb?"),
        ("How big is a GB?", "How big is a Gb?"),
        ("How big is a MB?", "how big is a mb?"),
        ("Is O(n) fast?", "is o(n) fast?"),
        ("What does ls -A do?", "what does ls -a do?"),
        ("What does rm -R do?", "What does rm -r do?"),
        ("What does getElementById do?", "What does getelementbyid do?"),
        ("What is MAX_SIZE?", "What is max_size?"),
        ("What is kB?", "What is KB?"),
        ("What is CO?", "What is Co?"),
        ("What is C?", "What is c?"),
        ("Is F(x) the antiderivative?", "Is f(x) the antiderivative?"),
        ("What is $PATH?", "What is $path?"),
        ("What is IT?", "What is it?"),
        ("What does I++ do?", "What does i++ do?"),
    ],
)
def test_case_is_kept_where_it_is_the_meaning(a, b):
    assert questions.normalize_question(a) != questions.normalize_question(b)
    assert not answered_by(a, b), (questions.content_signature(a), questions.content_signature(b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What is FSRS?", "what is fsrs"),
        ("WHAT IS A GPU?", "what is a gpu"),
        ("How do GPUs speed up training?", "how do gpus speed up training"),
        ("What does %M mean?", "what does %M mean"),
        ('"What does -A do in ls?"', "what does -A do in ls"),
        ("Hi! Is O(n) fast? I'm not sure.", "hi! is O(n) fast? i'm not sure."),
        ("In Python, what is a[1:]?", "in Python, what is a[1:]?"),
        ("Can I pass -A twice?", "can i pass -A twice"),
    ],
)
def test_case_is_folded_where_it_says_nothing(a, b):
    assert questions.normalize_question(a) == questions.normalize_question(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Is ✓ a pass?", "Is ✗ a pass?"),
        ("What does 👍 mean?", "What does 👎 mean?"),
        ("What does 👍🏽 mean?", "What does 👍 mean?"),
        ("What is x̄?", "What is x?"),
        ("What is p̂?", "What is p?"),
        ("What is ñ?", "What is n?"),
        ("Is 5‰ a lot?", "Is 5 a lot?"),
        ("What is § 3?", "What is 3?"),
        ("What is ⌊x⌋?", "What is x?"),
        ("Is a·b a product?", "Is a b a product?"),
    ],
)
def test_symbols_emoji_and_combining_marks_are_kept(a, b):
    assert questions.normalize_question(a) != questions.normalize_question(b)
    assert not answered_by(a, b)


def test_a_presentation_selector_or_a_quote_changes_nothing():
    assert same_key("What does ✓️ mean?", "What does ✓ mean?")
    assert same_key("What is «FSRS»?", 'What is "FSRS"?')
    assert same_key("What is `x`?", "What is x?")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What is pandas?", "What is a panda?"),
        ("How does pandas work?", "How do pandas work?"),
        ("Isn't Rails fast?", "Aren't rails fast?"),
        ("Is pi exactly 3.14?", "Is pi 3.14?"),
        ("Is only one answer correct?", "Is one answer correct?"),
        ("Do I need at least 50% to pass?", "Do I need 50% to pass?"),
    ],
)
def test_the_content_check_refuses_a_different_word(a, b):
    assert not same_signature(a, b), questions.content_signature(a)


def test_plurals_still_fold_where_they_are_plurals():
    assert same_signature("What are closures in JavaScript?", "What is a closure in JavaScript?")
    assert same_signature("Why are flashcards useful?", "Why is a flashcard useful?")
    assert same_signature("What is pandas?", "what's pandas")


def test_modals_and_tense_do_not_trade_places_across_clauses():
    assert not same_signature(
        "Was the course harder when the exam is online?", "Is the course harder when the exam was online?"
    )
    assert same_signature("When was the tower built?", "The tower was built when?")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What does a ? b : c return?", "What does a b c return?"),  # the pair issue 50's hidden set found
        ("What does x?y:z return in C?", "What does x y z return in C?"),
        ("Is a ? b : c the same as if a: b else c?", "Is a b c the same as if a b else c?"),
    ],
)
def test_a_conditional_expressions_signs_stay_in_the_key(a, b):
    assert not answered_by(a, b)
    assert "?" in questions.normalize_question(a) and ":" in questions.normalize_question(a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What does a ? b : c return?", "what does a ? b : c return"),
        ("Python: what is a list?", "Python what is a list"),  # a colon before an explanation
        ("Is it safe? And is it fast?", "is it safe and is it fast"),  # two questions, no operator
    ],
)
def test_question_marks_and_colons_of_prose_are_still_folded(a, b):
    assert same_key(a, b)
