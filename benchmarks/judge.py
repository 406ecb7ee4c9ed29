"""Judge benchmark: can a judge tell a right answer from a wrong one, and how fast?

Two labelled sets under ``eval/sets/``:
- ``judge-pairs.jsonl``: each reference answer of the sets with references, made wrong on purpose in one
  named way (numbers, negation, yes/no, entity or unit, dropped qualifier, neighbouring question) beside
  right answers in other words (hand-written paraphrase, padding); ``--build`` writes it.
- ``judge-real.jsonl``: real answers of the loop's models (base, LangChain) to the same questions, each
  labelled correct, partial or wrong by a careful reader against the source document.

Per judge and basis (``reference``: against the reference answer; ``sources``: against the retrieved
sources the answer was written from):
- pairwise accuracy per wrong kind: the right answer scores strictly above its wrong twin — with the
  reference itself as the right answer, and (harder) with the paraphrase;
- paraphrase / padding: how far they score below the reference itself (target: at most 0.5);
- AUC on the real labels (correct against wrong; correct against partial or wrong);
- seconds per judgement, p50 and p90, uncached, on this machine.

Sets are reported separately: ``demo`` is where the fact checks were tuned, ``demo-extra`` is not;
``realdocs2`` (technical docs) in two halves by item number, ``-a`` read for facts-v3, ``-b`` never.

    python -m benchmarks.judge                       # overlap, overlap + facts; 'served' if an LLM answers
    python -m benchmarks.judge --judges overlap+facts,served+facts --served-url http://127.0.0.1:8000/v1
    python -m benchmarks.judge --build               # rewrite judge-pairs.jsonl from the eval sets
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from core.jsonl import read_rows, write_rows
from core.settings import REPO_ROOT, Settings, get_settings
from eval.judge_pairs import RIGHT_KINDS, WRONG_KINDS, make_pairs, read_paraphrases
from eval.retrieval import normalise
from eval.run import answerable
from judge.core import Judge
from ragloop.grounding import CARRIED_SCORE as CARRIED  # the loop's bar to keep a correction

log = logging.getLogger(__name__)
SETS = REPO_ROOT / "eval" / "sets"
PAIRS = SETS / "judge-pairs.jsonl"
REAL = SETS / "judge-real.jsonl"
PARAPHRASES = SETS / "judge-paraphrases.jsonl"
SOURCE_SETS = ("demo", "demo-extra", "realdocs2")  # the sets with reference answers
TUNED_ON = "demo"
# Technical docs (HTTPX, FastAPI, the Rust book), split by item number: the judge's misses on the odd
# half ("-a") were read while building facts-v3; the even half ("-b") was never read.
CORPUS_OF = {"realdocs2": SETS / "realdocs2"}


def reported_set(set_name: str, item: str) -> str:
    """The name a row is reported under: realdocs2's items by the parity of their number."""
    if set_name != "realdocs2":
        return set_name
    return f"{set_name}-{'a' if int(item.rsplit('-', 1)[1]) % 2 else 'b'}"


def build_pairs(settings: Settings) -> Path:
    """Pairs from every set with references; sources = what the base chain retrieved for the question
    (taken from the labelled real answers where there is one, else retrieved from the set's corpus)."""
    from rag.service import build_embedder

    encode = build_embedder(settings).encode
    paraphrases = read_paraphrases(PARAPHRASES)
    sources = {r["item"]: r["sources"] for r in read_rows(REAL) if r["model"] == "base"}
    rows = []
    evidence: dict[str, list[str]] = {}
    for name in SOURCE_SETS:
        items = [i for i in read_rows(SETS / f"{name}.jsonl") if answerable(i)]
        evidence |= {i["id"]: [e["text"] for e in i["evidence"]] for i in items if i.get("evidence")}
        missing = [i["question"] for i in items if i["id"] not in sources]
        if missing and name in CORPUS_OF:
            retrieved = retrieved_prompts(settings, CORPUS_OF[name], missing)
            sources |= {i["id"]: retrieved[i["question"]] for i in items if i["id"] not in sources}
        rows += make_pairs(items, encode, paraphrases, name)
    for row in rows:
        row["sources"] = sources.get(row["item"], "")
        row["set"] = reported_set(row["set"], row["item"])
        if row["item"] in evidence:  # does the prompt hold the passage that answers? (realdocs2 only)
            row["evidence_in_sources"] = all(
                normalise(text) in normalise(row["sources"]) for text in evidence[row["item"]]
            )
    return write_rows(rows, PAIRS)


