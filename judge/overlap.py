"""The reference-overlap judge: a deterministic scorer that needs no judge model, only the retrieval
embedder — how close the answer is to the reference (or how much of it the sources carry)."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any

from core.citations import strip_citations
from judge.prompts import Judgement

_TERM = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)?")
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "the",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def key_terms(text: str) -> set[str]:
    return {t for t in _TERM.findall(text.lower()) if t not in STOP_WORDS}


# words about the answering, not about the subject ("According to the source [1]", "Please let me know
# ...") : no source carries them, so they must not count as unsupported claims
_META = frozenset(
    [
        "according",
        "based",
        "source",
        "sources",
        "document",
        "documents",
        "documentation",
        "provided",
        "information",
        "context",
        "mentioned",
        "states",
        "stated",
        "says",
        "answer",
        "question",
        "questions",
        "please",
        "let",
        "know",
        "help",
        "sure",
        "hope",
        "find",
        "other",
        "any",
        "further",
        "additional",
    ]
)


def claim_terms(text: str) -> set[str]:
    """The answer's key terms that make claims about the subject (no meta-discourse)."""
    return key_terms(text) - _META


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def stemmed_terms(text: str) -> set[str]:
    return {_stem(t) for t in key_terms(text)}


def covered(terms: set[str], other: set[str], prefix: int = 5) -> int:
    """How many of ``terms`` the other text has: the same stem, or the same first ``prefix`` letters
    (charge / charging / charger)."""
    heads = {t[:prefix] for t in other if len(t) >= prefix}
    return sum(t in other or (len(t) >= prefix and t[:prefix] in heads) for t in terms)


RESTATEMENT_CAP = 2.0


def adds_nothing(question: str, answer: str) -> bool:
    """True when the answer only restates its question: no claim term beyond the question's (stemmed,
    prefix-matched) and no leading yes/no. "Cookies set by a server persist across calls when you use
    httpx.get repeatedly." answers "Do cookies set by a server persist across calls when I use httpx.get
    repeatedly?" with nothing: every word of it is in the sources because it is in the question."""
    from judge.facts import leading_yes_no  # here: judge.facts imports this module

    if not question or leading_yes_no(answer) is not None:
        return False
    asked = stemmed_terms(question)
    claims = claim_terms(strip_citations(answer, " "))  # "[2]" is no claim
    return all(covered({_stem(t)}, asked) or _inflects(t, asked) for t in claims)


_INFLECTIONS = ("d", "s", "ed", "es", "ing", "n")


def _inflects(word: str, terms: set[str]) -> bool:
    """``word`` is a short term of ``terms`` inflected (use -> used, give -> given, get -> gets), which
    the stemmer (it keeps at least 4 letters) and the 5-letter prefix match both miss."""
    return any(word.startswith(t) and word[len(t) :] in _INFLECTIONS for t in terms if len(t) >= 3)


def capped_restatement(score: float, reason: str, question: str, answer: str) -> tuple[float, str]:
    """The score, at most ``RESTATEMENT_CAP`` when the answer only restates its question (either basis)."""
    if score > RESTATEMENT_CAP and adds_nothing(question, answer):
        return RESTATEMENT_CAP, f"the answer only restates the question ({score:.2f} before: {reason})"
    return score, reason


def _ramp(value: float, low: float, high: float) -> float:
    return min(max((value - low) / (high - low), 0.0), 1.0)


_SOURCE_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


