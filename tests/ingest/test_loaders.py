import logging
import types
from pathlib import Path

import pytest
from pydantic import ValidationError

from kgbuild.ids import content_hash, document_id
from kgbuild.ingest.loaders import LoadFailure, LoadOptions, iter_documents
from kgbuild.types import Document


def _split(items):
    docs = [x for x in items if isinstance(x, Document)]
    failures = [x for x in items if isinstance(x, LoadFailure)]
    assert len(docs) + len(failures) == len(items)
    return docs, failures


def _name(source: str) -> str:
    """A failure's file name: 'file:///.../latin1.txt' -> 'latin1.txt'."""
    return source.rsplit("/", 1)[-1]


def _by_name(docs):
    """Documents by file name plus JSONL fragment: 'records.jsonl#a1'."""
    named = {}
    for d in docs:
        path = Path(d.metadata["path"])
        named[path.name + d.source.removeprefix(path.as_uri())] = d
    return named


# --- a whole folder -----------------------------------------------------------------------------


def test_folder_loads_good_files_and_names_bad_ones(corpus, caplog):
    caplog.set_level(logging.WARNING, logger="kgbuild.ingest.loaders")
    docs, failures = _split(list(iter_documents([corpus])))

    assert sorted(_by_name(docs)) == [
        "accents_bom.txt",
        "cjk_emoji.md",
        "crlf.txt",
        "draft.txt",
        "latin1.txt",
        "notes.md",
        "page.html",
        "records.jsonl#5",
        "records.jsonl#a1",
        "records.jsonl#with%20space/%C3%A9",
    ]
    reasons = {(_name(f.source), f.reason.split(" (")[0]) for f in failures}
    assert reasons == {
        ("binary.txt", "skipped: binary/unsupported"),
        ("image.png", "skipped: binary/unsupported"),
        ("blank.md", "empty"),
        ("empty.txt", "empty"),
        ("records.jsonl", "line 2: not valid JSON"),
        ("records.jsonl", "line 3: text field 'text' missing"),
        ("records.jsonl", "line 6: text field 'text' not a string"),
        ("records.jsonl", "line 8: duplicate id 'a1'"),
        ("records.jsonl", "line 9: not a JSON object"),
        ("records.jsonl", "line 10: empty"),
    }
    # Failures carry the same file URI a document from that file would have.
    for f in failures:
        assert f.source.startswith((corpus.resolve() / "x").as_uri()[:-1])
    # Every skipped file is named in a warning.
    warned = caplog.text
    for name in ("binary.txt", "image.png", "empty.txt", "records.jsonl"):
        assert name in warned


def test_folder_walk_is_sorted_and_deterministic(corpus):
    first = [x.model_dump() for x in iter_documents([corpus])]
    second = [x.model_dump() for x in iter_documents([corpus])]
    assert first == second
    paths = [d["metadata"]["path"] for d in first if "metadata" in d]
    # Sorted by relative path: sub/drafts/draft.txt before sub/notes.md.
    assert [Path(p).name for p in dict.fromkeys(paths)] == [
        "accents_bom.txt",
        "cjk_emoji.md",
        "crlf.txt",
        "latin1.txt",
        "page.html",
        "records.jsonl",
        "draft.txt",
        "notes.md",
    ]


def test_missing_path_fails_and_the_rest_still_loads(corpus):
    items = list(iter_documents(["no/such/file.txt", corpus / "crlf.txt"]))
    assert items[0] == LoadFailure(source="no/such/file.txt", reason="not found")
    assert isinstance(items[1], Document)


def test_it_is_a_lazy_stream(tmp_path):
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(f"Text of {name}.", encoding="utf-8")
    stream = iter_documents([tmp_path])
    assert isinstance(stream, types.GeneratorType)
    assert next(stream).text == "Text of a.txt."
    # b.txt disappears after the walk began: it fails on its own, c.txt still loads.
    (tmp_path / "b.txt").unlink()
    rest = list(stream)
    assert isinstance(rest[0], LoadFailure) and rest[0].source.endswith("/b.txt")
    assert rest[0].reason.startswith("cannot read")
    assert isinstance(rest[1], Document) and rest[1].text == "Text of c.txt."


