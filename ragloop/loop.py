"""The whole loop in one run, the product's proof: users rate answers, the ratings become training data,
an adapter is trained, evaluated against the base model and the LangChain baseline, gated, hot-loaded
into the running vLLM, and live answers come from it and score better.

The run is a list of stages (``Loop.stages``), each a method that reads and extends one ``LoopState``;
the step numbers in the log come from that list. The corpus and the eval set are settings
(``loop.corpus``, ``loop.eval_set``; ``ragloop loop --corpus DIR --eval-set FILE``), so the loop runs on
a user's own documents and questions as it does on the demo.

Before the users arrive, the served model drafts question-answer pairs from the indexed chunks (the
reference design's SFT data; ``loop.synthetic``) and a simulated expert — the judge, against the draft's
chunk — approves or rejects each. Drafts come from chunks only, never from the eval set. Before training,
each approved draft's question is asked through the chain, and the served answer takes the draft's place
when the judge finds it agrees (``loop.synthetic.rows``, ``ragloop.roundtrip``).

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

from core.pool import map_ordered
from core.settings import Settings

log = logging.getLogger(__name__)

TRAIN_SESSION = "sim-train-user"
LIVE_SESSION = "sim-live-user"
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
    training_rows: dict[str, int] = field(default_factory=dict)  # SFT rows by source
    grounding: dict[str, int] = field(default_factory=dict)  # corrections carried / re-sourced / left out
    distilled: dict[str, int] = field(default_factory=dict)  # corrections restated / kept as given
    # drafted / verified / refused / unusable (+ round_trip_agreed / round_trip_left_out, ragloop.roundtrip)
    synthetic: dict[str, int] = field(default_factory=dict)
    reviewed: dict[str, Any] = field(default_factory=dict)  # the reviewed-answers check

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
            "training_rows": self.training_rows,
            "grounding": self.grounding,
            "distilled": self.distilled,
            "synthetic": self.synthetic,
            "reviewed": self.reviewed,
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
        ("grounding", "grounding", "{:.3f}"),
        ("grounding (cosine, before)", "grounding_cosine", "{:.3f}"),
        ("retrieval recall@k", "recall", "{:.3f}"),
    ]
    columns = [
        ("before: base", "base"),
        ("base + reviewed", "reviewed"),
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


@dataclass
class LoopState:
    """What the stages share: each reads what earlier ones left and adds its own."""

    chain: Any = None
    writer: Any = None
    judge: Any = None
    items: list[dict[str, Any]] = field(default_factory=list)
    train_items: list[dict[str, Any]] = field(default_factory=list)
    holdout: list[dict[str, Any]] = field(default_factory=list)
    synthetic_ids: list[str] = field(default_factory=list)
    synthetic: dict[str, int] = field(default_factory=dict)
    records: list[Any] = field(default_factory=list)
    adapter_dir: Path | None = None
    training_rows: dict[str, int] = field(default_factory=dict)
    grounding: dict[str, int] = field(default_factory=dict)
    distilled: dict[str, int] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    admin: Any = None
    publisher: Any = None
    gate: Any = None
    manifest: Any = None
    published: str | None = None
    rlaif: Any = None  # the RLAIF stage's outcome (ragloop.rlaif.RlaifOutcome), None if none was trained
    rlaif_gate: Any = None
    live: dict[str, Any] = field(default_factory=dict)
    reviewed: dict[str, Any] = field(default_factory=dict)  # the reviewed-answers check


@dataclass(frozen=True)
class Stage:
    title: str
    run: Callable[[LoopState], None]


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

    def stages(self) -> list[Stage]:
        """The run, in order; the configuration decides which optional stages take part."""
        cfg = self.cfg
        stages = [Stage("index the corpus and split the eval set", self.prepare)]
        if cfg.synthetic.chunks:
            stages.append(
                Stage("draft question-answer pairs from the chunks; an expert verifies", self.drafts)
            )
        stages += [
            Stage("users ask, rate and correct answers of the base model", self.users),
            Stage("export feedback and train an SFT adapter (LoRA)", self.train_sft),
            Stage("evaluate base, LangChain baseline and the candidate on held-out questions", self.evaluate),
        ]
        if cfg.reviewed_check:
            stages.append(
                Stage("base + reviewed answers: corrected questions again, and the held-out", self.reviewed)
            )
        stages += [
            Stage("quality gate", self.gate),
            Stage("publish into the running vLLM (no restart)", self.publish),
        ]
        if "rlaif" in cfg.stages:
            stages += [
                Stage(
                    f"RLAIF: {cfg.rlaif.k} samples per training question from SFT, judged, then "
                    f"{cfg.rlaif.method}",
                    self.rlaif_train,
                ),
                Stage("evaluate the RLAIF candidate on the held-out questions", self.rlaif_evaluate),
                Stage("quality gate: the RLAIF candidate against the live SFT adapter", self.rlaif_gate),
                Stage("publish the RLAIF adapter (no restart)", self.rlaif_publish),
            ]
        stages += [
            Stage("live check: users ask the held-out questions again", self.live_check),
            Stage("report", self.report),
        ]
        return stages

    def run(self) -> LoopResult:
        state = LoopState()
        started = time.perf_counter()
        stages = self.stages()
        try:
            for n, stage in enumerate(stages, start=1):
                self.echo(f"[{n}/{len(stages)}] {stage.title}")
                t = time.perf_counter()
                stage.run(state)
                self.seconds[stage.run.__name__] = round(time.perf_counter() - t, 1)
        finally:
            if state.admin is not None:
                state.admin.close()
        self.seconds["total"] = round(time.perf_counter() - started, 1)
        return self.result(state)

    # ---- stages ------------------------------------------------------------------------------------

    def prepare(self, state: LoopState) -> None:
        from eval.run import read_set
        from feedback.service import build_writer
        from judge.factory import build_judge
        from rag.service import build_chain, build_ingestor
        from serving.publish import Publisher
        from serving.registry import open_registry
        from serving.vllm_admin import VLLMAdmin

        settings, cfg = self.settings, self.cfg
        # The loop's own index: one from an older configuration is rebuilt.
        report = build_ingestor(settings).ingest(list(cfg.corpus), progress=False, rebuild_if_changed=True)
        self.echo(f"      {report.summary()}")
        items = [item for path in cfg.eval_set for item in read_set(path)][: cfg.limit]
        state.items = items
        state.train_items = [i for i in items if not is_holdout(i["id"], cfg.holdout_share)]
        state.holdout = [i for i in items if is_holdout(i["id"], cfg.holdout_share)]
        if len(state.train_items) < 2 or len(state.holdout) < 2:
            raise ValueError(
                f"too few items to split ({len(state.train_items)} train, {len(state.holdout)} held out)"
            )
        state.chain = build_chain(settings)
        state.writer = build_writer(settings)
        state.judge = build_judge(settings, embedder=state.chain.embedder)
        state.admin = VLLMAdmin(settings.llm.base_url, settings.llm.api_key.get_secret_value())
        state.publisher = Publisher(
            open_registry(settings), state.admin, max_rank=settings.serve.max_lora_rank
        )
        self.echo(
            f"      {len(state.train_items)} questions for users, {len(state.holdout)} held out for "
            f"evaluation; judge: {state.judge.name}"
        )

    def drafts(self, state: LoopState) -> None:
        """The reference design's SFT data: drafted from chunks, verified by a simulated expert."""
        from feedback.protocols import FeedbackQuery
        from ragloop.drafter import drafting_llm
        from ragloop.synth import synthesize

        cfg = self.cfg.synthetic
        chain = state.chain
        with drafting_llm(self.settings, chain.llm) as drafter:
            report = synthesize(
                chain.store,
                chain.embedder.dim,
                drafter,
                state.writer,
                cfg.chunks,
                seed=self.cfg.seed,
                max_tokens=self.settings.llm.max_tokens * 2,
                workers=cfg.workers,
                per_chunk=cfg.per_chunk,
                verify=state.judge,
                min_score=cfg.min_score,
                retrieve=chain.retrieve,
                reviewer=REVIEWER,
                max_minutes=cfg.minutes,
                style=cfg.style,
            )
        state.writer.drain()
        state.synthetic_ids = [
            r.feedback_id
            for r in state.writer.store.list(FeedbackQuery(review_state="approved"))
            if r.session_id == "synthetic"
        ]
        state.synthetic = {
            "drafted": report.drafted,
            "verified": report.verified,
            "refused": report.refused,
            "unusable": report.unusable,
        }
        self.echo(
            f"      {report.summary()} (drafted by {report.model}; "
            f"judge ≥ {cfg.min_score:g} against the chunk)"
        )

    def users(self, state: LoopState) -> None:
        state.records = self.simulate_users(state, state.train_items, TRAIN_SESSION)
        negative = sum((r.rating or 5) <= 2 for r in state.records)
        corrected = sum(bool(r.correction) for r in state.records)
        self.echo(
            f"      {negative} of {len(state.records)} answers rated negative; "
            f"{corrected} corrections submitted and approved"
        )

    def train_sft(self, state: LoopState) -> None:
        from core.manifest import AdapterManifest
        from training.run import make_job
        from training.run import run as train

        cfg = self.cfg
        export, n = self.training_export(state)
        state.adapter_dir = self.settings.data_dir / "trained" / cfg.adapter_name
        job = make_job(
            "sft",
            export_path=str(export),
            base_model=str(self.base_model),
            output_dir=str(state.adapter_dir),
            name=cfg.adapter_name,
            **cfg.sft_job(),
        )
        _, metrics = train("sft", job)
        data = AdapterManifest.read(state.adapter_dir).metrics.get("data", {})
        state.training_rows = dict(data.get("by_source", {}))
        rows = ", ".join(f"{v} {k}" for k, v in state.training_rows.items() if v)
        stopped = f"; best at step {metrics['best_step']}" if metrics.get("best_step") else ""
        if metrics.get("stopped_by_time_budget_at"):
            stopped += f"; the {cfg.train_minutes:g}-minute budget ended it at step {metrics['steps']}"
        self.echo(
            f"      {n} records exported -> {data.get('train', '?')} training rows ({rows}), "
            f"{data.get('validation', 0)} for validation; train loss "
            f"{metrics.get('train_loss_first') or 0:.3f} -> {metrics.get('train_loss_last') or 0:.3f} over "
            f"{metrics.get('steps')} steps{stopped}"
        )

    def training_export(self, state: LoopState) -> tuple[Path, int]:
        """The SFT rows' file and how many records went into it: the users' records and the verified
        drafts exported as the product exports feedback, each correction checked against its prompt
        (``ragloop.grounding``) and each draft asked through the chain (``ragloop.roundtrip``): one
        pipeline, ``ragloop.export_checks``, which ``benchmarks.sft_choices`` runs too."""
        from feedback.export import export_records
        from ragloop.export_checks import ExportChecks, check_export

        cfg, writer, data_dir = self.cfg, state.writer, self.settings.data_dir
        writer.drain()
        export = data_dir / "feedback-export.jsonl"
        wanted = {r.feedback_id for r in state.records} | set(state.synthetic_ids)
        n = export_records((r for r in writer.store.list() if r.feedback_id in wanted), export, "jsonl")
        checked = check_export(
            export,
            ExportChecks.of_loop(cfg),
            chain=state.chain,
            judge=state.judge,
            out_dir=data_dir,
            stem="feedback",
            drafts=bool(state.synthetic_ids),
        )
        for note in checked.notes:
            self.echo(f"      {note}")
        if checked.grounding is not None:
            state.grounding = checked.grounding.to_dict()
        if checked.distilled is not None:
            state.distilled = checked.distilled.to_dict()
        if checked.round_trip is not None:
            trip = checked.round_trip
            state.synthetic |= {"round_trip_agreed": trip.agreed, "round_trip_left_out": trip.disagreed}
        return checked.path, n

    def evaluate(self, state: LoopState) -> None:
        from eval.langchain_baseline import LangChainAnswerer
        from eval.run import evaluate

        cfg, chain, judge = self.cfg, state.chain, state.judge
        candidate = f"{cfg.adapter_name}-candidate"
        state.admin.load(candidate, str(state.adapter_dir.resolve()))
        k = self.settings.retrieval.top_k
        try:
            workers = cfg.answer_workers
            state.results["base"] = evaluate(chain, state.holdout, judge=judge, k=k, workers=workers)
            state.results["langchain"] = evaluate(
                LangChainAnswerer.beside(chain, self.settings),
                state.holdout,
                judge=judge,
                k=k,
                label="langchain",
                workers=workers,
            )
            state.results["adapter"] = evaluate(
                chain,
                state.holdout,
                adapter=candidate,
                judge=judge,
                k=k,
                label=cfg.adapter_name,
                workers=workers,
            )
        finally:
            state.admin.unload(candidate)

    def reviewed(self, state: LoopState) -> None:
        """A correction should stick at once, before any training: the users' approved corrections become
        reviewed answers (``rag.reviewed``), the corrected questions are asked again verbatim and in two
        paraphrases and judged against the correction, and the held-out questions — none of them
        corrected — show whether unrelated answers changed (those no reviewed answer comes near keep
        the base's answers: their prompt is the base's). The index is emptied afterwards, so the
        adapter's evaluation and gate measure training alone."""
        from eval.gate import paired
        from eval.run import evaluate
        from ragloop.reviewed import rebuild

        chain, judge, index = state.chain, state.judge, state.chain.reviewed
        if index is None:
            self.echo("      skipped: reviewed answers are off (reviewed.enabled)")
            return
        built = rebuild(index, state.records)
        corrected = [(i, r) for i, r in zip(state.train_items, state.records, strict=True) if r.correction]
        asks = [
            (kind, question, record.correction)
            for item, record in corrected
            for kind, question in [("verbatim", item["question"])]
            + [("paraphrase", p) for p in item.get("paraphrases", [])]
        ]
        scores: dict[str, list[float]] = {"verbatim": [], "paraphrase": []}
        used: dict[str, int] = {"verbatim": 0, "paraphrase": 0}
        direct: dict[str, int] = {"verbatim": 0, "paraphrase": 0}  # the approved text itself, no model
        answers = map_ordered(
            lambda ask: chain.answer(ask[1]),
            asks,
            workers=self.cfg.answer_workers,
            desc="reviewed answers",
            unit="question",
        )
        for (kind, question, correction), answer in zip(asks, answers, strict=True):
            scores[kind].append(judge.score(question, correction, answer.text).score)
            used[kind] += bool(answer.trace.reviewed_answers)
            direct[kind] += answer.trace.reviewed_direct
        base_rows = {row["id"]: row for row in state.results["base"]["items"]}
        state.results["reviewed"] = evaluate(
            chain,
            state.holdout,
            judge=judge,
            k=self.settings.retrieval.top_k,
            label="base + reviewed answers",
            # a held-out question no reviewed answer comes near gets the base's prompt, so the base's
            # (greedy) answer: only the others are asked again
            reuse=lambda item: None if chain.reviewed_for(item["question"]) else base_rows.get(item["id"]),
            workers=self.cfg.answer_workers,
        )
        rebuild(index, [])
        diff = paired(state.results["reviewed"], state.results["base"], "similarity")
        state.reviewed = {
            "entries": built.entries,
            **{f"{kind}_asked": len(v) for kind, v in scores.items()},
            **{
                f"{kind}_at_least_4": sum(s >= 4 for s in v) / len(v) if v else None
                for kind, v in scores.items()
            },
            **{f"{kind}_used": used[kind] for kind in used},
            **{f"{kind}_direct": direct[kind] for kind in direct},
            "holdout_used": sum(i.get("reviewed_answers", 0) > 0 for i in state.results["reviewed"]["items"]),
            "holdout_asked": sum(not i.get("reused") for i in state.results["reviewed"]["items"]),
            "holdout_similarity_delta": diff.__dict__ if diff else None,
        }
        r = state.reviewed
        self.echo(
            f"      {built.entries} reviewed answers; judged >= 4 against the correction: "
            f"{r['verbatim_at_least_4'] or 0:.0%} of {r['verbatim_asked']} verbatim, "
            f"{r['paraphrase_at_least_4'] or 0:.0%} of {r['paraphrase_asked']} paraphrased questions "
            f"({r['verbatim_direct'] + r['paraphrase_direct']} given the approved text itself); "
            f"held-out: {r['holdout_used']} of {len(state.holdout)} used one" + (diff.note() if diff else "")
        )

    def gate(self, state: LoopState) -> None:
        """Similarity to the references is what the corrections and verified drafts teach (the reference
        design's SFT measure): its gain must lie beyond the noise; the judge must not be clearly worse and
        grounding must hold (``eval.gate``)."""
        from core.manifest import AdapterManifest
        from eval.gate import GateMargins, check
        from eval.report import summary_row

        cfg = self.cfg
        margins = GateMargins(
            similarity=cfg.min_similarity_gain,
            judge_mean=-cfg.max_judge_drop,
            grounding_drop=cfg.max_grounding_drop,
            intervals=cfg.gate_intervals,
        )
        state.gate = check(state.results["adapter"], state.results["base"], margins)
        for reason in state.gate.reasons:
            self.echo(f"      {reason}")
        manifest = AdapterManifest.read(state.adapter_dir)
        manifest.metrics["eval"] = {
            "set": [str(p) for p in cfg.eval_set],
            "items": [i["id"] for i in state.holdout],
            "judge": state.judge.name,
            "candidate": summary_row(state.results["adapter"]),
            "baseline": summary_row(state.results["base"]),
            "gate_passed": state.gate.passed,
            "gate_reasons": state.gate.reasons,
        }
        manifest.write(state.adapter_dir)
        state.manifest = manifest

    def publish(self, state: LoopState) -> None:
        if not state.gate.passed:
            self.echo("      refused by the gate: nothing is published")
            return
        self._go_live(state, state.adapter_dir, self.cfg.adapter_name)

    def _go_live(self, state: LoopState, adapter_dir: Path, name: str) -> None:
        """Publish ``adapter_dir`` as ``name`` into the running vLLM and move all traffic to it."""
        result = state.publisher.publish(adapter_dir, name=name, weight=1.0)
        state.publisher.promote(name)
        state.published = result.served_name
        self.echo(f"      {state.published} live in {result.seconds:.2f} s; all traffic moves to it")

    def rlaif_train(self, state: LoopState) -> None:
        """Sample from the live SFT adapter, judge the samples, train on that AI feedback."""
        from ragloop.rlaif import drafted_items, run_stage
        from training.data import InsufficientData

        if not state.published:
            self.echo("      skipped: RLAIF samples from the live SFT adapter, and none was published")
            return
        items = list(state.train_items)
        if self.cfg.rlaif.drafted_questions:  # fresh questions: the verified drafts', never held-out ones
            items += drafted_items(state.writer.store.list())
        try:
            state.rlaif = run_stage(
                state.chain,
                state.judge,
                items,
                sft_served=state.published,
                sft_dir=state.adapter_dir,
                base_model=self.base_model,
                workdir=self.settings.data_dir,
                cfg=self.cfg.rlaif,
                max_tokens=self.settings.llm.max_tokens,
                batch_size=self.cfg.batch_size,
                echo=self.echo,
            )
        except InsufficientData as err:  # every question's candidates scored alike: nothing to prefer
            self.echo(f"      the AI feedback gave no training data: {err}")
            return
        self.seconds.update({f"rlaif_{k}": v for k, v in state.rlaif.seconds.items()})

    def rlaif_evaluate(self, state: LoopState) -> None:
        from eval.run import evaluate

        if state.rlaif is None:
            self.echo("      skipped: no RLAIF adapter was trained")
            return
        cfg = self.cfg.rlaif
        candidate = f"{cfg.adapter_name}-candidate"
        state.admin.load(candidate, str(state.rlaif.adapter_dir.resolve()))
        try:
            state.results["rlaif"] = evaluate(
                state.chain,
                state.holdout,
                adapter=candidate,
                judge=state.judge,
                k=self.settings.retrieval.top_k,
                label=cfg.adapter_name,
                workers=self.cfg.answer_workers,
            )
        finally:
            state.admin.unload(candidate)

    def rlaif_gate(self, state: LoopState) -> None:
        from core.manifest import AdapterManifest
        from eval.gate import GateMargins, check
        from eval.report import summary_row

        if "rlaif" not in state.results:
            self.echo("      skipped: no RLAIF candidate")
            return
        cfg = self.cfg.rlaif
        margins = GateMargins(  # against the live SFT adapter; grounding holds as for SFT
            similarity=-cfg.max_similarity_drop,
            judge_mean=cfg.min_judge_gain,
            grounding_drop=self.cfg.max_grounding_drop,
        )
        state.rlaif_gate = check(state.results["rlaif"], state.results["adapter"], margins)
        for reason in state.rlaif_gate.reasons:
            self.echo(f"      {reason}")
        manifest = AdapterManifest.read(state.rlaif.adapter_dir)
        manifest.metrics["eval"] = {
            "set": [str(p) for p in self.cfg.eval_set],
            "items": [i["id"] for i in state.holdout],
            "judge": state.judge.name,
            "candidate": summary_row(state.results["rlaif"]),
            "baseline": summary_row(state.results["adapter"]),
            "baseline_adapter": state.published,
            "gate_passed": state.rlaif_gate.passed,
        }
        manifest.write(state.rlaif.adapter_dir)

    def rlaif_publish(self, state: LoopState) -> None:
        if state.rlaif_gate is None or not state.rlaif_gate.passed:
            if state.rlaif_gate is not None:
                self.echo(f"      refused by the gate; {state.published} stays live")
            return
        self._go_live(state, state.rlaif.adapter_dir, self.cfg.rlaif.adapter_name)

    def live_check(self, state: LoopState) -> None:
        if not state.published:
            self.echo("      skipped: nothing was published")
            return
        after = self.simulate_users(state, state.holdout, LIVE_SESSION)
        state.live = {
            "answers": len(after),
            "answered_by_adapter": sum(r.adapter == state.published for r in after),
            "adapter": state.published,
            "negative_share": sum((r.rating or 5) <= 2 for r in after) / len(after),
        }
        self.echo(
            f"      {state.live['answered_by_adapter']} of {state.live['answers']} answers came from "
            f"{state.published}; {state.live['negative_share']:.0%} rated negative"
        )

    def report(self, state: LoopState) -> None:
        from core.manifest import AdapterManifest
        from eval.report import write_report
        from feedback.agreement import agreement

        report_dir, results = self.report_dir, state.results
        notes = [
            f"held-out questions: {len(state.holdout)} of {len(state.items)} (never in training data)",
            "gate: " + ("passed" if state.gate.passed else "refused") + " — " + "; ".join(state.gate.reasons),
        ]
        if state.synthetic:
            s = state.synthetic
            notes.append(
                f"synthetic drafts from the corpus's chunks: {s['drafted']} drafted, "
                f"{s['verified']} verified by the judge against their chunk, {s['refused']} refused"
                + (
                    f"; asked through the chain, {s['round_trip_agreed']} answered in agreement and kept "
                    f"({self.cfg.synthetic.rows}), {s['round_trip_left_out']} left out"
                    if "round_trip_agreed" in s
                    else ""
                )
            )
        if state.reviewed:
            r = state.reviewed
            verbatim, para = r["verbatim_at_least_4"] or 0, r["paraphrase_at_least_4"] or 0
            notes.append(
                f"reviewed answers ({r['entries']} approved corrections, no training): judged >= 4 against "
                f"the correction on {verbatim:.0%} of {r['verbatim_asked']} corrected questions asked "
                f"verbatim and {para:.0%} of {r['paraphrase_asked']} paraphrases "
                f"({r.get('verbatim_direct', 0) + r.get('paraphrase_direct', 0)} given the approved text "
                f"itself); {r['holdout_used']} of {len(state.holdout)} held-out questions used one "
                f"(asked again: {r.get('holdout_asked', len(state.holdout))}; the others, with no reviewed "
                "answer near them, keep the base's answers: the same prompt)"
            )
        if state.training_rows:
            notes.append(
                "SFT rows by source: " + ", ".join(f"{k} {v}" for k, v in state.training_rows.items() if v)
            )
        if state.grounding:
            g = state.grounding
            notes.append(
                f"corrections checked against their prompts: {g['carried']} carried, {g['resourced']} "
                f"re-sourced with the chunk that carries them, {g['unsupported']} left out of SFT"
            )
        if state.distilled:
            d = state.distilled
            notes.append(
                f"corrections restated by the served model (self-distillation): {d['restated']} trained in "
                f"its own words, {d['as_given']} as the users gave them"
            )
        if state.published:
            notes.append(f"published as {state.published}")
        if state.live:
            notes.append(
                f"live check: {state.live['answered_by_adapter']}/{state.live['answers']} answers "
                f"from {state.published}"
            )
        agree = agreement(state.writer.store.list())
        notes.append(
            f"human vs AI (simulated ratings vs the background AI scores, {agree.pairs} answers): "
            f"see agreement.md"
        )
        if state.rlaif_gate is not None:
            verdict = "passed" if state.rlaif_gate.passed else "refused"
            notes.append(f"RLAIF gate against the live SFT adapter: {verdict}")
        manifests = [state.manifest.model_dump()]
        figures = []
        if "rlaif" in results:
            from ragloop.rlaif import plot_ai_feedback

            rlaif_manifest = AdapterManifest.read(state.rlaif.adapter_dir)
            manifests.append(rlaif_manifest.model_dump())
            report_dir.mkdir(parents=True, exist_ok=True)
            source = rlaif_manifest.ai_feedback["sampling"]["adapter"]
            plot = plot_ai_feedback(
                self.settings.data_dir / "rlaif-scores.jsonl", report_dir / "ai_feedback.png", source
            )
            if plot:
                figures.append(("AI feedback: judge scores of the sampled candidates", plot))
        write_report(
            [results[k] for k in ("base", "reviewed", "adapter", "rlaif", "langchain") if k in results],
            report_dir,
            manifests=manifests,
            title="ragloop loop: before and after learning from feedback",
            notes=notes,
            extra_figures=figures,
        )
        (report_dir / "agreement.md").write_text(
            "# Human rating vs AI score (loop demo data)\n\n" + agree.markdown() + "\n"
        )

    def result(self, state: LoopState) -> LoopResult:
        loop = LoopResult(
            self.report_dir,
            state.adapter_dir,
            state.published,
            state.gate.reasons,
            state.results,
            state.live,
            self.seconds,
            rlaif_dir=state.rlaif.adapter_dir if "rlaif" in state.results else None,
            rlaif_gate_reasons=state.rlaif_gate.reasons if state.rlaif_gate is not None else [],
            training_rows=state.training_rows,
            grounding=state.grounding,
            distilled=state.distilled,
            synthetic=state.synthetic,
            reviewed=state.reviewed,
        )
        (self.report_dir / "loop.json").write_text(json.dumps(loop.summary(), indent=2) + "\n")
        return loop

    # ---- the simulated users -----------------------------------------------------------------------

    def simulate_users(self, state: LoopState, items: list[dict[str, Any]], session_prefix: str) -> list:
        """Users ask through the app's path (routing, chain, feedback log), rate, correct; an expert
        approves the corrections. Returns the final records."""
        from feedback.scoring import AIScorer
        from feedback.service import limits as feedback_limits
        from ragloop.turns import answer_record, rated_record, reviewed_record
        from serving.registry import open_registry
        from serving.routing import choose_adapter

        chain, writer, judge = state.chain, state.writer, state.judge
        limits = feedback_limits(self.settings)
        registry = open_registry(self.settings)
        records = []
        sessions = [f"{session_prefix}-{n:03d}" for n in range(len(items))]
        asks = [
            (item["question"], choose_adapter(s, registry.state()))
            for item, s in zip(items, sessions, strict=True)
        ]
        answers = map_ordered(
            lambda ask: chain.answer(ask[0], adapter=ask[1]),
            asks,
            workers=self.cfg.answer_workers,
            desc=f"users ({session_prefix})",
            unit="question",
        )
        for item, session, answer in zip(items, sessions, answers, strict=True):
            record = answer_record(answer, session, 0)
            writer.save(record)
            judgement = judge.score(item["question"], item["reference"], answer.text)
            rating = rating_from_score(judgement.score)
            correction = item["reference"] if rating <= self.cfg.correct_at_or_below else ""
            record = rated_record(record, rating, note=judgement.reason, correction=correction, limits=limits)
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


