"""The embedded default model: Qwen2.5-Coder-0.5B-Instruct, assembled from its six PyPI parts (data
files only, sha256-checked), converted once, served by real vLLM on CPU. Through the app's own chain it
answers demo questions with the reference's key fact and a valid citation of the right file."""

from __future__ import annotations

import pytest

from core.settings import DEFAULT_MODEL_NAME, Settings
from ragloop.models import DEFAULT, ModelPackageError, check_gguf, part_files
from tests.conftest import DEMO_CORPUS, REPO

# (question, a key fact every correct answer states, the file that holds it)
QUESTIONS = [
    ("How long does a full charge take with the supplied charger?", "5 hours", "voltbike-manual.pdf"),
    ("What does error code E07 mean?", "overheat", "voltbike-manual.pdf"),
    ("How many days do I have to return a bike bought online?", "30 days", "returns-and-shipping.md"),
    ("What is the top assisted speed of the Trail 500?", "25 km/h", "voltbike-manual.pdf"),
    ("How much does a yearly service cost?", "89 euros", "service-faq.html"),
]


def test_the_six_parts_are_found_in_order_as_data_files():
    parts = part_files()
    assert [p.name for p in parts] == [f"part{n:02d}.bin" for n in range(1, 7)]
    assert sum(p.stat().st_size for p in parts) == DEFAULT.size


def test_a_file_that_is_not_the_verified_one_is_refused_with_a_clear_error():
    check_gguf(DEFAULT.size, DEFAULT.sha256)
    with pytest.raises(ModelPackageError, match=r"not the verified file.*refusing to convert it"):
        check_gguf(DEFAULT.size, "0" * 64)
    with pytest.raises(ModelPackageError, match="not the verified file"):
        check_gguf(DEFAULT.size - 1, DEFAULT.sha256)


@pytest.fixture(scope="module")
def default_model_server(tmp_path_factory):
    """vLLM serving the prepared default model (converted once into the repo's .data, as `make demo`
    does, and reused by later runs)."""
    from ragloop.models import prepare_default_model
    from ragloop.serve import VLLMServer

    model = prepare_default_model(REPO / ".data" / "models" / DEFAULT_MODEL_NAME)
    log_file = tmp_path_factory.mktemp("vllm-default") / "vllm.log"
    server = VLLMServer(
        model,
        served_name=DEFAULT_MODEL_NAME,
        dtype=Settings().serve.dtype,
        max_lora_rank=16,
        log_file=log_file,
    )
    server.start(timeout_s=600)
    yield server
    server.stop()


@pytest.mark.slow
def test_the_default_model_answers_demo_questions_with_the_fact_and_a_citation(
    default_model_server, tmp_path
):
    from eval.metrics import citation_only, valid_citation
    from rag.service import build_chain, build_ingestor

    settings = Settings(data_dir=tmp_path / "data", llm={"base_url": default_model_server.base_url})
    build_ingestor(settings).ingest([DEMO_CORPUS], progress=False)
    chain = build_chain(settings)
    assert chain.llm.model_id() == DEFAULT_MODEL_NAME  # served under its own name
    for question, fact, source in QUESTIONS:
        answer = chain.answer(question)
        text = answer.text
        assert fact.lower() in text.lower(), (question, text)
        assert not citation_only(text) and valid_citation(text, len(answer.citations)), (question, text)
        assert source in {c.source.rsplit("/", 1)[-1] for c in answer.cited}, (question, text)


@pytest.mark.slow
def test_the_rlaif_stage_samples_and_judges_with_the_default_model_as_an_openai_compatible_judge(
    default_model_server, tmp_path
):
    """The RLAIF stage's AI feedback through a real LLM judge: the default model, served by vLLM, samples
    k candidates in one request and then judges them over the OpenAI-compatible API. A 0.5B model is a
    poor judge — its scores need not be good — but every candidate ends up scored by it, or reported as
    failed with the reason; never silently 0."""
    from core.settings import RlaifSettings
    from judge.clients import OpenAIJudge
    from judge.core import Judge
    from rag.service import build_chain, build_ingestor
    from ragloop.rlaif import sample_candidates, score_candidates

    settings = Settings(
        data_dir=tmp_path / "data", llm={"base_url": default_model_server.base_url, "max_tokens": 48}
    )
    build_ingestor(settings).ingest([DEMO_CORPUS], progress=False)
    chain = build_chain(settings)
    item = {
        "id": "q1",
        "question": QUESTIONS[0][0],
        "reference": "About 5 hours with the supplied 2 A charger.",
    }
    records = sample_candidates(chain, [item], DEFAULT_MODEL_NAME, RlaifSettings(k=2))
    assert len(records) == 2 and all(r.answer for r in records)
    assert {r.trace["temperature"] for r in records} == {1.0}

    judge = Judge(OpenAIJudge(default_model_server.base_url, max_tokens=160), tries=1)
    assert judge.backend.model_id == DEFAULT_MODEL_NAME  # the server's model, found by the judge itself
    scored, failed = score_candidates(judge, records, [item])
    assert len(scored) + len(failed) == 2
    assert {s["id"] for s in scored} | {f["id"] for f in failed} == {r.feedback_id for r in records}
    for row in scored:
        assert 0.0 <= row["score"] <= 5.0 and row["judge"] == DEFAULT_MODEL_NAME and row["reason"]
    for row in failed:
        assert "no usable score" in row["error"]