def retrieved_prompts(settings: Settings, corpus: Path, questions: list[str]) -> dict[str, str]:
    """The chain's prompt (sources, then the question) per question, over ``corpus`` indexed afresh
    with the default retrieval settings in a scratch data directory. No model answers."""
    import tempfile

    from rag.chain import build_prompt
    from rag.service import build_chain, build_ingestor

    with tempfile.TemporaryDirectory() as tmp:
        scratch = settings.model_copy(
            update={
                "data_dir": Path(tmp),
                "reviewed": settings.reviewed.model_copy(update={"enabled": False}),
                "vector_store": settings.vector_store.model_copy(update={"kind": "embedded"}),
            }
        )
        build_ingestor(scratch).ingest(sorted(p for p in corpus.iterdir() if p.is_file()), progress=False)
        chain = build_chain(scratch)
        return {q: build_prompt(q, chain.sources(q)[0]) for q in questions}


# ---- judges --------------------------------------------------------------------------------------------


def make_judge(spec: str, settings: Settings, served_url: str | None, embedder) -> Judge:
    """``overlap``, ``served``, ``openai``, ``bedrock``; ``+facts`` adds the fact checks. Uncached."""
    from judge.factory import build_judge

    name, _, extra = spec.partition("+")
    judge = build_judge(
        settings, backend=name, url=served_url if name == "served" else None, embedder=embedder
    )
    judge.cache = None
    judge.fact_checks = extra == "facts"
    return judge


# ---- metrics -------------------------------------------------------------------------------------------


def auc(positives: list[float], negatives: list[float]) -> float | None:
    """P(a random positive scores above a random negative), ties count half (Mann-Whitney)."""
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def judge_pairs(judge: Judge, pairs: list[dict], basis: str, timings: list[float]) -> dict[str, Any]:
    """Scores of every row and of each item's reference itself; metrics per set."""
    from tqdm import tqdm

    def score(row: dict, answer: str) -> float:
        against = row["sources"] if basis == "sources" else row["reference"]
        started = time.perf_counter()
        value = judge.score(row["question"], against, answer, basis).score
        timings.append(time.perf_counter() - started)
        return value

    by_item: dict[str, dict[str, float]] = defaultdict(dict)
    set_of: dict[str, str] = {}
    evidence_held: dict[str, bool] = {}
    for row in tqdm(pairs, desc=f"{judge.name} / {basis}", unit="answer", disable=None):
        item = row["item"]
        set_of[item] = row["set"]
        evidence_held[item] = bool(row.get("evidence_in_sources"))
        if "reference" not in by_item[item]:
            by_item[item]["reference"] = score(row, row["reference"])
        by_item[item][row["kind"]] = score(row, row["answer"])
    out: dict[str, Any] = {}
    for set_name in sorted(set(set_of.values())):
        items = [s for i, s in by_item.items() if set_of[i] == set_name]
        metrics: dict[str, Any] = {}
        for kind in WRONG_KINDS:
            have = [s for s in items if kind in s]
            with_para = [s for s in have if "paraphrase" in s]
            metrics[kind] = {
                "n": len(have),
                "vs_reference": _share(s["reference"] > s[kind] for s in have),
                "vs_paraphrase": _share(s["paraphrase"] > s[kind] for s in with_para),
                "wrong_mean": _mean(s[kind] for s in have),
            }
        for kind in RIGHT_KINDS:
            have = [s for s in items if kind in s]
            metrics[kind] = {
                "n": len(have),
                "mean_drop": _mean(s["reference"] - s[kind] for s in have),
                "within_0.5": _share(s["reference"] - s[kind] <= 0.5 for s in have),
                "mean": _mean(s[kind] for s in have),
            }
        metrics["reference_mean"] = _mean(s["reference"] for s in items)
        # the loop's grounding check keeps a correction its prompt carries (score >= 3, sources basis):
        # the share of right answers it keeps where the prompt does hold their evidence
        held = [i for i, s in by_item.items() if set_of[i] == set_name and evidence_held.get(i)]
        metrics["carried"] = {
            "n": len(held),
            "share": _share(by_item[i]["reference"] >= CARRIED for i in held),
        }
        out[set_name] = metrics
    return out


