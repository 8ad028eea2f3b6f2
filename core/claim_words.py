"""The word lists the claim checks read a sentence with (core/claim_text.py, core/amounts.py,
core/claims.py): function words, number words, negation and hedge cues, antonyms and aliases.
English only; kept small on purpose, each list for one rule."""

from __future__ import annotations

# Words that carry no claim of their own: overlap on them proves nothing, and a capitalised one at
# the start of a sentence is not a name. Negation and hedge cues are deliberately NOT here.
STOPWORDS = frozenset(
    """
    a an the and or but if then so than that this these those there here what which who whom whose
    when where why how whether while as at by for from in into of off on onto out over to up upon
    with within about above across after against along among around before behind below beneath
    beside between beyond during except inside near past per since through throughout toward towards
    under until via i me my mine myself we us our ours ourselves you your yours yourself yourselves he
    him his himself she her hers herself it its itself they them their theirs themselves one ones
    someone somebody something person learner individual is am are was were be been being have has
    had having do does did doing will would shall should can could must ought let lets also just only
    very really quite too even still already ever again each every all any both either other others
    another such same own much many more most less few lot lots way thing things i'm i've i'd i'll
    you're you've we're we've they're they've he's she's it's that's there's what's let's
    however although though moreover furthermore meanwhile therefore thus hence instead besides
    nevertheless nonetheless likewise otherwise several
    """.split()
)

# Negation cues read as whole words; any word ending in n't is one too.
NEGATIONS = frozenset(
    "not no never none nothing nobody nowhere neither nor without cannot cant dont doesnt didnt isnt "
    "arent wasnt werent wont wouldnt shouldnt couldnt havent hasnt hadnt".split()
)
# Phrases that negate without a negation word ("if you fail to recall it" = "if you do not recall it").
NEGATION_PHRASES = (
    ("fail", "to"),
    ("fails", "to"),
    ("failed", "to"),
    ("unable", "to"),
    ("no", "longer"),
)
# Phrases that contain a cue without negating the clause ("not only X but also Y", "no more than 3").
NOT_NEGATIONS = (
    ("not", "only"),
    ("not", "just"),
    ("not", "merely"),
    ("no", "matter"),
    ("no", "doubt"),
    ("no", "more", "than"),
    ("no", "less", "than"),
    ("no", "later", "than"),
    ("no", "fewer", "than"),
    ("not", "more", "than"),
    ("not", "less", "than"),
    ("nothing", "but"),
    ("can't", "wait"),
    ("cannot", "wait"),
    ("don't", "just"),
    ("doesn't", "just"),
)
# A word with one of these prefixes negates its bare form when the other side has the bare form
# ("non-refundable" against "refundable", "unlikely" against "likely").
NEGATING_PREFIXES = ("non-", "non", "un", "in", "im", "ir", "il", "dis")

# Hedges, by kind. A claim that drops a hedge its source puts around the same words says more than
# the source does. Phrases are tuples of words.
UNCERTAIN = (
    ("may",),
    ("might",),
    ("could",),
    ("perhaps",),
    ("possibly",),
    ("maybe",),
    ("probably",),
    ("likely",),
    ("unlikely",),
    ("not", "sure"),
    ("unsure",),
    ("seems",),
    ("seem",),
    ("i", "think"),
)
FREQUENCY = (
    ("often",),
    ("sometimes",),
    ("usually",),
    ("generally",),
    ("typically",),
    ("occasionally",),
    ("rarely",),
    ("seldom",),
    ("tends",),
    ("tend",),
)
# What a person says about a skill they do not have yet, or only partly.
PARTIAL = (
    ("a", "bit"),
    ("a", "little"),
    ("some",),
    ("basic",),
    ("basics",),
    ("beginner",),
    ("yet",),
    ("slightly",),
    ("rusty",),
    ("limited",),
    ("am", "learning"),
    ("i'm", "learning"),
    ("is", "learning"),
    ("are", "learning"),
    ("been", "learning"),
    ("learning", "to"),
    ("started", "learning"),
    ("starting", "to"),
    ("trying", "to"),
    ("try", "to"),
)
# What a person wants, not what they have.
ASPIRATION = (
    ("want", "to"),
    ("wants", "to"),
    ("wanted", "to"),
    ("would", "like"),
    ("would", "also", "like"),
    ("would", "really", "like"),
    ("i'd", "like"),
    ("like", "to", "learn"),
    ("plan", "to"),
    ("plans", "to"),
    ("planning", "to"),
    ("hope", "to"),
    ("hoping", "to"),
    ("aim", "to"),
    ("aiming", "to"),
    ("intend", "to"),
    ("going", "to", "learn"),
    ("goal",),
    ("goals",),
    ("aspiring",),
    ("aspire", "to"),
    ("aspires", "to"),
    ("dream",),
    ("wish",),
    ("someday",),
    ("one", "day"),
    ("eventually",),
)
HEDGE_KINDS = {"uncertain": UNCERTAIN, "frequency": FREQUENCY, "partial": PARTIAL, "aspiration": ASPIRATION}

