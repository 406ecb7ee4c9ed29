"""Fact consistency: the checks an embedding or a small model misses — numbers, units, yes/no, negation,
named entities and key qualifiers — between an answer and what it is judged against.

A judge's score says how close an answer is; these checks say whether it *contradicts* or *drops* a
fact. They run in microseconds, need no model, and are the same for both bases:

- ``reference``: the facts of the reference answer must reappear in the answer, and the answer must not
  state a different value, unit, yes/no or polarity for them, nor restate a sentence of it with another
  name in place of one of its names or identifiers ("base_url on the Drop" for "on the Client").
- ``sources``: every number and name in the answer must appear in the sources (the ``<source>`` blocks
  of the prompt; a question, the user's or an FAQ heading, states nothing), a sentence of the answer
  must not flip the polarity of the source sentence it restates, a yes/no must agree with the source
  clause that restates the question, and a qualifier of a number ("up to 25 kg") must not be dropped.
- both: an answer must state what a wh-question asks for ("How heavy?" -> a weight; not a bare yes/no)
  where what it is judged against states such a value.

``check`` returns the findings; ``adjust`` lowers a score by them (caps for contradictions, answers to
another question and unsupported claims, a point off per omission), with one sentence per finding;
``cap`` is the highest score an answer with those findings may get. ``judge.core.Judge`` adjusts
whatever score its backend gave, so the layer combines with any judge (the reference-overlap scorer, a
served model, Bedrock).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from core.citations import strip_citations
from judge.overlap import STOP_WORDS, covered

# v2: questions are not evidence; yes/no, qualifiers of numbers and answer types against sources; an
# omission takes a point off the score (v1: a cap at 4). v3: a name swapped in a restated sentence; a
# typographic apostrophe ("don’t") negates; a list of names is no statement; plural and hyphenated names.
# v4: against a reference, a number it never states is a contradiction only where the answer misses a
# reference number of that unit; beside all of them it is an addition the reference cannot check (a point).
FACTS_VERSION = "facts-v4"

# ---- what the sources state -------------------------------------------------------------------------

_SOURCE_BLOCK = re.compile(r"<source\b[^>]*>(.*?)(?:</source>|$)", re.DOTALL)
_QUESTION_LINE = re.compile(r"^\s*Question:.*$", re.MULTILINE)
# a line break inside a sentence (wrapped Markdown, PDF lines): not after an end mark, not before a list
# item, a heading or a blank line
_WRAPPED = re.compile(r"(?<=[^.!?:;\n])[ \t]*\n(?![ \t]*(?:\n|[-*•#>|]|\d+[.)]\s))[ \t]*")


def source_text(sources: str) -> str:
    """What the sources state: the bodies of the ``<source>`` blocks of a prompt (the app judges an
    answer against its prompt, which ends with the user's question), less the ``Question:`` lines (a
    reviewed answer's block names its question too): a question asserts nothing. Text without blocks
    is kept, less its ``Question:`` lines. Lines wrapped inside a sentence are joined, so a sentence
    ("..., whichever comes\nfirst.") is read whole."""
    blocks = _SOURCE_BLOCK.findall(sources)
    text = "\n\n".join(b.strip() for b in blocks) if blocks else sources
    return _WRAPPED.sub(" ", _QUESTION_LINE.sub("", text)).strip()


def is_question(sentence: str) -> bool:
    """A sentence that asks (an FAQ heading, "Can I fit a child seat?"): it states nothing."""
    return sentence.rstrip().endswith("?")


# ---- quantities ------------------------------------------------------------------------------------

_UNIT_ALIASES: dict[str, str] = {
    "%": "percent",
    "percent": "percent",
    "per cent": "percent",
    "km/h": "km/h",
    "kph": "km/h",
    "mph": "mph",
    "km": "km",
    "kilometres": "km",
    "kilometers": "km",
    "miles": "mile",
    "mile": "mile",
    "kg": "kg",
    "kilograms": "kg",
    "g": "g",
    "grams": "g",
    "lb": "lb",
    "lbs": "lb",
    "pounds": "lb",
    "w": "W",
    "watts": "W",
    "kw": "kW",
    "wh": "Wh",
    "kwh": "kWh",
    "wh/km": "Wh/km",
    "v": "V",
    "volts": "V",
    "a": "A",
    "amps": "A",
    "ah": "Ah",
    "°c": "°C",
    "°f": "°F",
    "bar": "bar",
    "psi": "psi",
    "mm": "mm",
    "cm": "cm",
    "m": "m",
    "inch": "inch",
    "inches": "inch",
    '"': "inch",
    "litres": "l",
    "liters": "l",
    "litre": "l",
    "liter": "l",
    "l": "l",
    "lux": "lux",
    "euros": "EUR",
    "euro": "EUR",
    "eur": "EUR",
    "€": "EUR",
    "dollars": "USD",
    "$": "USD",
    "usd": "USD",
    "hours": "h",
    "hour": "h",
    "hrs": "h",
    "h": "h",
    "minutes": "min",
    "minute": "min",
    "min": "min",
    "mins": "min",
    "seconds": "s",
    "second": "s",
    "s": "s",
    "ms": "ms",
    "working days": "day",
    "business days": "day",
    "days": "day",
    "day": "day",
    "weeks": "week",
    "week": "week",
    "months": "month",
    "month": "month",
    "years": "year",
    "year": "year",
    "cycles": "cycle",
    "cycle": "cycle",
    "times": "times",
    "time": "times",
    "bytes": "B",
    "kb": "kB",
    "mb": "MB",
    "gb": "GB",
}
_UNITS_RE = "|".join(sorted((re.escape(u) for u in _UNIT_ALIASES), key=len, reverse=True))
_NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "once": 1,
    "two": 2,
    "twice": 2,
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
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    "hundred": 100,
}
_QUANTITY = re.compile(
    r"(?<![\w.])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|"
    + "|".join(_NUMBER_WORDS)
    + r")(?![\w])\s*(?P<unit>(?:"
    + _UNITS_RE
    + r")(?![a-z]))?",
    re.IGNORECASE,
)
_RANGE_JOIN = re.compile(r"^\s*(?:-|–|to|and|or)\s*$", re.IGNORECASE)
_FREQUENCY = re.compile(r"^\s*(?:a|an|per|every)\b", re.IGNORECASE)  # "once a year": a rate, not a count
_VERSIONISH = re.compile(r"\b[A-Za-z]+\d+[A-Za-z\d]*\b")  # E01, v2, ES2020: names, not quantities


@dataclass(frozen=True)
class Quantity:
    value: float
    unit: str  # "" when the number stands alone
    text: str


_CURLY_APOSTROPHE = re.compile("[\u2018\u2019\u02bc]")


def _strip(text: str) -> str:
    """Without citation marks, with typographic apostrophes made plain (PDF and HTML sources write
    "don\u2019t": a negation all the same)."""
    return _CURLY_APOSTROPHE.sub("'", strip_citations(text, " "))


def quantities(text: str) -> list[Quantity]:
    """Numbers (digits or words up to a hundred) with the unit that follows them, if any."""
    found: list[Quantity] = []
    ends: list[int] = []
    clean = _VERSIONISH.sub(" ", _strip(text))
    for m in _QUANTITY.finditer(clean):
        raw = m.group("num").lower()
        value = float(_NUMBER_WORDS[raw]) if raw in _NUMBER_WORDS else float(raw.replace(",", ""))
        unit_text = m.group("unit") or ""
        unit = "" if unit_text == "a" else _UNIT_ALIASES.get(unit_text.lower(), "")  # "a day" is no ampere
        if raw in ("once", "twice"):
            if _FREQUENCY.match(clean[m.end("num") :]):
                continue
            unit = "times"
        elif raw in _NUMBER_WORDS and not unit:
            continue  # "one of the", "two bags": a bare number word is too often not a quantity
        # "60 to 120 km", "1.6-2.2 bar": the unit after a range belongs to its first number too
        if unit and found and not found[-1].unit and _RANGE_JOIN.match(clean[ends[-1] : m.start()]):
            found[-1] = Quantity(found[-1].value, unit, found[-1].text + " " + unit)
        found.append(Quantity(value, unit, m.group(0).strip()))
        ends.append(m.end())
    return found


def _same_value(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


# ---- polarity, yes/no, qualifiers, entities ----------------------------------------------------------

_NEGATION = re.compile(
    r"\b(?:not|no|never|none|nothing|neither|nor|cannot|can't|won't|isn't|aren't|doesn't|don't|didn't|"
    r"mustn't|shouldn't|wasn't|weren't|hasn't|haven't|n't|without)\b",
    re.IGNORECASE,
)
# a leading yes/no, also when the answer announces it ("The answer is No, ...", 'The answer states "Yes, ...')
_LEADING = re.compile(
    r"^\W*(?:the answer (?:is|states|says)(?: that)?\W*)?(yes|no)\b(?=\W*(?:$|[,.;:!]))", re.IGNORECASE
)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_CLAUSE = re.compile(r"[.!?;,:]\s+|\n+|\s+(?=(?:which|so|but|while|whereas|because)\b)", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")
_STOP = STOP_WORDS | {"this", "that", "these", "those", "there", "their", "they", "it's"}
# qualifier -> other ways to say it; an answer that keeps none of them has dropped the qualifier
QUALIFIERS: dict[str, tuple[str, ...]] = {
    "only": ("only", "solely", "exclusively", "just"),
    "at least": ("at least", "or more", "minimum", "no less than", "not less than", "or longer"),
    "up to": ("up to", "at most", "maximum", "max", "no more than", "limited to", "or less", "not exceed"),
    "at most": ("at most", "up to", "maximum", "max", "no more than", "or less"),
    "within": ("within", "in less than", "no later than", "at the latest", "inside"),
    "under": (
        "under",
        "below",
        "less than",
        "younger than",
        "fewer than",
        "minimum",
        "underneath",
        "beneath",
    ),
    "below": ("below", "under", "less than", "lower than"),
    "over": ("over", "above", "more than", "greater than", "older than"),
    "above": ("above", "over", "more than", "higher than"),
    "more than": ("more than", "over", "above", "longer than", "exceeds", "or more"),
    "less than": ("less than", "under", "below", "fewer than", "shorter than"),
    "longer than": ("longer than", "more than", "over", "exceeds", "beyond"),
    "or newer": (
        "or newer",
        "or later",
        "or higher",
        "or above",
        "and up",
        "and later",
        "at least",
        "minimum",
    ),
    "before": ("before", "prior to", "earlier than", "ahead of"),
    "unless": ("unless", "except", "if not"),
    "except": ("except", "unless", "other than", "apart from", "but not"),
    "every": ("every", "each", "per", "once a", "a year", "a month"),
    "whichever comes first": (
        "whichever comes first",
        "whichever is first",
        "whichever happens first",
        "whichever is reached first",
        "whichever occurs first",
    ),
    "free": ("free", "no charge", "no cost", "at no", "without charge", "0 euros"),
    "original": ("original",),
}
_ENTITY = re.compile(r"(?<![\w])([A-Z][a-zA-Z0-9]*(?:[-/][A-Za-z0-9]+)*|[A-Z]{2,}[a-z]*\d*)")
_COMMON_CAPS = frozenset(
    [
        "I",
        "A",
        "An",
        "The",
        "It",
        "Its",
        "This",
        "That",
        "These",
        "Those",
        "There",
        "They",
        "You",
        "Your",
        "Yes",
        "No",
        "Not",
        "If",
        "When",
        "Where",
        "Which",
        "Who",
        "What",
        "How",
        "Why",
        "Please",
        "Note",
        "For",
        "From",
        "With",
        "In",
        "On",
        "At",
        "By",
        "Only",
        "Use",
        "Each",
        "Every",
        "Both",
        "All",
        "Any",
        "Some",
        "One",
        "Two",
        "Three",
        "Hold",
        "Press",
        "Report",
        "Contact",
        "Check",
        "Keep",
        "Charge",
        "Go",
        "Replace",
        "Let",
        "Have",
        "Make",
        "Set",
        "See",
        "Do",
        "Does",
        "Is",
        "Are",
        "Can",
        "According",
        "Based",
        "Sources",
        "Source",
        "Answer",
        "However",
        "Also",
        "Then",
        "After",
        "Before",
        "Up",
        "Once",
        "Typically",
        "Usually",
        "About",
        "Around",
        "Roughly",
        "Approximately",
        "Off",
        "Until",
        "Unless",
        "Except",
        "Under",
        "Over",
        "Between",
        "Within",
    ]
)


def negated(text: str) -> bool:
    """True when the text, less a leading yes/no, holds a negation."""
    return bool(_NEGATION.search(_LEADING.sub(" ", _strip(text))))


def leading_yes_no(text: str) -> str | None:
    m = _LEADING.match(_strip(text).strip())
    return m.group(1).lower() if m else None


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(_strip(text)) if s.strip()]


def clauses(text: str) -> list[str]:
    """Sentences cut further at commas and at 'which', 'so', 'but', ...: the span a negation governs."""
    return [c.strip() for c in _CLAUSE.split(_strip(text)) if c and len(content_words(c)) >= 1]


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and not w.isdigit()}


def entities(text: str) -> set[str]:
    """Names and codes: runs of capitalised words ("European Union", "VoltBike Lease") that are not a
    sentence's first word or a common word, lower-cased."""
    found = set()
    for sentence in sentences(text):
        run: list[str] = []
        last_end = -2
        for n, m in enumerate(_ENTITY.finditer(sentence)):
            word = m.group(1)
            first = n == 0 and m.start() <= 1
            if word in _COMMON_CAPS or (first and not any(c.isdigit() for c in word)):
                continue
            if run and sentence[last_end : m.start()].strip() == "":
                run.append(word)
            else:
                if run:
                    found.add(" ".join(run).lower())
                run = [word]
            last_end = m.end()
        if run:
            found.add(" ".join(run).lower())
    return found


def names_entity(name: str, text: str) -> bool:
    """The text names the entity: every word of it — in the singular too ("HTTPExceptions"), or only
    the name before a hyphen ("JSON-serialisable": JSON) — or its initials as one word ("EU")."""
    low = _strip(text).lower()
    words = name.split()

    def named(word: str) -> bool:
        forms = {word, word[:-1] if len(word) > 3 and word.endswith("s") else word}
        head, dash, tail = word.partition("-")
        if dash and len(head) >= 3 and tail.isalpha():
            forms.add(head)
        return any(re.search(rf"(?<![a-z0-9]){re.escape(f)}(?![a-z0-9])", low) for f in forms)

    if all(named(w) for w in words):
        return True
    initials = "".join(w[0] for w in words)
    return len(words) > 1 and re.search(rf"(?<![a-z0-9]){re.escape(initials)}(?![a-z0-9])", low) is not None


def qualifiers(text: str) -> set[str]:
    low = " " + _strip(text).lower() + " "
    return {q for q in QUALIFIERS if re.search(rf"(?<![a-z]){re.escape(q)}(?![a-z])", low)}


def keeps_qualifier(qualifier: str, text: str) -> bool:
    low = " " + _strip(text).lower() + " "
    return any(re.search(rf"(?<![a-z]){re.escape(alt)}(?![a-z])", low) for alt in QUALIFIERS[qualifier])


def _best_match(sentence: str, candidates: Sequence[str]) -> tuple[str, float]:
    """The candidate sentence sharing the most content words with ``sentence`` (Jaccard)."""
    words = content_words(sentence)
    best, best_score = "", 0.0
    for cand in candidates:
        other = content_words(cand)
        union = words | other
        score = len(words & other) / len(union) if union else 0.0
        if score > best_score:
            best, best_score = cand, score
    return best, best_score


def _polarity_flips(claims: list[str], other: str, min_overlap: float) -> list[tuple[str, str]]:
    """(claim, the passage of ``other`` restating it) where one is negated and the other not — both
    sentence by sentence and clause by clause, so a comma list or a 'which' clause does not fool it."""
    other_sentences = [s for s in sentences(other) if not is_question(s)]  # a question asserts nothing
    other_clauses = clauses(" ".join(other_sentences))
    flips = []
    for claim in (c for c in claims if not is_question(c)):
        match, overlap = _best_match(claim, other_sentences)
        if overlap < min_overlap or negated(claim) == negated(match):
            continue
        parts = clauses(claim)
        if any(
            negated(part) != negated(m)
            for part in parts
            for m, o in [_best_match(part, other_clauses)]
            if o >= min_overlap
        ):
            flips.append((claim, match))
    return flips


_CODE_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|\S")
# token similarity (difflib ratio) of an answer sentence that restates a reference sentence
_RESTATES_WORDING = 0.5


def _is_name(tokens: list[str], k: int, capitalised: set[str]) -> bool:
    """Whether ``tokens[k]`` is a name or an identifier: code (``snake_case``, ``camelCase``, a word
    before ``(``, ``<`` or ``::``), an acronym, or a capitalised word that is not a common one — as a
    sentence's first word only when it is capitalised elsewhere too (``capitalised``)."""
    token = tokens[k]
    following = tokens[k + 1] if k + 1 < len(tokens) else ""
    if not token[:1].isalpha() and token[:1] != "_":
        return False
    if "_" in token.strip("_") or re.search(r"[a-z][A-Z]", token) or following in ("(", "<", ":"):
        return True
    if not token[:1].isupper() or token in _COMMON_CAPS:
        return False
    return k > 0 or token in capitalised or any(c.isupper() or c.isdigit() for c in token[1:])


def _same_name(a: str, b: str) -> bool:
    """One is the other or its plural, in any case (an acronym is excused by the caller)."""
    a, b = a.lower(), b.lower()
    return a == b or a.rstrip("s") == b.rstrip("s")


def _swapped_names(reference: str, answer: str, question: str) -> list[tuple[str, str]]:
    """(the reference's name, the answer's) where an answer sentence restates a reference sentence word
    for word but for a name — "base_url on the Drop" for "base_url on the Client" — and the answer's name
    is nowhere in the reference or the question. Word lists, not sets: a name the reference states
    twice ("handler for X with @app.exception_handler(X)") is still swapped when one copy changes."""
    known_tokens = _CODE_TOKEN.findall(_strip(reference) + " " + question)
    known = {t.lower() for t in known_tokens}
    capitalised = {t for k, t in enumerate(known_tokens) if k and t[:1].isupper()}
    initials = {"".join(w[0] for w in n.split()) for n in entities(reference) if " " in n}  # "EU"
    excused = known | initials
    swaps = []
    answer_sentences = [_CODE_TOKEN.findall(s) for s in sentences(answer)]
    for ref_sentence in sentences(reference):
        ref_tokens = _CODE_TOKEN.findall(ref_sentence)
        for ans_tokens in answer_sentences:
            matcher = SequenceMatcher(None, [t.lower() for t in ref_tokens], [t.lower() for t in ans_tokens])
            if matcher.ratio() < _RESTATES_WORDING:
                continue
            for op, i1, i2, j1, j2 in matcher.get_opcodes():
                if op != "replace":
                    continue
                old = [ref_tokens[k] for k in range(i1, i2) if _is_name(ref_tokens, k, capitalised)]
                new = [
                    ans_tokens[k]
                    for k in range(j1, j2)
                    if ans_tokens[k].lower() not in excused
                    and (
                        _is_name(ans_tokens, k, capitalised)
                        or (k == 0 and ans_tokens[k][:1].isupper() and old)
                    )
                ]
                if old and new and not any(_same_name(o, n) for o in old for n in new):
                    swaps.append((old[0], new[0]))
    return swaps


# ---- what the question asks for ------------------------------------------------------------------

# (what a wh-question asks for, the words that ask it, the units an answer to it states, words that
# state it without a number)
_TYPES: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("speed", r"\b(?:speed|how fast)\b", ("km/h", "mph"), ()),
    ("price", r"\b(?:cost|costs|price|fee)\b", ("EUR", "USD"), ("free", "no charge", "nothing")),
    ("weight", r"\b(?:how heavy|weigh|weighs|weight)\b", ("kg", "g", "lb"), ()),
    ("temperature", r"\btemperatures?\b", ("°C", "°F"), ("room temperature",)),
    ("pressure", r"\bpressure\b", ("bar", "psi"), ()),
    # "range" only lower-case, a question's word: "the Range Extender" is a name
    (
        "distance",
        r"\b(?:what|how much) (?-i:range)\b|\bhow (?:far|high|deep|tall)\b|\b(?-i:distance|height|depth)\b",
        ("km", "mile", "m", "cm", "mm", "inch", "percent"),
        (),
    ),
    (
        "duration",
        r"\bhow long\b",
        ("h", "min", "s", "day", "week", "month", "year", "cycle", "mm", "cm", "m", "km", "inch"),
        ("lifetime", "forever", "unlimited", "indefinitely", "overnight"),
    ),
    (
        "size",
        r"\b(?:what size|how big|how large|dimensions?)\b",
        ("mm", "cm", "m", "inch", "l", "Wh", "kWh", "Ah"),
        (),
    ),
    ("power", r"\b(?:power|how powerful|wattage)\b", ("W", "kW"), ()),
)
ANSWER_TYPES = tuple(
    (
        name,
        re.compile(pattern, re.IGNORECASE),
        frozenset(units),
        words,
    )
    for name, pattern, units, words in _TYPES
)
_WH_QUESTION = re.compile(
    r"^\W*(?:(?:at|in|on|for|from|to|by|with|under|after|before)\s+)?(?:what|which|where|when|who|whom|whose|why|how)\b",
    re.IGNORECASE,
)


