"""The whole loop in one run, the product's proof: users rate answers, the ratings become training data,
an adapter is trained, evaluated against the base model and the LangChain baseline, gated, hot-loaded
into the running vLLM, and live answers come from it and score better.

Every stage runs through the same code the product uses — the RAG chain, the feedback path of the chat
page (``ragloop.turns``), the feedback store and export, ``training.data`` + the SFT trainer, the eval
harness and gate, the publisher and the per-session router. Only the users are simulated: each rates an
answer from the judge's score against the eval set's reference (rating = the score rounded, 1-5) and,
when the rating is neutral or negative (``loop.correct_at_or_below``, 3), submits the reference as a
correction that a simulated expert approves.

The eval set is split by a stable hash: users ask the *training* questions; every number in the
before/after table comes from the *held-out* questions, which no training row has seen.

With ``stages = ["sft", "rlaif"]`` a second stage follows the published SFT adapter (``ragloop.rlaif``):
candidates sampled from it on the training questions are scored by the judge, an adapter continues
from SFT on that AI feedback, and the gate compares it with the live SFT adapter, not the base.

    ragloop loop                        # make loop-demo
    ragloop loop --stages sft,rlaif     # make loop-rlaif-demo
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from core.settings import DEMO_CORPUS, DEMO_EVAL_SET, Settings

log = logging.getLogger(__name__)

TRAIN_SESSION = "sim-train-user"
LIVE_SESSION = "sim-live-user"
STEPS = {"sft": 8, "rlaif": 4}  # the steps each stage adds to the run
REVIEWER = "simulated expert"


def rating_from_score(score: float) -> int:
    """A simulated user's 1-5 rating from a 0-5 judge score (negative, <= 2, means score < 2.5)."""
    return min(5, max(1, int(score + 0.5)))


def is_holdout(item_id: str, share: float) -> bool:
    """Stable: an item's side depends only on its id (the router's session bucketing, reused)."""
    from serving.routing import bucket

    return bucket(item_id) < share


@dataclass
class LoopResult:
    report_dir: Path
    adapter_dir: Path
    published: str | None  # served name of the published adapter, None if the gate refused it
    gate_reasons: list[str]
    results: dict[str, dict[str, Any]]  # base / langchain / adapter eval results on the held-out items
    live: dict[str, Any] = field(default_factory=dict)  # the live check after publishing
    seconds: dict[str, float] = field(default_factory=dict)
    rlaif_dir: Path | None = None  # the RLAIF adapter (stages sft,rlaif), None if none was trained
    rlaif_gate_reasons: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "report_dir": str(self.report_dir),
            "adapter_dir": str(self.adapter_dir),
            "rlaif_dir": str(self.rlaif_dir) if self.rlaif_dir else None,
            "published": self.published,
            "gate_reasons": self.gate_reasons,
            "rlaif_gate_reasons": self.rlaif_gate_reasons,
            "live": self.live,
            "seconds": self.seconds,
        }


def outcome(result: dict[str, Any]) -> dict[str, Any]:
    """The reference design's terms for one eval result: the report's summary row (AI score,
    similarity, recall) plus the share of negative ratings the simulated users would give."""
    from eval.report import summary_row

    ratings = [rating_from_score(i["judge_score"]) for i in result["items"] if "judge_score" in i]
    negative = sum(r <= 2 for r in ratings) / len(ratings) if ratings else float("nan")
    return {**summary_row(result), "negative_share": negative}


def before_after_table(results: dict[str, dict[str, Any]]) -> str:
    rows = [
        ("negative ratings (<= 2)", "negative_share", "{:.1%}"),
        ("AI score mean (0-5)", "judge_mean", "{:.2f}"),
        ("AI score > 3", "judge_above_3", "{:.1%}"),
        ("AI score < 3", "judge_below_3", "{:.1%}"),
        ("semantic similarity", "similarity", "{:.3f}"),
        ("retrieval recall@k", "recall", "{:.3f}"),
    ]
    columns = [
        ("before: base", "base"),
        ("after: SFT" if "rlaif" in results else "after: adapter", "adapter"),
        ("SFT + RLAIF", "rlaif"),
        ("LangChain baseline", "langchain"),
    ]
    columns = [(h, k) for h, k in columns if k in results]
    values = {k: outcome(results[k]) for _, k in columns}
    width = max(len(r[0]) for r in rows)
    lines = [" " * width + "".join(f"  {h:>18}" for h, _ in columns)]
    for label, key, fmt in rows:
        lines.append(label.ljust(width) + "".join(f"  {fmt.format(values[k][key]):>18}" for _, k in columns))
    return "\n".join(lines)


