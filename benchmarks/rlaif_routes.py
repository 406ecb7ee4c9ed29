"""Benchmark: which RLAIF route buys more held-out AI score per CPU minute — DPO on judge-ranked pairs,
the reference recipe (a reward model on those pairs, then PPO), or best-of-k rejection sampling (each
question's best candidate as an SFT row)?

    make loop-rlaif-demo                  # leaves its working directory in .data/loop-demo
    python -m benchmarks.rlaif_routes     # [--workdir .data/loop-demo] [--routes dpo,ppo,best-of-k]
    python -m benchmarks.rlaif_routes --workdir DIR --sft-dir ADAPTER   # any SFT adapter of that loop

All routes start from the same SFT adapter and train from the same AI feedback — the candidates and
judge scores the loop's RLAIF stage wrote; when the directory has none (a one-stage loop, or another
SFT adapter) they are sampled here first, as the stage does, from the training questions and the
verified drafts' questions — so only the route differs. Each trained adapter is loaded into one vLLM
beside the SFT adapter, and all are evaluated on the loop's held-out questions with the loop's judge;
the SFT row is re-measured in the same run as the baseline, and each route's paired differences
against it carry 95 % intervals. CPU minutes are this process's CPU time while training (all threads),
wall minutes beside them.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from core.manifest import AdapterManifest
from core.settings import Settings
from eval.gate import paired
from eval.report import summary_row
from eval.run import evaluate, read_set
from judge.factory import build_judge
from ragloop.loop import is_holdout, loop_settings
from ragloop.rlaif import collect_feedback, drafted_items, train_jobs
from ragloop.serve import VLLMServer, lora_rank_slot
from serving.vllm_admin import VLLMAdmin
from training.run import run as train

log = logging.getLogger(__name__)


# Route variants: the settings each changes in ``[loop.rlaif]``.
VARIANTS: dict[str, dict] = {
    "dpo": {"method": "dpo"},
    "dpo-rpo": {"method": "dpo", "sft_weight": 1.0},  # DPO + the chosen answers' NLL (RPO)
    "ppo": {"method": "ppo"},
    "best-of-k": {"method": "best_of_k"},  # rejection sampling: the judge's best candidate per question
}


def train_route(settings: Settings, variant: str, workdir: Path, sft_dir: Path, out: Path) -> dict:
    cfg = settings.loop.rlaif.model_copy(update=VARIANTS[variant])
    jobs = train_jobs(
        cfg,
        Path(AdapterManifest.read(sft_dir).base_model),
        sft_dir,
        workdir / "rlaif-candidates.jsonl",
        workdir / "rlaif-scores.jsonl",
        out / variant,
        batch=settings.loop.batch_size,
        max_tokens=settings.loop.max_tokens,
    )
    wall, cpu = time.perf_counter(), time.process_time()
    for m, job in jobs:
        train(m, job)
    return {
        "adapter_dir": Path(jobs[-1][1].output_dir),
        "wall_min": (time.perf_counter() - wall) / 60,
        "cpu_min": (time.process_time() - cpu) / 60,
        "steps": " + ".join(m for m, _ in jobs),
    }


HEADER = (
    f"{'route':<24} {'wall min':>8} {'CPU min':>8} {'AI mean':>8} {'>3':>7} {'<3':>7} {'sim':>6} "
    f"{'Δ AI mean':>9} {'Δ per CPU min':>13}  {'Δ AI (95 % CI)':<24} {'Δ sim (95 % CI)':<24}"
)


def interval(result: dict, sft: dict, key: str) -> str:
    d = paired(result, sft, key)
    return f"{d.mean:+.3f} ({d.low:+.3f}…{d.high:+.3f})" if d else "n/a"


def row_line(label: str, result: dict, sft: dict | None = None, info: dict | None = None) -> str:
    """One route's row; ``result`` and ``sft`` are full ``evaluate`` results (per-question items)."""
    row = summary_row(result)
    line = f"{label:<24} "
    line += f"{info['wall_min']:>8.1f} {info['cpu_min']:>8.1f} " if info else f"{'':>8} {'':>8} "
    line += f"{row['judge_mean']:>8.2f} {row['judge_above_3']:>7.1%} {row['judge_below_3']:>7.1%} "
    line += f"{row['similarity']:>6.3f}"
    if sft and info:
        gain = row["judge_mean"] - summary_row(sft)["judge_mean"]
        line += f" {gain:>+9.3f} {gain / info['cpu_min']:>+13.4f}"
        line += f"  {interval(result, sft, 'judge_score'):<24} {interval(result, sft, 'similarity'):<24}"
    return line


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=None, help="a finished two-stage loop's directory")
    parser.add_argument("--routes", default="dpo,ppo", help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--llm-url", default=None, help="a running vLLM (LoRA enabled); default: start one")
    parser.add_argument("--sft-dir", type=Path, default=None, help="the SFT adapter (default: the loop's)")
    args = parser.parse_args(argv)

    settings = Settings()
    workdir = args.workdir or settings.data_dir / settings.loop.workdir
    sft_dir = args.sft_dir or workdir / "trained" / settings.loop.adapter_name
    if not (sft_dir / "manifest.json").exists():
        raise SystemExit(f"no SFT adapter at {sft_dir}: run `make loop-rlaif-demo` first, or give --sft-dir")
    routes = [r.strip() for r in args.routes.split(",") if r.strip()]
    unknown = set(routes) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown routes {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    out = workdir / "routes-benchmark"
    out.mkdir(parents=True, exist_ok=True)
    table = out / "routes.txt"

    base_model = Path(AdapterManifest.read(sft_dir).base_model)
    server = None
    if not args.llm_url:  # up during training too, as in the loop
        server = VLLMServer(
            base_model,
            served_name=settings.served_model_name,
            max_model_len=settings.serve.max_model_len,
            dtype=settings.serve.dtype,
            max_lora_rank=lora_rank_slot(settings.loop.lora_r),
            kv_cache_gib=settings.serve.kv_cache_gib,
            cpu_bind=settings.serve.cpu_bind,
            log_file=out / "vllm.log",
        )
        server.start(timeout_s=600)
    try:
        from rag.service import build_chain

        url = args.llm_url or server.base_url
        run_settings = loop_settings(settings, url, fresh=False)  # the loop's directory, kept
        chain = build_chain(run_settings)
        judge = build_judge(run_settings, embedder=chain.embedder)  # the loop's judge
        items = [i for path in settings.loop.eval_set for i in read_set(path)][: settings.loop.limit]
        holdout = [i for i in items if is_holdout(i["id"], settings.loop.holdout_share)]
        admin = VLLMAdmin(url, settings.llm.api_key.get_secret_value())
        k = run_settings.retrieval.top_k

        def held_out(name: str, adapter_dir: Path) -> dict:
            admin.load(name, str(adapter_dir.resolve()))
            try:
                return evaluate(chain, holdout, adapter=name, judge=judge, k=k, label=name)
            finally:
                admin.unload(name)

        if not (workdir / "rlaif-scores.jsonl").exists():  # sample as the loop's RLAIF stage does
            from feedback.service import get_feedback_store

            train_items = [i for i in items if not is_holdout(i["id"], settings.loop.holdout_share)]
            drafted = drafted_items(get_feedback_store(run_settings).list())
            admin.load("sft", str(sft_dir.resolve()))
            try:
                collect_feedback(
                    chain,
                    judge,
                    train_items + (drafted if run_settings.loop.rlaif.drafted_questions else []),
                    sft_served="sft",
                    workdir=workdir,
                    cfg=run_settings.loop.rlaif,
                    echo=log.info,
                )
            finally:
                admin.unload("sft")
        sft = held_out("sft", sft_dir)
        lines = [
            f"RLAIF routes on {len(holdout)} held-out questions, judge {judge.backend.model_id}, "
            f"AI feedback from {sft_dir.name}'s samples in {workdir}",
            HEADER,
            row_line("SFT (baseline)", sft),
        ]
        table.write_text("\n".join(lines) + "\n")
        for route in routes:
            info = train_route(settings, route, workdir, sft_dir, out)
            row = held_out(f"rlaif-{route}", info["adapter_dir"])
            lines.append(row_line(f"{route} ({info['steps']})", row, sft, info))
            table.write_text("\n".join(lines) + "\n")
            log.info("%s", lines[-1])
    finally:
        if server:
            server.stop()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