def asked_for(question: str) -> list[tuple[str, frozenset[str], tuple[str, ...]]]:
    """What a wh-question asks for, by the units its answer states: "What is the top speed?" -> speed
    (km/h, mph). Empty for a yes/no question or one no type covers."""
    if not _WH_QUESTION.match(question):
        return []
    return [(name, units, words) for name, pattern, units, words in ANSWER_TYPES if pattern.search(question)]


def states_type(text: str, units: frozenset[str], words: tuple[str, ...] = ()) -> bool:
    low = text.lower()
    return any(q.unit in units for q in quantities(text)) or any(
        re.search(rf"\b{re.escape(w)}\b", low) for w in words
    )


def _off_question(question: str, against: str, answer: str, f: Findings) -> None:
    """An answer that does not state what the question asks for — a wh-question answered with a bare
    yes/no, a speed question with a power — answers another question. Only where what it is judged
    against states that kind of value (else the right answer may not either)."""
    if _WH_QUESTION.match(question) and leading_yes_no(answer):
        f.off_question.append(f"the question asks {question.split()[0].lower()!r}, the answer says yes/no")
        return
    wanted = [(name, u, w) for name, u, w in asked_for(question) if states_type(against, u, w)]
    if wanted and not any(states_type(answer, u, w) for _, u, w in wanted):
        f.off_question.append(f"the question asks for a {wanted[0][0]}; the answer states none")