class Loop:
    """One run of the loop over ``settings`` (its data_dir is the loop's own working directory)."""

    def __init__(
        self,
        settings: Settings,
        base_model: Path,
        report_dir: Path | None = None,
        echo: Callable[[str], None] = log.info,
    ) -> None:
        self.settings = settings
        self.cfg = settings.loop
        self.base_model = base_model
        self.report_dir = report_dir or settings.reports_dir / "loop"
        self.echo = echo
        self.seconds: dict[str, float] = {}
        self._step = 0
        self.steps = sum(STEPS[stage] for stage in self.cfg.stages)

    # ---- plumbing ----------------------------------------------------------------------------------

    def step(self, title: str) -> None:
        self._step += 1
        self.echo(f"[{self._step}/{self.steps}] {title}")

    def _timed(self, name: str, started: float) -> None:
        self.seconds[name] = round(time.perf_counter() - started, 1)

    def judge(self, embedder):
        from judge.factory import build_judge

        return build_judge(self.settings, embedder=embedder)

    # ---- stages ------------------------------------------------------------------------------------

    def simulate_users(self, chain, writer, judge, items, session_prefix: str) -> list:
        """Users ask through the app's path (routing, chain, feedback log), rate, correct; an expert
        approves the corrections. Returns the final records."""
        from feedback.scoring import AIScorer
        from feedback.service import limits as feedback_limits
        from ragloop.turns import answer_record, rated_record, reviewed_record
        from serving.registry import open_registry
        from serving.routing import choose_adapter

        limits = feedback_limits(self.settings)
        registry = open_registry(self.settings)
        records = []
        for n, item in enumerate(tqdm(items, desc=f"users ({session_prefix})", unit="question")):
            session = f"{session_prefix}-{n:03d}"
            answer = chain.answer(item["question"], adapter=choose_adapter(session, registry.state()))
            record = answer_record(answer, session, 0)
            writer.save(record)
            judgement = judge.score(item["question"], item["reference"], answer.text)
            rating = rating_from_score(judgement.score)
            correction = item["reference"] if rating <= self.cfg.correct_at_or_below else ""
            record = rated_record(record, rating, judgement.reason, correction, limits)
            writer.save(record)
            if correction:
                record = reviewed_record(record, "approved", REVIEWER)
                writer.save(record)
            records.append(record)
        writer.drain()
        # AI feedback as the app gives it (in the background there): each rated answer scored by the judge
        # against its correction or, without one, its sources; the Dashboard compares it with the ratings
        scorer = AIScorer(writer.store, judge)
        scored = scorer.sweep(ids=[r.feedback_id for r in records])
        if scored.failed:
            log.warning("%d of %d answers got no AI score", scored.failed, len(records))
        return [writer.store.get(r.feedback_id) or r for r in records]

    def skip(self, title: str, stage: str) -> None:
        """A stage that cannot run: one step says why, the rest of its steps are counted as done."""
        self.step(title)
        self._step += STEPS[stage] - 1

    def rlaif_stage(
        self,
        chain,
        judge,
        train_items,
        holdout,
        results,
        sft_dir: Path,
        sft_live: str | None,
        admin,
        publisher,
    ):
        """Sample from the live SFT adapter, judge, train; evaluate; gate against SFT; publish if better.
        Adds ``results["rlaif"]``; returns (the gate's result or None, the served name if published)."""
        from core.manifest import AdapterManifest
        from eval.gate import GateMargins, check
        from eval.report import summary_row
        from eval.run import evaluate
        from ragloop.rlaif import run_stage
        from training.data import InsufficientData

        cfg = self.cfg.rlaif
        if not sft_live:
            self.skip("RLAIF skipped: it samples from the live SFT adapter, and none was published", "rlaif")
            return None, None
        self.step(f"RLAIF: {cfg.k} answers per training question from {sft_live}, judged, then {cfg.method}")
        t = time.perf_counter()
        try:
            outcome = run_stage(
                chain,
                judge,
                train_items,
                sft_live,
                sft_dir,
                self.base_model,
                self.settings.data_dir,
                cfg,
                self.settings.llm.max_tokens,
                self.cfg.batch_size,
                self.echo,
            )
        except InsufficientData as err:  # every question's candidates scored alike: nothing to prefer
            self.echo(f"      the AI feedback gave no training data: {err}")
            self._step += STEPS["rlaif"] - 1
            return None, None
        self.seconds.update({f"rlaif_{k}": v for k, v in outcome.seconds.items()})
        self._timed("rlaif", t)

        self.step("evaluate the RLAIF candidate on the held-out questions")
        t = time.perf_counter()
        candidate = f"{cfg.adapter_name}-candidate"
        admin.load(candidate, str(outcome.adapter_dir.resolve()))
        try:
            results["rlaif"] = evaluate(
                chain,
                holdout,
                adapter=candidate,
                judge=judge,
                k=self.settings.retrieval.top_k,
                label=cfg.adapter_name,
            )
        finally:
            admin.unload(candidate)
        self._timed("rlaif_evaluate", t)

        self.step(f"quality gate: the RLAIF candidate against the live SFT adapter {sft_live}")
        margins = GateMargins(similarity=-cfg.max_similarity_drop, judge_mean=cfg.min_judge_gain)
        gate = check(results["rlaif"], results["adapter"], margins)
        for reason in gate.reasons:
            self.echo(f"      {reason}")
        manifest = AdapterManifest.read(outcome.adapter_dir)
        manifest.metrics["eval"] = {
            "set": str(self.cfg.eval_set or DEMO_EVAL_SET.name),
            "items": [i["id"] for i in holdout],
            "judge": judge.name,
            "candidate": summary_row(results["rlaif"]),
            "baseline": summary_row(results["adapter"]),
            "baseline_adapter": sft_live,
            "gate_passed": gate.passed,
        }
        manifest.write(outcome.adapter_dir)

        if not gate.passed:
            self.step(f"publish RLAIF: refused; {sft_live} stays live")
            return gate, None
        self.step("publish the RLAIF adapter (no restart)")
        t = time.perf_counter()
        published = publisher.publish(outcome.adapter_dir, name=cfg.adapter_name, weight=1.0)
        publisher.promote(cfg.adapter_name)
        self.echo(f"      {published.served_name} live in {published.seconds:.2f} s; all traffic moves to it")
        self._timed("rlaif_publish", t)
        return gate, published.served_name

    def run(self) -> LoopResult:
        from core.manifest import AdapterManifest
        from eval.gate import GateMargins, check
        from eval.langchain_baseline import LangChainAnswerer
        from eval.report import summary_row, write_report
        from eval.run import evaluate, read_set
        from feedback.agreement import agreement
        from feedback.export import export_records
        from feedback.service import build_writer
        from rag.service import build_chain, build_ingestor
        from serving.publish import Publisher
        from serving.registry import open_registry
        from serving.vllm_admin import VLLMAdmin
        from training.run import make_job
        from training.run import run as train

        settings, cfg = self.settings, self.cfg
        data_dir = settings.data_dir
        started = time.perf_counter()

        self.step("index the demo corpus")
        t = time.perf_counter()
        # The loop's own index: one from an older configuration is rebuilt.
        report = build_ingestor(settings).ingest([DEMO_CORPUS], progress=False, rebuild_if_changed=True)
        self.echo(f"      {report.summary()}")
        self._timed("ingest", t)

        items = read_set(cfg.eval_set or DEMO_EVAL_SET)[: cfg.limit]
        train_items = [i for i in items if not is_holdout(i["id"], cfg.holdout_share)]
        holdout = [i for i in items if is_holdout(i["id"], cfg.holdout_share)]
        if len(train_items) < 2 or len(holdout) < 2:
            raise ValueError(f"too few items to split ({len(train_items)} train, {len(holdout)} held out)")
        chain = build_chain(settings)
        writer = build_writer(settings)
        judge = self.judge(chain.embedder)
        self.echo(
            f"      {len(train_items)} questions for users, {len(holdout)} held out for evaluation; "
            f"judge: {judge.name}"
        )

        self.step("users ask, rate and correct answers of the base model")
        t = time.perf_counter()
        records = self.simulate_users(chain, writer, judge, train_items, TRAIN_SESSION)
        negative = sum((r.rating or 5) <= 2 for r in records)
        corrected = sum(bool(r.correction) for r in records)
        self.echo(
            f"      {negative} of {len(records)} answers rated negative; "
            f"{corrected} corrections submitted and approved"
        )
        self._timed("users", t)

        self.step("export feedback and train an SFT adapter (LoRA)")
        t = time.perf_counter()
        writer.drain()
        export = data_dir / "feedback-export.jsonl"
        wanted = {r.feedback_id for r in records}
        n = export_records((r for r in writer.store.list() if r.feedback_id in wanted), export, "jsonl")
        adapter_dir = data_dir / "trained" / cfg.adapter_name
        job = make_job(
            "sft",
            export_path=str(export),
            base_model=str(self.base_model),
            output_dir=str(adapter_dir),
            name=cfg.adapter_name,
            lora_r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            learning_rate=cfg.learning_rate,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            validation_share=0.0,
            min_rows=2,
            save_steps=10_000,
            rated_answers=cfg.sft_rated_answers,
        )
        _, metrics = train("sft", job)
        self.echo(
            f"      {n} records exported; train loss {metrics.get('train_loss_first', 0):.3f} -> "
            f"{metrics.get('train_loss_last', 0):.3f} over {metrics.get('steps')} steps"
        )
        self._timed("train", t)

        self.step("evaluate base, LangChain baseline and the candidate on held-out questions")
        t = time.perf_counter()
        admin = VLLMAdmin(settings.llm.base_url, settings.llm.api_key.get_secret_value())
        candidate = f"{cfg.adapter_name}-candidate"
        admin.load(candidate, str(adapter_dir.resolve()))
        k = settings.retrieval.top_k
        results: dict[str, dict[str, Any]] = {}
        try:
            results["base"] = evaluate(chain, holdout, judge=judge, k=k)
            results["langchain"] = evaluate(
                LangChainAnswerer.beside(chain, settings), holdout, judge=judge, k=k, label="langchain"
            )
            results["adapter"] = evaluate(
                chain, holdout, adapter=candidate, judge=judge, k=k, label=cfg.adapter_name
            )
        finally:
            admin.unload(candidate)
        self._timed("evaluate", t)

        self.step("quality gate")
        # similarity to the references is what the users' corrections teach (the reference design's SFT
        # measure); the judge guards against a regression, within one answer's worth of noise
        margins = GateMargins(similarity=cfg.min_similarity_gain, judge_mean=-cfg.max_judge_drop)
        gate = check(results["adapter"], results["base"], margins)
        for reason in gate.reasons:
            self.echo(f"      {reason}")
        manifest = AdapterManifest.read(adapter_dir)
        manifest.metrics["eval"] = {
            "set": str(cfg.eval_set or DEMO_EVAL_SET.name),
            "items": [i["id"] for i in holdout],
            "judge": judge.name,
            "candidate": summary_row(results["adapter"]),
            "baseline": summary_row(results["base"]),
            "gate_passed": gate.passed,
        }
        manifest.write(adapter_dir)

        self.step("publish into the running vLLM (no restart)" if gate.passed else "publish: refused")
        published = None
        publisher = Publisher(open_registry(settings), admin, max_rank=settings.serve.max_lora_rank)
        if gate.passed:
            t = time.perf_counter()
            result = publisher.publish(adapter_dir, name=cfg.adapter_name, weight=1.0)
            publisher.promote(cfg.adapter_name)
            published = result.served_name
            self.echo(f"      {published} live in {result.seconds:.2f} s")
            self._timed("publish", t)

        rlaif_gate = None
        if "rlaif" in cfg.stages:
            rlaif_gate, rlaif_published = self.rlaif_stage(
                chain, judge, train_items, holdout, results, adapter_dir, published, admin, publisher
            )
            published = rlaif_published or published

        live: dict[str, Any] = {}
        if published:
            self.step("live check: users ask the held-out questions again")
            t = time.perf_counter()
            after = self.simulate_users(chain, writer, judge, holdout, LIVE_SESSION)
            live = {
                "answers": len(after),
                "answered_by_adapter": sum(r.adapter == published for r in after),
                "adapter": published,
                "negative_share": sum((r.rating or 5) <= 2 for r in after) / len(after),
            }
            self.echo(
                f"      {live['answered_by_adapter']} of {live['answers']} answers came from {published}; "
                f"{live['negative_share']:.0%} rated negative"
            )
            self._timed("live", t)
        else:
            self.step("live check skipped: nothing was published")
        admin.close()

        self.step("report")
        self.seconds["total"] = round(time.perf_counter() - started, 1)
        report_dir = self.report_dir
        notes = [
            f"held-out questions: {len(holdout)} of {len(items)} (never in training data)",
            f"gate: {'passed' if gate.passed else 'refused'}"
            + (f"; published as {published}" if published else ""),
        ]
        if live:
            notes.append(
                f"live check: {live['answered_by_adapter']}/{live['answers']} answers from {published}"
            )
        agree = agreement(writer.store.list())
        notes.append(
            f"human vs AI (simulated ratings vs the background AI scores, {agree.pairs} answers): "
            f"see agreement.md"
        )
        if rlaif_gate is not None:
            notes.append(
                f"RLAIF gate against the live SFT adapter: {'passed' if rlaif_gate.passed else 'refused'}"
            )
        manifests = [manifest.model_dump()]
        rlaif_dir = data_dir / "trained" / cfg.rlaif.adapter_name
        figures = []
        if "rlaif" in results:
            from ragloop.rlaif import plot_ai_feedback

            rlaif_manifest = AdapterManifest.read(rlaif_dir)
            manifests.append(rlaif_manifest.model_dump())
            report_dir.mkdir(parents=True, exist_ok=True)
            source = rlaif_manifest.ai_feedback["sampling"]["adapter"]
            plot = plot_ai_feedback(data_dir / "rlaif-scores.jsonl", report_dir / "ai_feedback.png", source)
            if plot:
                figures.append(("AI feedback: judge scores of the sampled candidates", plot))
        write_report(
            [results[k] for k in ("base", "adapter", "rlaif", "langchain") if k in results],
            report_dir,
            manifests,
            title="ragloop loop: before and after learning from feedback",
            notes=notes,
            extra_figures=figures,
        )
        loop = LoopResult(report_dir, adapter_dir, published, gate.reasons, results, live, self.seconds)
        if rlaif_gate is not None:
            loop.rlaif_dir = rlaif_dir if "rlaif" in results else None
            loop.rlaif_gate_reasons = rlaif_gate.reasons
        (report_dir / "agreement.md").write_text(
            "# Human rating vs AI score (loop demo data)\n\n" + agree.markdown() + "\n"
        )
        (report_dir / "loop.json").write_text(json.dumps(loop.summary(), indent=2) + "\n")
        return loop


def loop_settings(settings: Settings, llm_base_url: str, fresh: bool = True) -> Settings:
    """The loop's own settings: a fresh working directory under data_dir (``fresh=False``: the last
    run's, kept), the embedded stores and a local adapter registry in it (a demo never touches
    production stores or a shared S3 registry), short prompts and answers (so CPU training stays in
    minutes), and the given vLLM."""
    workdir = settings.data_dir / settings.loop.workdir
    if fresh and workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    return settings.model_copy(
        update={
            "data_dir": workdir,
            "llm": settings.llm.model_copy(
                update={"base_url": llm_base_url, "max_tokens": settings.loop.max_tokens}
            ),
            "retrieval": settings.retrieval.model_copy(update={"top_k": settings.loop.top_k}),
            "vector_store": settings.vector_store.model_copy(update={"kind": "embedded"}),
            "feedback": settings.feedback.model_copy(update={"kind": "sqlite"}),
            "registry": settings.registry.model_copy(update={"kind": "local"}),
        }
    )
