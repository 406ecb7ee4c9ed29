"""A heading path is never the answer: the check that spots one, the prompt layout that keeps the
section out of the passage text, and the chain's one re-ask (real embedding model and embedded store)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rag.backends.embedded_store import EmbeddedVectorStore
from rag.chain import ChainConfig, RagChain, build_prompt
from rag.headings import REPAIR, heading_only
from rag.ingest import Ingestor
from rag.silence import is_silent_answer

SECTIONS = [
    "SFT Trainer › Customization › Train adapters with PEFT",
    "Returns, shipping and payment › Returns",
]


@pytest.mark.parametrize(
    "text",
    [
        "SFT Trainer › Customization › Train adapters with PEFT [2]",  # issue 31's answer
        "Customization › Train adapters with PEFT.",
        "**Returns** [1]",
        "Guide › Install › From source",  # a path of no source here, but nothing else
    ],
)
def test_a_heading_path_is_spotted(text):
    assert heading_only(text, SECTIONS)


@pytest.mark.parametrize(
    "text",
    [
        "Pass a LoraConfig as peft_config to the SFTTrainer [2].",
        "You can return it within 30 days [1]. See Returns › Bikes for the conditions.",
        "Returns are free for accessories [1].",
        "",
    ],
)
def test_an_answer_is_not_a_heading_path(text):
    assert not heading_only(text, SECTIONS)


@pytest.fixture(scope="module")
def structured_store(tmp_path_factory, embedder):
    from rag.chunking import make_chunker
    from tests.conftest import DEMO_CORPUS

    chunker = make_chunker("structure", embedder.tokenizer, 120, 20)  # chunks with their heading paths
    store = EmbeddedVectorStore(tmp_path_factory.mktemp("idx") / "s.sqlite3", dim=embedder.dim)
    Ingestor(store, embedder, chunker).ingest([DEMO_CORPUS], progress=False)
    yield store
    store.close()


QUESTION = "How many days do I have to return a bike bought online?"


def test_the_section_is_a_source_attribute_not_the_passages_first_line(structured_store, embedder):
    chain = RagChain(structured_store, embedder, None, ChainConfig())
    [hit] = [h for h in chain.retrieve(QUESTION) if h.chunk.section][:1]
    prompt = build_prompt(QUESTION, [hit])
    assert prompt.startswith(
        f'<source id="1" file="returns-and-shipping.md" section="{hit.chunk.section}">\n'
    )
    assert f">\n{hit.chunk.section}" not in prompt and hit.chunk.body.strip() in prompt


class Echoes:
    """A model that answers with the top source's heading path, then with ``second``."""

    def __init__(self, first: str, second: str) -> None:
        self.replies, self.requests = [first, second], []

    def model_id(self, adapter: str | None = None) -> str:
        return "base"

    def stream_chat(self, messages, **kwargs) -> Iterator[str]:
        self.requests.append(messages)
        yield self.replies[len(self.requests) - 1]


def test_a_heading_answer_is_asked_again_and_replaced(structured_store, embedder):
    top = RagChain(structured_store, embedder, None, ChainConfig()).retrieve(QUESTION)[0].chunk.section
    llm = Echoes(f"{top} [1]", "Within 30 days of delivery [1].")
    answer = RagChain(structured_store, embedder, llm, ChainConfig()).answer(QUESTION)
    assert answer.text == "Within 30 days of delivery [1]." and answer.trace.repaired_heading
    assert len(llm.requests) == 2 and llm.requests[1][-1].content == REPAIR


def test_a_second_heading_answer_gives_the_designed_answer(structured_store, embedder):
    top = RagChain(structured_store, embedder, None, ChainConfig()).retrieve(QUESTION)[0].chunk.section
    llm = Echoes(f"{top} [1]", f"{top}.")
    answer = RagChain(structured_store, embedder, llm, ChainConfig()).answer(QUESTION)
    assert is_silent_answer(answer.text) and answer.citations == []
