"""The peer baseline: a stock LangChain RAG chain over the same store, embedding model and LLM, so every
report shows ragloop against the usual way of doing this.

The chain is LangChain's standard recipe: a retriever, the well-known "rlm/rag-prompt" wording, a
``ChatOpenAI`` model pointed at the same vLLM server, and ``StrOutputParser``. Only the retriever is
an adapter (LangChain has no class for ragloop's store); everything else is stock.
"""

from __future__ import annotations

import time
from operator import itemgetter
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableParallel, RunnablePassthrough

# The text of LangChain's hub prompt "rlm/rag-prompt".
RAG_PROMPT = (
    "You are an assistant for question-answering tasks. Use the following pieces of retrieved context to "
    "answer the question. If you don't know the answer, just say that you don't know. Use three sentences "
    "maximum and keep the answer concise.\nQuestion: {question} \nContext: {context} \nAnswer:"
)


class StoreRetriever(BaseRetriever):
    """A LangChain retriever over a ragloop VectorStore (dense search, as a stock vector retriever does)."""

    store: Any
    embedder: Any
    k: int = 4

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = self.store.search(self.embedder.encode_query_one(query), k=self.k)
        return [
            Document(page_content=h.chunk.text, metadata={"source": h.chunk.source, "page": h.chunk.page})
            for h in hits
        ]


def build_chain(store, embedder, base_url: str, model: str, k: int = 4, max_tokens: int = 384):
    """LangChain's RAG-with-sources recipe: ``invoke(question)`` -> ``{docs, question, prompt, answer}``
    (``prompt``: the prompt value the model was sent)."""
    from langchain_openai import ChatOpenAI

    retriever = StoreRetriever(store=store, embedder=embedder, k=k)
    llm = ChatOpenAI(base_url=base_url, api_key="EMPTY", model=model, temperature=0.0, max_tokens=max_tokens)

    def format_docs(inputs: dict[str, Any]) -> dict[str, str]:
        return {
            "context": "\n\n".join(d.page_content for d in inputs["docs"]),
            "question": inputs["question"],
        }

    prompt = format_docs | ChatPromptTemplate.from_template(RAG_PROMPT)
    generate = itemgetter("prompt") | llm | StrOutputParser()
    return (
        RunnableParallel(docs=retriever, question=RunnablePassthrough())
        .assign(prompt=prompt)
        .assign(answer=generate)
    )


class LangChainAnswerer:
    """Gives ``eval.run.evaluate`` what it needs from a chain: ``embedder`` and ``answer(question)``."""

    def __init__(self, store, embedder, base_url: str, model: str, k: int = 4, max_tokens: int = 384) -> None:
        self.embedder = embedder
        self.model = model
        self.chain = build_chain(store, embedder, base_url, model, k, max_tokens)

    @classmethod
    def beside(cls, chain, settings) -> LangChainAnswerer:
        """The baseline over the same store, embedder, LLM, top-k and answer length as ragloop's chain."""
        return cls(
            chain.store,
            chain.embedder,
            settings.llm.base_url,
            chain.llm.model_id(),
            k=settings.retrieval.top_k,
            max_tokens=settings.llm.max_tokens,
        )

    def answer(self, question: str, adapter: str | None = None):
        from rag.protocols import Answer, Citation, Trace

        started = time.perf_counter()
        out = self.chain.invoke(question)
        docs = out["docs"]
        prompt = out["prompt"].to_messages()[0].content  # what the model was sent
        citations = [
            Citation(i, d.metadata["source"], d.metadata["page"], d.page_content[:300], "", 0.0)
            for i, d in enumerate(docs, start=1)
        ]
        trace = Trace(
            question=question,
            prompt_template_version="langchain-rlm-rag-prompt",
            chunk_ids=[],
            chunk_sources=[d.metadata["source"] for d in docs],
            chunk_scores=[],
            model=self.model,
            adapter=None,
            top_k=len(docs),
            temperature=0.0,
            max_tokens=0,
            prompt=prompt,
            timings_ms={"total": (time.perf_counter() - started) * 1e3},
        )
        return Answer(question=question, text=out["answer"].strip(), citations=citations, trace=trace)
