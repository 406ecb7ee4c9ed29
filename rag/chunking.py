"""Split page texts into token-sized chunks that keep where they came from.

Two chunkers, chosen by ``chunking.strategy``:
- ``StructureChunker`` (default): cuts at the document's headings, carries the heading path
  ("DNS › dns.lookup() › Supported getaddrinfo flags") into each chunk's text and ``section`` field,
  keeps code blocks and tables whole where they fit, and packs whole paragraphs up to the size.
- ``Chunker`` (plain): LangChain's recursive splitter over each page, with overlap.

Both use LangChain's ``RecursiveCharacterTextSplitter`` measured in the embedding model's own tokens, so a
chunk never exceeds what the embedder reads. Every chunk carries source, page, character offsets and a
content hash; its id is derived from those, so re-ingesting an unchanged file yields the same ids, and a
passage that a document repeats (two sections with the same paragraph) gets two ids, not one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.loaders import PageText
from rag.protocols import Chunk

SECTION_SEPARATOR = " › "


def token_counter(tokenizer) -> Callable[[str], int]:
    """Tokens in a text without special tokens, as LangChain's ``from_huggingface_tokenizer`` counts
    them, but through the Rust tokenizer directly and cached: the splitter measures the same pieces
    again and again while merging, and transformers' Python wrapper cost most of the ingest time left
    once the encoder ran int8 (benchmarks/ingest.py)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:  # a private copy: the encoder's own pads and truncates
        from tokenizers import Tokenizer

        backend = Tokenizer.from_str(backend.to_str())
        backend.no_padding()
        backend.no_truncation()

    @lru_cache(maxsize=1 << 16)
    def count(text: str) -> int:
        if backend is not None:
            return len(backend.encode(text, add_special_tokens=False).ids)
        return len(tokenizer.encode(text, add_special_tokens=False))

    return count


def token_splitter(
    count: Callable[[str], int], chunk_tokens: int, overlap_tokens: int
) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_tokens,
        chunk_overlap=overlap_tokens,
        length_function=count,
        strip_whitespace=True,
    )


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Chunker:
    def __init__(self, tokenizer, chunk_tokens: int, overlap_tokens: int) -> None:
        if overlap_tokens >= chunk_tokens:
            raise ValueError("overlap_tokens must be smaller than chunk_tokens")
        self.version = f"plain-v1/{chunk_tokens}/{overlap_tokens}"
        self._splitter = token_splitter(token_counter(tokenizer), chunk_tokens, overlap_tokens)

    def split(self, source: str, file_hash: str, pages: Iterable[PageText]) -> list[Chunk]:
        chunks: list[Chunk] = []
        for page in pages:
            if not page.text.strip():
                continue
            cursor = 0  # pieces come in order: each starts after the previous one's start
            for text in self._splitter.split_text(page.text):
                start = page.text.find(text, cursor)
                if start < 0:  # not verbatim in the page (stripped whitespace); best effort
                    start = max(page.text.find(text), 0)
                cursor = start + 1
                chunks.append(make_chunk(source, file_hash, page.page, start, text))
        return chunks


def make_chunk(
    source: str, file_hash: str, page: int | None, start: int, body: str, section: str = ""
) -> Chunk:
    """A chunk of ``body`` (at ``start`` in its page); its text leads with the section path, if any."""
    text = Chunk.compose(section, body)
    content_hash = sha256_text(text)
    ident = f"{source}\x00{page}\x00{start}\x00{content_hash}"
    return Chunk(
        chunk_id=sha256_text(ident)[:32],
        text=text,
        source=source,
        page=page,
        start=start,
        end=start + len(body),
        content_hash=content_hash,
        file_hash=file_hash,
        section=section,
    )


_FENCE = re.compile(r"^\s*(```|~~~)")
_TABLE_ROW = re.compile(r"^\s*\|")


