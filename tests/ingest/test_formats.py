"""PDF, Word, web-page and legacy-encoding loaders on real files made by real libraries.

The files come from tests/ingest/sample_files.py (fpdf2, python-docx, Pillow); the
ingest tests run the pipeline with the deterministic test extractor and check that
every chunk and mention keeps ``document.text[start:end] == text`` and knows its page
or section.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sample_files as sf
from fake_extractor import FakeExtractor

from kgbuild.ingest import (
    LoadError,
    LoadFailure,
    LoadOptions,
    iter_documents,
    new_document,
    register_loader,
    registered_formats,
    unregister_loader,
)
from kgbuild.pipeline import BuildConfig, KnowledgeGraphBuilder
from kgbuild.store import NetworkXStore
from kgbuild.types import Document, Section

pytest.importorskip("pypdfium2")
pytest.importorskip("docx")
pytest.importorskip("fpdf")

FONT = sf.unicode_font()


def _one(path: Path, options: LoadOptions | None = None) -> Document | LoadFailure:
    (item,) = iter_documents([path], options)
    return item


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("formats")
    sf.make_report_pdf(folder / "report.pdf", pages=4, font=FONT)
    sf.make_image_only_pdf(folder / "scanned.pdf")
    sf.make_encrypted_pdf(folder / "locked.pdf")
    sf.make_truncated_pdf(folder / "truncated.pdf", font=FONT)
    sf.make_report_docx(folder / "report.docx")
    (folder / "news.html").write_text(sf.news_page_html(), encoding="utf-8")
    (folder / "cp1252.txt").write_bytes(CP1252_TEXT.encode("cp1252"))
    (folder / "latin1.txt").write_bytes(LATIN1_TEXT.encode("latin-1"))
    (folder / "utf16.md").write_bytes(UTF16_TEXT.encode("utf-16"))  # with a BOM
    return folder


CP1252_TEXT = "Café “Le Dôme” – 5 € each… Marie Dubois works for Northwind Traders in Paris.\r\n"
LATIN1_TEXT = "Søren Kierkegaard lived in København; Ærø is an island. Größe ±5 °C.\n"
UTF16_TEXT = "# Zürich office\n\nZoë Łukasiewicz works for Acme Inc in Zürich. 東京\n"


# --- PDF ----------------------------------------------------------------------------------------


def test_pdf_pages_reading_order_hyphens_and_running_headers(files):
    doc = _one(files / "report.pdf")
    assert isinstance(doc, Document), doc
    assert doc.metadata["format"] == "pdf" and doc.metadata["pages"] == 4
    assert [s.page for s in doc.sections] == [1, 2, 3, 4]
    for i, section in enumerate(doc.sections):
        page = doc.text[section.start : section.end]
        expected = sf.page_text(i)
        if FONT is None:
            expected = sf._latin1(expected)
        assert page == expected  # left column, then right column; header, footer gone
    assert "development team" in doc.text and "distribution of spare" in doc.text
    assert "long-standing" in doc.text  # a hyphen inside a line stays
    assert "Annual Report 2024" not in doc.text and "Page 2 of 4" not in doc.text
    assert doc.text.count("\n\n") == 3  # pages apart by a blank line
    assert doc.locate(doc.text.index("Kenji")).page == 1
    assert doc.locate(doc.text.index("Ana María" if FONT else "Ana Mar")).page == 4


@pytest.mark.skipif(FONT is None, reason="no Unicode TrueType font on this machine for fpdf2")
def test_pdf_unicode_text(files):
    doc = _one(files / "report.pdf")
    for name in ("Zoë Łukasiewicz", "Søren Kierkegaard", "Zürich", "Ana María Núñez"):
        assert name in doc.text


def test_short_pdf_keeps_its_first_lines(tmp_path):
    # Two pages prove nothing about running headers: nothing is dropped.
    doc = _one(sf.make_report_pdf(tmp_path / "two.pdf", pages=2, font=FONT))
    assert doc.text.count("Annual Report 2024") == 2 and "Page 1 of 2" in doc.text


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("scanned.pdf", "no text layer in 2 page(s) (scanned or image-only PDF; run OCR first)"),
        ("locked.pdf", "encrypted (password protected); decrypt it first"),
        ("truncated.pdf", "damaged or not a PDF ("),
    ],
)
def test_bad_pdfs_fail_alone_with_their_reason(files, name, reason, caplog):
    caplog.set_level(logging.WARNING)
    failure = _one(files / name)
    assert isinstance(failure, LoadFailure)
    assert failure.source == (files / name).resolve().as_uri()
    assert failure.reason.startswith(reason)
    assert name in caplog.text


def test_pdf_page_limit(files):
    failure = _one(files / "report.pdf", LoadOptions(pdf_max_pages=3))
    assert failure.reason == "too many pages: 4 > pdf_max_pages 3"


# --- Word ---------------------------------------------------------------------------------------


def test_docx_paragraphs_headings_and_tables(files):
    doc = _one(files / "report.docx")
    assert isinstance(doc, Document), doc
    assert doc.text == sf.DOCX_TEXT
    assert doc.metadata["format"] == "docx"
    assert doc.metadata["title"] == "Northwind Traders Annual Report"
    top = "Northwind Traders Annual Report"
    where = {
        "Prepared by": top,
        "Marie Dubois": f"{top} > People",
        "Kenji Tanaka": f"{top} > People > New hires",
        "Globex Corp\tLondon": f"{top} > Partners",
        "Zoë": f"{top} > Partners",
    }
    for text, heading in where.items():
        assert doc.locate(doc.text.index(text)).heading == heading, text


def test_damaged_docx_fails_alone(tmp_path):
    bad = tmp_path / "broken.docx"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    failure = _one(bad)
    assert isinstance(failure, LoadFailure)
    assert failure.reason.startswith("damaged or not a .docx file")


# --- web pages ----------------------------------------------------------------------------------


def test_web_page_main_content_or_all_visible_text(files):
    pytest.importorskip("trafilatura")
    plain = _one(files / "news.html")
    main = _one(files / "news.html", LoadOptions(html="main"))
    boilerplate = ["cookies", "Subscribe now", "Celebrity chef", "Privacy policy", "Sport"]
    for noise in boilerplate:
        assert noise in plain.text and noise not in main.text, noise
    for paragraph in sf.NEWS_ARTICLE:
        assert paragraph in main.text and paragraph in plain.text
    assert main.text.startswith("Northwind Traders to open Lyon distribution centre\n\n")
    assert main.metadata["html_extractor"] == "main" and plain.metadata["html_extractor"] == "plain"
    assert main.metadata["title"] == "Northwind Traders to open Lyon distribution centre"


def test_page_without_main_content_falls_back_to_plain_text(tmp_path, caplog):
    pytest.importorskip("trafilatura")
    page = tmp_path / "tiny.html"
    page.write_text("<html><body><footer><p>© 2025 Ledger</p></footer></body></html>")
    doc = _one(page, LoadOptions(html="main"))
    assert doc.text == "© 2025 Ledger" and doc.metadata["html_extractor"] == "plain"
    assert "no main content" in caplog.text


# --- encodings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "encodings"),
    [
        ("cp1252.txt", CP1252_TEXT, {"cp1252"}),
        ("latin1.txt", LATIN1_TEXT, {"cp1252", "latin_1", "iso8859_15"}),
        ("utf16.md", UTF16_TEXT, {"utf-16"}),
    ],
)
def test_legacy_encodings_are_detected(files, name, text, encodings):
    doc = _one(files / name)
    assert isinstance(doc, Document), doc
    assert doc.text == text
    assert doc.metadata["encoding"] in encodings


def test_utf16_markdown_keeps_its_sections(files):
    doc = _one(files / "utf16.md")
    assert doc.locate(doc.text.index("Zoë")).heading == "Zürich office"


def test_utf16_big_endian_and_utf8_bom(tmp_path):
    (tmp_path / "be.txt").write_bytes(b"\xfe\xff" + "Grüße aus Köln".encode("utf-16-be"))
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf" + "Grüße".encode())
    be, bom = iter_documents([tmp_path / "be.txt", tmp_path / "bom.txt"])
    assert (be.text, be.metadata["encoding"]) == ("Grüße aus Köln", "utf-16")
    assert (bom.text, bom.metadata["encoding"]) == ("Grüße", "utf-8-sig")


# --- adding a format ----------------------------------------------------------------------------


def load_csv_rows(path: Path, options: LoadOptions):
    """A user's loader: one document per CSV file, one line per row, a section per row."""
    import csv

    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    if not rows:
        raise LoadError("no rows")
    text, sections = "", []
    for number, row in enumerate(rows, start=1):
        line = ", ".join(row)
        if text:
            text += "\n"
        sections.append(
            Section(start=len(text), end=len(text) + len(line), heading=f"row {number}")
        )
        text += line
    yield new_document(path, text, {"format": "csv", "rows": len(rows)}, sections)


