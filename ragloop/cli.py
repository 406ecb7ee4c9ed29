"""``ragloop`` command line: the thin front door to every stage of the loop.

Commands parse arguments, call the library and turn user-facing errors into one clear line on stderr
and exit status 1 — never a stack trace for a problem the user can fix.

    ragloop ingest docs/ manual.pdf     index files and folders (incremental)
    ragloop ingest --demo               index the bundled demo corpus
    ragloop ask "How long does charging take?"
    ragloop ui                          start the Streamlit app
    ragloop feedback export --since 2026-01-01 --format jsonl -o feedback.jsonl
    ragloop feedback stats | sync | schema
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from core.errors import RagloopError
from core.settings import DEMO_CORPUS, DEMO_EVAL_SET, REPO_ROOT, get_settings
from ragloop.cli_feedback import feedback_app
from ragloop.cli_support import user_errors

app = typer.Typer(
    name="ragloop",
    help="A RAG assistant that learns from its users' feedback.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
log = logging.getLogger("ragloop")


app.add_typer(feedback_app, name="feedback")


@app.callback()
def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False) -> None:
    level = logging.DEBUG if verbose else getattr(logging, get_settings().log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2", "sentence_transformers", "faiss", "urllib3", "opensearch", "bm25s"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@app.command()
@user_errors
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="files or folders to index")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="index the bundled demo corpus")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
    reindex: Annotated[
        bool,
        typer.Option("--reindex", help="re-chunk and re-embed every indexed file (after a config change)"),
    ] = False,
) -> None:
    """Index PDF, Markdown, HTML and text files. Unchanged files are skipped, changed ones replaced."""
    from rag.service import build_ingestor

    targets = list(paths or []) + ([DEMO_CORPUS] if demo else [])
    if not targets and not reindex:
        raise RagloopError("give files or folders to ingest, or --demo")
    report = build_ingestor(get_settings()).ingest(targets, progress=not quiet, reindex=reindex)
    typer.echo(report.summary())
    for path, reason in report.failed.items():
        typer.secho(f"skipped {path}: {reason}", fg=typer.colors.YELLOW, err=True)


@app.command()
@user_errors
def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    adapter: Annotated[str | None, typer.Option(help="LoRA adapter name served by vLLM")] = None,
) -> None:
    """Answer a question from the indexed documents, streaming the answer and listing its sources."""
    from rag.service import build_chain

    stream = build_chain(get_settings()).stream(question, adapter=adapter)
    for token in stream:
        sys.stdout.write(token)
        sys.stdout.flush()
    answer = stream.result()
    typer.echo("\n")
    cited = answer.cited or answer.citations
    typer.echo("Sources:")
    for c in cited:
        page = f", page {c.page}" if c.page else ""
        typer.echo(f"  [{c.number}] {Path(c.source).name}{page}")
    typer.echo(f"(model: {answer.trace.model}, {answer.trace.timings_ms['total']:.0f} ms)")


@app.command()
@user_errors
def ui(
    port: Annotated[int, typer.Option(help="port for the web app")] = 8501,
    address: Annotated[
        str, typer.Option(help="interface to listen on; beyond 127.0.0.1 only with sign-in configured")
    ] = "127.0.0.1",
    headless: Annotated[bool, typer.Option(help="do not open a browser")] = True,
) -> None:
    """Start the Streamlit chat app."""
    from ragloop.access import check_listen

    check_listen(address, sign_in_configured(Path.cwd()))
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO_ROOT / "app.py"),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        str(headless).lower(),
        "--browser.gatherUsageStats",
        "false",
    ]
    raise typer.Exit(subprocess.call(cmd))


def sign_in_configured(cwd: Path) -> bool:
    """Whether Streamlit will find an ``[auth]`` section in a secrets file (the project's
    ``.streamlit/secrets.toml`` or the user's ``~/.streamlit/secrets.toml``)."""
    import tomllib

    for path in (cwd / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"):
        if path.is_file():
            try:
                if "auth" in tomllib.loads(path.read_text()):
                    return True
            except tomllib.TOMLDecodeError as err:
                raise RagloopError(f"{path} is not valid TOML: {err}") from err
    return False


model_app = typer.Typer(help="The base model.", no_args_is_help=True)
serve_app = typer.Typer(help="Serving: run vLLM.", no_args_is_help=True)
app.add_typer(model_app, name="model")
app.add_typer(serve_app, name="serve")


@model_app.command("prepare")
@user_errors
def model_prepare() -> None:
    """Convert the packaged Qwen2.5-Coder-0.5B-Instruct GGUF into a model dir vLLM and PEFT can load."""
    from ragloop.models import prepare_default_model

    typer.echo(prepare_default_model(get_settings().default_model_dir))


def _vllm_server(settings):
    from ragloop.models import prepare_default_model
    from ragloop.serve import VLLMServer

    cfg = settings.serve
    model = cfg.model_dir or prepare_default_model(settings.default_model_dir)
    return VLLMServer(
        model,
        served_name=settings.served_model_name,
        host=cfg.host,
        port=cfg.port,
        max_model_len=cfg.max_model_len,
        dtype=cfg.dtype,
        max_lora_rank=cfg.max_lora_rank,
        max_loras=cfg.max_loras,
        kv_cache_gib=cfg.kv_cache_gib,
        log_file=settings.data_dir / "logs" / "vllm.log",
    )


def _reload_adapters(base_url: str) -> None:
    loaded = _publisher(base_url=base_url).reload_live()
    if loaded:
        typer.echo(f"re-loaded live adapters: {', '.join(loaded)}")


@serve_app.command("llm")
@user_errors
def serve_llm() -> None:
    """Start vLLM's OpenAI-compatible server with runtime LoRA loading; Ctrl-C stops it."""
    import time

    settings = get_settings()
    with _vllm_server(settings) as server:
        typer.echo(f"vLLM serving {settings.served_model_name} at {server.base_url} (log: {server.log_file})")
        _reload_adapters(server.base_url)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            typer.echo("stopping vLLM")


@app.command()
@user_errors
def demo(port: Annotated[int, typer.Option(help="port for the web app")] = 8501) -> None:
    """Index the demo corpus, start vLLM with the default model unless one answers, open the app."""
    from contextlib import nullcontext

    from rag.service import build_ingestor
    from ragloop.processes import exit_on_sigterm
    from ragloop.serve import is_healthy

    settings = get_settings()
    report = build_ingestor(settings).ingest([DEMO_CORPUS], rebuild_if_changed=True)  # the demo's own index
    if report.reindexed:
        typer.echo(f"re-indexed the demo data: {report.reindexed}")
    typer.echo(f"demo corpus: {report.summary()}")
    llm_url = settings.llm.base_url.removesuffix("/v1")
    server = nullcontext() if is_healthy(llm_url) else _vllm_server(settings)
    if not is_healthy(llm_url):
        typer.echo("starting vLLM with the default model (first start takes a few minutes)…")
    with exit_on_sigterm(), server:  # a SIGTERM stops the app and the vLLM started here, too
        typer.echo(f"open http://localhost:{port}")
        ui(port=port, headless=True)


@app.command("loop")
@user_errors
def loop_cmd(
    llm_url: Annotated[
        str | None, typer.Option(help="use this running vLLM (LoRA enabled) instead of starting one")
    ] = None,
    stages: Annotated[
        str | None, typer.Option(help="sft, or sft,rlaif: a second stage on AI feedback (default: settings)")
    ] = None,
    rlaif_method: Annotated[
        str | None, typer.Option(help="RLAIF route: ppo (reward model + PPO, default) or dpo")
    ] = None,
) -> None:
    """The whole loop on the demo corpus: users rate -> train -> eval + gate -> hot-load -> better answers.

    Works in its own directory (data_dir/loop-demo, wiped per run); settings under [loop] / RAGLOOP_LOOP__*.
    """
    from contextlib import nullcontext

    from core.settings import LoopSettings
    from eval.report import text_table
    from ragloop.loop import Loop, before_after_table, loop_settings
    from ragloop.models import prepare_default_model
    from ragloop.serve import lora_rank_slot

    settings = get_settings()
    loop_update: dict = {}
    if stages:
        loop_update["stages"] = [s.strip() for s in stages.split(",") if s.strip()]
    if rlaif_method:
        loop_update["rlaif"] = {**settings.loop.rlaif.model_dump(), "method": rlaif_method}
    if loop_update:
        try:
            loop = LoopSettings.model_validate({**settings.loop.model_dump(), **loop_update})
        except ValueError as err:  # pydantic's ValidationError: name the allowed values
            raise typer.BadParameter(str(err).split("\n", 1)[-1]) from None
        settings = settings.model_copy(update={"loop": loop})
    base_model = settings.serve.model_dir or prepare_default_model(settings.default_model_dir)
    # the loop's server only ever serves the loop's adapter: sized to its rank, LoRA answers cost
    # 1.6x base per token instead of 2.0x at rank 64 (benchmarks/lora_latency.py)
    serve = settings.serve.model_copy(
        update={"model_dir": base_model, "port": None, "max_lora_rank": lora_rank_slot(settings.loop.lora_r)}
    )
    server = nullcontext() if llm_url else _vllm_server(settings.model_copy(update={"serve": serve}))
    if not llm_url:
        typer.echo("starting vLLM with the base model (about a minute)…")
    with server as running:
        url = llm_url or running.base_url
        result = Loop(
            loop_settings(settings, url), Path(base_model), settings.reports_dir / "loop-demo", typer.echo
        ).run()
    typer.echo("")
    typer.echo(before_after_table(result.results))
    typer.echo("")
    typer.echo(
        text_table(
            [result.results[k] for k in ("base", "adapter", "rlaif", "langchain") if k in result.results]
        )
    )
    typer.echo(f"\nreport: {result.report_dir / 'report.md'} (HTML beside it; also on the app's Models page)")
    typer.echo(f"time: {result.seconds}")
    if not result.published:
        typer.secho("the gate refused the adapter; nothing was published", fg=typer.colors.YELLOW)
        raise typer.Exit(1)


adapters_app = typer.Typer(
    help="LoRA adapters: publish into the running vLLM without a restart.", no_args_is_help=True
)
app.add_typer(adapters_app, name="adapters")


def _publisher(gate=None, base_url: str | None = None):
    """The registry and the vLLM server (``base_url``, default: the configured LLM) as one Publisher."""
    from serving.publish import Publisher
    from serving.registry import open_registry
    from serving.vllm_admin import VLLMAdmin

    settings = get_settings()
    admin = VLLMAdmin(base_url or settings.llm.base_url, settings.llm.api_key.get_secret_value())
    return Publisher(open_registry(settings), admin, max_rank=settings.serve.max_lora_rank, gate=gate)


def eval_gate_check(candidate: Path, baseline: Path, min_similarity_gain: float = 0.0):
    """A publish gate from two `ragloop eval run` outputs: refuses unless the candidate is better."""
    import json

    from eval.gate import GateMargins, check
    from serving.publish import PublishError

    def gate(_adapter_dir: Path) -> None:
        result = check(
            json.loads(candidate.read_text()),
            json.loads(baseline.read_text()),
            GateMargins(similarity=min_similarity_gain),
        )
        if not result.passed:
            raise PublishError("the eval gate refused the adapter: " + "; ".join(result.reasons))

    return gate


@adapters_app.command("list")
@user_errors
def adapters_list() -> None:
    """Adapters in the registry: versions, the live one, traffic weight, and whether vLLM has it loaded."""
    from serving.registry import served_name

    publisher = _publisher()
    state = publisher.registry.state()
    try:
        loaded = publisher.admin.served_adapters()
    except RagloopError:
        loaded = set()
    typer.echo(f"registry: {publisher.registry.location}")
    if not state.adapters:
        typer.echo("no adapters published yet")
    for name, entry in sorted(state.adapters.items()):
        live = served_name(name, entry.live) if entry.live else "-"
        flags = [f for f, on in (("promoted", entry.promoted), ("retired", entry.retired)) if on]
        typer.echo(
            f"{name:20} versions {entry.versions}  live {live:24} weight {entry.weight:.2f}  "
            f"{'loaded' if live in loaded else 'not loaded'}  {' '.join(flags)}"
        )


@adapters_app.command("publish")
@user_errors
def adapters_publish(
    adapter_dir: Annotated[Path, typer.Argument(help="PEFT adapter dir with manifest.json")],
    name: Annotated[str | None, typer.Option(help="registry name (default: the manifest's)")] = None,
    weight: Annotated[float, typer.Option(help="share of chat sessions routed to it, 0-1")] = 1.0,
    gate_candidate: Annotated[
        Path | None, typer.Option(help="eval metrics of this adapter (requires gate)")
    ] = None,
    gate_baseline: Annotated[Path | None, typer.Option(help="eval metrics of what serves now")] = None,
    min_similarity_gain: Annotated[float, typer.Option(help="gate: required similarity gain")] = 0.0,
) -> None:
    """Load into vLLM, verify, smoke-test, then route traffic to it. On failure nothing changes."""
    gate = None
    if gate_candidate or gate_baseline:
        if not (gate_candidate and gate_baseline):
            raise RagloopError("the gate needs both --gate-candidate and --gate-baseline")
        gate = eval_gate_check(gate_candidate, gate_baseline, min_similarity_gain)
    result = _publisher(gate).publish(adapter_dir, name=name, weight=weight)
    typer.echo(f"published {result.name} v{result.version} as {result.served_name} in {result.seconds:.2f} s")


@adapters_app.command("promote")
@user_errors
def adapters_promote(name: str) -> None:
    """Route all traffic to the adapter and re-load it whenever the server restarts."""
    _publisher().promote(name)
    typer.echo(f"promoted {name}")


@adapters_app.command("rollback")
@user_errors
def adapters_rollback(name: str) -> None:
    """Route the adapter's traffic back to its previous version (or to the base model)."""
    version = _publisher().rollback(name)
    typer.echo(f"{name} now serves v{version}" if version else f"{name}'s traffic is back on the base model")


@adapters_app.command("retire")
@user_errors
def adapters_retire(name: str) -> None:
    """Stop routing to the adapter and unload it from the server."""
    _publisher().retire(name)
    typer.echo(f"retired {name}")


@adapters_app.command("reload")
@user_errors
def adapters_reload(
    llm_url: Annotated[
        str | None, typer.Option(help="the vLLM server to load into (default: the configured LLM)")
    ] = None,
) -> None:
    """Load every live adapter from the registry into a server: after a restart, or onto another
    replica that shares the registry (an S3 registry is how replicas share it)."""
    typer.echo(", ".join(_publisher(base_url=llm_url).reload_live()) or "nothing to load")


@app.command()
@user_errors
def train(
    method: Annotated[str, typer.Argument(help="sft | dpo | kto | rm | ppo")],
    config: Annotated[
        Path | None, typer.Option(help="job file (YAML or JSON), fields as in training/config.py")
    ] = None,
    preset: Annotated[str | None, typer.Option(help="named recipe, e.g. mistral7b-sft-reference")] = None,
    export: Annotated[str | None, typer.Option(help="feedback export (JSONL)")] = None,
    base_model: Annotated[
        str | None, typer.Option(help="base model dir (default: the prepared default)")
    ] = None,
    output: Annotated[str | None, typer.Option(help="adapter output dir")] = None,
    name: Annotated[str | None, typer.Option(help="adapter name")] = None,
    init_adapter: Annotated[
        str | None, typer.Option(help="continue this adapter (e.g. the SFT parent); it is the reference")
    ] = None,
    judge_scores: Annotated[
        str | None, typer.Option(help="`ragloop judge` output over the export's rows: judge-ranked pairs")
    ] = None,
    ai_scores: Annotated[
        str | None,
        typer.Option(
            help="also learn from AI-scored answers: approved (reviewer-approved only) | all | off (default)"
        ),
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue from the last checkpoint")] = False,
) -> None:
    """Train a LoRA adapter (or reward model) from a feedback export; writes the adapter + manifest.json."""
    from training.data import BadExport, InsufficientData
    from training.run import JOBS, make_job, run

    if method not in JOBS:
        raise RagloopError(f"unknown method {method!r}; one of {', '.join(sorted(JOBS))}")
    if base_model is None and config is None:
        base_model = str(get_settings().default_model_dir)
    try:
        job = make_job(
            method,
            config,
            preset,
            export_path=export,
            base_model=base_model,
            output_dir=output,
            name=name,
            init_adapter=init_adapter,
            judge_scores_path=judge_scores,
            ai_scores=ai_scores,
        )
        if job.ai_scores not in ("off", "approved", "all"):
            raise RagloopError(f"--ai-scores is off, approved or all, not {job.ai_scores!r}")
        out, metrics = run(method, job, resume=resume)
    except (ValueError, FileNotFoundError) as err:
        if isinstance(err, BadExport | InsufficientData):
            raise
        raise RagloopError(str(err)) from err
    typer.echo(f"adapter written to {out}")
    for key, value in metrics.items():
        typer.echo(f"  {key}: {value}")


@app.command()
@user_errors
def judge(
    input: Annotated[Path, typer.Option("--input", help="JSONL of {id, question, reference, answer}")],
    output: Annotated[Path, typer.Option("--output", help="JSONL of scored items")],
    model: Annotated[str | None, typer.Option(help="judge model served at --base-url")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint (default: llm.base_url)")
    ] = None,
    bedrock_model: Annotated[str | None, typer.Option(help="use Amazon Bedrock with this model id")] = None,
) -> None:
    """Score answers 0-5 against references with an AI judge (RLAIF); failures are listed, never scored 0."""
    import json

    judge_ = _judge(base_url or get_settings().llm.base_url, model, bedrock_model)
    items = [json.loads(line) for line in input.read_text().splitlines() if line.strip()]
    scored, failed = judge_.score_many(items)
    output.write_text("".join(json.dumps(r) + "\n" for r in scored))
    typer.echo(f"scored {len(scored)}, failed {len(failed)} -> {output}")
    for item in failed:
        typer.secho(f"  not scored {item.get('id', '?')}: {item['error']}", fg=typer.colors.YELLOW, err=True)
    if failed:
        raise typer.Exit(1)


data_app = typer.Typer(help="Training data before users arrive.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("synth")
@user_errors
def data_synth(count: Annotated[int, typer.Option(help="chunks to draft from")] = 50) -> None:
    """Draft question/answer pairs from the indexed corpus with the LLM, for approval in the Review page."""
    from feedback.service import build_writer
    from rag.service import build_chain
    from ragloop.synth import synthesize

    settings = get_settings()
    chain = build_chain(settings)
    report = synthesize(chain.store, chain.embedder.dim, chain.llm, build_writer(settings), count)
    typer.echo(f"drafted {report.drafted} pairs for review ({report.unusable} replies unusable)")


eval_app = typer.Typer(
    help="Evaluation: metrics per model/adapter and the quality gate.", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")


def _judge(judge_url: str | None, judge_model: str | None, bedrock_model: str | None):
    """A cached Judge on Bedrock or an OpenAI-compatible endpoint, or None when neither is given."""
    from training.judge import build_judge

    settings = get_settings()
    return build_judge(
        settings.judge_cache, judge_url, judge_model, bedrock_model, settings.llm.api_key.get_secret_value()
    )


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
    from eval.run import evaluate, read_set, write
    from rag.service import build_chain

    settings = get_settings()
    if output and len(model) > 1:
        raise RagloopError("--output takes one model's metrics; use --report for several")
    judge = _judge(judge_url, judge_model, bedrock_model)
    items = read_set(eval_set)[:limit]
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
    write_report(results, report_dir, manifests, notes=[f"eval set: {eval_set.name}"])
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

    judge = _judge(judge_url, judge_model, bedrock_model)
    if judge is None:
        raise RagloopError("give --judge-url (OpenAI-compatible) or --bedrock-model")
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
) -> None:
    """Exit 0 only if the candidate beats the baseline by the margins."""
    import json

    from eval.gate import GateMargins, check

    result = check(
        json.loads(candidate.read_text()),
        json.loads(baseline.read_text()),
        GateMargins(min_similarity_gain, min_judge_gain, max_recall_drop),
    )
    for reason in result.reasons:
        typer.echo(f"  {reason}")
    typer.echo("gate: PASS" if result.passed else "gate: FAIL")
    if not result.passed:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
