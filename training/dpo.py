"""Direct preference optimisation with LoRA (TRL DPOTrainer): a cheaper alternative to RM + PPO.

    ragloop train dpo --config job.yaml

With LoRA the reference model is the base with the adapter disabled, so no second copy is loaded.
Reports the preference margin (chosen minus rejected implicit reward) at the first and last step, and
on held-out pairs the share where the chosen answer is the likelier one, for the base and the adapter.
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
    preference_accuracy,
    prepare_data,
    save_adapter,
)
from training.config import DPOJob

log = logging.getLogger(__name__)


def main(job: DPOJob, resume: bool = False):
    from trl import DPOConfig, DPOTrainer

    # -- model ----------------------------------------------------------------------------------
    model, tokenizer = load_base(job.base_model, job.seed)
    # -- dataset --------------------------------------------------------------------------------
    rows, data, train, val = prepare_data(job, "dpo")
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
    metrics = {
        **loss_metrics(trainer),
        **first_last(trainer, "rewards/margins", "margin"),
        "accuracy_last": first_last(trainer, "rewards/accuracies", "accuracy")["accuracy_last"],
    }
    if val is not None:  # the base is the adapter switched off
        pairs = data.records("validation")
        with trainer.model.disable_adapter():
            metrics["heldout_accuracy_before"] = preference_accuracy(trainer.model, tokenizer, pairs)
        metrics["heldout_accuracy"] = preference_accuracy(trainer.model, tokenizer, pairs)
    return save_adapter(trainer, job, "dpo", data, metrics, feedback_range(rows)), metrics
