"""The RAG chain: question -> retrieve top-k -> numbered-source prompt -> streamed, cited answer.

``RagChain.stream(question)`` returns an ``AnswerStream``: iterate it for tokens (the app hands it to
``st.write_stream``), then read ``.answer`` for the full ``Answer`` — text, citations (file, page,
snippet) and the ``Trace`` that the feedback log stores to reproduce it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.attribution import citation_suffix, missing_citations
from rag.embeddings import Embedder
from rag.errors import BackendUnavailable, EmptyCorpus, IndexVersionMismatch, InvalidQuestion
from rag.headings import REPAIR, heading_only
from rag.protocols import LLM, Answer, ChatMessage, Citation, SearchHit, Trace, VectorStore
from rag.rerank import QueryLikelihoodReranker
from rag.reviewed import Match, ReviewedAnswer, ReviewedAnswers, direct_text, used_ids
from rag.silence import MIN_EVIDENCE_SIMILARITY, best_similarity, is_refusal, sentences, silent_answer

log = logging.getLogger(__name__)

PROMPT_TEMPLATE_VERSION = "rag-v3"  # v3: the section path is a source attribute, not text

# Instructions go in the system message, the numbered sources and the question in the user turn.
SYSTEM_PROMPT = """You answer questions about the user's documents, using only the sources \
the user gives you.
Answer in one to three short sentences, in your own words: state the answer itself and do not copy \
the sources' text or headings.
Cite the source a sentence comes from by its id in square brackets, like [1].
If the sources do not contain the answer, say that you cannot find it in the documents."""

USER_TEMPLATE = """{sources}

