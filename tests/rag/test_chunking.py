"""Structure-aware chunking: cuts at headings, carries the heading path into each chunk's text and
``section``, keeps code blocks and tables whole where they fit, and keeps exact page offsets."""

from __future__ import annotations

import pytest
from pypdf import PdfReader, PdfWriter

from rag.chunking import StructureChunker, blocks
from rag.loaders import PageText, load_pages, markdown_headings

CODE = "```js\nconst a = 1;\n\nconst b = 2;  // a blank line inside the block\n```"
TABLE = "| protocol | port |\n| --- | --- |\n| http | 80 |\n| https | 443 |"
DOC = f"""# URL

Intro paragraph about URLs.

## url.port

The port depends on the scheme.

{TABLE}

## url.hash

Gets and sets the fragment.

{CODE}

### Edge cases

A `#` inside code is not a heading:

```sh
# not a heading
```
"""


@pytest.fixture(scope="module")
def structure(embedder):
    return StructureChunker(embedder.tokenizer, chunk_tokens=60, overlap_tokens=10)


def test_markdown_headings_skip_code_fences():
    titles = [(h.level, h.title) for h in markdown_headings(DOC)]
    assert titles == [(1, "URL"), (2, "url.port"), (2, "url.hash"), (3, "Edge cases")]


def test_chunks_carry_their_heading_path_and_exact_offsets(structure):
    chunks = structure.split("url.md", "fh", [PageText(None, DOC, markdown_headings(DOC))])
    by_section = {c.section: c for c in chunks}
    assert set(by_section) == {"URL", "URL › url.port", "URL › url.hash", "URL › url.hash › Edge cases"}
    for c in chunks:
        assert c.text.startswith(c.section + "\n\n")
        assert DOC[c.start : c.end] == c.body
    assert "# not a heading" in by_section["URL › url.hash › Edge cases"].text


def test_code_blocks_and_tables_stay_whole(structure):
    chunks = structure.split("url.md", "fh", [PageText(None, DOC, markdown_headings(DOC))])
    assert any(TABLE in c.text for c in chunks)
    assert any(CODE in c.text for c in chunks)  # its blank line did not cut it
    assert [CODE[a:b] for a, b in blocks(CODE, 0, len(CODE))] == [CODE]


def test_a_block_over_the_size_is_split_within_the_size(structure, embedder):
    long = " ".join(f"Sentence {i} of a very long paragraph about ports." for i in range(60))
    doc = f"# Big\n\n{long}\n"
    chunks = structure.split("big.md", "fh", [PageText(None, doc, markdown_headings(doc))])
    assert len(chunks) > 3
    assert all(len(embedder.tokenizer.encode(c.text, add_special_tokens=False)) <= 60 for c in chunks)
    assert all(doc[c.start : c.end] == c.body for c in chunks)


def test_a_pdf_outline_gives_headings_carried_across_pages(structure, tmp_path):
    from tests.conftest import DEMO_CORPUS

    reader = PdfReader(DEMO_CORPUS / "voltbike-manual.pdf")
    writer = PdfWriter()
    for page in reader.pages[:3]:
        writer.add_page(page)
    first = writer.add_outline_item("Getting started", 0)
    writer.add_outline_item("Charging", 1, parent=first)
    path = tmp_path / "outlined.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    pages = load_pages(path)
    assert [h.title for h in pages[0].headings] == ["Getting started"]
    assert [(h.level, h.title) for h in pages[1].headings] == [(2, "Charging")]
    chunks = structure.split(str(path), "fh", pages)
    assert {c.section for c in chunks if c.page == 1} == {"Getting started"}
    assert {c.section for c in chunks if c.page == 3} == {"Getting started › Charging"}  # carried on
    texts = {p.page: p.text for p in pages}
    assert all(texts[c.page][c.start : c.end] == c.body for c in chunks)


def test_the_fast_token_count_is_the_tokenizers_and_ignores_the_encoders_padding(embedder):
    """The splitter's length function goes to the Rust tokenizer directly (a private copy: the encoder's
    copy pads to its batch and truncates at 256), and counts what ``tokenizer.tokenize`` counts."""
    from rag.chunking import token_counter

    count = token_counter(embedder.tokenizer)
    texts = ["", "Hold the power button for three seconds.", "word " * 400, "E03 — 5 mm, 1.6–2.2 bar"]
    assert [count(t) for t in texts] == [len(embedder.tokenizer.tokenize(t)) for t in texts]
    assert count("word " * 400) == 400  # not cut at the model's 256