def loop_settings(settings: Settings, llm_base_url: str, fresh: bool = True) -> Settings:
    """The loop's own settings: a fresh working directory under data_dir (``fresh=False``: the last
    run's, kept), the embedded stores and a local adapter registry in it (a demo never touches
    production stores or a shared S3 registry), short prompts and answers (so CPU training stays in
    minutes), and the given vLLM."""
    from ragloop.models import PACKAGED

    workdir = settings.data_dir / settings.loop.workdir
    if fresh and workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    loop = settings.loop
    if loop.synthetic.drafter in PACKAGED:  # converted once beside the default model, not in each workdir
        drafter = str(settings.data_dir / "models" / loop.synthetic.drafter)
        loop = loop.model_copy(update={"synthetic": loop.synthetic.model_copy(update={"drafter": drafter})})
    return settings.model_copy(
        update={
            "data_dir": workdir,
            "loop": loop,
            "llm": settings.llm.model_copy(
                update={"base_url": llm_base_url, "max_tokens": settings.loop.max_tokens}
            ),
            "retrieval": settings.retrieval.model_copy(update={"top_k": settings.loop.top_k}),
            "vector_store": settings.vector_store.model_copy(update={"kind": "embedded"}),
            "feedback": settings.feedback.model_copy(update={"kind": "sqlite"}),
            "registry": settings.registry.model_copy(update={"kind": "local"}),
        }
    )
