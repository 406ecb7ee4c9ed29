"""Fact consistency: the checks an embedding or a small model misses — numbers, units, yes/no, negation,
named entities and key qualifiers — between an answer and what it is judged against.

A judge's score says how close an answer is; these checks say whether it *contradicts* or *drops* a
fact. They run in microseconds, need no model, and are the same for both bases:

- ``reference``: the facts of the reference answer must reappear in the answer, and the answer must not
  state a different value, unit, yes/no or polarity for them.
- ``sources``: every number and name in the answer must appear in the sources, and a sentence of the
  answer must not flip the polarity of the source sentence it restates.

``check`` returns the findings; ``cap`` turns them into the highest score the answer may get, with one
sentence per finding. ``judge.core.Judge`` applies the cap to whatever score its backend gave, so the
layer combines with any judge (the reference-overlap scorer, a served model, Bedrock).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.citations import strip_citations
from judge.overlap import STOP_WORDS

FACTS_VERSION = "facts-v1"

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


def _strip(text: str) -> str:
    return strip_citations(text, " ")


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
    """The text names the entity: every word of it, or its initials as one word ("EU")."""
    low = _strip(text).lower()
    words = name.split()
    if all(re.search(rf"(?<![a-z0-9]){re.escape(w)}(?![a-z0-9])", low) for w in words):
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
    other_sentences, other_clauses = sentences(other), clauses(other)
    flips = []
    for claim in claims:
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


# ---- the check ----------------------------------------------------------------------------------------


@dataclass
class Findings:
    """What the checks found. ``contradictions`` make an answer wrong; ``omissions`` incomplete;
    ``unsupported`` (sources basis) claims the sources do not carry."""

    contradictions: list[str] = field(default_factory=list)
    omissions: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.contradictions or self.omissions or self.unsupported)


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


def check_reference(question: str, reference: str, answer: str) -> Findings:
    """The answer against a reference answer."""
    f = Findings()
    ref_q, ans_q, q_q = quantities(reference), quantities(answer), quantities(question)
    _quantity_findings(ref_q, ans_q, q_q, f)
    # a number with a reference unit that the reference never states (and the question does not hold)
    ref_units = {q.unit for q in ref_q if q.unit}
    for a in ans_q:
        known = any(_same_value(a.value, r.value) for r in ref_q + q_q)
        if a.unit in ref_units and not known and not any(a.text in c for c in f.contradictions):
            f.contradictions.append(f"the answer states {a.text}, which the reference does not")
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
    for name in sorted(entities(reference)):
        if not names_entity(name, answer) and not names_entity(name, question):
            f.omissions.append(f"the answer does not name {name!r}")
    for qualifier in sorted(qualifiers(reference)):
        if not keeps_qualifier(qualifier, answer) and not keeps_qualifier(qualifier, question):
            f.omissions.append(f"the answer drops the reference's {qualifier!r}")
    return f


def check_sources(question: str, sources: str, answer: str) -> Findings:
    """The answer against the sources it was written from: its numbers and names must be there, and
    no sentence may flip the polarity of the source sentence it restates."""
    f = Findings()
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
    return f


def check(question: str, reference: str, answer: str, basis: str = "reference") -> Findings:
    return (check_sources if basis == "sources" else check_reference)(question, reference, answer)


# ---- from findings to a score cap ---------------------------------------------------------------------

CONTRADICTION_CAP = 1.0
UNSUPPORTED_CAP = 2.0
OMISSION_PENALTY = 1.0
OMISSION_FLOOR = 2.0


def cap(findings: Findings) -> tuple[float, list[str]]:
    """The highest score an answer with these findings may get (0-5), and one sentence per finding."""
    reasons = findings.contradictions + findings.unsupported + findings.omissions
    limit = 5.0
    if findings.contradictions:
        limit = CONTRADICTION_CAP
    elif findings.unsupported:
        limit = UNSUPPORTED_CAP
    if findings.omissions:
        limit = min(limit, max(OMISSION_FLOOR, 5.0 - OMISSION_PENALTY * len(findings.omissions)))
    return limit, reasons
