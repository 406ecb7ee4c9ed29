"""Benchmark: which RLAIF route buys more held-out AI score per CPU minute — DPO on judge-ranked pairs, or
the reference recipe (a reward model on those pairs, then PPO)?

    make loop-rlaif-demo                  # leaves its working directory in .data/loop-demo
    python -m benchmarks.rlaif_routes     # [--workdir .data/loop-demo] [--routes dpo,ppo]

Both routes start from the same SFT adapter and train from the same AI feedback — the candidates and
judge scores the loop's RLAIF stage wrote — so only the route differs. Each trained adapter is loaded
into one vLLM beside the SFT adapter, and all are evaluated on the loop's held-out questions with the
loop's judge; the SFT row is re-measured in the same run as the baseline. CPU minutes are this
process's CPU time while training (all threads), wall minutes beside them.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from core.manifest import AdapterManifest
from core.settings import DEMO_EVAL_SET, Settings
from eval.report import summary_row
from eval.run import evaluate, read_set
from ragloop.loop import Loop, is_holdout, loop_settings
from ragloop.rlaif import train_jobs
from ragloop.serve import VLLMServer, lora_rank_slot
from serving.vllm_admin import VLLMAdmin
from training.run import run as train

log = logging.getLogger(__name__)


# Route variants: the settings each changes in ``[loop.rlaif]``.
VARIANTS: dict[str, dict] = {
    "dpo": {"method": "dpo"},
    "dpo-rpo": {"method": "dpo", "sft_weight": 1.0},  # DPO + the chosen answers' NLL (RPO)
    "ppo": {"method": "ppo"},
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
    f"{'Δ AI mean':>9} {'Δ per CPU min':>13}"
)


def row_line(label: str, row: dict, sft: dict | None = None, info: dict | None = None) -> str:
    line = f"{label:<24} "
    line += f"{info['wall_min']:>8.1f} {info['cpu_min']:>8.1f} " if info else f"{'':>8} {'':>8} "
    line += f"{row['judge_mean']:>8.2f} {row['judge_above_3']:>7.1%} {row['judge_below_3']:>7.1%} "
    line += f"{row['similarity']:>6.3f}"
    if sft and info:
        gain = row["judge_mean"] - sft["judge_mean"]
        line += f" {gain:>+9.3f} {gain / info['cpu_min']:>+13.4f}"
    return line


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=None, help="a finished two-stage loop's directory")
    parser.add_argument("--routes", default="dpo,ppo", help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--llm-url", default=None, help="a running vLLM (LoRA enabled); default: start one")
    args = parser.parse_args(argv)

    settings = Settings()
    workdir = args.workdir or settings.data_dir / settings.loop.workdir
    sft_dir = workdir / "trained" / settings.loop.adapter_name
    if not (workdir / "rlaif-scores.jsonl").exists():
        raise SystemExit(f"no RLAIF candidates in {workdir}: run `make loop-rlaif-demo` first")
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
            log_file=out / "vllm.log",
        )
        server.start(timeout_s=600)
    try:
        from rag.service import build_chain

        url = args.llm_url or server.base_url
        run_settings = loop_settings(settings, url, fresh=False)  # the loop's directory, kept
        chain = build_chain(run_settings)
        judge = Loop(run_settings, base_model).judge(chain.embedder)
        items = read_set(settings.loop.eval_set or DEMO_EVAL_SET)[: settings.loop.limit]
        holdout = [i for i in items if is_holdout(i["id"], settings.loop.holdout_share)]
        admin = VLLMAdmin(url, settings.llm.api_key.get_secret_value())
        k = run_settings.retrieval.top_k

        def held_out(name: str, adapter_dir: Path) -> dict:
            admin.load(name, str(adapter_dir.resolve()))
            try:
                return summary_row(evaluate(chain, holdout, adapter=name, judge=judge, k=k, label=name))
            finally:
                admin.unload(name)

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
