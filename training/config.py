"""Training jobs as dataclasses whose fields document themselves (TRL's style). A job is read from a
YAML/JSON file (``ragloop train sft --config job.yaml``) or built in code; presets name known recipes."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass
class LoraJob:
    export_path: str = field(metadata={"help": "feedback export (JSONL) from `ragloop feedback export`"})
    base_model: str = field(metadata={"help": "HF model dir or id of the base model"})
    output_dir: str = field(metadata={"help": "where the adapter directory (with manifest.json) is written"})
    name: str = field(default="adapter", metadata={"help": "adapter name in the registry"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: float = field(default=32, metadata={"help": "LoRA alpha"})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        metadata={"help": "modules that get LoRA matrices"},
    )
    lora_top_layers: int | None = field(
        default=None,
        metadata={
            "help": "LoRA only in the last N transformer blocks (None: all). The backward pass then stops "
            "there: 42 s per step instead of 75 s with the top 8 of the 0.5B default's 24 (2 cores)"
        },
    )
    learning_rate: float = field(default=2e-4, metadata={"help": "peak learning rate"})
    lr_scheduler: str = field(
        default="linear",
        metadata={
            "help": "learning-rate schedule (transformers' lr_scheduler_type): linear decays to 0 over the "
            "planned epochs, so a time budget that ends training early also ends it at a high rate; constant "
            "keeps the peak rate, and early stopping picks the checkpoint"
        },
    )
    epochs: float = field(default=3, metadata={"help": "passes over the training rows"})
    max_steps: int = field(default=-1, metadata={"help": "stop after this many steps (-1: use epochs)"})
    max_minutes: float | None = field(
        default=None,
        metadata={
            "help": "the job's wall time in minutes, loading and evaluations included (None: no budget): "
            "training stops after the last step that leaves room for one more and the evaluation a stop "
            "forces; the best checkpoint so far (early stopping) or the last step is the adapter"
        },
    )
    batch_size: int = field(default=4, metadata={"help": "per-device batch size"})
    gradient_accumulation: int = field(default=1, metadata={"help": "steps to accumulate per update"})
    gradient_checkpointing: bool = field(
        default=True,
        metadata={
            "help": "recompute activations in the backward pass instead of keeping them (TRL's default): "
            "less memory, more time — off, an SFT step of 4 of the loop's rows took 0.73x the time and "
            "2.1x the peak memory (16 GiB) on 2 cores; off with one row per forward pass (batch_size 1, "
            "gradient_accumulation 4) 0.81x at 0.9x (benchmarks/sft_steps.py)"
        },
    )
    max_length: int = field(default=2048, metadata={"help": "token limit per training example"})
    eval_before: bool = field(
        default=True,
        metadata={
            "help": "measure the base's loss on the validation rows before training (the manifest's "
            "eval_loss_before; a diagnostic nothing decides on): one evaluation more of the job's time"
        },
    )
    validation_share: float = field(default=0.1, metadata={"help": "share of rows held out, by stable hash"})
    min_rows: int | None = field(
        default=None, metadata={"help": "fail below this many rows (None: method default)"}
    )
    seed: int = field(default=0, metadata={"help": "random seed"})
    init_adapter: str | None = field(
        default=None,
        metadata={
            "help": "start from this LoRA adapter (e.g. the SFT parent) instead of a new one; DPO and PPO "
            "keep a frozen copy of it as the reference model. Its rank and targets replace lora_*"
        },
    )
    judge_scores_path: str | None = field(
        default=None,
        metadata={
            "help": "judge scores (JSONL {id, score}) over the export's rows: judge-ranked pairs (dpo, rm)"
        },
    )
    judge_min_margin: float = field(
        default=0.0, metadata={"help": "a judge pair's chosen answer must score this much above the rejected"}
    )
    judge_pairs_per_question: int | None = field(
        default=None, metadata={"help": "cap judge pairs per question, best vs worst first (None: all)"}
    )
    ai_scores: str = field(
        default="off",
        metadata={
            "help": "use the export's AI scores (the app's background judge): off | approved (records a "
            "reviewer approved) | all (any not rejected); a user's rating or correction still wins"
        },
    )
    ai_good_score: float = field(
        default=4.0, metadata={"help": "AI score (0-5) at or above which an answer is a good example"}
    )
    ai_bad_score: float = field(
        default=1.5, metadata={"help": "AI score at or below which an answer is a bad example (kto)"}
    )
    logging_steps: int = field(default=1, metadata={"help": "log every N steps"})
    save_steps: int = field(default=500, metadata={"help": "checkpoint every N steps (resume with --resume)"})
    bf16: bool = field(default=False, metadata={"help": "bfloat16 mixed precision (GPUs)"})

    @classmethod
    def from_file(cls, path: Path, **overrides: Any):
        text = Path(path).read_text()
        if Path(path).suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
        data.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fields in {path}: {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SFTJob(LoraJob):
    rated_answers: bool = field(
        default=True,
        metadata={
            "help": "answers users rated >= 4 join the approved corrections as SFT rows; off: corrections "
            "only (the model's own good answers also teach its habits, e.g. a preamble before the answer)"
        },
    )
    group_by_length: bool = field(
        default=True,
        metadata={
            "help": "batch rows of similar length (Transformers' LengthGroupedSampler: random groups of "
            "batches, sorted within): less padding per step — 1.17x the rows per minute on the demo "
            "loop's rows, 2 cores (benchmarks/sft_batching.py); off: random batches"
        },
    )
    early_stopping_patience: int | None = field(
        default=None,
        metadata={
            "help": "with a validation split: evaluate its loss every half epoch, stop after this many "
            "evaluations without improvement and keep the best checkpoint (None: train every epoch)"
        },
    )
    prompt_cache: bool = field(
        default=False,
        metadata={
            "help": "train on the answer tokens only, over the base model's key/value cache of each prompt "
            "(computed once per row, training.prompt_cache; measured: the loop's setting loop.prompt_cache); "
            "validation stays the served forward pass"
        },
    )
    neftune_alpha: float | None = field(
        default=None,
        metadata={
            "help": "NEFTune (Jain et al. 2023; Transformers' neftune_noise_alpha): uniform noise of this "
            "alpha on the input embeddings while training, a regulariser against copying small data; over "
            "cached prompts the prompt is cached without noise and the answer's noise is scaled to the "
            "whole row's length (None: off)"
        },
    )


@dataclass
class DPOJob(LoraJob):
    beta: float = field(default=0.1, metadata={"help": "strength of the KL penalty to the reference"})
    learning_rate: float = field(default=5e-5, metadata={"help": "peak learning rate"})
    sft_weight: float = field(
        default=0.0,
        metadata={
            "help": "add this weight times the NLL of the chosen answer to the DPO loss (RPO; TRL loss_type "
            "['sigmoid', 'sft']): keeps the chosen answers likely while the margin grows"
        },
    )


@dataclass
class KTOJob(LoraJob):
    beta: float = field(default=0.1, metadata={"help": "strength of the KL penalty to the reference"})
    learning_rate: float = field(default=5e-5, metadata={"help": "peak learning rate"})


@dataclass
class RMJob(LoraJob):
    learning_rate: float = field(default=1e-5, metadata={"help": "peak learning rate (reference: 1e-5)"})
    use_lora: bool = field(default=True, metadata={"help": "LoRA on the classifier; off trains all weights"})


@dataclass
class PPOJob(LoraJob):
    reward_model: str | None = field(default=None, metadata={"help": "reward model dir (`ragloop train rm`)"})
    value_model: str | None = field(
        default=None, metadata={"help": "value model init (default: reward model)"}
    )
    learning_rate: float = field(default=1.41e-5, metadata={"help": "peak learning rate (reference 1.41e-5)"})
    total_episodes: int = field(default=256, metadata={"help": "prompts sampled in all"})
    num_ppo_epochs: int = field(default=4, metadata={"help": "PPO epochs per batch of rollouts"})
    response_length: int = field(default=64, metadata={"help": "max new tokens per sampled answer"})
    kl_coef: float = field(default=0.05, metadata={"help": "KL penalty to the base model"})
    missing_eos_penalty: float | None = field(default=None, metadata={"help": "penalty for no EOS"})
    temperature: float = field(default=0.7, metadata={"help": "sampling temperature of rollouts"})


# The reference design's recipe for Mistral-7B-Instruct (on a GPU with >= 40 GB): r=512, alpha=1024,
# 20 epochs over a small verified set. Sane defaults above; presets name the known recipes.
PRESETS: dict[str, dict[str, Any]] = {
    "mistral7b-sft-reference": {
        "lora_r": 512,
        "lora_alpha": 1024,
        "epochs": 20,
        "learning_rate": 1e-4,
        "batch_size": 2,
        "gradient_accumulation": 8,
        "bf16": True,
        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    },
    "mistral7b-ppo-reference": {
        "lora_r": 32,
        "lora_alpha": 64,
        "learning_rate": 1.41e-5,
        "epochs": 3,
        "bf16": True,
    },
    "distilroberta-rm-reference": {
        "learning_rate": 1e-5,
        "use_lora": False,
        "epochs": 1,
        "batch_size": 8,
        "target_modules": ["query", "value"],
    },
    "cpu-small": {"lora_r": 8, "lora_alpha": 16, "batch_size": 2, "max_length": 1024},
}