def _question_coverage(question: str, text: str) -> float:
    """Share of the question's content words the text has (same stem or first five letters)."""
    words = content_words(question)
    return covered(words, content_words(text)) / len(words) if words else 0.0


_RESTATES_SOURCE = 0.25  # content-word overlap (Jaccard) of an answer sentence restating a source sentence
_RESTATES = 0.6  # share of the question's words a source clause needs to count as answering it
_RESTATES_ALL = 0.8  # ... and an answer's own clause after "No," to count as affirming the question
_BUT = re.compile(r"^\W*(?:but|except|unless|only|though|although|however)\b", re.IGNORECASE)


def _yes_no_against_sources(question: str, sources: str, answer: str, f: Findings) -> None:
    """A yes/no answer whose own words or whose sources say the opposite. Sources rarely say "yes" or
    "no": the expected answer is the polarity of the source clause that restates the question (most of
    its words); "Yes, ... must not ..." contradicts itself."""
    said = leading_yes_no(answer)
    if not said or _WH_QUESTION.match(question):
        return
    body = _LEADING.sub(" ", _strip(answer)).strip(" ,.;:")
    parts = clauses(body)
    if said == "yes" and parts and negated(parts[0]) and not _BUT.match(parts[0]):
        f.contradictions.append(f"the answer says 'yes', then {parts[0][:60]!r}")
        return
    restated = [c for c in parts if _question_coverage(question, c) >= _RESTATES_ALL]
    if said == "no" and restated and not negated(body) and negated(restated[0]) == negated(question):
        f.contradictions.append(f"the answer says 'no', then {restated[0][:60]!r}")
        return
    statements = [
        c
        for c in clauses(" ".join(s for s in sentences(sources) if not is_question(s)))
        if not _names_only(c)
    ]
    best = max(statements, key=lambda c: _question_coverage(question, c), default="")
    if not best or _question_coverage(question, best) < _RESTATES:
        return
    expected = "no" if negated(best) != negated(question) else "yes"
    if said != expected and not (said == "no" and negated(body)):
        f.contradictions.append(f"the answer says {said!r} where the source says {best[:60]!r}")


