"""The judge: one object that scores an answer 0.0-5.0 against a reference answer (basis ``reference``)
or against the sources it was written from (basis ``sources``), for every part of the product that
scores — the app's background AI feedback, ``ragloop feedback score``, ``ragloop judge``, the eval
gate and the RLAIF rewards.

- A backend gives the first verdict: a chat model (``complete(prompt)``: its reply is parsed strictly
  and retried when malformed; every try failing is ``JudgeFailed``, never a 0) or a scorer that judges
  directly (``judge(question, reference, answer, basis)``: reference overlap, log-probabilities).
- The fact checks (``judge.facts``) then cap the score of an answer that contradicts or drops a number,
  unit, yes/no, polarity, name or qualifier, and say why.
- Verdicts are cached (SQLite, safe across threads) by the judge's identity and the exact input, so
  scoring the same data again costs nothing.

``identity`` names the judge wherever a score is stored (feedback records, manifests, reports).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Protocol, runtime_checkable

from judge import facts
from judge.prompts import (
    GROUNDED_PROMPT_VERSION,
    JUDGE_PROMPT_VERSION,
    JudgeFailed,
    Judgement,
    JudgeParseError,
    parse_judgement,
    prompt_for,
)

log = logging.getLogger(__name__)


@runtime_checkable
class ChatBackend(Protocol):
    """A chat model that writes a verdict in the judge's reply format."""

    model_id: str

    def complete(self, prompt: str) -> str: ...


@runtime_checkable
class DirectBackend(Protocol):
    """A scorer that returns its verdict directly."""

    model_id: str
    prompt_version: str

    def judge(self, question: str, reference: str, answer: str, basis: str) -> Judgement: ...


class JudgeCache:
    """Verdicts by key in SQLite; one connection shared by the threads of a process, behind a lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False)
        with self._lock:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS judgements (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            self._db.commit()

    def get(self, key: str) -> Judgement | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM judgements WHERE key = ?", (key,)).fetchone()
        return Judgement(**json.loads(row[0])) if row else None

    def put(self, key: str, judgement: Judgement) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO judgements VALUES (?, ?)", (key, json.dumps(asdict(judgement)))
            )
            self._db.commit()


class Judge:
    """A backend, the fact checks on top of it (``fact_checks``), a cache and retries."""

    def __init__(
        self,
        backend: ChatBackend | DirectBackend,
        cache: JudgeCache | None = None,
        *,
        tries: int = 3,
        fact_checks: bool = True,
    ) -> None:
        self.backend = backend
        self.cache = cache
        self.tries = tries
        self.fact_checks = fact_checks

    @property
    def identity(self) -> dict[str, str]:
        """What names this judge wherever its scores are stored: backend, model, prompt and checks."""
        if isinstance(self.backend, DirectBackend):
            prompt_version = self.backend.prompt_version
        else:
            prompt_version = f"{JUDGE_PROMPT_VERSION}+{GROUNDED_PROMPT_VERSION}"
        return {
            "backend": type(self.backend).__name__,
            "model": self.backend.model_id,
            "prompt_version": prompt_version,
            "facts": facts.FACTS_VERSION if self.fact_checks else "off",
        }

    @property
    def name(self) -> str:
        """One line for people: e.g. ``reference-overlap-v1 + facts-v1``."""
        return self.backend.model_id + (f" + {facts.FACTS_VERSION}" if self.fact_checks else "")

    def _backend_verdict(self, question: str, reference: str, answer: str, basis: str) -> Judgement:
        if isinstance(self.backend, DirectBackend):
            try:
                return self.backend.judge(question, reference, answer, basis)
            except Exception as err:
                raise JudgeFailed(f"the judge gave no score: {err}") from err
        prompt = prompt_for(basis).format(question=question, reference=reference, answer=answer)
        problems = []
        for attempt in range(1, self.tries + 1):
            reply = self.backend.complete(prompt)
            try:
                return parse_judgement(reply)
            except JudgeParseError as err:
                problems.append(f"try {attempt}: {err}")
                log.warning("judge reply unusable (%s), retrying", err)
        raise JudgeFailed("the judge gave no usable score: " + "; ".join(problems))

    def score(self, question: str, reference: str, answer: str, basis: str = "reference") -> Judgement:
        """Score ``answer`` against ``reference``: a reference answer (basis ``reference``) or the
        sources the answer was written from (basis ``sources``)."""
        ident = json.dumps(self.identity, sort_keys=True)
        key = hashlib.sha256("\x00".join([ident, basis, question, reference, answer]).encode()).hexdigest()
        if self.cache and (hit := self.cache.get(key)):
            return hit
        verdict = self._backend_verdict(question, reference, answer, basis)
        if self.fact_checks:
            verdict = apply_fact_checks(verdict, question, reference, answer, basis=basis)
        if self.cache:
            self.cache.put(key, verdict)
        return verdict

    def score_many(self, items: Iterable[dict], basis: str = "reference") -> tuple[list[dict], list[dict]]:
        """Score ``{id, question, reference, answer}`` items. Returns (scored, failed)."""
        from tqdm import tqdm

        scored, failed = [], []
        for item in tqdm(list(items), desc="judging", unit="answer"):
            try:
                j = self.score(item["question"], item["reference"], item["answer"], basis)
            except JudgeFailed as err:
                failed.append({**item, "error": str(err)})
                continue
            scored.append(
                {
                    **item,
                    "score": j.score,
                    "reason": j.reason,
                    "judge": self.backend.model_id,
                    "judge_prompt_version": self.identity["prompt_version"],
                    "judge_facts": self.identity["facts"],
                }
            )
        return scored, failed


def apply_fact_checks(
    verdict: Judgement, question: str, reference: str, answer: str, *, basis: str
) -> Judgement:
    """The verdict with its score lowered by what the fact checks found, and their sentences first."""
    score, reasons = facts.adjust(verdict.score, facts.check(question, reference, answer, basis))
    if score >= verdict.score:
        return verdict
    reason = "; ".join(reasons) + f" (the {verdict.score:.1f} before the fact checks: {verdict.reason})"
    return Judgement(round(score, 2), reason, verdict.thinking)
