"""What every trainer shares: load the base model and tokenizer, build the LoRA config, and save the
adapter with its manifest (the lineage back to the feedback that made it) and a loss plot."""

from __future__ import annotations

import logging
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.hardware import has_gpu
from core.manifest import AdapterManifest
from core.plots import plot_curves
from training.config import LoraJob
from training.data import TrainingSet

log = logging.getLogger(__name__)


def load_base(base_model: str, seed: int, dtype=None):
    """The base model and tokenizer, after seeding every RNG: LoRA and head initialisation then depend on
    the job's seed alone, not on what ran earlier in the process."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    set_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype or torch.float32)
    return model, tokenizer


def load_policy(job: LoraJob):
    """The model to train and its tokenizer: the base with a new LoRA (added by the trainer from
    ``peft_config``), or — with ``job.init_adapter`` — the base with that adapter loaded trainable; the
    job then takes the adapter's rank, alpha and targets so the manifest says what was trained."""
    model, tokenizer = load_base(job.base_model, job.seed)
    if not job.init_adapter:
        return model, tokenizer
    from peft import PeftModel

    model = PeftModel.from_pretrained(model, job.init_adapter, is_trainable=True)
    config = model.peft_config["default"]
    job.lora_r, job.lora_alpha = config.r, config.lora_alpha
    job.target_modules = sorted(config.target_modules)
    log.info("continuing from adapter %s (rank %d)", job.init_adapter, config.r)
    return model, tokenizer


def peft_config(job: LoraJob, task_type: str = "CAUSAL_LM"):
    """The LoRA config for the trainer, or None when the model already carries its adapter."""
    return None if job.init_adapter else lora_config(job, task_type)


def parent_of(job: LoraJob) -> dict[str, Any] | None:
    """The lineage link to ``job.init_adapter``: its manifest's name, method and dataset hash."""
    if not job.init_adapter:
        return None
    link: dict[str, Any] = {"path": str(job.init_adapter)}
    try:
        parent = AdapterManifest.read(Path(job.init_adapter))
    except (OSError, ValueError):
        return link
    return {**link, "name": parent.name, "method": parent.method, "dataset_hash": parent.dataset_hash}


def lora_config(job: LoraJob, task_type: str = "CAUSAL_LM"):
    from peft import LoraConfig

    return LoraConfig(
        r=job.lora_r,
        lora_alpha=job.lora_alpha,
        lora_dropout=job.lora_dropout,
        target_modules=list(job.target_modules),
        layers_to_transform=top_layers(job.base_model, job.lora_top_layers),
        task_type=task_type,
    )


def top_layers(base_model: str, count: int | None) -> list[int] | None:
    """The indices of the last ``count`` transformer blocks of ``base_model`` (None: every block)."""
    if count is None:
        return None
    from transformers import AutoConfig

    total = AutoConfig.from_pretrained(base_model).num_hidden_layers
    return list(range(max(0, total - count), total))


# validation rows per forward pass, at least: TRL averages the loss over each batch's tokens, so a fixed
# batch keeps validation losses comparable between jobs whose steps hold different numbers of rows
EVAL_BATCH_ROWS = 4


def eval_batch_rows(job: LoraJob) -> int:
    """Validation rows per forward pass: a whole step's rows, and never fewer than ``EVAL_BATCH_ROWS``.
    Evaluation keeps no activations, so it batches whatever the micro-batch (one row at a time took
    about 1.4x as long on 2 cores), and its loss stays comparable across micro-batches and step sizes."""
    return max(EVAL_BATCH_ROWS, job.batch_size * job.gradient_accumulation)


def common_args(job: LoraJob) -> dict[str, Any]:
    """TrainingArguments fields shared by the TRL configs."""
    return {
        "output_dir": str(Path(job.output_dir) / "checkpoints"),
        "learning_rate": job.learning_rate,
        "lr_scheduler_type": job.lr_scheduler,
        "num_train_epochs": job.epochs,
        "max_steps": job.max_steps,
        "per_device_train_batch_size": job.batch_size,
        "per_device_eval_batch_size": eval_batch_rows(job),
        "gradient_accumulation_steps": job.gradient_accumulation,
        "gradient_checkpointing": job.gradient_checkpointing,
        "logging_steps": job.logging_steps,
        "save_steps": job.save_steps,
        "save_total_limit": 2,
        "seed": job.seed,
        "bf16": job.bf16,
        "report_to": [],
        "disable_tqdm": False,
        "use_cpu": not has_gpu(),
        # an SFT job's choice; other trainers keep their config's sampler (KTO needs its sequential one)
        **({"train_sampling_strategy": "group_by_length"} if getattr(job, "group_by_length", False) else {}),
    }


# an evaluation row costs about this share of a training row's time (a forward pass, no backward; 20
# validation rows took 85 s against 4-row steps of ~48 s on 2 cores: 0.36)
EVAL_ROW_SHARE = 0.4


