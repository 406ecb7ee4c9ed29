"""The adapter manifest: the contract between training (writes it) and serving (reads it).

Every adapter directory carries ``manifest.json`` beside PEFT's ``adapter_config.json`` and weights. It
is the lineage from an adapter back to the ratings that made it: base model, method, hyperparameters,
dataset hash, the feedback ids and time range it came from, metrics, code version, creation time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

MANIFEST_FILE = "manifest.json"


class AdapterManifest(BaseModel):
    manifest_version: int = 1
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    base_model: str
    method: str  # sft | dpo | kto | ppo | rm | test
    lora_rank: int = Field(ge=1)
    lora_alpha: float | None = None
    target_modules: list[str] = Field(default_factory=list)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    dataset_hash: str | None = None
    feedback_ids: list[str] = Field(default_factory=list)
    feedback_since: str | None = None
    feedback_until: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    # the adapter this one continued training from (e.g. the SFT parent of an RLAIF adapter):
    # {name, method, dataset_hash, path}; None for an adapter trained from the base alone
    parent: dict[str, Any] | None = None
    # where AI feedback came from: {judge: {backend, model, prompt_version}, sampling: {...}}
    ai_feedback: dict[str, Any] | None = None
    # rows that exist because of AI scores on feedback records (training --ai-scores):
    # {mode, good_score, bad_score, rows, feedback_ids, judges}; None when none were asked for
    ai_score_rows: dict[str, Any] | None = None
    # the reviewers (signed-in user ids) who approved records behind the training rows
    approved_by: list[str] = Field(default_factory=list)
    code_version: str | None = None
    created_at: str | None = None

    def write(self, adapter_dir: Path) -> Path:
        path = Path(adapter_dir) / MANIFEST_FILE
        path.write_text(self.model_dump_json(indent=2) + "\n")
        return path

    @classmethod
    def read(cls, adapter_dir: Path) -> AdapterManifest:
        return cls.model_validate(json.loads((Path(adapter_dir) / MANIFEST_FILE).read_text()))
