"""Perturbation pairs for the judge benchmark: each reference answer of an eval set, made wrong on purpose
in one named way, beside answers that are right in other words.

Wrong twins (a judge must score them below the right answer):
- ``numbers``: every number changed (25 km/h -> 38 km/h);
- ``negation``: a "not" inserted after the first verb that takes one, or the reference's negation removed;
- ``yes_no``: a leading Yes/No flipped;
- ``entity_unit``: a unit swapped for another of the same kind (km/h -> mph, kg -> lb), or else a name
  swapped for a name from another reference of the set;
- ``qualifier``: a key qualifier dropped ("at least", "up to", "only", "within", "whichever comes first" ...);
- ``neighbour``: the reference of the nearest other question from the same source (right facts, wrong
  question).

Right answers (a judge must score them close to the reference itself):
- ``paraphrase``: the reference in other words, written by hand (``eval/sets/judge-paraphrases.jsonl``);
- ``padded``: the reference wrapped in the filler models like to add.

Every kind that cannot be made from a reference (no number, no yes/no, ...) is skipped for it, so the
counts differ per kind. Deterministic: the same set gives the same pairs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.jsonl import read_rows

WRONG_KINDS = ("numbers", "negation", "yes_no", "entity_unit", "qualifier", "neighbour")
RIGHT_KINDS = ("paraphrase", "padded")

_NUM = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w])")
_NUM_WORDS = {"two": "four", "three": "five", "four": "six", "five": "eight", "once": "twice", "ten": "six"}
_NEGATABLE = re.compile(r"\b(is|are|was|were|can|must|should|will|may)\b", re.IGNORECASE)
_NEGATIONS = [
    (re.compile(r"\bno longer\b", re.IGNORECASE), "still"),
    (re.compile(r"\b(must|may|should|can|will|does|do|is|are) not\b", re.IGNORECASE), r"\1"),
    (re.compile(r"\bcannot\b", re.IGNORECASE), "can"),
    (re.compile(r"\bnever\b", re.IGNORECASE), "always"),
    (re.compile(r"\bnot\b", re.IGNORECASE), ""),
]
_UNIT_SWAPS = [
    ("km/h", "mph"),
    ("mph", "km/h"),
    ("kg", "lb"),
    ("km", "miles"),
    ("Wh", "Ah"),
    ("Ah", "Wh"),
    ("°C", "°F"),
    ("bar", "psi"),
    ("mm", "cm"),
    ("euros", "dollars"),
    ("hours", "minutes"),
    ("minutes", "hours"),
    ("seconds", "minutes"),
    ("days", "weeks"),
    ("working days", "weeks"),
    ("years", "months"),
    ("months", "years"),
    ("percent", "euros"),
    ("litres", "kg"),
    ("g", "kg"),
    ("W", "kW"),
    ("V", "W"),
    ("A", "V"),
    ("inch", "cm"),
]
QUALIFIER_DROPS = [
    r"at least ",
    r"[Uu]p to ",
    r"at most ",
    r"[Oo]nly ",
    r"[Ww]ithin ",
    r",? whichever comes first",
    r"[Uu]nder ",
    r"below ",
    r"[Bb]efore ",
    r"more than ",
    r"less than ",
    r"longer than ",
    r"thinner than ",
    r"[Ee]very ",
    r" or newer",
    r" or sooner[^;.]*",
    r", free,",
    r" for free",
    r"free ",
    r", for the original owner",
    r" if unused and",
    r", if ridden less than 50 km and in the original box",
]
_PADDING = (
    "Based on the provided documents, {ref} Please let me know if you have any other questions.",
    "{ref} You can find this in the documentation.",
    "Sure! {ref}",
)
_UNIT_NAMES = {u for pair in _UNIT_SWAPS for u in pair} | {"Wh/km"}
_CAPITALISED = re.compile(r"(?<!^)(?<![.!?] )\b([A-Z][a-z]+[A-Za-z]*)\b")


def change_numbers(text: str) -> str | None:
    def bump(m: re.Match[str]) -> str:
        whole = m.group(1).replace(",", "")
        value = int(whole)
        new = value + max(1, round(value * 0.5)) if value < 1000 else value * 2
        out = f"{new:,}" if "," in m.group(1) else str(new)
        return out + (m.group(2) or "")

    changed = _NUM.sub(bump, text)
    if changed == text:
        for word, other in _NUM_WORDS.items():
            pattern = re.compile(rf"\b{word}\b", re.IGNORECASE)
            if pattern.search(changed):
                changed = pattern.sub(other, changed, count=1)
    return changed if changed != text else None


def flip_negation(text: str) -> str | None:
    body = re.sub(r"^(Yes|No),?\s*", "", text)
    prefix = text[: len(text) - len(body)]
    for pattern, repl in _NEGATIONS:
        if pattern.search(body):
            out = re.sub(r"\s{2,}", " ", pattern.sub(repl, body, count=1)).strip()
            return prefix + out
    m = _NEGATABLE.search(body)
    if not m:
        return None
    return prefix + body[: m.end()] + " not" + body[m.end() :]


def flip_yes_no(text: str) -> str | None:
    m = re.match(r"^(Yes|No)\b", text)
    if not m:
        return None
    return ("No" if m.group(1) == "Yes" else "Yes") + text[m.end() :]


def swap_entity_or_unit(text: str, names: list[str]) -> str | None:
    for unit, other in _UNIT_SWAPS:
        pattern = re.compile(rf"(?<=\d)(\s*){re.escape(unit)}(?![\w/])")
        if pattern.search(text):
            return pattern.sub(lambda m, new=other: m.group(1) + new, text, count=1)
    own = [n for n in _CAPITALISED.findall(text) if n not in _UNIT_NAMES]
    for name in own:
        others = [n for n in names if n != name and n.lower() not in text.lower()]
        if others:
            return re.sub(rf"\b{re.escape(name)}\b", others[len(name) % len(others)], text, count=1)
    return None


def drop_qualifier(text: str) -> str | None:
    for pattern in QUALIFIER_DROPS:
        out = re.sub(pattern, "", text, count=1)
        if out != text:
            out = re.sub(r"\s{2,}", " ", out).strip()
            return out[0].upper() + out[1:]
    return None


def neighbour(item: dict[str, Any], items: list[dict[str, Any]], encode: Callable) -> str | None:
    """The reference of the most similar other question from the same source document."""
    same = [o for o in items if o["id"] != item["id"] and o.get("source") == item.get("source")]
    same = [o for o in same if o["reference"].strip() != item["reference"].strip()]
    if not same:
        return None
    vecs = encode([item["question"], *[o["question"] for o in same]])
    best = max(range(len(same)), key=lambda i: float(vecs[0] @ vecs[i + 1]))
    return same[best]["reference"]


def read_paraphrases(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    rows = read_rows(path)
    return {r["id"]: r["paraphrase"] for r in rows}


def make_pairs(
    items: list[dict[str, Any]], encode: Callable, paraphrases: dict[str, str], set_name: str
) -> list[dict[str, Any]]:
    """One row per (item, kind): {id, set, item, kind, wrong (bool), question, reference, answer}."""
    names = sorted({n for it in items for n in _CAPITALISED.findall(it["reference"])} - _UNIT_NAMES)
    rows: list[dict[str, Any]] = []
    for n, item in enumerate(items):
        ref = item["reference"]
        made: dict[str, str | None] = {
            "numbers": change_numbers(ref),
            "negation": flip_negation(ref),
            "yes_no": flip_yes_no(ref),
            "entity_unit": swap_entity_or_unit(ref, names),
            "qualifier": drop_qualifier(ref),
            "neighbour": neighbour(item, items, encode),
            "paraphrase": paraphrases.get(item["id"]),
            "padded": _PADDING[n % len(_PADDING)].format(ref=ref),
        }
        for kind, answer in made.items():
            if answer is None or answer.strip() == ref.strip():
                continue
            rows.append(
                {
                    "id": f"{item['id']}:{kind}",
                    "set": set_name,
                    "item": item["id"],
                    "kind": kind,
                    "wrong": kind in WRONG_KINDS,
                    "question": item["question"],
                    "reference": ref,
                    "answer": answer,
                    "source": item.get("source"),
                }
            )
    return rows