# the budget reckons the next step by the slowest of this many recent steps: batches grouped by length
# vary from step to step, and the first epoch's steps over cached prompts (``prompt_cache``) build the
# cache and take several times as long as the later ones (31-51 s against ~5 s on 2 cores)
RECENT_STEPS = 8


def stop_before(now: float, deadline: float, *, step_s: float, eval_s: float) -> bool:
    """Should training stop after the step that just ended at ``now``? Yes when one more step (about
    ``step_s``) and the evaluation a stop then forces (``eval_s``, 0 when the job does not evaluate)
    would end past ``deadline``: the job then ends within its budget instead of one step and one
    evaluation after it."""
    return now + step_s + eval_s > deadline


def time_budget(job: LoraJob) -> list:
    """A callback that keeps the job within ``job.max_minutes`` of wall time ([] without a budget),
    counted from this call — make it first thing in a trainer's ``main``, so loading the model and the
    evaluations count too. After each step it asks whether one more step and the evaluation a stop
    forces still fit (``stop_before``, with the slowest of the last ``RECENT_STEPS`` steps, and the
    last evaluation measured; after a step with an evaluation due, that evaluation too);
    if not, that step is the last, evaluated and checkpointed
    when the job evaluates, so early stopping can still keep the best checkpoint. At least one step
    always runs. Its ``stopped_at`` is that step (None: the budget did not end training)."""
    if not job.max_minutes:
        return []
    import time

    from transformers import TrainerCallback

    class TimeBudget(TrainerCallback):
        def __init__(self, minutes: float) -> None:
            self.minutes, self.stopped_at = minutes, None
            self.deadline = time.monotonic() + minutes * 60
            self.steps: list[float] = []  # seconds per step, measured
            self.eval_s, self.step_began = 0.0, None
            self.eval_per_step = 0.0  # an evaluation's estimated length in steps, until one is measured

        def expect_evaluation(self, rows: int, step_rows: int) -> None:
            """Before any evaluation ran: estimate one from the step time — a forward pass over ``rows``
            without backward, about 0.4 of a training step's time per row."""
            self.eval_per_step = EVAL_ROW_SHARE * rows / max(1, step_rows)

        def on_step_begin(self, args, state, control, **kwargs):
            self.step_began = time.monotonic()

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            self.eval_s = float((metrics or {}).get("eval_runtime", self.eval_s))

        def on_step_end(self, args, state, control, **kwargs):
            now = time.monotonic()
            if self.step_began is not None:
                self.steps.append(now - self.step_began)
            evaluates = args.eval_strategy != "no"
            step_s = max(self.steps[-RECENT_STEPS:], default=0.0)
            eval_s = self.eval_s or self.eval_per_step * step_s
            # an evaluation due after this step runs before the next one: a stop here makes it the last
            every = getattr(args, "eval_steps", None) if args.eval_strategy == "steps" else None
            due = eval_s if every and state.global_step % every == 0 else 0.0
            if state.global_step < state.max_steps and stop_before(
                now + due, self.deadline, step_s=step_s, eval_s=eval_s if evaluates else 0.0
            ):
                control.should_training_stop = True
                if evaluates:
                    control.should_evaluate = control.should_save = True
                self.stopped_at = state.global_step
                log.info(
                    "time budget of %.1f min: stopping after step %d (a step %.0f s, an evaluation %.0f s, "
                    "%.0f s left)",
                    self.minutes,
                    state.global_step,
                    step_s,
                    eval_s,
                    self.deadline - now,
                )
            return control

    return [TimeBudget(job.max_minutes)]


def budget_metrics(callbacks: list) -> dict[str, Any]:
    """The manifest's record of the time budget: where it stopped training, if it did."""
    budget = next((c for c in callbacks if hasattr(c, "stopped_at")), None)
    if budget is None:
        return {}
    return {"max_minutes": budget.minutes, "stopped_by_time_budget_at": budget.stopped_at}


def code_version() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def loss_history(trainer, key: str = "loss") -> list[float]:
    return [float(e[key]) for e in trainer.state.log_history if key in e]


def first_last(trainer, key: str, name: str) -> dict[str, float | None]:
    """``{name_first, name_last}`` of a logged series (None when it was never logged)."""
    values = loss_history(trainer, key)
    return {f"{name}_first": values[0] if values else None, f"{name}_last": values[-1] if values else None}


def loss_metrics(trainer) -> dict[str, Any]:
    return {**first_last(trainer, "loss", "train_loss"), "steps": trainer.state.global_step}


