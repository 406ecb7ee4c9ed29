"""The onnx-int8 embedding backend: exported once from the packaged model, close to the torch model's
vectors, recorded as a different embedder in the index, and re-exported when the source changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.settings import default_embedding_model
from rag.embeddings import Embedder
from rag.onnx_int8 import GRAPH, MANIFEST, ensure_exported

pytestmark = pytest.mark.slow  # one export: about half a minute on 2 cores

PASSAGES = [
    "To rotate the API key, open Settings, choose Security and press Regenerate.",
    "The warranty covers manufacturing defects for two years from the date of purchase.",
    "Error E07 means the heating element overheated; let the device cool for ten minutes.",
    "Cargo profiles change compiler settings such as optimisation level and debug info.",
]
QUESTIONS = [
    "How do I get a new API key?",
    "How long is the warranty?",
    "What does E07 mean?",
    "How do I set the optimisation level in Cargo?",
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


def test_int8_vectors_stay_close_to_torch_and_retrieve_the_same_passages(cache, embedder):
    int8 = Embedder(default_embedding_model(), backend="onnx-int8", cache_dir=cache)
    assert int8.dim == embedder.dim and int8.max_tokens == embedder.max_tokens
    a, b = int8.encode(PASSAGES + QUESTIONS), embedder.encode(PASSAGES + QUESTIONS)
    assert a.dtype == np.float32 and np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-4)
    assert (a * b).sum(axis=1).min() > 0.97
    best = (int8.encode(QUESTIONS) @ int8.encode(PASSAGES).T).argmax(axis=1)
    assert list(best) == [0, 1, 2, 3]
    # an index embedded by one backend is not queried with the other (IndexVersionMismatch upstream)
    assert int8.model_id != embedder.model_id and int8.model_id.endswith("+onnx-int8")


def test_the_export_is_reused_and_redone_when_the_source_weights_change(cache, tmp_path):
    target = ensure_exported(Path(default_embedding_model()), cache)
    stamp = (target / GRAPH).stat().st_mtime_ns
    assert ensure_exported(Path(default_embedding_model()), cache) == target
    assert (target / GRAPH).stat().st_mtime_ns == stamp  # reused, not re-exported

    changed = tmp_path / "model"
    shutil.copytree(default_embedding_model(), changed)
    copy = ensure_exported(changed, cache)  # same folder name, other place: an export of its own
    assert copy != target
    recorded = json.loads((copy / MANIFEST).read_text())
    weights = next(changed.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    stamp = (copy / GRAPH).stat().st_mtime_ns
    ensure_exported(changed, cache)
    assert json.loads((copy / MANIFEST).read_text())["source_sha256"] != recorded["source_sha256"]
    assert (copy / GRAPH).stat().st_mtime_ns != stamp


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown embedding backend"):
        Embedder(default_embedding_model(), backend="tensorrt")