def _names_only(clause: str) -> bool:
    """A list of names ("* HTTPError * RequestError * TransportError"), an API index: it states nothing,
    though it holds the question's words."""
    words = re.findall(r"[A-Za-z][A-Za-z0-9_]*", clause)
    return len(words) >= 4 and sum(w[0].isupper() for w in words) >= 0.7 * len(words)


_TOKEN = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_SUFFIX_QUALIFIERS = frozenset(["whichever comes first", "or newer"])


def _governed_number(tokens: list[str]) -> list[str]:
    """The number (and its unit) a qualifier governs: "up to 25 kg" -> ["25", "kg"]; [] when the
    qualifier is not about a number ("only with the carrier rack", "every Trail 500")."""
    if not tokens or not tokens[0][0].isdigit():
        return []
    return tokens[:2] if len(tokens) > 1 and tokens[1] in _UNIT_ALIASES else tokens[:1]


def _dropped_source_qualifiers(question: str, sources: str, answer: str, f: Findings) -> None:
    """A qualifier of a number in the sources ("up to 25 kg", "within 30 days", "every 3 months",
    "800 cycles, whichever comes first") that an answer sentence restating that source sentence drops
    (with its synonyms): the answer overstates the sources."""
    answer_sentences = [(s, set(_TOKEN.findall(s.lower()))) for s in sentences(answer)]
    dropped = set()
    for sentence in sentences(sources):
        low = " " + _strip(sentence).lower() + " "
        for qualifier in QUALIFIERS:
            if (
                qualifier in dropped
                or keeps_qualifier(qualifier, answer)
                or keeps_qualifier(qualifier, question)
            ):
                continue
            for m in re.finditer(rf"(?<![a-z]){re.escape(qualifier)}(?![a-z])", low):
                if qualifier in _SUFFIX_QUALIFIERS:  # the last number before it
                    before = _TOKEN.findall(low[: m.start()])[-4:]
                    at = max((i for i, t in enumerate(before) if t[0].isdigit()), default=None)
                    governed = _governed_number(before[at:]) if at is not None else []
                else:
                    governed = _governed_number(_TOKEN.findall(low[m.end() :])[:2])
                restating = [
                    s
                    for s, tokens in answer_sentences
                    if set(governed) <= tokens and _best_match(s, [sentence])[1] >= _RESTATES_SOURCE
                ]
                if governed and restating:
                    dropped.add(qualifier)
                    f.omissions.append(f"the answer drops the sources' {qualifier!r} ({' '.join(governed)})")
                    break


