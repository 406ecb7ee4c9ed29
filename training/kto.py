"""KTO with LoRA (TRL KTOTrainer): learns from thumbs-up/down alone — ratings >= 4 (and approved
corrections) are desirable, <= 2 undesirable — so it uses feedback that has no pair to compare with.

    ragloop train kto --config job.yaml
"""

from __future__ import annotations

import logging

from training.common import common_args, feedback_range, load_base, lora_config, loss_history, save_adapter
from training.config import KTOJob
from training.data import build, read_export

log = logging.getLogger(__name__)


def main(job: KTOJob, resume: bool = False):
    from datasets import Dataset
    from trl import KTOConfig, KTOTrainer

    # -- model ----------------------------------------------------------------------------------
    model, tokenizer = load_base(job.base_model)
    # -- dataset --------------------------------------------------------------------------------
    rows = read_export(job.export_path)
    data = build("kto", rows, job.validation_share, min_rows=job.min_rows)
    log.info("KTO data: %s", data.stats)
    train = Dataset.from_list(data.records("train"))
    # -- training -------------------------------------------------------------------------------
    desirable = max(data.stats["desirable"], 1)
    undesirable = max(data.stats["undesirable"], 1)
    args = KTOConfig(
        **common_args(job),
        beta=job.beta,
        max_length=job.max_length,
        desirable_weight=1.0,
        undesirable_weight=desirable / undesirable,
    )
    trainer = KTOTrainer(
        model=model, args=args, train_dataset=train, processing_class=tokenizer, peft_config=lora_config(job)
    )
    trainer.train(resume_from_checkpoint=resume or None)
    losses = loss_history(trainer)
    chosen = loss_history(trainer, "rewards/chosen_sum") or loss_history(trainer, "rewards/chosen")
    metrics = {
        "train_loss_first": losses[0] if losses else None,
        "train_loss_last": losses[-1] if losses else None,
        "reward_chosen_first": chosen[0] if chosen else None,
        "reward_chosen_last": chosen[-1] if chosen else None,
        "steps": trainer.state.global_step,
    }
    return save_adapter(trainer, job, "kto", data, metrics, feedback_range(rows)), metrics
