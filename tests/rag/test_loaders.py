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


def test_empty_file_is_named_as_empty(tmp_path):
    for name in ("empty.txt", "empty.pdf", "empty.html"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(DocumentError, match=rf"{name}: the file is empty \(0 bytes\)"):
            load_pages(tmp_path / name)


def test_utf8_with_a_byte_order_mark_reads_without_it(tmp_path):
    path = tmp_path / "bom.md"
    path.write_bytes("\ufeff# Café\nCharge for 5 hours.".encode())
    [page] = load_pages(path)
    assert page.text == "# Café\nCharge for 5 hours."


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_text_with_its_byte_order_mark_is_read(tmp_path, encoding):
    path = tmp_path / "wide.txt"
    data = "Café: charge for 5 hours.".encode(encoding)
    path.write_bytes(data if encoding == "utf-16" else b"\xfe\xff" + data)
    [page] = load_pages(path)
    assert page.text == "Café: charge for 5 hours."


def test_html_in_the_charset_it_declares_is_decoded_by_it(tmp_path):
    path = tmp_path / "latin.html"
    html = '<html><head><meta charset="iso-8859-15"></head><body><p>Café crème, 5 €</p></body></html>'
    path.write_bytes(html.encode("iso-8859-15"))  # é and € are not UTF-8 bytes here
    [page] = load_pages(path)
    assert page.text == "Café crème, 5 €"


def test_image_only_pdf_is_rejected_as_having_no_text_layer(tmp_path):
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(image).text((20, 80), "Charge for 5 hours.", fill="black")  # pixels, not text
    path = tmp_path / "scan.pdf"
    image.save(path)
    with pytest.raises(DocumentError, match=r"scan.pdf: the PDF has no text layer .* run OCR"):
        load_pages(path)


def test_html_becomes_markdown_with_headings_code_and_tables_and_no_navigation(tmp_path):
    path = tmp_path / "doc.html"
    path.write_text(
        "<html><body><nav><a href='/'>Home</a> <a href='/x'>Chapter list</a></nav><main>"
        "<h1>Profiles</h1><p>See <a href='x.html'>the manifest</a>.</p>"
        "<h2>opt-level</h2><pre><code>[profile.dev]\nopt-level = 1\n</code></pre>"
        "<table><tr><th>level</th><th>meaning</th></tr><tr><td>s</td><td>size</td></tr></table>"
        "</main></body></html>"
    )
    [page] = load_pages(path)
    assert "Chapter list" not in page.text and "x.html" not in page.text
    assert "See the manifest." in page.text
    assert "```\n[profile.dev]\nopt-level = 1\n```" in page.text
    assert "| s | size |" in page.text
    assert [(h.level, h.title) for h in page.headings] == [(1, "Profiles"), (2, "opt-level")]
