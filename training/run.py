"""Run one training job: ``python -m training.run sft --config job.yaml``.

The same entry point works under ``accelerate launch -m training.run sft --config job.yaml`` on one or
many GPUs (TRL trainers are accelerate-native); ``ragloop train`` calls ``run`` below.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from training.config import PRESETS, DPOJob, KTOJob, PPOJob, RMJob, SFTJob

JOBS = {"sft": SFTJob, "dpo": DPOJob, "kto": KTOJob, "rm": RMJob, "ppo": PPOJob}


def make_job(method: str, config: Path | None = None, preset: str | None = None, **overrides: Any):
    cls = JOBS[method]
    values = dict(PRESETS[preset]) if preset else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    if config:
        return cls.from_file(config, **values)
    missing = [f for f in ("export_path", "base_model", "output_dir") if f not in values]
    if missing:
        raise ValueError(f"give --config or {', '.join('--' + m.replace('_', '-') for m in missing)}")
    return cls(**values)


def run(method: str, job, resume: bool = False):
    from importlib import import_module

    module = import_module(f"training.{method}")
    return module.main(job, resume=resume)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("method", choices=sorted(JOBS))
    parser.add_argument("--config", type=Path)
    parser.add_argument("--preset", choices=sorted(PRESETS))
    parser.add_argument("--export", dest="export_path")
    parser.add_argument("--base-model")
    parser.add_argument("--output", dest="output_dir")
    parser.add_argument("--name")
    parser.add_argument("--resume", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = make_parser().parse_args(argv)
    job = make_job(
        args.method,
        args.config,
        args.preset,
        export_path=args.export_path,
        base_model=args.base_model,
        output_dir=args.output_dir,
        name=args.name,
    )
    out, metrics = run(args.method, job, resume=args.resume)
    print(json.dumps({"adapter": str(out), "metrics": metrics}, indent=2, default=str))


if __name__ == "__main__":
    main()