# ---- the check ----------------------------------------------------------------------------------------


@dataclass
class Findings:
    """What the checks found. ``contradictions`` make an answer wrong; ``omissions`` incomplete;
    ``additions`` (reference basis) numbers beside the reference's that it cannot check; ``unsupported``
    (sources basis) claims the sources do not carry; ``off_question`` an answer that does not state what
    the question asks for."""

    contradictions: list[str] = field(default_factory=list)
    omissions: list[str] = field(default_factory=list)
    additions: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    off_question: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (
            self.contradictions or self.omissions or self.additions or self.unsupported or self.off_question
        )


def _quantity_findings(ref_q: list[Quantity], ans_q: list[Quantity], allowed: list[Quantity], f: Findings):
    """Reference quantities the answer misses or states differently."""
    for q in ref_q:
        same = [a for a in ans_q if _same_value(a.value, q.value)]
        if any(not a.unit or not q.unit or a.unit == q.unit for a in same):
            continue
        if same:  # the value is there with another unit
            f.contradictions.append(f"the answer gives {same[0].text} where the reference says {q.text}")
            continue
        rival = [a for a in ans_q if q.unit and a.unit == q.unit]
        rival = [a for a in rival if not any(_same_value(a.value, r.value) for r in ref_q + allowed)]
        if rival:
            f.contradictions.append(f"the answer gives {rival[0].text} where the reference says {q.text}")
        else:
            f.omissions.append(f"the answer lacks the reference's {q.text}")


