"""Supervised fine-tuning with LoRA on approved corrections and well-rated answers (TRL SFTTrainer).

    ragloop train sft --config job.yaml
    ragloop train sft --export feedback.jsonl --output out/sft \
        --base-model .data/models/qwen2.5-coder-0.5b-instruct

Loss is computed on the answer only (prompt-completion rows). The adapter directory loads in PEFT and
vLLM and carries manifest.json with the data hash, feedback ids and the train loss, and the held-out
loss of the base (``eval_loss_before``) and of the adapter (``eval_loss``). With
``early_stopping_patience`` the validation loss is checked every half epoch, training stops once it
stops improving, and the best checkpoint is the adapter (``best_step`` in the manifest); the validation
rows are training rows split off by a stable hash, never the eval set's held-out questions. With
``init_adapter`` (RLAIF's best-of-k route) the parent adapter is trained further instead of a new one.
With ``prompt_cache`` the training loss runs the answer tokens over the base's cached prompt
(``training.prompt_cache``); validation stays the served forward pass.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from training import prompt_cache
from training.common import (
    budget_metrics,
    common_args,
    feedback_range,
    load_policy,
    loss_metrics,
    peft_config,
    prepare_data,
    save_adapter,
    time_budget,
)
from training.config import SFTJob

log = logging.getLogger(__name__)


def early_stopping(job: SFTJob, train_rows: int) -> dict[str, Any]:
    """TrainingArguments for early stopping on the validation rows' loss: evaluate (and checkpoint)
    every half epoch, keep the best checkpoint; {} when the job asks for none."""
    if not job.early_stopping_patience:
        return {}
    per_epoch = max(1, math.ceil(train_rows / (job.batch_size * job.gradient_accumulation)))
    every = max(1, per_epoch // 2)
    return {
        "eval_strategy": "steps",
        "eval_steps": every,
        "save_strategy": "steps",
        "save_steps": every,
        "load_best_model_at_end": True,
        "metric_for_best_model": "eval_loss",
        "greater_is_better": False,
    }


def best_step(trainer) -> int | None:
    """The step of the checkpoint early stopping kept."""
    path = trainer.state.best_model_checkpoint
    return int(path.rsplit("-", 1)[-1]) if path else None


def main(job: SFTJob, resume: bool = False):
    from transformers import EarlyStoppingCallback
    from trl import SFTConfig, SFTTrainer

    budget = time_budget(job)  # the job's wall time counts from here: loading and evaluations too
    # -- model ----------------------------------------------------------------------------------
    model, tokenizer = load_policy(job)  # the base, or the base with ``init_adapter`` to continue
    # -- dataset --------------------------------------------------------------------------------
    rows, data, train, val = prepare_data(job, "sft")
    # -- training -------------------------------------------------------------------------------
    early = early_stopping(job, len(train)) if val is not None else {}
    callbacks = [EarlyStoppingCallback(job.early_stopping_patience)] if early else []
    callbacks += budget
    args = SFTConfig(
        **{**common_args(job), "eval_strategy": "epoch" if val is not None else "no", **early},
        max_length=job.max_length,
        completion_only_loss=True,
        neftune_noise_alpha=job.neftune_alpha,  # None: off
    )
    trainer_class = prompt_cache.trainer_class() if job.prompt_cache else SFTTrainer
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=val,
        processing_class=tokenizer,
        peft_config=peft_config(job),
        callbacks=callbacks or None,
    )
    if budget and val is not None:  # until an evaluation is measured, the budget estimates one
        budget[0].expect_evaluation(len(val), job.batch_size * job.gradient_accumulation)
    # the base, on the validation rows: a diagnostic, one evaluation of the job's time
    before = trainer.evaluate()["eval_loss"] if val is not None and job.eval_before else None
    trainer.train(resume_from_checkpoint=resume or None)
    metrics = {**loss_metrics(trainer), **budget_metrics(callbacks)}
    if early:
        metrics["best_step"] = best_step(trainer)
    if job.prompt_cache:
        cache = trainer.prompt_cache
        metrics["prompt_cache"] = {"prompts": len(cache), "hits": cache.hits, "uncached": cache.uncached}
    if val is not None:
        metrics["eval_loss_before"] = before
        # with early stopping the best checkpoint is loaded and its loss is known: no second evaluation
        best = trainer.state.best_metric if early else None
        metrics["eval_loss"] = best if best is not None else trainer.evaluate()["eval_loss"]
    return save_adapter(
        trainer, job, "sft", data=data, metrics=metrics, feedback_range=feedback_range(rows)
    ), metrics
