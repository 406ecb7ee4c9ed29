"""KTO with LoRA (TRL KTOTrainer): learns from thumbs-up/down alone — ratings >= 4 (and approved
corrections) are desirable, <= 2 undesirable — so it uses feedback that has no pair to compare with.

    ragloop train kto --config job.yaml
"""

from __future__ import annotations

import logging

from training.common import (
    common_args,
    feedback_range,
    first_last,
    load_base,
    lora_config,
    loss_metrics,
    prepare_data,
    save_adapter,
)
from training.config import KTOJob

log = logging.getLogger(__name__)


def main(job: KTOJob, resume: bool = False):
    from trl import KTOConfig, KTOTrainer

    # -- model ----------------------------------------------------------------------------------
    model, tokenizer = load_base(job.base_model)
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
    )
    trainer.train(resume_from_checkpoint=resume or None)
    metrics = {**loss_metrics(trainer), **first_last(trainer, "rewards/chosen_sum", "reward_chosen")}
    return save_adapter(trainer, job, "kto", data, metrics, feedback_range(rows)), metrics