def _states_every(ref_q: list[Quantity], ans_q: list[Quantity], unit: str) -> bool:
    """Does the answer state each of the reference's numbers in ``unit``, in that unit?"""
    return all(
        any(_same_value(a.value, r.value) and a.unit == unit for a in ans_q) for r in ref_q if r.unit == unit
    )


def check_reference(question: str, reference: str, answer: str) -> Findings:
    """The answer against a reference answer."""
    f = Findings()
    ref_q, ans_q, q_q = quantities(reference), quantities(answer), quantities(question)
    _quantity_findings(ref_q, ans_q, q_q, f)
    # a number with a reference unit that the reference never states (and the question does not hold):
    # in place of a reference number of that unit it is wrong; beside all of them, an addition
    ref_units = {q.unit for q in ref_q if q.unit}
    added = []
    for a in ans_q:
        known = any(_same_value(a.value, r.value) for r in ref_q + q_q)
        if a.unit in ref_units and not known and not any(a.text in c for c in f.contradictions):
            if _states_every(ref_q, ans_q, a.unit):
                added.append(a.text)
            else:
                f.contradictions.append(f"the answer states {a.text}, which the reference does not")
    if added:
        f.additions.append(f"the answer also states {' and '.join(added)}, which the reference does not")
    ref_yn, ans_yn = leading_yes_no(reference), leading_yes_no(answer)
    if ref_yn and ans_yn and ref_yn != ans_yn:
        f.contradictions.append(f"the answer says {ans_yn!r} where the reference says {ref_yn!r}")
    # polarity, sentence by sentence: each reference sentence against the answer sentence restating it
    for sentence, match in _polarity_flips(sentences(reference), answer, 0.25):
        which = "denies" if negated(match) else "affirms"
        f.contradictions.append(f"the answer {which} what the reference says in {sentence[:60]!r}")
    # a 'Yes/No, ...' reference answered without the word: the answer's polarity must still match
    bare = ref_yn and not ans_yn and not f.contradictions and not (ref_yn == "yes" and negated(reference))
    if bare and negated(answer) != (ref_yn == "no"):
        f.contradictions.append(f"the answer's polarity differs from the reference's {ref_yn!r}")
    for old, new in _swapped_names(reference, answer, question):
        f.contradictions.append(f"the answer names {new!r} where the reference names {old!r}")
    for name in sorted(entities(reference)):
        if not names_entity(name, answer) and not names_entity(name, question):
            f.omissions.append(f"the answer does not name {name!r}")
    for qualifier in sorted(qualifiers(reference)):
        if not keeps_qualifier(qualifier, answer) and not keeps_qualifier(qualifier, question):
            f.omissions.append(f"the answer drops the reference's {qualifier!r}")
    if not f.contradictions:
        _off_question(question, reference, answer, f)
    return f