Question: {question}"""


def format_source(number: int, hit: SearchHit) -> str:
    """One source as a tagged block. Tags, unlike "[1] (file)" headings, are not something a small
    model copies into its answer (measured on the demo set: 15 % of answers pasted such headings).
    A reviewed answer is labelled as one, with the question it answers."""
    chunk = hit.chunk
    entry = ReviewedAnswer.from_chunk(chunk)
    if entry is not None:
        return (  # measured: with the question inside the block, more answers keep the reviewed content
            f'<source id="{number}" file="reviewed answer, approved by an expert">\n'
            f"Question: {entry.question}\nAnswer: {chunk.text.strip()}\n</source>"
        )
    where = Path(chunk.source).name + (f", page {chunk.page}" if chunk.page else "")
    # The heading path goes in an attribute: as the passage's first line it invited small models to
    # answer with it (issue 31: "SFT Trainer › Customization › Train adapters with PEFT [2]").
    section = f' section="{chunk.section}"' if chunk.section else ""
    return f'<source id="{number}" file="{where}"{section}>\n{chunk.body.strip()}\n</source>'


_SOURCE_BLOCK = re.compile(r'<source id="\d+"[^>]*>\n(.*?)\n</source>', re.S)


def source_bodies(prompt: str) -> list[str]:
    """The texts of the sources in a prompt built by ``build_prompt`` (``format_source``'s inverse):
    what the model read, for measuring what its answer took from it."""
    return _SOURCE_BLOCK.findall(prompt)


def build_prompt(question: str, hits: list[SearchHit]) -> str:
    """The user message: the numbered sources, then the question."""
    sources = "\n\n".join(format_source(i, hit) for i, hit in enumerate(hits, start=1))
    return USER_TEMPLATE.format(sources=sources, question=question)


def prompt_messages(system: str, prompt: str) -> list[ChatMessage]:
    return ([ChatMessage("system", system)] if system else []) + [ChatMessage("user", prompt)]


# Rough characters-per-token for the pre-flight length check; the server's own check is the backstop.
CHARS_PER_TOKEN = 3.0


def snippet(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass
class ChainConfig:
    top_k: int = 4
    max_tokens: int = 384
    temperature: float = 0.0
    context_window: int = 8192
    max_question_chars: int = 4000
    system_prompt: str = SYSTEM_PROMPT
    attribute_citations: bool = True  # cite the sources of uncited sentences (rag/attribution.py)
    # "The documents don't say" (rag/silence.py): refuse before generation below this question-sentence
    # cosine (None: never), and turn the model's own refusals into the designed answer.
    silence_min_similarity: float | None = MIN_EVIDENCE_SIMILARITY
    designed_refusals: bool = True
    repair_headings: bool = True  # re-ask once when an answer is only a heading path (rag/headings.py)


class AnswerStream:
    """Iterate for answer tokens; afterwards ``answer`` holds the complete ``Answer``."""

    def __init__(self, tokens: Iterator[str], finish) -> None:
        self._tokens = tokens
        self._finish = finish
        self._parts: list[str] = []
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        for token in self._tokens:
            self._parts.append(token)
            yield token
        self.answer = self._finish("".join(self._parts))

    def result(self) -> Answer:
        """Drain the stream if needed and return the answer."""
        if self.answer is None:
            for _ in self:
                pass
        assert self.answer is not None
        return self.answer


class RagChain:
    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        llm: LLM,
        config: ChainConfig,
        *,
        reviewed: ReviewedAnswers | None = None,
        embedder_for: Callable[[str], Embedder | None] | None = None,
        recheck_s: float = 30.0,
        reranker: QueryLikelihoodReranker | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.llm = llm
        self.config = config
        self.reviewed = reviewed  # approved answers that go before the document chunks (rag.reviewed)
        self._background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rag-attribution")
        # The index can be re-embedded under a running chain (``ragloop train embedder --publish``): its
        # model is checked again every ``recheck_s`` seconds, and ``embedder_for`` may give the chain the
        # model that embedded it (the published one) instead of refusing.
        self.embedder_for = embedder_for
        self.recheck_s = recheck_s
        self._embedding_checked_at: float | None = None
        self.reranker = reranker  # a second pass over the store's candidates (rag.rerank), or None

    def validate_question(self, question: str) -> str:
        question = (question or "").strip()
        if not question:
            raise InvalidQuestion("the question is empty; type a question about your documents")
        if len(question) > self.config.max_question_chars:
            raise InvalidQuestion(
                f"the question is {len(question)} characters long; the limit is "
                f"{self.config.max_question_chars}"
            )
        budget = self.config.context_window - self.config.max_tokens
        if len(question) / CHARS_PER_TOKEN > budget:
            raise InvalidQuestion(
                f"the question (about {int(len(question) / CHARS_PER_TOKEN)} tokens) is longer than the "
                f"model's context window allows ({budget} tokens for the prompt)"
            )
        return question

    def _check_embedding_model(self) -> None:
        """The question must be embedded by the model that embedded the index; checked on the first
        question and again every ``recheck_s`` seconds. When the index was re-embedded by the published
        model (``embedder_for`` gives it), the chain and its reviewed answers switch to it."""
        now = time.monotonic()
        if self._embedding_checked_at is not None and now - self._embedding_checked_at < self.recheck_s:
            return
        recorded = (self.store.index_version() or {}).get("embedding_model")
        current = self.embedder.model_id
        if recorded and recorded != current:
            swapped = self.embedder_for(recorded) if self.embedder_for else None
            if swapped is None or swapped.model_id != recorded:
                self._embedding_checked_at = None  # refuse every question until it matches
                raise IndexVersionMismatch(
                    f"the index was embedded with {recorded!r} but questions would be embedded with "
                    f"{current!r}; re-index with `ragloop ingest --reindex` or configure {recorded!r} again"
                )
            log.info("the index was re-embedded with %s; questions are now embedded with it", recorded)
            self.embedder = swapped
            if self.reviewed is not None:
                self.reviewed.embedder = swapped
        self._embedding_checked_at = now

    def retrieve(self, question: str, k: int | None = None) -> list[SearchHit]:
        """The top-k document chunks for ``question`` (no reviewed answers)."""
        return self._retrieve(question, k)[1]

    def reviewed_for(self, question: str) -> list[Match]:
        """The reviewed answers close enough to ``question`` to go into its prompt (none: the prompt, and
        so a greedy answer, is what it would be without reviewed answers)."""
        return self._reviewed_near(self.embedder.encode_query_one(question), question)

    def _reviewed_near(self, vector: np.ndarray, question: str) -> list[Match]:
        return self.reviewed.match(vector, question) if self.reviewed is not None else []

    def _retrieve(
        self, question: str, k: int | None = None
    ) -> tuple[list[Match], list[SearchHit], np.ndarray]:
        """(reviewed answers close enough to the question, the top-k document chunks, the question's
        vector)."""
        self._check_embedding_model()
        vector = self.embedder.encode_query_one(question)
        k = k or self.config.top_k
        if self.reranker is None:
            hits = self.store.search(vector, text=question, k=k)
        else:
            candidates = self.store.search(vector, text=question, k=max(k, self.reranker.depth))
            hits = self.reranker.rerank(question, candidates, k)
        reviewed = self._reviewed_near(vector, question)
        # Only an empty result needs the (for OpenSearch, remote) count to tell why.
        if not hits and not reviewed and self.store.count() == 0:
            raise EmptyCorpus("no documents are indexed yet; run `ragloop ingest PATH` or upload a file")
        return reviewed, hits, vector

    def sources(self, question: str) -> tuple[list[SearchHit], float | None]:
        """The prompt's sources (reviewed answers first, then the document chunks) and, when the
        evidence gate is on, the best question-sentence cosine over the document chunks (a matching
        reviewed answer is evidence enough: then None)."""
        hits, evidence, _ = self._sources(question)
        return hits, evidence

    def _sources(self, question: str) -> tuple[list[SearchHit], float | None, Match | None]:
        """``sources`` and the reviewed answer to give as the answer itself, if one is that close."""
        reviewed, hits, vector = self._retrieve(question)
        direct = self.reviewed.direct(reviewed) if self.reviewed is not None else None
        sources = [m.hit for m in reviewed] + hits
        if self.config.silence_min_similarity is None or reviewed:
            return sources, None, direct
        parts = [s for hit in hits for s in sentences(hit.chunk.body)]
        vectors = self.embedder.encode(parts) if parts else np.zeros((0, len(vector)))
        return sources, best_similarity(vector, vectors), direct

    def _silent(self, evidence: float | None) -> bool:
        limit = self.config.silence_min_similarity
        return limit is not None and evidence is not None and evidence < limit

    def _fit_to_context(self, question: str, hits: list[SearchHit]) -> tuple[str, list[SearchHit]]:
        """Drop the lowest-ranked sources until the prompt fits the context window."""
        budget_chars = (self.config.context_window - self.config.max_tokens) * CHARS_PER_TOKEN
        budget_chars -= len(self.config.system_prompt)
        while True:
            prompt = build_prompt(question, hits)
            if len(prompt) <= budget_chars or len(hits) <= 1:
                return prompt, hits
            hits = hits[:-1]

    def _citations(self, hits: list[SearchHit]) -> list[Citation]:
        return [
            Citation(
                number=i,
                source=hit.chunk.source,
                page=hit.chunk.page,
                snippet=snippet(hit.chunk.body),
                chunk_id=hit.chunk.chunk_id,
                score=hit.score,
                section=hit.chunk.section,
            )
            for i, hit in enumerate(hits, start=1)
        ]

    def _trace(
        self,
        question: str,
        hits: list[SearchHit],
        prompt: str,
        model: str,
        adapter: str | None,
        temperature: float | None = None,
        **extra,
    ) -> Trace:
        return Trace(
            question=question,
            prompt_template_version=PROMPT_TEMPLATE_VERSION,
            chunk_ids=[h.chunk.chunk_id for h in hits],
            chunk_sources=[h.chunk.source for h in hits],
            chunk_scores=[h.score for h in hits],
            model=model,
            adapter=adapter,
            top_k=self.config.top_k,
            temperature=self.config.temperature if temperature is None else temperature,
            max_tokens=self.config.max_tokens,
            prompt=prompt,
            system=self.config.system_prompt,
            reranker=self.reranker.identity if self.reranker is not None else "",
            **extra,
        )

    def sample(
        self, question: str, n: int, *, adapter: str | None = None, temperature: float = 0.8, seed: int = 0
    ) -> list[Answer]:
        """``n`` sampled answers to one question in one request (the same retrieval and prompt as
        ``stream``): candidates for AI feedback. No citation attribution is appended."""
        started = time.perf_counter()
        question = self.validate_question(question)
        sources, _ = self.sources(question)  # candidates are sampled whatever the evidence
        prompt, hits = self._fit_to_context(question, sources)
        model = self.llm.model_id(adapter)
        texts = self.llm.sample_chat(
            prompt_messages(self.config.system_prompt, prompt),
            n=n,
            adapter=adapter,
            max_tokens=self.config.max_tokens,
            temperature=temperature,
            seed=seed,
        )
        total_ms = (time.perf_counter() - started) * 1e3
        citations = self._citations(hits)
        return [
            Answer(
                question=question,
                text=text.strip(),
                citations=citations,
                trace=self._trace(
                    question,
                    hits,
                    prompt,
                    model,
                    adapter,
                    temperature=temperature,
                    timings_ms={"total": total_ms},
                    reviewed_answers=used_ids(hits),
                ),
            )
            for text in texts
        ]

    def stream(self, question: str, adapter: str | None = None) -> AnswerStream:
        started = time.perf_counter()
        question = self.validate_question(question)
        hits, evidence, direct = self._sources(question)
        retrieved = time.perf_counter()
        prompt, hits = self._fit_to_context(question, hits)
        if direct is not None:  # the same question again: the reviewer's words are the answer
            return self._direct_stream(question, direct, hits, prompt, adapter, started)
        if self._silent(evidence):  # decided without the model: answered even while it is unreachable
            return self._silent_stream(question, hits, prompt, adapter, evidence, started)
        model = self.llm.model_id(adapter)
        system = self.config.system_prompt
        messages = prompt_messages(system, prompt)
        tokens = self.llm.stream_chat(
            messages,
            adapter=adapter,
            max_tokens=self.config.max_tokens,
            temperature=self.config.temperature,
        )
        first_token: list[float] = []
        attributed: list[int] = []
        # the sources' embeddings for attribution, computed while the model answers, off the critical path
        sources = [h.chunk.text for h in hits]
        source_vectors = (
            self._background.submit(self.embedder.encode, sources)
            if self.config.attribute_citations
            else None
        )

        def timed(tokens: Iterator[str]) -> Iterator[str]:
            parts = []
            for token in tokens:
                if not first_token:
                    first_token.append(time.perf_counter())
                parts.append(token)
                yield token
            if source_vectors is not None:
                answer = "".join(parts)
                vectors = source_vectors.result()
                attributed.extend(missing_citations(answer, sources, vectors, self.embedder, question))
                if attributed:
                    yield citation_suffix(attributed)

        def finish(text: str) -> Answer:
            repaired = self._repair_heading(text, hits, messages, adapter)
            if repaired is not None:  # the app shows the final text once the stream ends
                text = repaired
            done = time.perf_counter()
            refused = self.config.designed_refusals and is_refusal(text)
            trace = self._trace(
                question,
                hits,
                prompt,
                model,
                adapter,
                attributed_citations=[] if refused else attributed,
                reviewed_answers=used_ids(hits),
                timings_ms={
                    "retrieve": (retrieved - started) * 1e3,
                    "first_token": ((first_token[0] if first_token else done) - started) * 1e3,
                    "total": (done - started) * 1e3,
                },
                silent="model" if refused else None,
                evidence_similarity=evidence,
                repaired_heading=repaired is not None,
            )
            if refused:  # the model's own words for "not found" become the designed answer
                return Answer(question=question, text=silent_answer(hits), citations=[], trace=trace)
            return Answer(question=question, text=text.strip(), citations=self._citations(hits), trace=trace)

        return AnswerStream(timed(tokens), finish)

    def _repair_heading(
        self, text: str, hits: list[SearchHit], messages: list[ChatMessage], adapter: str | None
    ) -> str | None:
        """When the answer is only a heading path, ask once more for a real answer; if that is a
        heading too, the designed "documents don't say" answer (a heading is never the answer).
        None: the answer was not a heading path."""
        sections = [h.chunk.section for h in hits]
        if not self.config.repair_headings or not heading_only(text, sections):
            return None
        followup = [*messages, ChatMessage("assistant", text), ChatMessage("user", REPAIR)]
        again = "".join(
            self.llm.stream_chat(
                followup,
                adapter=adapter,
                max_tokens=self.config.max_tokens,
                temperature=self.config.temperature,
            )
        ).strip()
        return silent_answer(hits) if heading_only(again, sections) else again

    def _silent_stream(
        self,
        question: str,
        hits: list[SearchHit],
        prompt: str,
        adapter: str | None,
        evidence: float | None,
        started: float,
    ) -> AnswerStream:
        """The designed "the documents don't say" answer, without asking the model: no retrieved
        sentence is close to the question. The trace keeps the chunks and the prompt that would have
        been sent, so the decision can be reproduced."""
        return self._stream_without_model(
            question,
            silent_answer(hits),
            citations=[],
            hits=hits,
            prompt=prompt,
            adapter=adapter,
            started=started,
            silent="no-evidence",
            evidence_similarity=evidence,
        )

    def _direct_stream(
        self,
        question: str,
        match: Match,
        hits: list[SearchHit],
        prompt: str,
        adapter: str | None,
        started: float,
    ) -> AnswerStream:
        """A reviewed answer's approved text as the answer, without asking the model; it cites the
        reviewed answer (the app labels it "reviewed answer · approved by …"). The trace keeps the
        sources and the prompt the model would have got, so a rating of this answer trains like any."""
        return self._stream_without_model(
            question,
            direct_text(match.answer),
            citations=self._citations([match.hit]),
            hits=hits,
            prompt=prompt,
            adapter=adapter,
            started=started,
            reviewed_answers=[match.answer.feedback_id],
            reviewed_direct=True,
        )

    def _stream_without_model(
        self,
        question: str,
        text: str,
        *,
        citations: list[Citation],
        hits: list[SearchHit],
        prompt: str,
        adapter: str | None,
        started: float,
        **trace_fields,
    ) -> AnswerStream:
        """``text`` as a one-part stream, for an answer the model did not write; its trace names the model
        that would have answered (the adapter, or "unknown", while the server is unreachable)."""
        try:
            model = self.llm.model_id(adapter)
        except BackendUnavailable:
            model = adapter or "unknown"

        def finish(_: str) -> Answer:
            done = (time.perf_counter() - started) * 1e3
            trace = self._trace(
                question,
                hits,
                prompt,
                model,
                adapter,
                timings_ms={"retrieve": done, "first_token": done, "total": done},
                **trace_fields,
            )
            return Answer(question=question, text=text, citations=citations, trace=trace)

        return AnswerStream(iter([text]), finish)

    def answer(self, question: str, adapter: str | None = None) -> Answer:
        return self.stream(question, adapter=adapter).result()
