"""Direct preference optimisation with LoRA (TRL DPOTrainer): a cheaper alternative to RM + PPO.

    ragloop train dpo --config job.yaml

With LoRA the reference model is the base with the adapter disabled, so no second copy is loaded.
Reports the preference margin (chosen minus rejected implicit reward) at the first and last step.
"""

from __future__ import annotations

import logging

from training.common import common_args, feedback_range, load_base, lora_config, loss_history, save_adapter
from training.config import DPOJob
from training.data import build, read_export

log = logging.getLogger(__name__)


def main(job: DPOJob, resume: bool = False):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    # -- model ----------------------------------------------------------------------------------
    model, tokenizer = load_base(job.base_model)
    # -- dataset --------------------------------------------------------------------------------
    rows = read_export(job.export_path)
    data = build("dpo", rows, job.validation_share, min_rows=job.min_rows)
    log.info("DPO data: %s", data.stats)
    train = Dataset.from_list(data.records("train"))
    val = Dataset.from_list(data.records("validation")) if data.validation else None
    # -- training -------------------------------------------------------------------------------
    args = DPOConfig(
        **common_args(job),
        beta=job.beta,
        max_length=job.max_length,
        eval_strategy="epoch" if val is not None else "no",
    )
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=val,
        processing_class=tokenizer,
        peft_config=lora_config(job),
    )
    trainer.train(resume_from_checkpoint=resume or None)
    margins = loss_history(trainer, "rewards/margins")
    accuracy = loss_history(trainer, "rewards/accuracies")
    losses = loss_history(trainer)
    metrics = {
        "margin_first": margins[0] if margins else None,
        "margin_last": margins[-1] if margins else None,
        "accuracy_last": accuracy[-1] if accuracy else None,
        "train_loss_last": losses[-1] if losses else None,
        "steps": trainer.state.global_step,
    }
    return save_adapter(trainer, job, "dpo", data, metrics, feedback_range(rows)), metrics
