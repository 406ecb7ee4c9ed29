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

With ``--llm-url`` (a served model) it also measures the whole answer path: the corrected questions are
asked again through the real chain, verbatim and in both paraphrases, with the indexed half of both sets
as reviewed answers, and each answer is judged against the reviewed text (the issue's targets: >= 4 on
90 % of verbatim and 80 % of paraphrased questions). Per-question rows go to ``--output``.

    python -m benchmarks.reviewed_answers [--output reviewed.json] [--llm-url http://127.0.0.1:8000/v1]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.settings import REPO_ROOT, Settings
from eval.run import read_set
from rag.reviewed import ReviewedAnswer, ReviewedAnswers
from rag.service import build_embedder, build_reviewed

log = logging.getLogger(__name__)

CORPORA = [REPO_ROOT / "demo/corpus", REPO_ROOT / "demo/extra"]
SETS = {"tune": REPO_ROOT / "eval/sets/demo.jsonl", "confirm": REPO_ROOT / "eval/sets/demo-extra.jsonl"}
THRESHOLDS = [round(t, 2) for t in np.arange(0.50, 0.96, 0.05)]


def indexed_half(item_id: str) -> bool:
    from serving.routing import bucket

    return bucket(f"reviewed:{item_id}") < 0.5


def best_matches(index: ReviewedAnswers, questions: list[str]) -> list[tuple[str | None, float]]:
    """(feedback id, similarity) of the closest reviewed answer per question, at any similarity."""
    vectors = index.embedder.encode_query(questions)
    out = []
    for question, v in zip(questions, vectors, strict=True):
        found = index.match(v, question)
        out.append((found[0].answer.feedback_id, found[0].similarity) if found else (None, -1.0))
    return out


def measure(path: Path, settings: Settings) -> dict:
    items = read_set(path)
    indexed = [i for i in items if indexed_half(i["id"])]
    others = [i for i in items if not indexed_half(i["id"])]
    index = build_reviewed(settings, build_embedder(settings))
    index.min_similarity = -1.0  # the nearest allowed neighbour at any similarity; thresholds below
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


def answer_path(settings: Settings) -> dict:
    """Both sets' indexed halves as reviewed answers over both corpora; every indexed question asked
    again verbatim and paraphrased through the real chain, judged against its reviewed text."""
    from judge.factory import build_judge
    from rag.service import build_chain, build_ingestor

    ingestor = build_ingestor(settings)
    ingestor.ingest(CORPORA, progress=False)
    chain = build_chain(settings)
    judge = build_judge(settings, embedder=chain.embedder)
    assert chain.reviewed is not None
    items = [i for path in SETS.values() for i in read_set(path) if indexed_half(i["id"])]
    for item in items:
        chain.reviewed.put(
            ReviewedAnswer(item["id"], item["question"], item["reference"], "bench", "2026-11-26")
        )
    asks = [
        (kind, item, question)
        for item in items
        for kind, question in [("verbatim", item["question"])]
        + [("paraphrase", p) for p in item.get("paraphrases", [])]
    ]
    rows = []
    for kind, item, question in tqdm(asks, desc="reviewed answers, answer path", unit="question"):
        answer = chain.answer(question)
        verdict = judge.score(question, item["reference"], answer.text)
        rows.append(
            {
                "kind": kind,
                "id": item["id"],
                "question": question,
                "reference": item["reference"],
                "answer": answer.text,
                "score": verdict.score,
                "reason": verdict.reason,
                "used": answer.trace.reviewed_answers,
                "direct": answer.trace.reviewed_direct,
            }
        )
    summary = {}
    for kind in ("verbatim", "paraphrase"):
        mine = [r for r in rows if r["kind"] == kind]
        summary[kind] = {
            "asked": len(mine),
            "at_least_4": float(np.mean([r["score"] >= 4 for r in mine])),
            "used_own": float(np.mean([r["id"] in r["used"] for r in mine])),
            "direct": float(np.mean([r["direct"] for r in mine])),
        }
    return {"summary": summary, "rows": rows}


def choose(rows: list[dict]) -> float:
    """The threshold with the best paraphrase recall minus false use (the higher one on a tie)."""
    best = max(rows, key=lambda r: (round(r["paraphrase_recall"] - r["false_use"], 6), r["threshold"]))
    return best["threshold"]


def choose_direct(rows: list[dict]) -> float:
    """The lowest threshold no unrelated question of the tuning set reaches: at or above it the approved
    text is given as the answer itself, so a false use there would answer another question."""
    return min(r["threshold"] for r in rows if r["false_use"] == 0)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path)
    parser.add_argument("--llm-url", help="a served model: also measure the whole answer path")
    parser.add_argument(
        "--direct-similarity",
        type=lambda v: None if v == "none" else float(v),
        default=Settings().reviewed.direct_similarity,
        help="for the answer path: give the approved text itself at or above this ('none': never)",
    )
    parser.add_argument(
        "--specifics",
        choices=["off", "names", "capitalised"],
        default=Settings().reviewed.specifics,
        help="leave out entries whose question names other specifics (rag.reviewed.specifics)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for role, path in SETS.items():
            settings = Settings(data_dir=Path(tmp) / role, reviewed={"specifics": args.specifics})
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
    direct = choose_direct(results["tune"]["rows"])
    at_direct = next(r for r in results["confirm"]["rows"] if r["threshold"] == direct)
    print(
        f"chosen direct_similarity {direct:.2f} (no unrelated question of tune reaches it); on confirm: "
        f"paraphrases given directly {at_direct['paraphrase_recall']:.1%}, "
        f"false use {at_direct['false_use']:.1%}"
    )
    confirm = next(r for r in results["confirm"]["rows"] if r["threshold"] == chosen)
    print(
        f"chosen min_similarity {chosen:.2f} (best recall - false use on tune); on confirm: paraphrase recall"
        f" {confirm['paraphrase_recall']:.1%}, false use {confirm['false_use']:.1%}"
    )
    if args.llm_url:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                data_dir=Path(tmp),
                llm={"base_url": args.llm_url},
                reviewed={"direct_similarity": args.direct_similarity, "specifics": args.specifics},
            )
            results["answer_path"] = answer_path(settings)
        for kind, row in results["answer_path"]["summary"].items():
            print(
                f"answer path, {kind}: {row['at_least_4']:.1%} of {row['asked']} judged >= 4 against the "
                f"reviewed text; own reviewed answer used {row['used_own']:.1%}, "
                f"given directly {row['direct']:.1%}"
            )
    if args.output:
        args.output.write_text(
            json.dumps({"chosen": chosen, "direct": direct, **results}, indent=2, default=float) + "\n"
        )


if __name__ == "__main__":
    main()
