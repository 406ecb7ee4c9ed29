"""``ragloop eval ...``: metrics per model or adapter, eval-set drafts, pairwise comparison, the gate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.errors import RagloopError
from core.settings import DEMO_EVAL_SET, get_settings
from ragloop.cli.root import app
from ragloop.cli.support import judge_from_options, user_errors

eval_app = typer.Typer(
    help="Evaluation: metrics per model/adapter and the quality gate.", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")


def _adapter_manifest(served: str) -> dict | None:
    """The manifest of a served adapter name (``<name>-v<N>``) from the registry, if it is there."""
    from serving.registry import open_registry, parse_served_name

    parsed = parse_served_name(served)
    if parsed is None:
        return None
    try:
        return open_registry(get_settings()).manifest(*parsed).model_dump()
    except (FileNotFoundError, ValueError):
        return None


@eval_app.command("run")
@user_errors
def eval_run(
    model: Annotated[
        list[str],
        typer.Option(help="'base', a served adapter name, or 'langchain' (peer baseline); repeatable"),
    ] = ["base"],  # noqa: B006 - typer reads the default, never mutates it
    eval_set: Annotated[Path, typer.Option("--set", help="eval set JSONL")] = DEMO_EVAL_SET,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="metrics JSON (one model)")] = None,
    report: Annotated[Path | None, typer.Option(help="report directory (default: a new one)")] = None,
    limit: Annotated[int | None, typer.Option(help="only the first N questions")] = None,
    judge_url: Annotated[str | None, typer.Option(help="OpenAI-compatible judge endpoint")] = None,
    judge_model: Annotated[str | None, typer.Option(help="judge model id")] = None,
    bedrock_model: Annotated[str | None, typer.Option(help="judge with Amazon Bedrock")] = None,
) -> None:
    """Evaluate base, adapters and the LangChain baseline in one run: one table and a report with plots.

    Metrics: retrieval recall@k and MRR, similarity to the reference, judge scores, grounding, latency.
    """
    from datetime import datetime

    from eval.report import text_table, write_report
    from eval.run import evaluate, first, read_set, write
    from rag.service import build_chain

    settings = get_settings()
    if output and len(model) > 1:
        raise RagloopError("--output takes one model's metrics; use --report for several")
    judge = judge_from_options(judge_url, judge_model, bedrock_model)
    items = first(read_set(eval_set, unanswerable=True), limit)  # unanswerable ones count refusals
    chain = build_chain(settings)
    results, manifests, written = [], [], []
    for name in model:
        answerer = chain
        if name == "langchain":
            from eval.langchain_baseline import LangChainAnswerer

            answerer = LangChainAnswerer.beside(chain, settings)
        adapter = None if name in ("base", "langchain") else name
        result = evaluate(
            answerer, items, adapter=adapter, judge=judge, k=settings.retrieval.top_k, label=name
        )
        out = output or settings.reports_dir / f"eval-{name}.json"
        write(result, out)
        written.append(str(out))
        results.append(result)
        if adapter and (manifest := _adapter_manifest(adapter)):
            manifests.append(manifest)
    report_dir = report or settings.reports_dir / datetime.now().strftime("eval-%Y%m%d-%H%M%S")
    write_report(results, report_dir, manifests=manifests, notes=[f"eval set: {eval_set.name}"])
    typer.echo(text_table(results))
    typer.echo(f"metrics: {', '.join(written)}")
    typer.echo(f"report: {report_dir / 'report.md'} (HTML beside it)")


@eval_app.command("build")
@user_errors
def eval_build(
    output: Annotated[Path, typer.Option("--output", "-o", help="draft eval set JSONL to write")],
    count: Annotated[int, typer.Option(help="chunks to draft from")] = 60,
) -> None:
    """Draft an eval set from the indexed corpus with the LLM; rows wait for expert approval."""
    from eval.build import draft_eval_set
    from rag.service import build_chain

    chain = build_chain(get_settings())
    drafted, unusable = draft_eval_set(chain.store, chain.embedder.dim, chain.llm, count, output)
    typer.echo(
        f"drafted {drafted} items ({unusable} replies unusable) -> {output}\n"
        'review each row, fix the reference if needed and set "approved": true; '
        "`ragloop eval run --set` uses approved rows only"
    )


@eval_app.command("compare")
@user_errors
def eval_compare(
    result_a: Annotated[Path, typer.Argument(help="metrics JSON of A (e.g. the candidate)")],
    result_b: Annotated[Path, typer.Argument(help="metrics JSON of B (e.g. the baseline)")],
    judge_url: Annotated[str | None, typer.Option(help="OpenAI-compatible judge endpoint")] = None,
    judge_model: Annotated[str | None, typer.Option(help="judge model id")] = None,
    bedrock_model: Annotated[str | None, typer.Option(help="judge with Amazon Bedrock instead")] = None,
) -> None:
    """Pairwise judge verdicts A vs B per question, asked in both orders; win rate with a 95 % interval."""
    import json

    from eval.compare import compare

    if not (judge_url or bedrock_model):
        raise RagloopError("give --judge-url (OpenAI-compatible) or --bedrock-model")
    judge = judge_from_options(judge_url, judge_model, bedrock_model)
    r = compare(json.loads(result_a.read_text()), json.loads(result_b.read_text()), judge.backend)
    typer.echo(
        f"{r['a']} vs {r['b']}: {r['wins']} wins, {r['ties']} ties, {r['losses']} losses; "
        f"win rate {r['win_rate']:.2f} (95 % CI {r['ci_low']:.2f}-{r['ci_high']:.2f}); "
        f"{r['failed']} without a usable verdict"
    )


@eval_app.command("gate")
@user_errors
def eval_gate(
    candidate: Annotated[Path, typer.Option(help="metrics JSON of the candidate")],
    baseline: Annotated[Path, typer.Option(help="metrics JSON of the baseline")],
    min_similarity_gain: Annotated[float, typer.Option(help="required similarity gain")] = 0.0,
    min_judge_gain: Annotated[float, typer.Option(help="required judge-mean gain")] = 0.0,
    max_recall_drop: Annotated[float, typer.Option(help="allowed retrieval recall drop")] = 0.0,
    max_grounding_drop: Annotated[
        float | None, typer.Option(help="allowed grounding drop (default: not checked)")
    ] = None,
    intervals: Annotated[
        bool,
        typer.Option(
            help="similarity: the paired 95 % interval's lower bound must clear the gain; judge: refuse "
            "only when the whole interval lies below it (the loop's rule)"
        ),
    ] = False,
) -> None:
    """Exit 0 only if the candidate beats the baseline by the margins."""
    import json

    from eval.gate import GateMargins, check

    result = check(
        json.loads(candidate.read_text()),
        json.loads(baseline.read_text()),
        GateMargins(
            similarity=min_similarity_gain,
            judge_mean=min_judge_gain,
            recall_drop=max_recall_drop,
            grounding_drop=max_grounding_drop,
            intervals=intervals,
        ),
    )
    for reason in result.reasons:
        typer.echo(f"  {reason}")
    typer.echo("gate: PASS" if result.passed else "gate: FAIL")
    if not result.passed:
        raise typer.Exit(1)