def test_a_file_reached_twice_loads_once(corpus):
    docs, _ = _split(list(iter_documents([corpus / "crlf.txt", corpus, corpus / "crlf.txt"])))
    assert [Path(d.metadata["path"]).name for d in docs].count("crlf.txt") == 1


# --- text is kept exactly -----------------------------------------------------------------------


def test_text_identity_and_hash(corpus):
    (doc,) = iter_documents([corpus / "crlf.txt"])
    path = (corpus / "crlf.txt").resolve()
    assert doc.source == path.as_uri()
    assert doc.id == document_id(doc.source)
    assert doc.content_hash == content_hash(doc.text)
    assert doc.metadata == {"path": str(path), "format": "text", "encoding": "utf-8"}


def test_crlf_is_kept_and_a_bom_is_dropped(corpus):
    (crlf,) = iter_documents([corpus / "crlf.txt"])
    assert crlf.text == (corpus / "crlf.txt").read_bytes().decode("utf-8")
    assert crlf.text.count("\r\n") == 4

    (bom,) = iter_documents([corpus / "accents_bom.txt"])
    raw = (corpus / "accents_bom.txt").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert bom.text == raw[3:].decode("utf-8")
    assert bom.text.startswith("Émilie Dubois")


def test_unicode_documents_load_unchanged(unicode_dir):
    docs, failures = _split(list(iter_documents([unicode_dir])))
    assert failures == []
    by_name = {Path(d.metadata["path"]).name: d for d in docs}
    assert sorted(by_name) == ["company_history.txt", "news_crlf.txt", "tokyo_journal.md"]
    for name, doc in by_name.items():
        assert doc.text == (unicode_dir / name).read_bytes().decode("utf-8")
        assert len(doc.text.split()) > 200
    assert "re\u0301sume\u0301" in by_name["company_history.txt"].text  # decomposed accents
    assert by_name["news_crlf.txt"].text.count("\r\n") > 10
    assert "\n" not in by_name["news_crlf.txt"].text.replace("\r\n", "")
    tokyo = by_name["tokyo_journal.md"]
    assert "👩\u200d💻" in tokyo.text and "東京駅" in tokyo.text
    assert tokyo.metadata["title"] == "東京の一週間 — A week in Tokyo 🗼"


def test_legacy_encoding_is_detected_and_recorded(corpus):
    (doc,) = iter_documents([corpus / "latin1.txt"])
    assert doc.text == "Café au lait"
    assert doc.metadata["encoding"] == "cp1252"  # Latin-1's printable superset


def test_forced_encoding_names_the_byte_offset(corpus, tmp_path):
    (failure,) = iter_documents([corpus / "latin1.txt"], LoadOptions(encoding="utf-8"))
    assert failure.reason == "not valid utf-8 (byte offset 3)"
    assert failure.source == (corpus / "latin1.txt").resolve().as_uri()
    # A BOM decides the encoding; a bad byte after it is named by its file offset.
    path = tmp_path / "bom_then_bad.txt"
    path.write_bytes(b"\xef\xbb\xbfok \xff")
    (failure,) = iter_documents([path])
    assert failure.reason == "not valid UTF-8 after its byte order mark (byte offset 6)"
    (failure,) = iter_documents([path], LoadOptions(encoding="no-such-codec"))
    assert failure.reason == "unknown encoding 'no-such-codec'"


