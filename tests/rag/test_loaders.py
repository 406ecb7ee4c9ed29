"""Loaders: each format yields page texts; each kind of bad file raises a DocumentError naming it."""

from __future__ import annotations

import pytest
from pypdf import PdfReader, PdfWriter

from rag.errors import DocumentError
from rag.loaders import load_pages
from tests.conftest import DEMO_CORPUS


def test_pdf_yields_one_text_per_page_numbered_from_one():
    pages = load_pages(DEMO_CORPUS / "voltbike-manual.pdf")
    assert [p.page for p in pages] == [1, 2, 3, 4, 5, 6]
    assert "E07" in pages[3].text


def test_markdown_and_text_are_one_unpaged_text():
    pages = load_pages(DEMO_CORPUS / "returns-and-shipping.md")
    assert len(pages) == 1 and pages[0].page is None
    assert "30 days" in pages[0].text


def test_html_keeps_text_and_drops_script_and_style(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("<html><style>p{}</style><script>alert(1)</script><p>Visible text</p></html>")
    [page] = load_pages(path)
    assert page.text == "Visible text"


def test_non_utf8_text_is_rejected_with_a_clear_message(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Café crème".encode("latin-1"))
    with pytest.raises(DocumentError, match=r"latin1.txt: not valid UTF-8"):
        load_pages(path)


def test_corrupt_pdf_is_rejected(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage")
    with pytest.raises(DocumentError, match=r"broken.pdf: corrupt or unreadable PDF"):
        load_pages(path)


def test_password_encrypted_pdf_is_rejected(tmp_path):
    writer = PdfWriter(clone_from=PdfReader(DEMO_CORPUS / "voltbike-manual.pdf"))
    writer.encrypt(user_password="secret", algorithm="AES-128")
    path = tmp_path / "locked.pdf"
    writer.write(path)
    with pytest.raises(DocumentError, match=r"locked.pdf: the PDF is encrypted"):
        load_pages(path)


def test_pdf_encrypted_with_empty_password_still_opens(tmp_path):
    writer = PdfWriter(clone_from=PdfReader(DEMO_CORPUS / "voltbike-manual.pdf"))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-128")
    path = tmp_path / "restricted.pdf"
    writer.write(path)
    assert len(load_pages(path)) == 6


def test_unsupported_type(tmp_path):
    path = tmp_path / "sheet.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(DocumentError, match="unsupported file type"):
        load_pages(path)
