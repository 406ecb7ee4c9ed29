"""Fine-tune the embedding model on the user's own corpus: retrieval that learns (issue 30).

Input is a pairs file (JSONL), one ``{question, passage, source, chunk_id}`` per row: questions the served
model drafted from the user's chunks (``source: synthetic``, the GPL / InPars recipe) and questions whose
answers users rated >= 4, paired with the chunks those answers cited (``source: feedback``). The loss is
sentence-transformers' ``MultipleNegativesRankingLoss``: each question against its own passage, the other
passages of the batch as negatives (batches never hold the same passage twice).

Output: a sentence-transformers folder with ``manifest.json`` (base model, pairs by source, data hash,
steps, loss). ``ragloop train embedder --publish`` re-indexes the corpus with it; the index records the
model it was embedded by, so questions are never embedded by another one (``rag.chain``).

    ragloop train embedder --chunks 200 --publish
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.jsonl import read_rows

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


@dataclass
class EmbedderJob:
    pairs: Path
    base_model: str
    output: Path
    epochs: int = 2
    batch_size: int = 16
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    seed: int = 0


def read_pairs(path: Path) -> list[dict[str, Any]]:
    rows = read_rows(path)
    bad = [n for n, r in enumerate(rows, start=1) if not (r.get("question") and r.get("passage"))]
    if bad:
        raise ValueError(f"{path}: rows {bad[:5]} lack a question or a passage")
    return rows


def main(job: EmbedderJob) -> dict[str, Any]:
    """Train, save the model and its manifest into ``job.output``; returns the manifest."""
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.losses import MultipleNegativesRankingLoss
    from sentence_transformers.training_args import BatchSamplers

    rows = read_pairs(job.pairs)
    random.Random(job.seed).shuffle(rows)
    model = SentenceTransformer(job.base_model, device="cpu", local_files_only=True)
    data = Dataset.from_dict(
        {"anchor": [r["question"] for r in rows], "positive": [r["passage"] for r in rows]}
    )
    args = SentenceTransformerTrainingArguments(
        output_dir=str(job.output / "checkpoints"),
        num_train_epochs=job.epochs,
        per_device_train_batch_size=job.batch_size,
        learning_rate=job.learning_rate,
        warmup_ratio=job.warmup_ratio,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        save_strategy="no",
        logging_steps=5,
        seed=job.seed,
        report_to=[],
        use_cpu=True,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=data, loss=MultipleNegativesRankingLoss(model)
    )
    result = trainer.train()
    job.output.mkdir(parents=True, exist_ok=True)
    model.save(str(job.output))
    manifest = {
        "kind": "embedder",
        "base_model": Path(job.base_model).name,
        "pairs": len(rows),
        "pairs_by_source": dict(Counter(r.get("source", "unknown") for r in rows)),
        "data_sha256": hashlib.sha256(Path(job.pairs).read_bytes()).hexdigest(),
        "epochs": job.epochs,
        "batch_size": job.batch_size,
        "learning_rate": job.learning_rate,
        "steps": result.global_step,
        "train_loss": result.training_loss,
        "loss_curve": [h["loss"] for h in trainer.state.log_history if "loss" in h],
    }
    (job.output / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    log.info("embedder trained on %d pairs in %d steps: %s", len(rows), result.global_step, job.output)
    return manifest