def check_sources(question: str, sources: str, answer: str) -> Findings:
    """The answer against the sources it was written from: its numbers and names must be there, and
    no sentence may flip the polarity of the source sentence it restates."""
    f = Findings()
    sources = source_text(sources)
    src_q, q_q = quantities(sources), quantities(question)
    for a in quantities(answer):
        if any(
            _same_value(a.value, s.value) and (not a.unit or not s.unit or a.unit == s.unit) for s in src_q
        ):
            continue
        if any(_same_value(a.value, q.value) for q in q_q):
            continue
        f.unsupported.append(f"the sources do not state {a.text}")
    for name in sorted(entities(answer)):
        if not names_entity(name, sources) and not names_entity(name, question):
            f.unsupported.append(f"the sources do not name {name!r}")
    for sentence, match in _polarity_flips(sentences(answer), sources, 0.3):
        which = "denies" if negated(sentence) else "affirms"
        f.contradictions.append(f"the answer {which} what the source says in {match[:60]!r}")
    _dropped_source_qualifiers(question, sources, answer, f)
    if not f.contradictions:
        _yes_no_against_sources(question, sources, answer, f)
    if not f.contradictions:
        _off_question(question, sources, answer, f)
    return f


def check(question: str, reference: str, answer: str, basis: str = "reference") -> Findings:
    return (check_sources if basis == "sources" else check_reference)(question, reference, answer)