def blocks(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``text[start:end]`` as (start, end) blocks: a fenced code block, a table (consecutive ``|`` rows)
    or a paragraph (lines up to a blank line). Blank lines themselves belong to no block."""
    out: list[tuple[int, int]] = []
    block_start, kind, pos = None, None, start
    for line in text[start:end].splitlines(keepends=True):
        line_end = pos + len(line)
        stripped = line.strip()
        if kind == "code":
            if _FENCE.match(line):
                out.append((block_start, line_end))
                block_start, kind = None, None
        elif _FENCE.match(line):
            if block_start is not None:
                out.append((block_start, pos))
            block_start, kind = pos, "code"
        elif not stripped:
            if block_start is not None:
                out.append((block_start, pos))
            block_start, kind = None, None
        else:
            row_kind = "table" if _TABLE_ROW.match(line) else "text"
            if block_start is not None and row_kind != kind:
                out.append((block_start, pos))
                block_start = None
            if block_start is None:
                block_start = pos
            kind = row_kind
        pos = line_end
    if block_start is not None:
        out.append((block_start, pos))
    return [(a, b) for a, b in ((a, len(text[:b].rstrip()) if b > a else b) for a, b in out) if b > a]


class StructureChunker:
    """Heading-aware chunks: see the module docstring."""

    def __init__(self, tokenizer, chunk_tokens: int, overlap_tokens: int) -> None:
        if overlap_tokens >= chunk_tokens:
            raise ValueError("overlap_tokens must be smaller than chunk_tokens")
        self.version = f"structure-v1/{chunk_tokens}/{overlap_tokens}"
        self._tokens = token_counter(tokenizer)
        self.chunk_tokens = chunk_tokens
        self.overlap_tokens = overlap_tokens

    def _splitter(self, size: int) -> RecursiveCharacterTextSplitter:
        return token_splitter(self._tokens, size, min(self.overlap_tokens, size // 2))

    def _pieces(self, text: str, start: int, end: int, budget: int) -> list[tuple[int, int]]:
        """Whole blocks packed up to ``budget`` tokens; a block over it is split on its own."""
        out: list[tuple[int, int]] = []
        run: tuple[int, int] | None = None
        run_tokens = 0
        for a, b in blocks(text, start, end):
            n = self._tokens(text[a:b])
            if run and run_tokens + n <= budget:
                run, run_tokens = (run[0], b), run_tokens + n
                continue
            if run:
                out.append(run)
                run, run_tokens = None, 0
            if n <= budget:
                run, run_tokens = (a, b), n
                continue
            cursor = a
            for piece in self._splitter(budget).split_text(text[a:b]):
                at = text.find(piece, cursor, b)
                at = at if at >= 0 else cursor
                out.append((at, at + len(piece)))
                cursor = at + 1
        if run:
            out.append(run)
        return out

    def split(self, source: str, file_hash: str, pages: Iterable[PageText]) -> list[Chunk]:
        chunks: list[Chunk] = []
        path: list[tuple[int, str]] = []  # (level, title): the headings in force, across pages
        for page in pages:
            text = page.text
            if not text.strip():
                continue
            headings = sorted(page.headings, key=lambda h: h.offset)
            starts = [0] + [h.offset for h in headings]
            ends = [h.offset for h in headings] + [len(text)]
            for i, (seg_start, seg_end) in enumerate(zip(starts, ends, strict=True)):
                if i > 0:
                    heading = headings[i - 1]
                    while path and path[-1][0] >= heading.level:
                        path.pop()
                    path.append((heading.level, heading.title))
                    seg_start = max(heading.end, heading.offset)
                section = SECTION_SEPARATOR.join(title for _, title in path)
                budget = max(self.chunk_tokens - self._tokens(section) - 2, 32)
                for a, b in self._pieces(text, seg_start, seg_end, budget):
                    chunks.append(make_chunk(source, file_hash, page.page, a, text[a:b], section))
        return chunks


CHUNKERS = {"structure": StructureChunker, "plain": Chunker}


def make_chunker(strategy: str, tokenizer, chunk_tokens: int, overlap_tokens: int):
    if strategy not in CHUNKERS:
        raise ValueError(f"unknown chunking strategy {strategy!r}; known: {', '.join(CHUNKERS)}")
    return CHUNKERS[strategy](tokenizer, chunk_tokens, overlap_tokens)
