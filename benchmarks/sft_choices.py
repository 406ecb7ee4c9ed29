"""Benchmark: SFT choices on a finished loop's data. Trains one LoRA SFT variant per ``--variant`` on the
loop's feedback export (``<loop dir>/feedback-export.jsonl``), hot-loads it into the running vLLM,
answers the loop's held-out questions through the same chain settings, and prints its paired
differences (mean and bootstrap 95 % interval) against the loop's base results in the same report:
similarity, judge score, grounding. Each variant's per-question result is kept beside its adapter
(``<loop dir>/sft-choices/NAME-result.json``) for comparing variants with each other. The held-out
questions are the tuning set for these choices; confirm a choice on another set before calling it
general.

    python -m benchmarks.sft_choices --llm-url http://127.0.0.1:8000/v1 \\
        --variant e1='{"epochs": 1}' --variant e1-nosynth='{"epochs": 1, "without": ["synthetic"]}'

Variant keys are SFT job fields (``training/config.py``: epochs, learning_rate, target_modules, ...)
plus ``without``: row sources to leave out of the export (``synthetic``; ``rating``: keep corrections),
``ground``: check each correction against its prompt first (``ragloop.grounding``; true: by the
judge, ``"k-precision"``: by K-Precision), ``corrections``: ``"self-distilled"`` restates each
correction in the served model's words (``ragloop.self_distill``), ``synthetic_rows``: round-trip the
drafts through the served chain (``ragloop.roundtrip``: ``checked-drafts`` or ``served-answers``;
``agreement``: ``reference`` or ``supported``), and ``export_path``: another
export to start from.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from core.jsonl import read_rows, write_rows
from core.settings import Settings, get_settings

log = logging.getLogger(__name__)


def filtered_export(export: Path, without: set[str], out: Path) -> Path:
    """The export less the records of the named sources."""
    if not without:
        return export

    def dropped(row: dict) -> bool:
        synthetic = bool((row.get("trace") or {}).get("synthetic"))
        return ("synthetic" in without and synthetic) or ("rating" in without and not row.get("correction"))

    return write_rows([row for row in read_rows(export) if not dropped(row)], out)


def checked_export(name: str, params: dict, settings: Settings, out_dir: Path, *, chain, judge):
    """The variant's training export, made as the loop's export stage makes it
    (``ragloop.export_checks``): rows filtered (``without``), corrections checked against their prompts
    (``ground``), restated (``corrections``), drafts round-tripped (``synthetic_rows``, ``agreement``).
    Pops those keys from ``params``; returns ``ragloop.export_checks.CheckedExport``."""
    from ragloop.export_checks import ExportChecks, check_export

    source = Path(params.pop("export_path", settings.data_dir / "feedback-export.jsonl"))
    export = filtered_export(source, set(params.pop("without", [])), out_dir / f"{name}.jsonl")
    ground = params.pop("ground", False)  # true: by the judge; or the check's name
    checks = ExportChecks(
        ground=(ground if isinstance(ground, str) else "judge") if ground else None,
        correction_targets=params.pop("corrections", "as-given"),
        synthetic_rows=params.pop("synthetic_rows", "drafts"),
        agreement=params.pop("agreement", settings.loop.synthetic.agreement),
        workers=settings.loop.answer_workers,
    )
    return check_export(export, checks, chain=chain, judge=judge, out_dir=out_dir, stem=name)


def run_variant(
    name: str,
    params: dict,
    settings: Settings,
    base: dict,
    items: list[dict],
    out_dir: Path,
    *,
    base_model: Path,
) -> dict:
    from eval.gate import paired
    from eval.run import evaluate
    from judge.factory import build_judge
    from rag.service import build_chain
    from serving.vllm_admin import VLLMAdmin
    from training.run import make_job
    from training.run import run as train

    cfg = settings.loop
    params = dict(params)
    chain = build_chain(settings)  # one chain and judge for the checks and the evaluation
    judge = build_judge(settings, embedder=chain.embedder)
    checked = checked_export(name, params, settings, out_dir, chain=chain, judge=judge)
    checks = checked.to_dict()
    job = {
        "export_path": str(checked.path),
        "base_model": str(base_model),
        "output_dir": str(out_dir / name),
        "name": name,
        **cfg.sft_job(),  # the loop's job, budget included ('{"max_minutes": null}': none)
        **params,
    }
    started = time.perf_counter()
    _, metrics = train("sft", make_job("sft", **job))
    minutes = (time.perf_counter() - started) / 60
    admin = VLLMAdmin(settings.llm.base_url, settings.llm.api_key.get_secret_value())
    admin.load(name, str((out_dir / name).resolve()))
    try:
        result = evaluate(
            chain,
            items,
            adapter=name,
            judge=judge,
            k=settings.retrieval.top_k,
            label=name,
            workers=cfg.answer_workers,  # as the loop answers: four at once, scored in order
        )
    finally:
        admin.unload(name)
    # the per-question answers and scores, so two variants can be compared with each other, paired
    (out_dir / f"{name}-result.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    row = {
        "variant": name,
        "params": params,
        "steps": metrics.get("steps"),
        "best_step": metrics.get("best_step"),
        "eval_loss": metrics.get("eval_loss"),  # the best validation loss (training rows split off)
        "train_minutes": round(minutes, 1),
        "corrections": checks["grounding"],  # carried / re-sourced / left out, with ground
        "round_trip": checks["round_trip"],  # drafts agreed / left out, with synthetic_rows
        "distilled": checks["distilled"],  # corrections restated / kept as given, with corrections
    }
    for key in ("similarity", "judge_score", "grounding"):
        d = paired(result, base, key)
        row[key] = {"mean": d.mean, "low": d.low, "high": d.high} if d else None
    return row


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm-url", required=True, help="the running vLLM (LoRA enabled) the loop used")
    parser.add_argument(
        "--loop-dir", type=Path, help="the finished loop's directory (default: data_dir/<loop.workdir>)"
    )
    parser.add_argument("--report", type=Path, help="its report.json (default: reports_dir/<loop.workdir>)")
    parser.add_argument("--variant", action="append", required=True, help="NAME=JSON of job fields")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    from eval.run import read_set
    from ragloop.loop import loop_settings

    root = get_settings()
    report = json.loads((args.report or root.reports_dir / root.loop.workdir / "report.json").read_text())
    settings = loop_settings(root, args.llm_url, fresh=False)
    if args.loop_dir:
        settings = settings.model_copy(update={"data_dir": args.loop_dir})
    settings = settings.model_copy(
        update={"reviewed": settings.reviewed.model_copy(update={"enabled": False})}
    )
    base = next(r for r in report["results"] if r["model"] == "base")
    by_id = {i["id"]: i for path in settings.loop.eval_set for i in read_set(path)}
    items = [by_id[i["id"]] for i in base["items"]]
    out_dir = settings.data_dir / "sft-choices"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for spec in args.variant:
        name, _, params = spec.partition("=")
        base_model = root.serve.model_dir or root.default_model_dir
        row = run_variant(
            name, json.loads(params or "{}"), settings, base, items, out_dir, base_model=base_model
        )
        rows.append(row)
        cells = "  ".join(
            f"{k} {row[k]['mean']:+.3f} ({row[k]['low']:+.3f}…{row[k]['high']:+.3f})"
            for k in ("similarity", "judge_score", "grounding")
        )
        print(
            f"{name} {row['params']}: {row['steps']} steps (best {row['best_step']}, validation loss "
            f"{row['eval_loss'] or float('nan'):.3f}), {row['train_minutes']} min; {cells}",
            flush=True,
        )
    if args.output:
        args.output.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
