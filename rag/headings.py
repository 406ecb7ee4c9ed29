"""An answer that is only a heading path ("SFT Trainer › Customization › Train adapters with PEFT [2]").

Chunks of structured documents carry their section path; the prompt shows it as a source attribute, and
a small model sometimes echoes it as its whole answer. ``heading_only`` tells such an answer apart: the
chain asks the model once more for a real answer (``REPAIR``), the eval report counts them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from core.citations import strip_citations
from rag.chunking import SECTION_SEPARATOR

REPAIR = (
    "That is a section heading, not an answer. Answer the question itself in one to three short "
    "sentences, citing the source like [1]."
)
_SEPARATOR = SECTION_SEPARATOR.strip()


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("*", "").replace("#", "").split()).strip(" .:")


def heading_only(text: str, sections: Iterable[str]) -> bool:
    """Whether ``text``, without its citations, is nothing but a heading path: one of the sources'
    section paths or a tail of one, or a run of " › "-joined parts with no sentence in it."""
    core = _norm(strip_citations(text))
    if not core:
        return False
    for section in sections:
        if not section:
            continue
        parts = [_norm(p) for p in section.split(_SEPARATOR)]
        tails = {_norm(f" {_SEPARATOR} ".join(parts[i:])) for i in range(len(parts))}
        if core in tails or core in parts:
            return True
    return _SEPARATOR in core and not re.search(r"[.!?]\s", core) and len(core.split()) <= 20
