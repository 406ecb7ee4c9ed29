"""Citation marks in answers — "[1]", "[1, 2]", "[1-3]" — with one definition for the chain (attribution,
heading repair, reviewed answers), the judge's fact checks, eval's answer checks and training data."""

from __future__ import annotations

import re

MARK = re.compile(r"\[(\d+(?:\s*[,\-–]\s*\d+)*)\]")  # group 1: "1", "1, 2", "1-3"
_SPACED_MARK = re.compile(r"\s*" + MARK.pattern)
_PART = re.compile(r"(\d+)(?:\s*[\-–]\s*(\d+))?")
_MAX_SOURCE = 50  # a prompt holds at most 50 sources (retrieval.top_k): "[1-3]" is three, "[2019-2024]" none


def has_citation(text: str) -> bool:
    """Whether ``text`` holds a citation mark."""
    return MARK.search(text or "") is not None


def cited_numbers(text: str) -> list[int]:
    """The source numbers ``text`` cites, in order of appearance (repeats kept), lists and short ranges
    expanded: "[1, 2] … [4-5]" -> [1, 2, 4, 5]."""
    numbers: list[int] = []
    for mark in MARK.finditer(text or ""):
        for start, end in _PART.findall(mark.group(1).replace(",", " ")):
            low = int(start)
            high = int(end) if end else low
            if not end:
                numbers.append(low)
            else:
                numbers += list(range(low, high + 1)) if low <= high <= _MAX_SOURCE else [low, high]
    return numbers


def strip_citations(text: str, replacement: str = "") -> str:
    """``text`` without its citation marks and the white space before each (``replacement`` in their
    place: " " keeps the words on either side apart)."""
    return _SPACED_MARK.sub(replacement, text or "")
