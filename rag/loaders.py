"""Turn a file on disk into page texts: PDF (pypdf, one text per page), Markdown, HTML, plain text.

First step of ingest. Bad files raise ``DocumentError`` with a message that names the file and the
problem (corrupt, encrypted, not UTF-8, unsupported type); ingest reports them and goes on.
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
    if suffix in PDF_SUFFIXES:
        return _load_pdf(path)
    if suffix in HTML_SUFFIXES:
        return [PageText(None, _html_to_text(_read_utf8(path)))]
    if suffix in TEXT_SUFFIXES:
        return [PageText(None, _read_utf8(path))]
    raise DocumentError(f"{path}: unsupported file type {suffix or '(none)'!r}")


def _read_utf8(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DocumentError(
            f"{path}: not valid UTF-8 text (byte {err.start}); convert it to UTF-8 and ingest again"
        ) from None


def _html_to_text(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
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
        raise DocumentError(f"{path}: the PDF has no extractable text (scanned images need OCR first)")
    return pages
