"""Reward model: a sequence classifier trained on (prompt, chosen, rejected) pairs (TRL RewardTrainer).
It scores answers for PPO and reports pairwise accuracy on held-out pairs.

    ragloop train rm --config job.yaml

Reference preset: distilroberta-base, lr 1e-5 (base_model must be a local directory; no hub access at
run time). Any causal-LM directory works too: its weights initialise a 1-label classifier head.
"""

from __future__ import annotations

import logging

from training.common import (
    budget_metrics,
    common_args,
    feedback_range,
    lora_config,
    loss_metrics,
    prepare_data,
    save_adapter,
    time_budget,
)
from training.config import RMJob

log = logging.getLogger(__name__)


def pairwise_accuracy(trainer, dataset) -> float:
    """Share of held-out pairs where the chosen answer scores above the rejected one."""
    import torch

    model, tok = trainer.model, trainer.processing_class
    model.eval()
    wins = 0
    with torch.no_grad():
        for row in dataset:
            scores = []
            for key in ("chosen", "rejected"):
                # tokenized exactly as RewardTrainer tokenizes its rows (re-tokenizing the templated text
                # would add the tokenizer's own special tokens and score a different last token)
                ids = tok.apply_chat_template(row["prompt"] + row[key], tokenize=True, return_dict=False)
                ids = torch.tensor([ids[-trainer.args.max_length :]], device=model.device)
                scores.append(float(model(input_ids=ids).logits[0, 0]))
            wins += scores[0] > scores[1]
    return wins / max(len(dataset), 1)


def main(job: RMJob, resume: bool = False):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed
    from trl import RewardConfig, RewardTrainer

    callbacks = time_budget(job)  # the job's wall time counts from here: loading too
    # -- model ----------------------------------------------------------------------------------
    set_seed(job.seed)  # the score head's init depends on the job's seed, not on earlier RNG use
    tokenizer = AutoTokenizer.from_pretrained(job.base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForSequenceClassification.from_pretrained(
        job.base_model, num_labels=1, dtype=torch.float32
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    # -- dataset --------------------------------------------------------------------------------
    rows, data, train, val = prepare_data(job, "rm")
    # -- training -------------------------------------------------------------------------------
    args = RewardConfig(**common_args(job), max_length=job.max_length)
    trainer = RewardTrainer(
        model=model,
        args=args,
        train_dataset=train,
        processing_class=tokenizer,
        peft_config=lora_config(job, task_type="SEQ_CLS") if job.use_lora else None,
        callbacks=callbacks or None,
    )
    trainer.train(resume_from_checkpoint=resume or None)
    metrics = {**loss_metrics(trainer), **budget_metrics(callbacks)}
    if val is not None:
        metrics["pairwise_accuracy"] = pairwise_accuracy(trainer, val)
    metrics["pairwise_accuracy_train"] = pairwise_accuracy(trainer, train)
    return save_adapter(
        trainer, job, "rm", data=data, metrics=metrics, feedback_range=feedback_range(rows)
    ), metrics
