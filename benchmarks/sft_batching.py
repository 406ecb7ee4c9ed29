"""Benchmark: SFT rows per CPU minute with batches of similar length (``group_by_length``, Transformers'
``LengthGroupedSampler``) against random batches, on the same rows, model and settings, in one run.
A batch is padded to its longest row, so random batches of the loop's rows (a 300–700-token prompt and
a short answer) spend a share of every step on padding; grouping cuts that share.

    python -m benchmarks.sft_batching --export .data/loop-demo/feedback-grounded.jsonl [--rows 48]

Each way trains one epoch over the first ``--rows`` SFT rows of a finished loop's export (LoRA as the
loop sets it: r 16 on all linear layers, batch 4, no validation split) and prints its wall time,
seconds per step, the padded tokens per real token the sampler gives (mean over 200 orders), and the
ratio. The default model; a few minutes per step on 2 cores.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import tempfile
import time
from pathlib import Path

from core.settings import Settings

log = logging.getLogger(__name__)


def padding(lengths: list[int], batch: int, grouped: bool, orders: int = 200) -> float:
    """Padded tokens per real token over ``orders`` epoch orders of the sampler."""
    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    ratios = []
    for seed in range(orders):
        if grouped:
            order = get_length_grouped_indices(lengths, batch, generator=torch.Generator().manual_seed(seed))
        else:
            order = list(range(len(lengths)))
            random.Random(seed).shuffle(order)
        batches = [order[i : i + batch] for i in range(0, len(order), batch)]
        ratios.append(sum(max(lengths[j] for j in b) * len(b) for b in batches) / sum(lengths))
    return statistics.mean(ratios)


def main(argv: list[str] | None = None) -> list[dict]:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export", type=Path, required=True, help="a finished loop's feedback export")
    parser.add_argument("--rows", type=int, default=48, help="SFT rows to train on (one epoch)")
    args = parser.parse_args(argv)
    from transformers import AutoTokenizer

    from training.run import make_job
    from training.run import run as train

    settings = Settings()
    cfg = settings.loop
    base_model = settings.serve.model_dir or settings.default_model_dir
    tokenizer = AutoTokenizer.from_pretrained(str(base_model))
    rows_out = []
    with tempfile.TemporaryDirectory(prefix="ragloop-sft-batching-") as tmp:
        subset = Path(tmp) / "subset.jsonl"
        records = first_rows(args.export, args.rows, subset)  # both ways train on these rows
        lengths = [
            len(tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=True)["input_ids"])
            for r in records
        ]
        for grouped in (False, True):
            job = make_job(
                "sft",
                export_path=str(subset),
                base_model=str(base_model),
                output_dir=str(Path(tmp) / ("grouped" if grouped else "random")),
                lora_r=cfg.lora_r,
                lora_alpha=cfg.lora_alpha,
                target_modules=list(cfg.lora_targets),
                learning_rate=cfg.learning_rate,
                epochs=1,
                batch_size=cfg.batch_size,
                validation_share=0.0,
                min_rows=2,
                save_steps=10_000,
                group_by_length=grouped,
            )
            started = time.perf_counter()
            _, metrics = train("sft", job)
            wall = time.perf_counter() - started
            rows_out.append(
                {
                    "sampler": "group_by_length" if grouped else "random",
                    "rows": len(records),
                    "steps": metrics.get("steps"),
                    "wall_s": wall,
                    "s_per_step": wall / max(1, metrics.get("steps") or 1),
                    "padded_per_real_token": padding(lengths, cfg.batch_size, grouped),
                    "train_loss_last": metrics.get("train_loss_last"),
                }
            )
    base, grouped_row = rows_out
    for r in rows_out:
        print(
            f"{r['sampler']:<16} {r['rows']} rows, {r['steps']} steps: {r['wall_s']:.0f} s "
            f"({r['s_per_step']:.1f} s/step), padded tokens per real token {r['padded_per_real_token']:.3f}",
            flush=True,
        )
    print(f"group_by_length: {base['wall_s'] / grouped_row['wall_s']:.2f}x the rows per minute", flush=True)
    return rows_out


def first_rows(export: Path, rows: int, out: Path) -> list[dict]:
    """Write to ``out`` the export's first records that make ``rows`` SFT rows; return those rows."""
    from training.data import InsufficientData, build, read_export

    lines = [line for line in export.read_text().splitlines() if line.strip()]
    parsed = read_export(export)  # one record per non-blank line, in the file's order
    records: list[dict] = []
    end = 0
    while end < len(parsed) and len(records) < rows:
        end += 1
        try:
            records = build("sft", parsed[:end], 0.0, min_rows=1).records("train")
        except InsufficientData:
            continue
    out.write_text("\n".join(lines[:end]) + "\n")
    return records


if __name__ == "__main__":
    main()