def completion_logps(model, tokenizer, rows: list[dict[str, Any]], key: str = "completion") -> list[float]:
    """Mean log-probability per token of each row's ``key`` messages after its prompt, templated as TRL
    templates prompt-completion rows. Per token, so a longer answer is not penalised for its length."""
    import torch

    model.eval()
    means = []
    with torch.no_grad():
        for row in rows:
            prompt = tokenizer.apply_chat_template(
                row["prompt"], add_generation_prompt=True, tokenize=True, return_dict=False
            )
            full = tokenizer.apply_chat_template(row["prompt"] + row[key], tokenize=True, return_dict=False)
            ids = torch.tensor([full], device=model.device)
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
            token_logps = logp.gather(1, ids[0, 1:, None])[len(prompt) - 1 :, 0]
            means.append(float(token_logps.mean()))
    return means


def preference_accuracy(model, tokenizer, pairs: list[dict[str, Any]]) -> float:
    """Share of ``{"prompt", "chosen", "rejected"}`` pairs whose chosen answer the model finds likelier."""
    chosen = completion_logps(model, tokenizer, pairs, "chosen")
    rejected = completion_logps(model, tokenizer, pairs, "rejected")
    return sum(c > r for c, r in zip(chosen, rejected, strict=True)) / max(len(pairs), 1)


def prepare_data(job: LoraJob, method: str):
    """The dataset stage every trainer shares: export -> rows -> training set -> HF datasets.
    Returns (rows, training set, train dataset, validation dataset or None)."""
    from datasets import Dataset

    from training.data import AIRows, JudgePairing, build, read_export, read_judge_scores

    rows = read_export(job.export_path)
    scores = read_judge_scores(Path(job.judge_scores_path)) if job.judge_scores_path else None
    pairing = JudgePairing(job.judge_min_margin, job.judge_pairs_per_question)
    ai = None if job.ai_scores == "off" else AIRows(job.ai_scores, job.ai_good_score, job.ai_bad_score)
    rated = getattr(job, "rated_answers", True)  # an SFT job's choice; other methods use every rating
    data = build(
        method,
        rows,
        job.validation_share,
        judge_scores=scores,
        min_rows=job.min_rows,
        pairing=pairing,
        ai=ai,
        rated_answers=rated,
    )
    log.info("%s data: %s", method, data.stats)
    train = Dataset.from_list(data.records("train"))
    val = Dataset.from_list(data.records("validation")) if data.validation else None
    return rows, data, train, val


def ai_score_rows(job: LoraJob, data: TrainingSet) -> dict[str, Any] | None:
    """The manifest's record of rows that came from AI scores: mode, how many, which feedback records,
    and the judges that scored them; None when the job did not use AI scores."""
    if job.ai_scores == "off":
        return None
    return {
        "mode": job.ai_scores,
        "good_score": job.ai_good_score,
        "bad_score": job.ai_bad_score,
        "rows": data.stats.get("by_source", {}).get("ai_score", 0),
        "feedback_ids": data.ai_feedback_ids,
        "judges": data.stats.get("ai_judges", []),
    }


def save_adapter(
    trainer,
    job: LoraJob,
    method: str,
    *,
    data: TrainingSet,
    metrics: dict[str, Any],
    feedback_range: tuple[str | None, str | None] = (None, None),
) -> Path:
    out = Path(job.output_dir)
    model = trainer.model
    if "ref" in getattr(model, "peft_config", {}):  # TRL's frozen copy of the parent: not part of the adapter
        model.delete_adapter("ref")
    model.save_pretrained(out)
    trainer.processing_class.save_pretrained(out)
    curves = curve_history(trainer)
    AdapterManifest(
        name=job.name,
        base_model=job.base_model,
        method=method,
        lora_rank=job.lora_r,
        lora_alpha=job.lora_alpha,
        target_modules=list(job.target_modules),
        hyperparameters=job.to_dict(),
        dataset_hash=data.hash,
        feedback_ids=data.feedback_ids,
        feedback_since=feedback_range[0],
        feedback_until=feedback_range[1],
        metrics={**metrics, "data": data.stats, "history": curves},
        ai_score_rows=ai_score_rows(job, data),
        approved_by=data.stats.get("approved_by", []),
        parent=parent_of(job),
        code_version=code_version(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    ).write(out)
    plot_curves(curves, out / "training_curves.png", title=f"{job.name} ({method})")
    log.info("adapter written to %s", out)
    return out


CURVE_KEYS = ("loss", "eval_loss", "rewards/margins", "rewards/chosen", "objective/scores")


def curve_history(trainer) -> dict[str, list[list[float]]]:
    """The logged curves as ``{key: [[step, value], ...]}``, kept in the manifest so reports can plot
    training from the manifest alone."""
    history = trainer.state.log_history
    return {
        key: [[e["step"], float(e[key])] for e in history if key in e]
        for key in CURVE_KEYS
        if any(key in e for e in history)
    }


def feedback_range(rows) -> tuple[str | None, str | None]:
    times = sorted(r.updated_at for r in rows)
    return (times[0], times[-1]) if times else (None, None)
