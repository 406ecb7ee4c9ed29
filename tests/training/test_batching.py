"""A job's fields reach TRL's config: SFT batches rows of similar length (less padding per step:
``benchmarks/sft_batching.py``), while the other trainers keep their own sampler — KTO's must stay
sequential, its KL term pairs neighbours; activations kept, the learning-rate schedule, the precision."""

from __future__ import annotations

from training.common import common_args
from training.config import KTOJob, SFTJob


def job(cls, tmp_path, **kw):
    return cls(export_path="x.jsonl", base_model="m", output_dir=str(tmp_path), **kw)


def test_sft_groups_rows_by_length_unless_told_not_to(tmp_path):
    from trl import SFTConfig

    grouped = SFTConfig(**common_args(job(SFTJob, tmp_path)))
    assert grouped.train_sampling_strategy == "group_by_length"
    plain = SFTConfig(**common_args(job(SFTJob, tmp_path, group_by_length=False)))
    assert plain.train_sampling_strategy == "random"


def test_kto_keeps_its_sequential_sampler(tmp_path):
    from trl import KTOConfig

    config = KTOConfig(**common_args(job(KTOJob, tmp_path)))
    assert config.train_sampling_strategy == "sequential"


def test_a_job_can_keep_activations_instead_of_recomputing_them(tmp_path):
    """TRL recomputes activations in the backward pass by default (less memory, more time); the loop
    turns that off for its one-row micro-batches (``benchmarks/sft_steps.py``)."""
    from trl import SFTConfig

    assert SFTConfig(**common_args(job(SFTJob, tmp_path))).gradient_checkpointing
    kept = SFTConfig(**common_args(job(SFTJob, tmp_path, gradient_checkpointing=False)))
    assert not kept.gradient_checkpointing


def test_a_job_can_keep_its_peak_learning_rate(tmp_path):
    """A linear schedule decays over the planned epochs; a time budget that stops training early stops
    it at a high rate. ``lr_scheduler="constant"`` keeps the peak throughout (the loop's
    ``loop.lr_schedule``)."""
    from trl import SFTConfig

    assert SFTConfig(**common_args(job(SFTJob, tmp_path))).lr_scheduler_type == "linear"
    constant = SFTConfig(**common_args(job(SFTJob, tmp_path, lr_scheduler="constant")))
    assert constant.lr_scheduler_type == "constant"


def test_a_jobs_precision_reaches_the_trainer(tmp_path):
    """``bf16`` (the loop's ``loop.train_dtype``, resolved) is TRL's mixed precision; float32 otherwise."""
    from trl import SFTConfig

    assert SFTConfig(**common_args(job(SFTJob, tmp_path, bf16=True))).bf16 is True
    assert SFTConfig(**common_args(job(SFTJob, tmp_path))).bf16 is False


def test_validation_batches_never_shrink_with_the_step(tmp_path):
    """TRL averages the validation loss over each batch's tokens: a step of 2 rows must still be
    validated 4 rows at a time, so its loss compares with a 4-row step's (the loop's batch-size trial)."""
    from trl import SFTConfig

    def eval_rows(**kw):
        return SFTConfig(**common_args(job(SFTJob, tmp_path, **kw))).per_device_eval_batch_size

    assert eval_rows(batch_size=1, gradient_accumulation=2) == 4
    assert eval_rows(batch_size=1, gradient_accumulation=4) == 4
    assert eval_rows(batch_size=4, gradient_accumulation=2) == 8
