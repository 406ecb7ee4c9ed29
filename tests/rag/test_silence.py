""" "The documents don't say" as a designed answer: the gate before generation (real embedding model,
embedded store, demo corpus), the model's own refusal turned into the same answer, and the wording
check that tells a refusal from a negative answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rag.chain import ChainConfig, RagChain
from rag.errors import BackendUnavailable
from rag.silence import NOT_IN_DOCUMENTS, TOPICS_INTRO, is_refusal, is_silent_answer
from tests.rag.conftest import unreachable_llm

UNANSWERABLE = "Can I ride the bike in heavy rain, and what should I do afterwards?"  # issue 31's example
ANSWERABLE = "How long does a full charge take with the supplied charger?"


class SaysNotFound:
    """A model that answers with the garbled refusal issue 31 saw (a random tiny model never refuses)."""

    def __init__(self) -> None:
        self.asked = 0

    def model_id(self, adapter: str | None = None) -> str:
        return adapter or "base"

    def stream_chat(self, messages, **kwargs) -> Iterator[str]:
        self.asked += 1
        yield from [
            "Based on the information provided in the documents, ",
            "you cannot find it in the documents.",
        ]


@pytest.mark.parametrize(
    "text",
    [
        "Based on the information provided in the documents, you cannot find it in the documents.",
        "I cannot find the answer in the documents.",
        "The sources do not mention a rain rating.",
        "The provided documents don't say how heavy the bike is.",
        "There is no information about suspension in the sources.",
        "Your documents don't say.",
    ],
)
def test_a_models_refusal_is_recognised_however_it_is_worded(text):
    assert is_refusal(text)


@pytest.mark.parametrize(
    "text",
    [
        "No, the warranty does not cover tyres [1].",
        "You cannot charge the battery below 0 °C [1].",
        "Front child seats are not supported [2].",
        "The battery keeps 70 percent after 800 cycles [1]. It does not need a special charger.",
    ],
)
def test_a_negative_answer_is_not_a_refusal(text):
    assert not is_refusal(text)


def test_a_question_the_documents_do_not_answer_gets_the_designed_answer_without_the_model(
    indexed_store, embedder
):
    chain = RagChain(indexed_store, embedder, unreachable_llm(), ChainConfig())
    answer = chain.answer(UNANSWERABLE)  # an unreachable model: asking it would raise
    assert answer.text.startswith(f"{NOT_IN_DOCUMENTS} {TOPICS_INTRO}\n- ") and is_silent_answer(answer.text)
    topics = answer.text.splitlines()[1:]
    assert 1 <= len(topics) <= 3 and all("(" in t and ")" in t for t in topics)  # each with its file
    assert answer.citations == [] and "[1]" not in answer.text  # nothing pretends to support it
    assert answer.trace.silent == "no-evidence" and answer.trace.evidence_similarity < 0.38
    assert answer.trace.chunk_ids  # the decision can be reproduced


def test_a_question_the_documents_answer_goes_to_the_model(indexed_store, embedder):
    chain = RagChain(indexed_store, embedder, unreachable_llm(), ChainConfig())
    with pytest.raises(BackendUnavailable):
        chain.answer(ANSWERABLE)


def test_the_gate_can_be_switched_off(indexed_store, embedder):
    chain = RagChain(indexed_store, embedder, unreachable_llm(), ChainConfig(silence_min_similarity=None))
    with pytest.raises(BackendUnavailable):
        chain.answer(UNANSWERABLE)


def test_the_models_own_refusal_becomes_the_designed_answer(indexed_store, embedder):
    llm = SaysNotFound()
    answer = RagChain(indexed_store, embedder, llm, ChainConfig()).answer(ANSWERABLE)
    assert llm.asked == 1
    assert answer.text.startswith(f"{NOT_IN_DOCUMENTS} {TOPICS_INTRO}") and answer.citations == []
    assert answer.trace.silent == "model" and answer.trace.evidence_similarity >= 0.38
