"""KTO with LoRA (TRL KTOTrainer): learns from thumbs-up/down alone — ratings >= 4 (and approved
corrections) are desirable, <= 2 undesirable — so it uses feedback that has no pair to compare with.

    ragloop train kto --config job.yaml

Reports the logged chosen/rejected rewards at the first and last step and, on held-out rows, the mean
implicit reward of desirable and of undesirable answers.
"""

from __future__ import annotations

import logging
from typing import Any

from training.common import (
    budget_metrics,
    common_args,
    completion_logps,
    feedback_range,
    first_last,
    load_base,
    lora_config,
    loss_metrics,
    prepare_data,
    save_adapter,
    time_budget,
)
from training.config import KTOJob

log = logging.getLogger(__name__)


def heldout_rewards(model, tokenizer, rows: list[dict[str, Any]], beta: float) -> dict[str, float | None]:
    """KTO's implicit reward, beta * (log p_adapter - log p_base) per token, averaged over held-out
    desirable and undesirable rows: learning shows as the two separating."""
    after = completion_logps(model, tokenizer, rows)
    with model.disable_adapter():
        before = completion_logps(model, tokenizer, rows)
    rewards: dict[bool, list[float]] = {True: [], False: []}
    for row, a, b in zip(rows, after, before, strict=True):
        rewards[bool(row["label"])].append(beta * (a - b))
    return {
        "heldout_reward_desirable": _mean(rewards[True]),
        "heldout_reward_undesirable": _mean(rewards[False]),
    }


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def main(job: KTOJob, resume: bool = False):
    from trl import KTOConfig, KTOTrainer

    callbacks = time_budget(job)  # the job's wall time counts from here: loading too
    # -- model ----------------------------------------------------------------------------------
    model, tokenizer = load_base(job.base_model, job.seed)
    # -- dataset --------------------------------------------------------------------------------
    rows, data, train, val = prepare_data(job, "kto")
    # -- training -------------------------------------------------------------------------------
    desirable = max(data.stats["desirable"], 1)
    undesirable = max(data.stats["undesirable"], 1)
    args = KTOConfig(
        **common_args(job),
        beta=job.beta,
        max_length=job.max_length,
        desirable_weight=1.0,
        undesirable_weight=desirable / undesirable,
        eval_strategy="epoch" if val is not None else "no",
    )
    trainer = KTOTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=val,
        processing_class=tokenizer,
        peft_config=lora_config(job),
        callbacks=callbacks or None,
    )
    trainer.train(resume_from_checkpoint=resume or None)
    metrics = {
        **loss_metrics(trainer),
        **budget_metrics(callbacks),
        **first_last(trainer, "rewards/chosen", "reward_chosen"),
        **first_last(trainer, "rewards/rejected", "reward_rejected"),
    }
    if val is not None:
        metrics.update(heldout_rewards(trainer.model, tokenizer, data.records("validation"), job.beta))
    return save_adapter(
        trainer, job, "kto", data=data, metrics=metrics, feedback_range=feedback_range(rows)
    ), metrics