def test_a_user_can_add_a_format(tmp_path):
    (tmp_path / "people.csv").write_text("Marie Dubois,Paris\nKenji Tanaka,Tokyo\n")
    (tmp_path / "empty.csv").write_text("")
    assert ".csv" not in registered_formats()
    register_loader(".csv", load_csv_rows, format="csv")
    try:
        assert registered_formats()[".csv"] == "csv"
        with pytest.raises(ValueError, match="already registered"):
            register_loader([".CSV"], lambda p, o: iter(()), format="other")
        empty, people = iter_documents([tmp_path])
        assert (empty.source.rsplit("/", 1)[-1], empty.reason) == ("empty.csv", "no rows")
        assert people.text == "Marie Dubois, Paris\nKenji Tanaka, Tokyo"
        assert people.locate(people.text.index("Kenji")).heading == "row 2"
    finally:
        unregister_loader(".csv")
    (skipped,) = iter_documents([tmp_path / "people.csv"])
    assert skipped.reason.startswith("skipped: binary/unsupported (.csv")


# --- ingest: offsets, pages and sections in the graph ---------------------------------------------


def test_ingest_every_format_with_page_and_section_provenance(files, tmp_path):
    store_path = tmp_path / "graph.json"
    builder = KnowledgeGraphBuilder(
        str(store_path),
        extractor=FakeExtractor(window=24),
        config=BuildConfig(load=LoadOptions(html="main")),
        progress=False,
    )
    summary = builder.ingest([files])
    d = summary.documents
    # report.pdf, report.docx, news.html, cp1252.txt, latin1.txt, utf16.md
    assert (d.new, d.failed, d.skipped) == (6, 3, 0)
    failed = sorted(f.source.rsplit("/", 1)[-1] for f in summary.failures)
    assert failed == ["locked.pdf", "scanned.pdf", "truncated.pdf"]

    store = NetworkXStore(store_path)
    store.open()
    graph = store.graph
    nodes = {n: a for n, a in graph.nodes(data=True)}
    docs = {n: a for n, a in nodes.items() if "Document" in a["__labels__"]}
    by_name = {Path(a["source"]).name: n for n, a in docs.items()}
    loaded = {Path(x.source).name: x for x in iter_documents([files], LoadOptions(html="main"))}

    mentions = [a for a in nodes.values() if "Mention" in a["__labels__"]]
    chunks = [a for a in nodes.values() if "Chunk" in a["__labels__"]]
    assert len(mentions) > 20
    for item in chunks + mentions:
        doc = loaded[Path(docs[item["document_id"]]["source"]).name]
        assert docs[item["document_id"]]["text"][item["start"] : item["end"]] == item["text"]
        assert doc.text[item["start"] : item["end"]] == item["text"]
        place = doc.locate(item["start"])
        assert item.get("page") == (place.page if place else None)
        assert item.get("section") == (place.heading if place else None)

    pdf_chunks = [c for c in chunks if c["document_id"] == by_name["report.pdf"]]
    assert {c["page"] for c in pdf_chunks} == {1, 2, 3, 4}
    assert all(c["page"] <= c["page_end"] for c in pdf_chunks)

    def places(doc_name: str, name: str, key: str) -> set:
        doc_id = by_name[doc_name]
        return {m.get(key) for m in mentions if m["document_id"] == doc_id and name in m["text"]}

    assert places("report.pdf", "Kenji Tanaka", "page") == {1}
    assert places("report.pdf", "Globex Corp", "page") == {3}
    assert places("report.pdf", "Initech", "page") == {4}
    assert places("report.docx", "Kenji Tanaka", "section") == {
        "Northwind Traders Annual Report > People > New hires"
    }

    # The evidence queries carry the page and the section.
    from kgbuild.store.queries import load_query

    at = {(m["document_id"], m["start"]): m for m in mentions}
    seen = set()
    for name in sorted({a["name"] for a in nodes.values() if "Entity" in a["__labels__"]}):
        for r in store.query(load_query("entity_mentions"), {"name": name}):
            m = at[(r["document_id"], r["start"])]
            assert (r["page"], r["section"]) == (m.get("page"), m.get("section"))
            seen.add((Path(r["source"]).suffix, r["page"] is not None, r["section"] is not None))
    assert {(".pdf", True, False), (".docx", False, True), (".md", False, True)} <= seen
    store.close()