# ---- from findings to a score cap ---------------------------------------------------------------------

CONTRADICTION_CAP = 1.0
UNSUPPORTED_CAP = 2.0
OFF_QUESTION_CAP = 2.0
OMISSION_PENALTY = 1.0
OMISSION_FLOOR = 2.0


def adjust(score: float, findings: Findings) -> tuple[float, list[str]]:
    """The score after the findings, and one sentence per finding: a contradiction caps it at 1.0, an
    unsupported claim or an answer to another question at 2.0; each omission (and the additions,
    together) takes a point off, not below 2.0 (nor below the score itself). Taking the point off the
    score, rather than capping at 4, lets an omission count where the backend already scored the answer
    below 4 (sources basis: a dropped "up to" measured on the demo half of ``benchmarks.judge``)."""
    reasons = [
        *findings.contradictions,
        *findings.off_question,
        *findings.unsupported,
        *findings.omissions,
        *findings.additions,
    ]
    limit = 5.0
    if findings.contradictions:
        limit = CONTRADICTION_CAP
    else:
        if findings.unsupported:
            limit = min(limit, UNSUPPORTED_CAP)
        if findings.off_question:
            limit = min(limit, OFF_QUESTION_CAP)
    if points := len(findings.omissions) + len(findings.additions):
        score = max(min(score, OMISSION_FLOOR), score - OMISSION_PENALTY * points)
    return min(score, limit), reasons


def cap(findings: Findings) -> tuple[float, list[str]]:
    """The highest score an answer with these findings may get (0-5), and one sentence per finding."""
    return adjust(5.0, findings)