# Pairs of words that say opposite things about the same subject (compared on claim_text.stem()).
ANTONYMS = (
    ("increase", "decrease"),
    ("increase", "reduce"),
    ("more", "less"),
    ("more", "fewer"),
    ("before", "after"),
    ("better", "worse"),
    ("best", "worst"),
    ("easier", "harder"),
    ("easy", "hard"),
    ("longer", "shorter"),
    ("long", "short"),
    ("higher", "lower"),
    ("faster", "slower"),
    ("larger", "smaller"),
    ("stronger", "weaker"),
    ("strongest", "weakest"),
    ("strengthen", "weaken"),
    ("earlier", "later"),
    ("active", "passive"),
    ("daily", "weekly"),
    ("correct", "wrong"),
    ("success", "failure"),
    ("remember", "forget"),
    ("helps", "hurts"),
    ("allow", "forbid"),
    ("accept", "refuse"),
    ("include", "exclude"),
    ("first", "last"),
    ("keep", "lose"),
    ("gain", "lose"),
    ("win", "lose"),
    ("succeed", "fail"),
    ("pass", "fail"),
    ("accept", "reject"),
    ("rise", "fall"),
    ("true", "false"),
    ("youngest", "oldest"),
    ("minimum", "maximum"),
    ("allow", "prohibit"),
    ("allow", "ban"),
    ("permit", "forbid"),
    ("permit", "prohibit"),
)

# Names that mean the same thing (lowercase). The first spelling is the canonical one.
# How many, said without a number: a clause that says "many threads" where its source says "only
# one thread" disagrees on the count ("the GIL allows many threads ... at the same time").
MANY = (
    ("many",),
    ("multiple",),
    ("several",),
    ("numerous",),
    ("simultaneously",),
    ("more", "than", "one"),
    ("at", "the", "same", "time"),
    ("in", "parallel"),
)
JUST_ONE = (("only", "one"), ("just", "one"), ("exactly", "one"), ("a", "single"), ("at", "a", "time"))

ALIASES = (
    ("machine learning", "ml"),
    ("artificial intelligence", "ai"),
    ("deep learning", "dl"),
    ("natural language processing", "nlp"),
    ("javascript", "js"),
    ("typescript", "ts"),
    ("postgresql", "postgres", "psql"),
    ("kubernetes", "k8s"),
    ("statistics", "stats"),
    ("mathematics", "maths", "math"),
    ("user experience", "ux"),
    ("user interface", "ui"),
    ("amazon web services", "aws"),
    ("google cloud platform", "gcp"),
    ("continuous integration", "ci"),
    ("object oriented programming", "oop"),
    ("large language models", "llms", "llm"),
    ("search engine optimization", "seo"),
    ("microsoft excel", "excel"),
    ("c++", "cpp"),
    ("c#", "csharp"),
)

