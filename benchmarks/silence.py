"""Benchmark: when should the chain answer "the documents don't say" without asking the model?
Chooses ``rag.silence.MIN_EVIDENCE_SIMILARITY`` on one set and confirms it on another.

Each demo set holds answerable questions and questions the documents do not answer (``"answerable":
false``: the bike's weight, its price, an error code the manual does not list), each with two
paraphrases. The loop's corpus (demo/corpus + demo/extra) is indexed in the embedded store with the
packaged embedding model, and the chain computes its evidence for every question and paraphrase the way
it does at answer time: the best cosine between the question and one sentence of the retrieved chunks.

- correct refusals: the share of unanswerable questions below the threshold;
- false refusals: the share of answerable questions below it — a hidden answer, the costlier mistake.

The threshold chosen is the highest with at most 1 % false refusals on the tuning set (``demo``); the
confirm set (``demo-extra``, its own document) reports both rates at that threshold.

With ``--llm-url`` it also answers every question (no paraphrases) through the whole chain with the
served model and counts the designed answers, whichever way they came: the gate, or the model's own
"I cannot find it" turned into the designed answer.

    python -m benchmarks.silence [--llm-url http://127.0.0.1:8000/v1] [--output silence.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

import numpy as np

from core.pool import map_ordered
from core.settings import REPO_ROOT, Settings
from eval.run import answerable, read_set
from rag.chain import RagChain
from rag.service import build_chain, build_ingestor
from rag.silence import MIN_EVIDENCE_SIMILARITY, is_silent_answer

log = logging.getLogger(__name__)

SETS = {"tune": REPO_ROOT / "eval/sets/demo.jsonl", "confirm": REPO_ROOT / "eval/sets/demo-extra.jsonl"}
CORPUS = [REPO_ROOT / "demo/corpus", REPO_ROOT / "demo/extra"]
THRESHOLDS = [round(t, 2) for t in np.arange(0.26, 0.50, 0.02)]
MAX_FALSE_REFUSALS = 0.01


def evidence(chain: RagChain, items: list[dict]) -> list[tuple[bool, float]]:
    """(answerable, best question-sentence cosine) for every question and paraphrase."""
    out = []
    for item in items:
        for question in [item["question"], *item.get("paraphrases", [])]:
            _, best = chain.sources(question)
            out.append((answerable(item), -1.0 if best is None else best))
    return out


def rates(rows: list[tuple[bool, float]], threshold: float) -> dict[str, float]:
    refused = [(ok, best < threshold) for ok, best in rows]
    return {
        "correct_refusals": float(np.mean([r for ok, r in refused if not ok])),
        "false_refusals": float(np.mean([r for ok, r in refused if ok])),
    }


def choose(rows: list[dict]) -> float:
    """The highest threshold whose false-refusal share stays within ``MAX_FALSE_REFUSALS``."""
    allowed = [r["threshold"] for r in rows if r["false_refusals"] <= MAX_FALSE_REFUSALS]
    return max(allowed) if allowed else min(r["threshold"] for r in rows)


def answers(chain: RagChain, items: list[dict]) -> dict[str, object]:
    """Answer each question once through the whole chain; count the designed "don't say" answers."""
    # vLLM batches concurrent requests
    results = map_ordered(lambda item: chain.answer(item["question"]), items, workers=4, unit="question")
    silent = [
        (answerable(i), is_silent_answer(a.text), a.trace.silent) for i, a in zip(items, results, strict=True)
    ]
    unanswerable = [s for ok, s, _ in silent if not ok]
    answered = [s for ok, s, _ in silent if ok]
    return {
        "unanswerable": len(unanswerable),
        "correct_refusals": sum(unanswerable),
        "answerable": len(answered),
        "false_refusals": sum(answered),
        "by": {how: sum(1 for _, s, h in silent if s and h == how) for how in ("no-evidence", "model")},
    }


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm-url", help="also answer each question with this served model")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        llm = {"base_url": args.llm_url} if args.llm_url else {}
        settings = Settings(data_dir=Path(tmp), llm=llm, reviewed={"enabled": False})
        build_ingestor(settings).ingest(CORPUS)
        chain = build_chain(settings, llm=None if args.llm_url else object())
        sets = {role: read_set(path, unanswerable=True) for role, path in SETS.items()}
        measured = {role: evidence(chain, items) for role, items in sets.items()}
        table = {
            role: [{"threshold": t, **rates(rows, t)} for t in THRESHOLDS] for role, rows in measured.items()
        }
        chosen = choose(table["tune"])
        result: dict[str, object] = {"chosen": chosen, "configured": MIN_EVIDENCE_SIMILARITY, "table": table}
        if args.llm_url:
            result["answers"] = {role: answers(chain, items) for role, items in sets.items()}
    print(f"{'threshold':>9}  {'tune: correct / false refusals':>32}  {'confirm: correct / false':>26}")
    for n, t in enumerate(THRESHOLDS):
        cells = [
            f"{table[r][n]['correct_refusals']:>14.1%} / {table[r][n]['false_refusals']:<6.1%}" for r in table
        ]
        mark = "  <- chosen on tune" if t == chosen else ""
        print(f"{t:>9.2f}  {cells[0]:>32}  {cells[1]:>26}{mark}")
    counts = {r: (sum(not ok for ok, _ in rows), sum(ok for ok, _ in rows)) for r, rows in measured.items()}
    print(
        "questions incl. paraphrases (unanswerable, answerable): "
        + ", ".join(f"{r} {c}" for r, c in counts.items())
    )
    print(f"configured: rag.silence.MIN_EVIDENCE_SIMILARITY = {MIN_EVIDENCE_SIMILARITY}")
    for role, got in (result.get("answers") or {}).items():
        print(
            f"{role}, whole chain: {got['correct_refusals']}/{got['unanswerable']} unanswerable got "
            f"the designed answer, {got['false_refusals']}/{got['answerable']} answerable ones did "
            f"(by the gate {got['by']['no-evidence']}, by the model's own words {got['by']['model']})"
        )
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
