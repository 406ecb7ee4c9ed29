"""Supervised fine-tuning with LoRA on approved corrections and well-rated answers (TRL SFTTrainer).

    ragloop train sft --config job.yaml
    ragloop train sft --export feedback.jsonl --output out/sft \
        --base-model .data/models/qwen2.5-coder-0.5b-instruct

Loss is computed on the answer only (prompt-completion rows). The adapter directory loads in PEFT and
vLLM and carries manifest.json with the data hash, feedback ids and the train loss, and the held-out
loss of the base (``eval_loss_before``) and of the adapter (``eval_loss``).
"""

from __future__ import annotations

import logging

from training.common import (
    common_args,
    feedback_range,
    load_base,
    lora_config,
    loss_metrics,
    prepare_data,
    save_adapter,
)
from training.config import SFTJob

log = logging.getLogger(__name__)


def main(job: SFTJob, resume: bool = False):
    from trl import SFTConfig, SFTTrainer

    # -- model ----------------------------------------------------------------------------------
    model, tokenizer = load_base(job.base_model, job.seed)
    # -- dataset --------------------------------------------------------------------------------
    rows, data, train, val = prepare_data(job, "sft")
    # -- training -------------------------------------------------------------------------------
    args = SFTConfig(
        **common_args(job),
        max_length=job.max_length,
        completion_only_loss=True,
        eval_strategy="epoch" if val is not None else "no",
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=val,
        processing_class=tokenizer,
        peft_config=lora_config(job),
    )
    before = trainer.evaluate()["eval_loss"] if val is not None else None  # the base, on held-out rows
    trainer.train(resume_from_checkpoint=resume or None)
    metrics = loss_metrics(trainer)
    if val is not None:
        metrics["eval_loss_before"] = before
        metrics["eval_loss"] = trainer.evaluate()["eval_loss"]
    return save_adapter(trainer, job, "sft", data, metrics, feedback_range(rows)), metrics
