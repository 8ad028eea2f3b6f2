"""The amounts a sentence states ("3 weeks", "three weeks", "21 days", "50%", "twice", "box one"),
read with the unit word after them, and when two amounts are equal or contradict each other."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from core import claim_words as words
from core.claim_text import NUMBER_WORDS, TIME_ABBREVIATIONS, Token, is_negation, singular


@dataclass(frozen=True)
class Quantity:
    value: float  # NaN for a vague amount ("a few days")
    unit: str | None  # singular ("week"), "percent", "time" (once, twice), "#box" (box one), or None
    text: str
    index: int  # the token it starts at
    ordinal: bool = False
    # Compared only with a rival amount of the same kind, never required to be in the source: "one
    # problem" is "a problem", "the first step" numbers nothing, "a few days" is no number.
    weak: bool = False


def quantities(text: str, tokens: list[Token]) -> list[Quantity]:
    """The amounts a sentence states, each with the unit word after it, singular: "3 weeks",
    "three weeks", "twenty-five minutes", "ten-minute", "50%", "a dozen", "a couple of days",
    "half an hour", "once", "twice", "the third reading". A number word with no unit ("one of them")
    is not an amount; a range ("two or three days") gives both numbers the unit."""
    found: list[Quantity] = []
    index = 0
    while index < len(tokens):
        dated = _numeric_date(text, tokens, index)
        if dated is not None:
            date, index = dated
            found.extend(date)
            continue
        parsed = _amount(tokens, index)
        if parsed is None:
            index += 1
            continue
        value, after, unit, ordinal = parsed
        if ordinal and tokens[index].number is not None and _day_of_month(tokens, index):
            ordinal = False  # "April 9th" is the date "April 9"
        if unit is None and tokens[index].percent:
            unit = "percent"
        year = _written_year(tokens, index)
        if unit is None and not year:
            unit = _unit_after(text, tokens, after)
            after += 1 if unit is not None else 0  # the unit word is not an amount ("3 second ...")
            if unit is None and after < len(tokens) - 1 and tokens[after].lower in ("to", "or", "and", "-"):
                following = _amount(tokens, after + 1)  # a range: "two or three days"
                if following is not None:
                    unit = following[2] or _unit_after(text, tokens, following[1])
        month = _month_after(tokens, after)
        if unit is None and not year and month and tokens[index].number is not None and 1 <= value <= 31:
            unit, ordinal = "#" + month, False  # "18 October", "the 18th of October": "October 18"
        if unit is None and not ordinal and not year:
            unit = _label_before(text, tokens, index)  # "box one", "chapter 4"
        if unit is None and tokens[index].number is None and not ordinal:
            index = after
            continue  # "one of the best", "two of them": no amount of anything
        paired = _second_of_pair(text, tokens, index)
        if paired is not None:
            value = paired
        written = text[tokens[index].start : tokens[after - 1].end]
        weak = (
            ordinal
            or math.isnan(value)
            or tokens[index].lower == "one"
            or _idiom_once(tokens, index)
            or (paired is not None and unit is None)
        )
        found.append(Quantity(value, unit, written, index, ordinal, weak))
        index = after
    return found


_NUMERIC_DATE = re.compile(r"((?:1[0-9]|20)\d\d)([./-])(0?[1-9]|1[0-2])\2(0?[1-9]|[12]\d|3[01])(?![\d.])")


def _numeric_date(text: str, tokens: list[Token], index: int) -> tuple[list[Quantity], int] | None:
    """A date written in numbers, year first ("2003.06.11", "2019-02-03"): its year, and its day as
    "June 11" reads (the day with its month as label), so that it states what words state; None
    when no such date starts here. The tokens it covers are skipped."""
    token = tokens[index]
    if token.number is None:
        return None
    match = _NUMERIC_DATE.match(text, token.start)
    if match is None:
        return None
    after = index + 1
    while after < len(tokens) and tokens[after].start < match.end():
        after += 1
    year, month, day = int(match[1]), int(match[3]), int(match[4])
    month_name = _MONTH_ORDER[month - 1]
    return [
        Quantity(float(year), None, match[1], index),
        Quantity(float(day), "#" + month_name, match[0], index),
    ], after


_MONTH_ORDER = "january february march april may june july august september october november december".split()


def conversions(text: str, tokens: list[Token], found: list[Quantity]) -> dict[int, Quantity]:
    """Amounts given twice, the second a conversion in brackets right after the first ("10 kg
    (23 lb)", "18 in (460 mm)"): each maps (by id) to the other, so that a source stating either
    states both. Only conversions that hold (`converted_alike`) pair up: "10 kg (50 lb)" is two claims."""
    paired: dict[int, Quantity] = {}
    for first, second in zip(found, found[1:]):
        start = tokens[second.index].start
        if not re.search(r"\(\s*$", text[:start]):
            continue
        first_unit = first.unit
        if first_unit is None and first.index + 1 < len(tokens):
            first_unit = tokens[first.index + 1].lower  # "18 in": a unit word the reading skipped
        if first_unit != second.unit and converted_alike(first.value, first_unit, second.value, second.unit):
            paired[id(first)], paired[id(second)] = second, first
    return paired


def _amount(tokens: list[Token], index: int) -> tuple[float, int, str | None, bool] | None:
    """(value, the token after it, a unit already known, ordinal) for an amount starting here."""
    token = tokens[index]
    lower = token.lower
    following = tokens[index + 1].lower if index + 1 < len(tokens) else ""
    if token.number is not None:
        return token.number, index + 1, None, token.ordinal
    if lower in words.ORDINALS:
        return float(words.ORDINALS[lower]), index + 1, None, True
    if lower in words.TIMES:
        previous = tokens[index - 1].lower if index else ""
        if lower == "once" and (previous == "at" or following not in _AFTER_ONCE):
            return None  # "at once", "once opened", "once you know it": not a count
        return float(words.TIMES[lower]), index + 1, "time", False
    if lower in words.VAGUE or (lower in ("a", "an") and following in words.VAGUE):
        at = index if lower in words.VAGUE else index + 1
        if at + 1 < len(tokens) and singular(tokens[at + 1].lower) in words.TIME_UNITS:
            return math.nan, at + 2, singular(tokens[at + 1].lower), False  # "a few days"
        return None
    if lower in ("a", "an"):
        if following in words.SCALES:
            return float(words.SCALES[following]), index + 2, None, False
        if following == words.COUPLE:
            after = index + 3 if index + 2 < len(tokens) and tokens[index + 2].lower == "of" else index + 2
            return 2.0, after, None, False
        if (
            following == "second"
            and index + 2 < len(tokens)
            and tokens[index + 2].lower not in words.STOPWORDS
        ):
            return 2.0, index + 2, None, True  # "a second time", "a second reading"
        if singular(following) in words.TIME_UNITS:
            return 1.0, index + 1, None, False
        return None
    if lower == "half" and following in ("a", "an") and index + 2 < len(tokens):
        unit = singular(tokens[index + 2].lower)
        if unit in words.TIME_UNITS:
            return 0.5, index + 3, unit, False
        return None
    parts = lower.split("-")
    if parts[0] not in words.UNITS:
        return None
    value = 0.0
    unit = None
    for part in parts:  # "twenty-one", "ten-minute", "twenty-five", "twelve-year-old"
        if part in words.UNITS and unit is None:
            value += words.UNITS[part]
        elif part.isalpha():
            unit = unit or singular(part)
        else:
            return None
    after = index + 1
    while unit is None and after < len(tokens):
        word = tokens[after].lower
        if word in words.UNITS and words.UNITS[word] < 10 and value >= 20 and value % 10 == 0:
            value += words.UNITS[word]  # "twenty one"
        elif word in words.SCALES:
            value = max(value, 1.0) * words.SCALES[word]
        elif (
            word == "and"
            and after + 1 < len(tokens)
            and tokens[after + 1].lower in words.UNITS
            and value >= 100
        ):
            pass  # "one hundred and five"
        else:
            break
        after += 1
    return value, after, unit, False


def _unit_after(text: str, tokens: list[Token], index: int) -> str | None:
    """The word right after an amount, if it names what is counted (no punctuation between)."""
    if index >= len(tokens) or tokens[index].number is not None:
        return None
    token = tokens[index]
    if text[tokens[index - 1].end : token.start] not in ("", " ", "-"):
        return None  # "since 2019 - mostly", "in 1885, Ebbinghaus"
    lower = token.lower
    if lower in ("percent", "per") and (lower == "percent" or _next_is(tokens, index, "cent")):
        return "percent"
    if not lower.isalpha() or lower in words.STOPWORDS or lower in NUMBER_WORDS or token.text[0].isupper():
        return None
    unit = TIME_ABBREVIATIONS.get(singular(lower), singular(lower))
    return words.SPELLINGS.get(unit, unit)  # "metres" and "meters" are one unit


_AFTER_ONCE = frozenset(
    {"", "a", "an", "per", "every", "each", "daily", "weekly", "monthly", "more", "again"}
)


_YEAR_BEFORE = frozenset({"the", "a", "an", "his", "her", "its", "their", "our", "my", "your"} | words.MONTHS)


def _month_after(tokens: list[Token], index: int) -> str | None:
    """The month named right after a number ("18 October", "18th of October"), if any."""
    if index < len(tokens) and tokens[index].lower == "of":
        index += 1
    return tokens[index].lower if index < len(tokens) and tokens[index].lower in words.MONTHS else None


def _written_year(tokens: list[Token], index: int) -> bool:
    """A four-digit number read as a year by what comes before it: a month ("June 2019", not the
    2019th of June) or a determiner before a noun ("the 2017 film", not 2017 films)."""
    token = tokens[index]
    if token.number is None or not (token.text.isdigit() and len(token.text) == 4) or index == 0:
        return False
    before = tokens[index - 1].lower
    return 1000 <= token.number <= 2100 and (before in _YEAR_BEFORE or before.endswith("'s"))


def _label_before(text: str, tokens: list[Token], index: int) -> str | None:
    """For a number that names something ("box one", "chapter 4", "Python 3"), that something,
    marked with # so it never equals a counted unit."""
    if index == 0:
        return None
    before = tokens[index - 1]
    if text[before.end : tokens[index].start] != " " or not before.lower.isalpha():
        return None
    if before.lower in words.STOPWORDS or before.lower in NUMBER_WORDS or is_negation(before.lower):
        return None
    return "#" + singular(before.lower)


def _day_of_month(tokens: list[Token], index: int) -> bool:
    """Whether a number is a date's day: right after a month's name, or before "of" and one."""
    before = tokens[index - 1].lower if index else ""
    if before in words.MONTHS:
        return True
    return (
        index + 2 < len(tokens)
        and tokens[index + 1].lower == "of"
        and tokens[index + 2].lower in words.MONTHS
    )


def _second_of_pair(text: str, tokens: list[Token], index: int) -> float | None:
    """The second number of "2018–19" (an academic year: 2019) or "5–4" (a score: 4), written
    right after another number and a dash; None for any other number. A score's second number is
    weak: "defeat Arsenal 5–4" need not find a 4 of its own in the source."""
    token = tokens[index]
    if index == 0 or token.number is None or token.percent or token.ordinal:
        return None
    before = tokens[index - 1]
    if before.number is None or text[before.end : token.start] not in ("-", "–", "/"):
        return None
    if len(before.lower) == 4 and len(token.lower) == 2 and 1000 <= before.number < 3000:
        return float(int(before.number) // 100 * 100 + int(token.number))
    return token.number


def _idiom_once(tokens: list[Token], index: int) -> bool:
    """ "once again", "once more": again, not a count a source must state."""
    return tokens[index].lower == "once" and (
        _next_is(tokens, index, "again") or _next_is(tokens, index, "more")
    )


def is_measure(unit: str | None) -> bool:
    """Whether an amount's unit is a unit of measure (time, percent, length, mass, volume, money),
    whose change is a change of meaning ("3 weeks" is not "3 days"); a counted noun is not one:
    "66 playwrights" and "sixty-six writers" count the same people."""
    return unit is not None and (unit in words.TIME_UNITS or unit in words.MEASURES)


def is_year(quantity: Quantity) -> bool:
    """A bare whole number that reads as a year: 1000 to 2100, written without a thousands comma."""
    return (
        quantity.unit is None
        and not quantity.ordinal
        and float(quantity.value).is_integer()
        and 1000 <= quantity.value <= 2100
        and "," not in quantity.text
    )


def _next_is(tokens: list[Token], index: int, lower: str) -> bool:
    return index + 1 < len(tokens) and tokens[index + 1].lower == lower


def same_amount(a: Quantity, b: Quantity) -> bool:
    """Whether two amounts are equal: "three weeks" == "21 days"; a missing unit matches any; a
    vague amount ("a few days") matches any amount of its unit."""
    if a.ordinal != b.ordinal:
        return False
    if math.isnan(a.value) or math.isnan(b.value):
        return a.unit == b.unit
    if a.unit and b.unit and a.unit != b.unit:
        if a.unit in words.TIME_UNITS and b.unit in words.TIME_UNITS:
            return math.isclose(a.value * words.TIME_UNITS[a.unit], b.value * words.TIME_UNITS[b.unit])
        return converted_alike(a.value, a.unit, b.value, b.unit)
    return math.isclose(a.value, b.value)


# A conversion is written rounded ("10 kg (23 lb)" is 22.05 lb): within this share it is the same.
CONVERSION_ROUNDING = 0.06


def converted_alike(a: float, a_unit: str | None, b: float, b_unit: str | None) -> bool:
    """Whether two amounts in units of one dimension are the same once converted ("10 kg", "22 lb")."""
    one, other = words.UNIT_SIZES.get(a_unit or ""), words.UNIT_SIZES.get(b_unit or "")
    if one is None or other is None or one[0] != other[0]:
        return False
    a, b = a * one[1], b * other[1]
    return a > 0 and b > 0 and abs(a - b) <= CONVERSION_ROUNDING * max(a, b)


def same_kind(a: Quantity, b: Quantity) -> bool:
    """Whether two amounts count the same thing, so that different values contradict each other. A
    bare year and a bare small number do not ("April 24, 2018" beside "a vote of 5-4")."""
    if a.ordinal != b.ordinal:
        return False
    if a.unit is None and b.unit is None and is_year(a) != is_year(b):
        return False
    if a.unit in words.TIME_UNITS and b.unit in words.TIME_UNITS:
        return True
    sizes = words.UNIT_SIZES.get(a.unit or ""), words.UNIT_SIZES.get(b.unit or "")
    if sizes[0] and sizes[1] and sizes[0][0] == sizes[1][0]:
        return True  # "10 kg" against "30 pounds": two masses
    return a.unit == b.unit
