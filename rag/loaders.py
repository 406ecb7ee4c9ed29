"""Turn a file on disk into page texts: PDF (pypdf, one text per page), Markdown, HTML, plain text.

First step of ingest. Bad files raise ``DocumentError`` with a message that names the file and the
problem (empty, corrupt, encrypted, no text layer, undecodable, unsupported type); ingest reports them
and goes on. Text is UTF-8 (a BOM is fine) or UTF-16 with its BOM; HTML may declare its own charset.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from rag.errors import DocumentError

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES


@dataclass(frozen=True)
class PageText:
    page: int | None  # 1-based for PDFs, None for unpaged formats
    text: str


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
        return [PageText(None, _html_to_text(path))]
    return [PageText(None, _read_text(path))]


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


def _html_to_text(path: Path) -> str:
    """HTML bytes decoded by BeautifulSoup: a BOM, then the document's own ``<meta charset>``, then
    UTF-8 — so a page saved as ISO-8859-1 or windows-1252 that says so reads correctly."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(path.read_bytes(), "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    return soup.get_text("\n", strip=True)


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
        pages = [PageText(i + 1, page.extract_text() or "") for i, page in enumerate(reader.pages)]
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as err:
        raise DocumentError(f"{path}: corrupt or unreadable PDF ({err})") from None
    if not any(p.text.strip() for p in pages):
        raise DocumentError(
            f"{path}: the PDF has no text layer (scanned or image-only pages); run OCR on it first"
        )
    return pages