def test_binary_content_behind_a_text_extension(corpus, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    pdf = tmp_path / "report.txt"
    pdf.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    nul, sig = iter_documents([corpus / "binary.txt", pdf])
    assert nul.reason == "skipped: binary/unsupported (contains NUL bytes)"
    assert sig.reason == "skipped: binary/unsupported (binary file signature)"
    assert "report.txt" in caplog.text and "binary.txt" in caplog.text


def test_unknown_extension_is_skipped_with_a_warning(corpus, caplog):
    caplog.set_level(logging.WARNING)
    (failure,) = iter_documents([corpus / "image.png"])
    assert failure.reason.startswith("skipped: binary/unsupported (.png")
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "image.png" in caplog.records[0].getMessage()


def test_empty_and_whitespace_only(corpus):
    reasons = [f.reason for f in iter_documents([corpus / "empty.txt", corpus / "blank.md"])]
    assert reasons == ["empty", "empty"]


def test_max_bytes_refuses_large_files(corpus):
    (failure,) = iter_documents([corpus / "crlf.txt"], LoadOptions(max_bytes=20))
    assert failure.reason.startswith("too large:") and "max_bytes 20" in failure.reason
    with pytest.raises(ValidationError):
        LoadOptions(max_bytes=0)


# --- HTML and markdown --------------------------------------------------------------------------


def test_html_visible_text_only(corpus):
    (doc,) = iter_documents([corpus / "page.html"])
    assert doc.metadata["format"] == "html"
    assert doc.metadata["title"] == "Lumière & Co — Accueil"
    for hidden in ("secret", "console.log", "font-family", "nope", "comment", "JavaScript",
                   "DOCTYPE", "Accueil"):  # fmt: skip
        assert hidden not in doc.text
    assert doc.text == (
        "Home\nAbout\n\n"
        "Lumière Optique\n\n"
        "Founded in 1962 by Émile\xa0Garnier in Besançon.\n\n"
        "Jürgen Schäfer joined in 1971.\nHe works for Lumière Optique Inc.\n\n"
        "Year\tEvent\n1986\tCrisis\n\n"
        "  indented\n    code block\n\n"
        "東京 office opened 🎉"
    )
    assert doc.content_hash == content_hash(doc.text)  # the extracted text is what is stored


def test_html_without_visible_text_is_empty(tmp_path):
    path = tmp_path / "blank.html"
    path.write_text("<html><head><title>T</title><script>x()</script></head><body> </body></html>")
    (failure,) = iter_documents([path])
    assert failure.reason == "empty (no visible text)"


def test_markdown_is_kept_as_text_with_its_first_heading_as_title(corpus):
    md, setext = iter_documents([corpus / "cjk_emoji.md", corpus / "sub" / "notes.md"])
    assert md.text == (corpus / "cjk_emoji.md").read_text(encoding="utf-8")
    assert md.metadata == {
        "path": md.metadata["path"],
        "format": "markdown",
        "encoding": "utf-8",
        "title": "東京の朝 🌅",
    }
    assert setext.metadata["title"] == "Notes"


def test_markdown_heading_inside_a_code_fence_is_not_a_title(tmp_path):
    path = tmp_path / "code.md"
    path.write_text("```sh\n# install\n```\n\nSome text.\n\n## Usage\n", encoding="utf-8")
    (doc,) = iter_documents([path])
    assert doc.metadata["title"] == "Usage"


def test_markdown_front_matter(tmp_path):
    with_title = tmp_path / "a.md"
    with_title.write_text('---\r\ntitle: "Rapport annuel"\r\n---\r\n# Intro\r\n', "utf-8")
    without = tmp_path / "b.md"
    without.write_text("---\nauthor: Zoë\n---\nPlain text, no heading.\n", "utf-8")
    a, b = iter_documents([with_title, without])
    assert a.metadata["title"] == "Rapport annuel"
    assert a.text.startswith("---\r\ntitle")  # the text itself is untouched
    assert "title" not in b.metadata  # "author: Zoë" above "---" is not a heading


# --- JSONL --------------------------------------------------------------------------------------


def test_jsonl_records(corpus):
    path = (corpus / "records.jsonl").resolve()
    docs, failures = _split(list(iter_documents([path])))
    a1, no_id, spaced = docs
    assert a1.source == path.as_uri() + "#a1"
    assert a1.id == document_id(a1.source)
    assert a1.text == "Anna Schäfer works for Acme Corp in Berlin."
    # Scalar fields are kept (lists and objects are not); the loader's own keys are added.
    assert a1.metadata == {"id": "a1", "title": "First", "year": 2020, "path": str(path),
                           "format": "jsonl", "line": 1}  # fmt: skip
    assert no_id.source == path.as_uri() + "#5" and no_id.metadata["line"] == 5
    assert spaced.text == "東京 🗼 Tokyo Tower.\r\nSecond line."  # kept exactly, CRLF too
    assert spaced.metadata["score"] == 0.5 and spaced.metadata["ok"] is True
    assert [f.reason.split(":")[0] for f in failures] == [f"line {n}" for n in (2, 3, 6, 8, 9, 10)]
    assert all(f.source == path.as_uri() for f in failures)


def test_jsonl_fields_are_configurable(tmp_path):
    path = tmp_path / "custom.jsonl"
    path.write_text(
        '{"doc_id": 7, "body": "Seven."}\n{"doc_id": "x", "text": "no body"}\n', encoding="utf-8"
    )
    options = LoadOptions(jsonl_text_field="body", jsonl_id_field="doc_id")
    doc, failure = iter_documents([path], options)
    assert doc.source.endswith("custom.jsonl#7") and doc.text == "Seven."
    assert failure.reason == "line 2: text field 'body' missing"


def test_jsonl_bad_bytes_on_one_line(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b'{"id": 1, "text": "ok"}\n{"id": 2, "text": "caf\xe9"}\n{"id": 3, "text": "fine"}\n'
    )
    first, bad, third = iter_documents([path])
    assert bad.reason == "line 2: not valid UTF-8 (byte offset 46)"
    assert path.read_bytes().index(b"\xe9") == 46  # an offset in the file, not in the line
    assert [first.text, third.text] == ["ok", "fine"]


def test_jsonl_record_size_limit(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text('{"text": "short"}\n{"text": "' + "x" * 200 + '"}\n', encoding="utf-8")
    ok, big = iter_documents([path], LoadOptions(max_bytes=100))
    assert ok.text == "short"
    assert big.reason.startswith("line 2: too large")


def test_empty_jsonl(tmp_path):
    path = tmp_path / "none.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    assert [f.reason for f in iter_documents([path])] == ["empty"]


# --- include / exclude --------------------------------------------------------------------------


def _names(items):
    return sorted(Path(x.metadata["path"]).name for x in items if isinstance(x, Document))


@pytest.mark.parametrize("pattern", ["**/*.md", "*.md"])
def test_include_globs(corpus, pattern):
    items = list(iter_documents([corpus], LoadOptions(include=[pattern])))
    assert _names(items) == ["cjk_emoji.md", "notes.md"]
    # blank.md matches too, and is reported as empty; nothing else is looked at.
    assert [_name(x.source) for x in items if isinstance(x, LoadFailure)] == ["blank.md"]


def test_include_glob_relative_to_the_folder(corpus):
    items = iter_documents([corpus], LoadOptions(include=["sub/*"]))
    assert _names(items) == ["notes.md"]  # one segment: sub/drafts/draft.txt is deeper


@pytest.mark.parametrize("pattern", ["sub/drafts/**", "sub/drafts", "drafts", "**/draft.txt"])
def test_exclude_globs(corpus, pattern):
    names = _names(iter_documents([corpus], LoadOptions(exclude=[pattern])))
    assert "draft.txt" not in names and "notes.md" in names


def test_hidden_files_only_when_asked(corpus):
    assert ".hidden.txt" not in _names(iter_documents([corpus]))
    assert ".hidden.txt" in _names(iter_documents([corpus], LoadOptions(hidden=True)))
    # Named directly, a file is loaded whatever the options say.
    assert _names(iter_documents([corpus / ".hidden.txt"], LoadOptions(include=["*.md"]))) == [
        ".hidden.txt"
    ]
