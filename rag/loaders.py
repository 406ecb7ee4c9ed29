"""Turn a file on disk into page texts: PDF (pypdf, one text per page), Markdown, HTML, plain text.

Each page also lists its headings (offset, level, title), which the structure-aware chunker carries
into every chunk: Markdown headings (outside code fences); HTML is converted to Markdown first
(markdownify: headings, code blocks and tables survive, navigation and links' targets do not); a PDF's
headings come from its outline (bookmarks), found on the page they point to.

First step of ingest. Bad files raise ``DocumentError`` with a message that names the file and the
problem (empty, corrupt, encrypted, no text layer, undecodable, unsupported type); ingest reports them
and goes on. Text is UTF-8 (a BOM is fine) or UTF-16 with its BOM; HTML may declare its own charset.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import DocumentError

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES


@dataclass(frozen=True)
class Heading:
    offset: int  # where the heading starts in its page's text
    level: int  # 1 = top
    title: str
    end: int = -1  # where the heading line ends (the section's text starts); -1: same as offset


@dataclass(frozen=True)
class PageText:
    page: int | None  # 1-based for PDFs, None for unpaged formats
    text: str
    headings: tuple[Heading, ...] = field(default=())


_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def markdown_headings(text: str) -> tuple[Heading, ...]:
    """ATX headings (``## Title``) outside fenced code blocks."""
    headings, offset, in_code = [], 0, False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_code = not in_code
        elif not in_code and (m := _MD_HEADING.match(line.rstrip("\n"))):
            title = m.group(2).replace("`", "").strip()
            headings.append(Heading(offset, len(m.group(1)), title, offset + len(line)))
        offset += len(line)
    return tuple(headings)


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def load_pages(path: Path) -> list[PageText]:
    """Read ``path`` into page texts; raises ``DocumentError`` for anything unreadable."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"{path}: unsupported file type {suffix or '(none)'!r}")
    if path.stat().st_size == 0:
        raise DocumentError(f"{path}: the file is empty (0 bytes)")
    if suffix in PDF_SUFFIXES:
        return _load_pdf(path)
    if suffix in HTML_SUFFIXES:
        text = _html_to_markdown(path)
        return [PageText(None, text, markdown_headings(text))]
    text = _read_text(path)
    return [PageText(None, text, markdown_headings(text) if suffix in {".md", ".markdown"} else ())]


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")  # the BOM says which byte order
        except UnicodeDecodeError as err:
            raise DocumentError(f"{path}: broken UTF-16 text (byte {err.start})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DocumentError(
            f"{path}: not valid UTF-8 text (byte {err.start}); convert it to UTF-8 and ingest again"
        ) from None


_NOT_CONTENT = ["script", "style", "noscript", "template", "nav", "header", "footer", "aside", "button"]
_BLANK_RUNS = re.compile(r"\n{3,}")


def _html_to_markdown(path: Path) -> str:
    """HTML bytes decoded by BeautifulSoup (a BOM, then the document's own ``<meta charset>``, then
    UTF-8, so a page saved as ISO-8859-1 that says so reads correctly), navigation and scripts dropped,
    the main content converted to Markdown by markdownify: headings, code blocks and tables are kept
    as Markdown structure, links keep their text only."""
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(path.read_bytes(), "html.parser")
    for tag in soup(_NOT_CONTENT):
        tag.decompose()
    root = soup.find("main") or soup.body or soup
    text = MarkdownConverter(heading_style="ATX", strip=["a", "img"], bullets="*").convert_soup(root)
    return _BLANK_RUNS.sub("\n\n", text).strip()


def _load_pdf(path: Path) -> list[PageText]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            # Many "encrypted" PDFs only restrict editing and open with the empty password.
            try:
                opened = reader.decrypt("")
            except Exception:  # pypdf raises various errors for unsupported crypto
                opened = 0
            if not opened:
                raise DocumentError(f"{path}: the PDF is encrypted with a password; decrypt it first")
        texts = [page.extract_text() or "" for page in reader.pages]
        headings = _pdf_outline_headings(reader, texts)
        pages = [PageText(i + 1, text, headings.get(i + 1, ())) for i, text in enumerate(texts)]
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as err:
        raise DocumentError(f"{path}: corrupt or unreadable PDF ({err})") from None
    if not any(p.text.strip() for p in pages):
        raise DocumentError(
            f"{path}: the PDF has no text layer (scanned or image-only pages); run OCR on it first"
        )
    return pages


def _pdf_outline_headings(reader, texts: list[str]) -> dict[int, tuple[Heading, ...]]:
    """The outline's entries as headings on the pages they point to: at the line holding the title
    when the page text has it, else at the top of the page. A broken outline only loses headings."""
    entries: list[tuple[int, int, str]] = []  # (page, level, title)

    def walk(items, level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            try:
                page = reader.get_destination_page_number(item) + 1
            except Exception:  # an entry pointing nowhere
                continue
            title = " ".join(str(item.title or "").split())
            if title and 1 <= page <= len(texts):
                entries.append((page, level, title))

    try:
        walk(reader.outline, 1)
    except Exception as err:  # pypdf raises many kinds on malformed outlines
        log.warning("ignoring an unreadable PDF outline: %s", err)
        return {}
    by_page: dict[int, list[Heading]] = {}
    for page, level, title in entries:
        text = texts[page - 1]
        found = re.search(r"(?im)^[^\n]{0,12}" + r"\s+".join(map(re.escape, title.split())), text)
        offset = found.start() if found else 0
        end = text.find("\n", found.end()) + 1 if found else 0
        by_page.setdefault(page, []).append(Heading(offset, level, title, end if end > 0 else offset))
    return {page: tuple(sorted(hs, key=lambda h: h.offset)) for page, hs in by_page.items()}