def judge_real(judge: Judge, real: list[dict], basis: str, timings: list[float]) -> dict[str, Any]:
    from tqdm import tqdm

    scores: dict[str, list[float]] = defaultdict(list)
    per_set: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in tqdm(real, desc=f"{judge.name} / {basis} / real", unit="answer", disable=None):
        against = row["sources"] if basis == "sources" else row["reference"]
        started = time.perf_counter()
        value = judge.score(row["question"], against, row["answer"], basis).score
        timings.append(time.perf_counter() - started)
        scores[row["label"]].append(value)
        per_set[row["set"]][row["label"]].append(value)

    def aucs(s: dict[str, list[float]]) -> dict[str, Any]:
        return {
            "n": {k: len(v) for k, v in s.items()},
            "auc_correct_vs_wrong": auc(s["correct"], s["wrong"]),
            "auc_correct_vs_rest": auc(s["correct"], s["wrong"] + s["partial"]),
            "mean": {k: _mean(v) for k, v in s.items()},
        }

    return {"all": aucs(scores), **{name: aucs(s) for name, s in sorted(per_set.items())}}


def uncached_seconds(judge: Judge, real: list[dict], basis: str, n: int = 40) -> list[float]:
    """Seconds per judgement on ``n`` real answers with every cache emptied first: what the app pays
    for a new answer (the judge is warm: model loaded, server up)."""
    timings = []
    for row in real[:: max(1, len(real) // n)][:n]:
        if hasattr(judge.backend, "forget"):
            judge.backend.forget()
        against = row["sources"] if basis == "sources" else row["reference"]
        started = time.perf_counter()
        judge.score(row["question"], against, row["answer"], basis)
        timings.append(time.perf_counter() - started)
    return timings


def _share(flags) -> float | None:
    flags = list(flags)
    return sum(flags) / len(flags) if flags else None


def _mean(values) -> float | None:
    values = list(values)
    return statistics.fmean(values) if values else None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# ---- report --------------------------------------------------------------------------------------------


def table(results: dict[str, dict]) -> str:
    def f(x: float | None, digits: int = 2) -> str:
        return "–" if x is None else f"{x:.{digits}f}"

    lines = []
    for basis in ("reference", "sources"):
        lines.append(f"\n### basis: {basis}\n")
        head = (
            "| judge | set | "
            + " | ".join(WRONG_KINDS)
            + " | paraphrase drop (≤0.5) | padded drop (≤0.5) | carried"
            + " | AUC c/w | AUC c/rest | s/judgement p50 |"
        )
        lines += [head, "|" + "---|" * (head.count("|") - 1)]
        for name, res in results.items():
            if basis not in res:
                continue
            r = res[basis]
            for set_name, m in r["pairs"].items():
                real = r["real"].get(set_name, {})
                pair_cells = [f"{f(m[k]['vs_reference'])} / {f(m[k]['vs_paraphrase'])}" for k in WRONG_KINDS]
                lines.append(
                    f"| {name} | {set_name}{' (tuned)' if set_name == TUNED_ON else ''} | "
                    + " | ".join(pair_cells)
                    + f" | {f(m['paraphrase']['mean_drop'])} ({f(m['paraphrase']['within_0.5'])}) | "
                    f"{f(m['padded']['mean_drop'])} ({f(m['padded']['within_0.5'])}) | "
                    f"{f(m['carried']['share'])} ({m['carried']['n']}) | "
                    f"{f(real.get('auc_correct_vs_wrong'))} | {f(real.get('auc_correct_vs_rest'))} | "
                    f"{f(r['seconds_p50'], 4)} |"
                )
    lines.append(
        "\nPairwise cells: accuracy with the reference / with the paraphrase as the right answer. Drops: "
        "mean score below the reference itself (share within 0.5). Carried: share of references scored "
        f">= {CARRIED:g} where the sources hold their evidence (n). AUC on the labelled real answers: "
        "correct vs wrong / correct vs partial or wrong. Seconds: uncached, judge warm, this machine."
    )
    return "\n".join(lines)


def published(results: dict[str, dict]) -> dict[str, Any]:
    """The figures the report and the Models page show (``judge.figures``), per judge."""
    from datetime import date

    from judge.figures import spec_of

    judges = {}
    for res in results.values():
        entry: dict[str, Any] = {}
        for basis in ("reference", "sources"):
            if basis not in res:
                continue
            r = res[basis]
            pairwise = [
                m[kind]["vs_reference"]
                for m in r["pairs"].values()
                for kind in WRONG_KINDS
                if m[kind]["vs_reference"] is not None
            ]
            entry[basis] = {
                "pairwise_min": min(pairwise),
                "auc": r["real"]["all"]["auc_correct_vs_wrong"],
                "seconds_p50": r["seconds_p50"],
                "facts": res["identity"].get("facts", "off"),  # the fact checks these figures are of
            }
            entry["real_answers"] = sum(r["real"]["all"]["n"].values())
        judges[spec_of(res["identity"])] = entry
    return {"date": date.today().isoformat(), "judges": judges}


def publish(results: dict[str, dict], path: Path) -> Path:
    """Write this run's judges' figures to ``path``, keeping the judges, and the bases of a judge, that
    this run did not measure (``--bases reference`` leaves a judge's sources figures as they were)."""
    figures = published(results)
    if path.exists():
        earlier = json.loads(path.read_text()).get("judges", {})
        figures["judges"] = earlier | {
            name: earlier.get(name, {}) | entry for name, entry in figures["judges"].items()
        }
    path.write_text(json.dumps(figures, indent=1) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--build", action="store_true", help="rewrite judge-pairs.jsonl and stop")
    parser.add_argument("--judges", default="overlap,overlap+facts", help="comma-separated judge specs")
    parser.add_argument("--bases", default="reference,sources")
    parser.add_argument("--served-url", default=None, help="OpenAI-compatible server for 'served'")
    parser.add_argument("--output", type=Path, default=None, help="write the metrics JSON here")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="write the figures the report and Models page show (this run's judges; others kept)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    if args.build:
        print(f"wrote {build_pairs(settings)}")
        return
    from rag.service import build_embedder

    embedder = build_embedder(settings)
    pairs, real = read_rows(PAIRS), read_rows(REAL)
    results: dict[str, dict] = {}
    for spec in args.judges.split(","):
        judge = make_judge(spec, settings, args.served_url, embedder)
        results[spec] = {"identity": judge.identity}
        for basis in args.bases.split(","):
            timings: list[float] = []
            results[spec][basis] = {
                "pairs": judge_pairs(judge, pairs, basis, timings),
                "real": judge_real(judge, real, basis, timings),
                "judgements": len(timings),
            }
            cold = uncached_seconds(judge, real, basis)
            results[spec][basis] |= {
                "seconds_p50": percentile(cold, 0.5),
                "seconds_p90": percentile(cold, 0.9),
            }
    if args.output:
        args.output.write_text(json.dumps(results, indent=1))
    if args.publish:
        from judge.figures import FIGURES

        log.info("published the figures to %s", publish(results, FIGURES))
    print(table(results))


if __name__ == "__main__":
    main()
