"""Direct preference optimisation with LoRA (TRL DPOTrainer): a cheaper alternative to RM + PPO.

    ragloop train dpo --config job.yaml

With a new LoRA the reference model is the base with the adapter disabled, so no second copy is loaded.
With ``init_adapter`` (RLAIF after SFT) the parent adapter is trained further and TRL keeps a frozen copy
of it as the reference, so the KL anchor is the SFT model, not the base.
Reports the preference margin (chosen minus rejected implicit reward) at the first and last step, and
on held-out pairs the share where the chosen answer is the likelier one, for the base and the adapter.
"""

from __future__ import annotations

import logging

from training.common import (
    budget_metrics,
    common_args,
    feedback_range,
    first_last,
    load_policy,
    loss_metrics,
    peft_config,
    preference_accuracy,
    prepare_data,
    save_adapter,
    time_budget,
)
from training.config import DPOJob

log = logging.getLogger(__name__)


def main(job: DPOJob, resume: bool = False):
    from trl import DPOConfig, DPOTrainer

    callbacks = time_budget(job)  # the job's wall time counts from here: loading too
    # -- model ----------------------------------------------------------------------------------
    model, tokenizer = load_policy(job)
    # -- dataset --------------------------------------------------------------------------------
    rows, data, train, val = prepare_data(job, "dpo")
    # -- training -------------------------------------------------------------------------------
    args = DPOConfig(
        **common_args(job),
        beta=job.beta,
        **(
            {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, job.sft_weight]} if job.sft_weight else {}
        ),
        max_length=job.max_length,
        eval_strategy="epoch" if val is not None else "no",
    )
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=val,
        processing_class=tokenizer,
        peft_config=peft_config(job),
        callbacks=callbacks or None,
    )
    pairs = data.records("validation") if val is not None else []
    before = None
    if pairs and job.init_adapter:  # "before" is the parent adapter, i.e. the model as loaded
        before = preference_accuracy(trainer.model, tokenizer, pairs)
    trainer.train(resume_from_checkpoint=resume or None)
    metrics = {
        **loss_metrics(trainer),
        **budget_metrics(callbacks),
        **first_last(trainer, "rewards/margins", "margin"),
        "accuracy_last": first_last(trainer, "rewards/accuracies", "accuracy")["accuracy_last"],
    }
    if pairs:
        if before is None:  # a new adapter: "before" is the base, the adapter switched off
            with trainer.model.disable_adapter():
                before = preference_accuracy(trainer.model, tokenizer, pairs)
        metrics["heldout_accuracy_before"] = before
        metrics["heldout_accuracy"] = preference_accuracy(trainer.model, tokenizer, pairs)
    return save_adapter(
        trainer, job, "dpo", data=data, metrics=metrics, feedback_range=feedback_range(rows)
    ), metrics
