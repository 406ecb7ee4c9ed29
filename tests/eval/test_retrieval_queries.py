"""The retrieval benchmark's served-query rows (issue 30): how a model's reply becomes search queries,
and how several rankings become one."""

from benchmarks.retrieval_realdocs import fused, generated_queries
from rag.protocols import Chunk


def chunk(name: str) -> Chunk:
    return Chunk(
        chunk_id=name, text=name, source="doc.md", page=None, start=0, end=1, content_hash=name, file_hash="f"
    )


def test_a_reply_becomes_queries_without_list_marks_repeats_fragments_or_the_question():
    question = "How do I set a timeout and retry in HTTPX?"
    reply = (
        "1. How do I set a timeout in HTTPX?\n- How do I retry a request in HTTPX?\n"
        "How do I set a timeout and retry in HTTPX?\n`httpx`\n2) How do I retry a request in HTTPX?"
    )
    assert generated_queries(reply, question) == [
        "How do I set a timeout in HTTPX?",
        "How do I retry a request in HTTPX?",
    ]


def test_interleaving_puts_each_lists_best_near_the_top_and_rrf_rewards_agreement():
    a, b, c, d = (chunk(n) for n in "abcd")
    whole, part = [a, b, c], [d, c, a]
    assert [x.chunk_id for x in fused([whole, part], "interleave")] == ["a", "d", "b", "c"]
    assert [x.chunk_id for x in fused([whole, part], "rrf")][:2] == ["a", "c"]
