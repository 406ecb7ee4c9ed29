"""The query-likelihood re-ranker (rag/rerank.py): the blend, its place in the chain, the fallback when
the server cannot score, and the log-probabilities read from a real vLLM."""

from __future__ import annotations

import pytest

from rag.backends.openai_llm import OpenAICompatibleLLM
from rag.chain import ChainConfig, RagChain
from rag.rerank import PASSAGE_PROMPT, QueryLikelihoodReranker, blended_order, standardised
from tests.rag.conftest import unreachable_llm


def test_standardised_values_have_mean_zero_and_equal_values_give_zeros():
    z = standardised([1.0, 2.0, 3.0])
    assert z == pytest.approx([-1.2247, 0.0, 1.2247], abs=1e-4)
    assert standardised([0.5, 0.5]) == [0.0, 0.0]


def test_the_blend_runs_from_the_hybrid_order_to_the_likelihood_order():
    hybrid = [0.9, 0.8, 0.7, 0.1]
    likelihood = [-3.0, -2.5, -1.5, -4.0]
    assert blended_order(hybrid, likelihood, 0.0) == [0, 1, 2, 3]
    assert blended_order(hybrid, likelihood, 1.0) == [2, 1, 0, 3]
    assert blended_order(hybrid, likelihood, 0.75)[0] == 2  # a much likelier passage moves up
    assert blended_order(hybrid, likelihood, 0.25)[0] == 0  # a small share does not overturn the search


class PassageWordScorer:
    """Stands in for the model's likelihood in the wiring test only: a passage that holds ``word`` makes
    the question likely. (The model's own scores are read from a real vLLM below.)"""

    def __init__(self, word: str) -> None:
        self.word = word
        self.calls: list[int] = []

    def continuation_logprobs(self, prefixes, continuation):
        self.calls.append(len(prefixes))
        return [-0.5 if self.word in p else -3.0 for p in prefixes]


def test_the_chain_asks_the_reranker_for_depth_candidates_and_keeps_its_top_k(indexed_store, embedder):
    question = "How long does a full charge take?"
    plain = RagChain(indexed_store, embedder, unreachable_llm(), ChainConfig(top_k=2))
    top10 = plain.retrieve(question, k=10)
    # A passage ranked outside the plain top 2 that the scorer prefers.
    target = next(h.chunk for h in top10[2:] if h.chunk.chunk_id not in {x.chunk.chunk_id for x in top10[:2]})
    word = next(
        w for w in target.text.split() if len(w) > 6 and not any(w in h.chunk.text for h in top10[:2])
    )
    scorer = PassageWordScorer(word)
    chain = RagChain(
        indexed_store,
        embedder,
        unreachable_llm(),
        ChainConfig(top_k=2),
        reranker=QueryLikelihoodReranker(scorer, depth=10, weight=1.0),
    )
    hits = chain.retrieve(question)
    assert scorer.calls == [10] and len(hits) == 2
    assert word in hits[0].chunk.text and hits[0].chunk.chunk_id != top10[0].chunk.chunk_id


def test_when_the_server_cannot_score_the_hybrid_order_stands(indexed_store, embedder):
    question = "How long does a full charge take?"
    plain = RagChain(indexed_store, embedder, unreachable_llm(), ChainConfig(top_k=3))
    reranked = RagChain(
        indexed_store,
        embedder,
        unreachable_llm(),
        ChainConfig(top_k=3),
        reranker=QueryLikelihoodReranker(unreachable_llm(), depth=8),
    )
    assert [h.chunk.chunk_id for h in reranked.retrieve(question)] == [
        h.chunk.chunk_id for h in plain.retrieve(question)
    ]


@pytest.mark.slow
def test_continuation_logprobs_average_exactly_the_continuations_tokens(vllm_server, tiny_model_dir):
    """Read from real vLLM: the mean over the question's tokens only (not the passage's, not a special
    token the tokenizer appends), whatever the passage's length."""
    import openai
    from transformers import AutoTokenizer

    llm = OpenAICompatibleLLM(vllm_server.base_url)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    passages = ("The battery charges in 5 hours.", "Tyres wear.")
    prefixes = [PASSAGE_PROMPT.format(passage=p) for p in passages]
    continuation = " How long does charging take?"
    question_ids = tokenizer(continuation, add_special_tokens=False)["input_ids"]
    means = llm.continuation_logprobs(prefixes, continuation)
    client = openai.OpenAI(base_url=vllm_server.base_url, api_key="EMPTY")
    for prefix, mean in zip(prefixes, means, strict=True):
        ids = tokenizer(prefix + continuation)["input_ids"]
        start = next(i for i in range(len(ids)) if ids[i : i + len(question_ids)] == question_ids)
        full = client.completions.create(
            model=llm.model_id(), prompt=prefix + continuation, max_tokens=1, echo=True, logprobs=0
        ).choices[0]
        question_lps = full.logprobs.token_logprobs[start : start + len(question_ids)]
        assert len(question_ids) >= 5 and mean == pytest.approx(
            sum(question_lps) / len(question_ids), abs=1e-4
        )


def test_the_setting_puts_the_reranker_in_the_chain_and_its_identity_in_each_trace(tmp_path):
    from core.settings import Settings
    from rag.service import build_chain

    off = build_chain(Settings(data_dir=tmp_path / "off"), unreachable_llm())
    assert off.reranker is None and off._trace("q", [], "p", "base", None).reranker == ""
    on = build_chain(
        Settings(data_dir=tmp_path / "on", retrieval={"rerank": "query-likelihood", "rerank_depth": 12}),
        unreachable_llm(),
    )
    assert on.reranker.depth == 12 and on.reranker.weight == 0.25
    assert on._trace("q", [], "p", "base", None).reranker == "query-likelihood depth=12 weight=0.25"
