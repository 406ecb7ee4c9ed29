"""Benchmark: when is a reviewed answer "close enough" to a new question? Chooses
``reviewed.min_similarity`` by measurement, on one set, and confirms it on another.

For each eval set with paraphrases (``demo`` to tune, ``demo-extra`` to confirm), the items are split
in two halves by a stable hash. The first half's references go into a real reviewed-answers index (the
embedded vector store, the packaged embedding model) as approved answers to their questions. Then:

- recall on paraphrases: each indexed item's two paraphrases (written as users ask, not in the
  question's words) must find *its own* reviewed answer at or above the threshold;
- false use on unrelated questions: the other half's questions and paraphrases — about the same
  product, often the same page, but a different question — must find none.

The threshold chosen maximises paraphrase recall minus false use on the tuning set (Youden's J; ties go
to the higher threshold), and the confirm set reports both rates at that threshold. A false use costs
less than it seems: the reviewed answer reaches the model labelled with the question it answers, beside
the retrieved document chunks; the loop's held-out questions measure what it does to their answers.

    python -m benchmarks.reviewed_answers [--output reviewed.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

import numpy as np

from core.settings import REPO_ROOT, Settings
from eval.run import read_set
from rag.reviewed import ReviewedAnswer, ReviewedAnswers
from rag.service import build_embedder, build_reviewed

log = logging.getLogger(__name__)

SETS = {"tune": REPO_ROOT / "eval/sets/demo.jsonl", "confirm": REPO_ROOT / "eval/sets/demo-extra.jsonl"}
THRESHOLDS = [round(t, 2) for t in np.arange(0.50, 0.96, 0.05)]


def indexed_half(item_id: str) -> bool:
    from serving.routing import bucket

    return bucket(f"reviewed:{item_id}") < 0.5


def best_matches(index: ReviewedAnswers, questions: list[str]) -> list[tuple[str | None, float]]:
    """(feedback id, similarity) of the closest reviewed answer per question, at any similarity."""
    vectors = index.embedder.encode_query(questions)
    out = []
    for v in vectors:
        found = index.match(v)
        out.append((found[0].answer.feedback_id, found[0].similarity) if found else (None, -1.0))
    return out


def measure(path: Path, settings: Settings) -> dict:
    items = read_set(path)
    indexed = [i for i in items if indexed_half(i["id"])]
    others = [i for i in items if not indexed_half(i["id"])]
    index = build_reviewed(settings, build_embedder(settings))
    index.min_similarity, index.k = -1.0, 1  # raw nearest neighbour; thresholds are applied below
    for item in indexed:
        index.put(ReviewedAnswer(item["id"], item["question"], item["reference"], "benchmark", "2026-11-25"))
    positives = [(i["id"], p) for i in indexed for p in i.get("paraphrases", [])]
    negatives = [q for i in others for q in [i["question"], *i.get("paraphrases", [])]]
    pos = best_matches(index, [p for _, p in positives])
    neg = best_matches(index, negatives)
    verbatim = best_matches(index, [i["question"] for i in indexed])
    rows = []
    for t in THRESHOLDS:
        recall = np.mean([fid == own and s >= t for (own, _), (fid, s) in zip(positives, pos, strict=True)])
        false_use = np.mean([s >= t for _, s in neg])
        exact = np.mean([fid == i["id"] and s >= t for i, (fid, s) in zip(indexed, verbatim, strict=True)])
        rows.append(
            {"threshold": t, "paraphrase_recall": recall, "verbatim_recall": exact, "false_use": false_use}
        )
    index.close()
    return {
        "set": path.name,
        "indexed": len(indexed),
        "paraphrases": len(positives),
        "unrelated": len(negatives),
        "rows": rows,
    }


def choose(rows: list[dict]) -> float:
    """The threshold with the best paraphrase recall minus false use (the higher one on a tie)."""
    best = max(rows, key=lambda r: (round(r["paraphrase_recall"] - r["false_use"], 6), r["threshold"]))
    return best["threshold"]


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for role, path in SETS.items():
            settings = Settings(data_dir=Path(tmp) / role)
            results[role] = measure(path, settings)
    chosen = choose(results["tune"]["rows"])
    print(f"{'threshold':>9}  " + "  ".join(f"{r:>34}" for r in results))
    print(f"{'':>9}  " + "  ".join(f"{'paraphrase / verbatim / false use':>34}" for _ in results))
    for n, t in enumerate(THRESHOLDS):
        cells = []
        for role in results:
            r = results[role]["rows"][n]
            cells.append(
                f"{r['paraphrase_recall']:>12.1%} {r['verbatim_recall']:>9.1%} {r['false_use']:>10.1%}"
            )
        mark = "  <- chosen on tune" if t == chosen else ""
        print(f"{t:>9.2f}  " + "  ".join(f"{c:>34}" for c in cells) + mark)
    for role, res in results.items():
        print(
            f"{role}: {res['set']}, {res['indexed']} reviewed answers, {res['paraphrases']} paraphrases, "
            f"{res['unrelated']} unrelated questions"
        )
    confirm = next(r for r in results["confirm"]["rows"] if r["threshold"] == chosen)
    print(
        f"chosen min_similarity {chosen:.2f} (best recall - false use on tune); on confirm: paraphrase recall"
        f" {confirm['paraphrase_recall']:.1%}, false use {confirm['false_use']:.1%}"
    )
    if args.output:
        args.output.write_text(json.dumps({"chosen": chosen, **results}, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
