"""Split page texts into overlapping, token-sized chunks that keep where they came from.

Uses LangChain's ``RecursiveCharacterTextSplitter`` measured in the embedding model's own tokens, so a
chunk never exceeds what the embedder reads. Every chunk carries source, page, character offsets and a
content hash; its id is derived from those, so re-ingesting an unchanged file yields the same ids, and a
passage that a document repeats (two sections with the same paragraph) gets two ids, not one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.loaders import PageText
from rag.protocols import Chunk


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Chunker:
    def __init__(self, tokenizer, chunk_tokens: int, overlap_tokens: int) -> None:
        if overlap_tokens >= chunk_tokens:
            raise ValueError("overlap_tokens must be smaller than chunk_tokens")
        self._splitter = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
            tokenizer,
            chunk_size=chunk_tokens,
            chunk_overlap=overlap_tokens,
            strip_whitespace=True,
        )

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
                content_hash = sha256_text(text)
                ident = f"{source}\x00{page.page}\x00{start}\x00{content_hash}"
                chunks.append(
                    Chunk(
                        chunk_id=sha256_text(ident)[:32],
                        text=text,
                        source=source,
                        page=page.page,
                        start=start,
                        end=start + len(text),
                        content_hash=content_hash,
                        file_hash=file_hash,
                    )
                )
        return chunks
