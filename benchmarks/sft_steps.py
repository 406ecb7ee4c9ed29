"""Benchmark: SFT optimizer steps per minute and peak memory, by how a step is computed — rows per
forward pass (the micro-batch; the rest of the step's rows accumulated) and whether activations are
recomputed in the backward pass (gradient checkpointing, TRL's default). Every way trains the same rows
with the same number of rows per optimizer step, so the learning is the same; only time and memory
differ.

    python -m benchmarks.sft_steps --export .data/loop-demo/feedback-grounded.jsonl \
        [--steps 4] [--way b4-ckpt=4x1+ckpt --way b1x4=1x4 --way bf16=1x4+bf16 ...]

A way is ``NAME=MICROxACCUMULATION`` with ``+ckpt`` for gradient checkpointing and ``+bf16`` for
bfloat16 mixed precision (autocast; the weights stay float32), e.g. ``1x4+bf16``. Each way runs in its
own process (a clean peak RSS) and trains ``--steps`` optimizer steps with the loop's LoRA settings and
its validation share (so the two evaluations an SFT job makes — before and after — are in the time, at
the micro-batch's size). It prints wall time (loading included, the same for every way), peak resident
memory, the last step's train loss and the validation loss after, and the time ratio against the first
way. The default model; about a minute per step on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from typing import NamedTuple

log = logging.getLogger(__name__)

DEFAULT_WAYS = ["batch 4, checkpointing=4x1+ckpt", "1 x 4 accumulated=1x4"]


class Way(NamedTuple):
    name: str
    micro: int
    accumulation: int
    checkpointing: bool = False
    bf16: bool = False


def parse_way(text: str) -> Way:
    """``NAME=MICROxACC[+ckpt][+bf16]`` → the way (name, micro-batch, accumulation, checkpointing, bf16)."""
    name, _, spec = text.rpartition("=")
    shape, *flags = spec.split("+")
    unknown = set(flags) - {"ckpt", "bf16"}
    if unknown:
        raise ValueError(f"unknown way flag(s) {sorted(unknown)} in {text!r}: use +ckpt, +bf16")
    micro, _, accumulation = shape.partition("x")
    return Way(name or spec, int(micro), int(accumulation or 1), "ckpt" in flags, "bf16" in flags)


def train_one(export: str, steps: int, way: Way) -> dict:
    """Run in a child process: train ``steps`` steps one way; wall time, peak RSS and losses."""
    from core.settings import Settings
    from training.run import make_job
    from training.run import run as train

    settings = Settings()
    cfg = settings.loop
    with tempfile.TemporaryDirectory(prefix="ragloop-sft-steps-") as tmp:
        job = make_job(
            "sft",
            export_path=export,
            base_model=str(settings.serve.model_dir or settings.default_model_dir),
            output_dir=tmp,
            lora_r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            target_modules=list(cfg.lora_targets),
            learning_rate=cfg.learning_rate,
            max_steps=steps,
            batch_size=way.micro,
            gradient_accumulation=way.accumulation,
            gradient_checkpointing=way.checkpointing,
            bf16=way.bf16,
            validation_share=cfg.validation_share,
            min_rows=2,
            save_steps=10_000,
            seed=0,
        )
        timed = timings()
        started = time.perf_counter()
        _, metrics = train("sft", job)
        wall = time.perf_counter() - started
    steps = metrics.get("steps") or 1
    return {
        "wall_s": round(wall, 1),
        "s_per_step": round((timed["train"] - timed["evaluate_in_train"]) / steps, 1),
        "s_per_evaluation": round(timed["evaluate"] / max(1, timed["evaluations"]), 1),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "steps": metrics.get("steps"),
        "train_loss_last": metrics.get("train_loss_last"),
        "eval_loss": metrics.get("eval_loss"),
    }


def timings() -> dict[str, float]:
    """Wall time from now on in this process inside ``Trainer.train`` and ``Trainer.evaluate``, and the
    evaluations' time within training, so steps and evaluations are timed apart."""
    from transformers import Trainer

    timed = {"train": 0.0, "evaluate": 0.0, "evaluations": 0, "evaluate_in_train": 0.0, "training": 0}
    train, evaluate = Trainer.train, Trainer.evaluate

    def timed_train(self, *args, **kwargs):
        began, timed["training"] = time.perf_counter(), 1
        try:
            return train(self, *args, **kwargs)
        finally:
            timed["train"] += time.perf_counter() - began
            timed["training"] = 0

    def timed_evaluate(self, *args, **kwargs):
        began = time.perf_counter()
        try:
            return evaluate(self, *args, **kwargs)
        finally:
            spent = time.perf_counter() - began
            timed["evaluate"] += spent
            timed["evaluations"] += 1
            timed["evaluate_in_train"] += spent if timed["training"] else 0.0

    Trainer.train, Trainer.evaluate = timed_train, timed_evaluate
    return timed


def main(argv: list[str] | None = None) -> list[dict]:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export", required=True, help="a finished loop's feedback export")
    parser.add_argument("--steps", type=int, default=4, help="optimizer steps per way")
    parser.add_argument("--way", action="append", help="NAME=MICROxACCUMULATION[+ckpt] (repeat)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:  # one way, in this process
        print(json.dumps(train_one(args.export, args.steps, parse_way(args.child))))
        return []
    rows = []
    for way in args.way or DEFAULT_WAYS:
        parsed = parse_way(way)
        command = [sys.executable, "-m", "benchmarks.sft_steps", "--export", args.export]
        command += ["--steps", str(args.steps), "--child", way]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        row = parsed._asdict() | {"way": parsed.name}
        row.update(json.loads(done.stdout.strip().splitlines()[-1]))
        rows.append(row)
        print(
            f"{parsed.name:<32} {parsed.micro}x{parsed.accumulation} rows per step, checkpointing "
            f"{'on ' if parsed.checkpointing else 'off'}{', bf16' if parsed.bf16 else ''}: "
            f"{row['steps']} steps in {row['wall_s']:.0f} s "
            f"({row['wall_s'] / rows[0]['wall_s']:.2f}x the first way's time; a step "
            f"{row['s_per_step']:.1f} s = {row['s_per_step'] / rows[0]['s_per_step']:.2f}x, "
            f"an evaluation {row['s_per_evaluation']:.1f} s), peak "
            f"{row['peak_rss_gib']:.1f} GiB, train loss {row['train_loss_last']:.4f}, "
            f"validation loss {row['eval_loss']:.4f}",
            flush=True,
        )
    return rows


if __name__ == "__main__":
    main()