# Number words. "one" and "a" alone are not quantities (see amounts.quantities).
UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000, "dozen": 12}
TIMES = {"once": 1, "twice": 2, "thrice": 3}
ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
}
# Units of measure besides time (core.amounts.is_measure), singular, American spelling.
MEASURES = frozenset(
    "percent meter kilometer centimeter millimeter mile yard foot feet inch km cm mm kg gram kilogram "
    "pound ounce ton tonne liter milliliter gallon dollar euro cent yen degree acre hectare byte "
    "kilobyte megabyte gigabyte terabyte watt kilowatt volt calorie".split()
)
SPELLINGS = {
    "metre": "meter",
    "kilometre": "kilometer",
    "centimetre": "centimeter",
    "millimetre": "millimeter",
    "litre": "liter",
    "millilitre": "milliliter",
    "tonne": "ton",
    # abbreviations and irregular plurals: "23 lb" and "23 pounds" are one amount
    "lb": "pound",
    "lbs": "pound",
    "kg": "kilogram",
    "kgs": "kilogram",
    "km": "kilometer",
    "cm": "centimeter",
    "mm": "millimeter",
    "ft": "foot",
    "feet": "foot",
    "oz": "ounce",
}
# Participles used as prepositions ("According to the CDC", "Following the final"): a closed list,
# since a rule by suffix would also excuse a name that opens a sentence ("Fred at the lab").
PARTICIPLE_PREPOSITIONS = frozenset(
    "according following regarding concerning including excluding considering during pending "
    "barring given owing notwithstanding".split()
)
# Capitalised words that are not names: a month or a day is a date's, compared as one.
MONTHS = frozenset(
    "january february march april may june july august september october november december".split()
)
NOT_NAMES = MONTHS | frozenset("monday tuesday wednesday thursday friday saturday sunday".split())

# Units of time in seconds, so "three weeks" equals "21 days".
TIME_UNITS = {
    "second": 1,
    "sec": 1,
    "minute": 60,
    "min": 60,
    "hour": 3_600,
    "day": 86_400,
    "week": 604_800,
    "fortnight": 1_209_600,
    "month": 2_592_000,
    "year": 31_536_000,
    "decade": 315_360_000,
    "century": 3_153_600_000,
}
# "a couple of weeks" is two weeks; "a few days", "several weeks" are vague amounts of a unit.
COUPLE = "couple"
VAGUE = frozenset({"few", "several"})

# Sizes of units of measure in one base unit per dimension (metre, kilogram, litre), so that a
# conversion the claim adds in brackets ("10 kg (23 lb)", "18 in (460 mm)") is read as the same
# amount. Abbreviations an amount's reading does not take as units ("in", "ft") are here too.
UNIT_SIZES = {
    "millimeter": ("length", 0.001),
    "mm": ("length", 0.001),
    "centimeter": ("length", 0.01),
    "cm": ("length", 0.01),
    "meter": ("length", 1.0),
    "m": ("length", 1.0),
    "kilometer": ("length", 1000.0),
    "km": ("length", 1000.0),
    "inch": ("length", 0.0254),
    "in": ("length", 0.0254),
    "foot": ("length", 0.3048),
    "feet": ("length", 0.3048),
    "ft": ("length", 0.3048),
    "yard": ("length", 0.9144),
    "yd": ("length", 0.9144),
    "mile": ("length", 1609.344),
    "mi": ("length", 1609.344),
    "gram": ("mass", 0.001),
    "g": ("mass", 0.001),
    "kilogram": ("mass", 1.0),
    "kg": ("mass", 1.0),
    "ton": ("mass", 1000.0),
    "t": ("mass", 1000.0),
    "pound": ("mass", 0.45359237),
    "lb": ("mass", 0.45359237),
    "ounce": ("mass", 0.028349523),
    "oz": ("mass", 0.028349523),
    "stone": ("mass", 6.35029318),
    "st": ("mass", 6.35029318),
    "liter": ("volume", 1.0),
    "l": ("volume", 1.0),
    "milliliter": ("volume", 0.001),
    "ml": ("volume", 0.001),
    "gallon": ("volume", 3.785411784),
    "gal": ("volume", 3.785411784),
    "acre": ("area", 4046.8564224),
    "hectare": ("area", 10000.0),
    "ha": ("area", 10000.0),
}
