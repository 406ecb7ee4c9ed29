"""Pure metric functions, each checked against hand-computed cases in tests/eval/test_metrics.py."""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.citations import cited_numbers, strip_citations
from rag.attribution import SENTENCE, WORD  # one definition of a sentence


def source_matches(source: str, page: int | None, expected_source: str, expected_page: int | None) -> bool:
    """True if the file name is the expected one and, when a page is expected, so is the page."""
    return Path(source).name == expected_source and (expected_page is None or page == expected_page)


def recall_at_k(hits: Sequence[bool], k: int) -> float:
    """1.0 if any of the first k retrieved items is relevant (one relevant source per question)."""
    return 1.0 if any(hits[:k]) else 0.0


def reciprocal_rank(hits: Sequence[bool]) -> float:
    for rank, hit in enumerate(hits, start=1):
        if hit:
            return 1.0 / rank
    return 0.0


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def percentiles(values: Sequence[float], qs: Sequence[float] = (50, 95)) -> dict[str, float]:
    if not values:
        return {f"p{int(q)}": float("nan") for q in qs}
    return {f"p{int(q)}": float(np.percentile(values, q)) for q in qs}


def score_distribution(scores: Sequence[float]) -> dict[str, float]:
    """Judge scores 0-5: mean and the shares above and below 3 (the reference design's terms)."""
    if not scores:
        return {"mean": float("nan"), "share_above_3": float("nan"), "share_below_3": float("nan"), "n": 0}
    arr = np.asarray(scores, dtype=float)
    return {
        "mean": float(arr.mean()),
        "share_above_3": float((arr > 3).mean()),
        "share_below_3": float((arr < 3).mean()),
        "n": int(arr.size),
    }


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion (95 % by default)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def paired_bootstrap_ci(
    deltas: Sequence[float], level: float = 0.95, resamples: int = 5000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of paired differences (candidate − baseline on the same
    questions): how far the gate's mean difference could move with another draw of questions."""
    arr = np.asarray(deltas, dtype=float)
    if arr.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, arr.size, size=(resamples, arr.size))].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return (float(low), float(high))


def win_rate(wins: int, ties: int, losses: int) -> dict[str, float]:
    """Win rate counting a tie as half a win, with a Wilson 95 % interval."""
    n = wins + ties + losses
    rate = (wins + 0.5 * ties) / n if n else float("nan")
    low, high = wilson_interval(wins + 0.5 * ties, n)
    return {"wins": wins, "ties": ties, "losses": losses, "win_rate": rate, "ci_low": low, "ci_high": high}


_SOURCE_HEADER = re.compile(r"\[\d+\]\s*\([^)]*\)")  # "[2] (manual.pdf, page 3)", as the prompt lays out
PASTE_WORDS = 30  # a verbatim run this long is a pasted passage; a faithful one-sentence fact is shorter


GROUNDED_COSINE = 0.5


def answer_sentences(answer: str) -> list[str]:
    """The answer's sentences without citation markers: "5 hours. [1]" is one sentence, "5 hours.",
    not two (a bare "[1]" would count as an ungrounded sentence and halve a cited answer's grounding)."""
    sentences = (" ".join(re.sub(r"\s*\[\d+\]", "", s).split()) for s in SENTENCE.split(answer))
    return [s for s in sentences if WORD.search(s)]


def grounding_cosine(answer_vecs: np.ndarray, chunk_vecs: np.ndarray) -> float:
    """Share of answer sentences whose embedding is within ``GROUNDED_COSINE`` of a retrieved chunk's
    snippet. The grounding measure until 2026-11-26, still reported beside ``k_precision``: it cannot
    tell a reference its sources carry from one they do not (held-out AUC 0.51 on realdocs2, see
    ``benchmarks.grounding``) and it scores short sentences low whatever they say."""
    if len(answer_vecs) == 0 or len(chunk_vecs) == 0:
        return 0.0
    return float(((answer_vecs @ chunk_vecs.T).max(axis=1) >= GROUNDED_COSINE).mean())


def citation_only(answer: str) -> bool:
    """True when the answer is nothing but citation markers ("[1]", "[1] [2] [3]") or empty."""
    return not WORD.search(strip_citations(answer, " "))


def pastes_source(answer: str, sources: str, min_words: int = PASTE_WORDS) -> bool:
    """True when the answer copies a source header or a run of ``min_words`` consecutive words of the
    sources (case-insensitive) instead of answering in its own words."""
    if _SOURCE_HEADER.search(answer):
        return True
    words = [w.lower() for w in WORD.findall(answer)]
    if len(words) < min_words:
        return False
    source_words = [w.lower() for w in WORD.findall(sources)]
    runs = {tuple(source_words[i : i + min_words]) for i in range(len(source_words) - min_words + 1)}
    return any(tuple(words[i : i + min_words]) in runs for i in range(len(words) - min_words + 1))


def valid_citation(answer: str, n_sources: int) -> bool:
    """True when the answer cites at least one source and every [n] it cites was given to it."""
    cited = cited_numbers(answer)
    return bool(cited) and all(1 <= n <= n_sources for n in cited)


_PUNCTUATION = str.maketrans({c: " " for c in string.punctuation})
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def squad_tokens(text: str) -> list[str]:
    """SQuAD's answer normalisation: lower case, punctuation and articles dropped, split on spaces."""
    return _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split()


def k_precision(answer: str, sources: Sequence[str]) -> float:
    """Grounding: the share of the answer's tokens that its sources contain, counted with multiplicity
    (K-Precision, Adlakha et al. 2023, "Evaluating Correctness and Faithfulness of Instruction-Following
    Models for Question Answering": of the lexical faithfulness measures, the closest to people's
    judgements). Citation markers are not tokens; an answer with no tokens scores 0 (it says nothing
    the sources carry). On realdocs2 it tells references their prompt carries from ones it does not
    with AUC 0.80 / 0.86 (halves a / b), where ``grounding_cosine`` had 0.64 / 0.51."""
    tokens = squad_tokens(strip_citations(answer, " "))
    if not tokens:
        return 0.0
    common = Counter(tokens) & Counter(t for text in sources for t in squad_tokens(text))
    return sum(common.values()) / len(tokens)