class ReferenceOverlapJudge:
    """A deterministic judge where no capable judge model can run (a laptop CPU, CI); the fact checks
    (``judge.facts``) on top of it catch what closeness cannot (a changed number, a flipped yes/no).

    - Against a reference: half closeness (the mean of the embedding cosine, 0.2 -> 0, 0.6 -> full,
      and that of question + reference against question + answer, 0.4 -> 0, 0.8 -> full; v3), half
      the share of the reference's key terms (numbers, names, nouns; stemmed, prefix-matched) the
      answer contains.
    - Against sources: half how much of the answer the sources carry (best paragraph cosine, share of
      the answer's key terms in the sources), half how well it matches the three source sentences that
      answer the question best — so grounded text that answers another question scores lower; an
      answer that only restates its question (no term beyond it, no yes/no) is capped at 2 (v4).

    Tuned on the ``demo`` half of ``benchmarks.judge`` (see the README); it cannot check reasoning —
    use an LLM judge (Bedrock, a served chat model) wherever a capable one runs.

    ``encode`` maps a list of texts to unit vectors (the retrieval embedder's ``encode``)."""

    model_id = "reference-overlap-v5"
    prompt_version = "overlap-v5"

    def __init__(self, encode, *, cache_size: int = 4096) -> None:
        self._encode = encode
        self._vectors: OrderedDict[str, Any] = OrderedDict()  # text -> vector; sources repeat a lot
        self.cache_size = cache_size
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Empty the vector cache (to time a judgement as the first one for its texts)."""
        with self._lock:
            self._vectors.clear()

    def encode(self, texts: list[str]):
        """Unit vectors of ``texts``; a text seen recently is not encoded again."""
        import numpy as np

        with self._lock:
            todo = list(dict.fromkeys(t for t in texts if t not in self._vectors))
            if todo:
                for text, vector in zip(todo, self._encode(todo), strict=True):
                    self._vectors[text] = vector
            for text in texts:
                self._vectors.move_to_end(text)
            while len(self._vectors) > max(self.cache_size, len(texts)):
                self._vectors.popitem(last=False)
            return np.stack([self._vectors[t] for t in texts])

    def score(self, reference: str, answer: str, question: str = "") -> tuple[float, str]:
        """Against a reference. With the question, closeness is the mean of the bare cosine (0.2 -> 0,
        0.6 -> full) and the cosine of "question + reference" against "question + answer" (0.4 -> 0,
        0.8 -> full; the shared question lifts it): a terse reference ("About 7 hours.") carries little
        meaning alone, so v2 scored a full sentence with its facts about 3.6; read as answers to the same
        question they are close. Half of it stays bare so a short off-topic answer is not lifted by the
        question alone. Chosen on the demo half of ``benchmarks.judge`` among ctx-only / mean, ramps."""
        import numpy as np

        texts = [reference, answer or " "]
        if question:
            texts += [f"{question} {reference}", f"{question} {answer or ' '}"]
        vectors = self.encode(texts)
        cosine = float(np.dot(vectors[0], vectors[1]))
        closeness = _ramp(cosine, 0.2, 0.6)
        reason = f"cosine {cosine:.2f}"
        if question:
            in_context = float(np.dot(vectors[2], vectors[3]))
            closeness = 0.5 * (closeness + _ramp(in_context, 0.4, 0.8))
            reason += f" ({in_context:.2f} with the question)"
        terms = stemmed_terms(reference)
        found = covered(terms, stemmed_terms(answer))
        coverage = found / len(terms) if terms else closeness
        score = round(5.0 * (0.5 * closeness + 0.5 * coverage), 2)
        reason = f"{reason}; {found} of {len(terms)} key terms of the reference"
        if adds_nothing(question, reference):  # the reference itself only restates: nothing to miss
            return score, reason
        return capped_restatement(score, reason, question, answer)

    def grounded(self, question: str, sources: str, answer: str) -> tuple[float, str]:
        import numpy as np

        paragraphs = [p for p in sources.split("\n\n") if p.strip()] or [" "]
        sentences = [
            s for s in _SOURCE_SENTENCE.split(sources) if len(s.split()) >= 3 and not s.startswith("<")
        ] or [" "]
        answer = strip_citations(answer, " ")  # "[1]" is no claim (and "1" is in every source header)
        vectors = self.encode([answer or " ", question or " ", *paragraphs, *sentences])
        ans, q = vectors[0], vectors[1]
        para_vecs, sent_vecs = vectors[2 : 2 + len(paragraphs)], vectors[2 + len(paragraphs) :]
        terms = claim_terms(answer)
        # support: the answer against all the sources
        cosine = float(np.max(para_vecs @ ans))
        support = len(terms & key_terms(sources)) / len(terms) if terms else _ramp(cosine, 0.2, 0.8)
        carried = 0.5 * _ramp(cosine, 0.2, 0.8) + 0.5 * support
        # evidence: the answer against the sentences that answer the question
        top = np.argsort(-(sent_vecs @ q))[:3]
        evidence = " ".join(sentences[i] for i in top)
        in_evidence = len(terms & key_terms(evidence)) / len(terms) if terms else 0.0
        matches = 0.5 * _ramp(float(np.max(sent_vecs[top] @ ans)), 0.2, 0.7) + 0.5 * in_evidence
        score = round(5.0 * (0.5 * carried + 0.5 * matches), 2)
        reason = (
            f"best source cosine {cosine:.2f}; {support:.0%} of the answer's key terms in the sources, "
            f"{in_evidence:.0%} in the passages that answer the question"
        )
        return capped_restatement(score, reason, question, answer)

    def judge(self, question: str, reference: str, answer: str, basis: str) -> Judgement:
        if basis == "sources":
            score, reason = self.grounded(question, reference, answer)
        else:
            score, reason = self.score(reference, answer, question)
        return Judgement(score, reason, "reference overlap")
