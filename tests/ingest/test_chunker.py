import logging
import time
from bisect import bisect_left

import pytest
from pydantic import ValidationError

from kgbuild.ids import chunk_id, content_hash, document_id
from kgbuild.ingest.chunker import ChunkerConfig, chunk_document, split_sentences
from kgbuild.ingest.loaders import iter_documents
from kgbuild.types import Document


def _doc(text: str, source: str = "test://doc") -> Document:
    return Document(
        id=document_id(source), source=source, text=text, content_hash=content_hash(text)
    )


def _check(doc, chunks, token_spans, max_tokens):
    """The chunker's contract, checked from the outside."""
    text = doc.text
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.document_id == doc.id and c.id == chunk_id(doc.id, c.start, c.end)
        assert c.text and not c.text[0].isspace() and not c.text[-1].isspace()
        assert len(token_spans(c.text)) <= max_tokens, c
    starts = [c.start for c in chunks]
    assert starts == sorted(set(starts)), "chunks move forward"
    assert all(a.end <= b.end for a, b in zip(chunks, chunks[1:], strict=False))
    # Coverage: every token of the document, and every non-space character, is in a chunk.
    covered = bytearray(len(text))
    for c in chunks:
        covered[c.start : c.end] = b"\x01" * (c.end - c.start)
    for s, e in token_spans(text):
        assert all(covered[s:e]), f"token {text[s:e]!r} at {s} is in no chunk"
    assert all(covered[i] or ch.isspace() for i, ch in enumerate(text))


@pytest.fixture(scope="module")
def unicode_docs(unicode_dir):
    return list(iter_documents([unicode_dir]))


# --- the contract, with both tokenizers -----------------------------------------------------------


@pytest.mark.parametrize("splitter", ["spacy", "regex"])
@pytest.mark.parametrize("max_tokens,overlap", [(8, 3), (24, 8), (64, 16), (512, 32)])
def test_unicode_documents_whitespace_tokens(unicode_docs, whitespace_spans, splitter,
                                             max_tokens, overlap):  # fmt: skip
    for doc in unicode_docs:
        chunks = chunk_document(doc, whitespace_spans, max_tokens, overlap, splitter)
        _check(doc, chunks, whitespace_spans, max_tokens)
        if max_tokens == 512:
            assert len(chunks) == 1 and chunks[0].text == doc.text.strip()


@pytest.mark.parametrize("splitter", ["spacy", "regex"])
@pytest.mark.parametrize("max_tokens,overlap", [(6, 2), (16, 4), (48, 12), (128, 32)])
def test_unicode_documents_wordpiece_tokens(unicode_docs, wordpiece_spans, splitter,
                                            max_tokens, overlap):  # fmt: skip
    for doc in unicode_docs:
        chunks = chunk_document(doc, wordpiece_spans, max_tokens, overlap, splitter)
        _check(doc, chunks, wordpiece_spans, max_tokens)
        assert len(chunks) > 1


def test_chunks_are_whole_sentences_when_sentences_fit(unicode_docs, wordpiece_spans):
    for doc in unicode_docs:
        sentences = split_sentences(doc.text, "spacy")
        starts = {s for s, _ in sentences}
        ends = {e for _, e in sentences}
        for c in chunk_document(doc, wordpiece_spans, 128, 32, "spacy"):
            assert c.start in starts and c.end in ends


def test_deterministic(unicode_docs, wordpiece_spans):
    doc = unicode_docs[0]
    first = chunk_document(doc, wordpiece_spans, 32, 8)
    second = chunk_document(doc.model_copy(), wordpiece_spans, 32, 8)
    assert [c.model_dump() for c in first] == [c.model_dump() for c in second]


# --- packing and overlap ------------------------------------------------------------------------

SIX = "Aa bb cc dd. Ee ff gg hh. Ii jj kk ll. Mm nn oo pp. Qq rr ss tt. Uu vv ww xx."


def test_greedy_packing_with_whole_sentence_overlap(whitespace_spans):
    chunks = chunk_document(_doc(SIX), whitespace_spans, max_tokens=12, overlap_tokens=5)
    # 4 tokens a sentence: 3 fit; the last one (4 <= 5 tokens) starts the next chunk.
    assert [c.text for c in chunks] == [
        "Aa bb cc dd. Ee ff gg hh. Ii jj kk ll.",
        "Ii jj kk ll. Mm nn oo pp. Qq rr ss tt.",
        "Qq rr ss tt. Uu vv ww xx.",
    ]


def test_overlap_never_exceeds_its_budget(whitespace_spans):
    # Two trailing sentences would be 8 tokens > 7: only one is repeated.
    chunks = chunk_document(_doc(SIX), whitespace_spans, max_tokens=16, overlap_tokens=7)
    assert [c.text for c in chunks] == [
        "Aa bb cc dd. Ee ff gg hh. Ii jj kk ll. Mm nn oo pp.",
        "Mm nn oo pp. Qq rr ss tt. Uu vv ww xx.",
    ]
    # And with no overlap, chunks share nothing.
    chunks = chunk_document(_doc(SIX), whitespace_spans, max_tokens=8, overlap_tokens=0)
    assert all(a.end < b.start for a, b in zip(chunks, chunks[1:], strict=False))
    assert len(chunks) == 3


def test_overlap_property_on_real_text(unicode_docs, wordpiece_spans):
    for doc in unicode_docs:
        spans = wordpiece_spans(doc.text)
        token_starts = [s for s, _ in spans]
        sentence_starts = {s for s, _ in split_sentences(doc.text)}
        chunks = chunk_document(doc, wordpiece_spans, 40, 10)
        shared_any = False
        for a, b in zip(chunks, chunks[1:], strict=False):
            if b.start < a.end:
                shared = bisect_left(token_starts, a.end) - bisect_left(token_starts, b.start)
                assert 0 < shared <= 10
                shared_any = True
        assert shared_any
        # Chunks that begin a sentence-sized window begin on a sentence.
        assert chunks[0].start in sentence_starts


# --- sentences too long for one chunk -----------------------------------------------------------


def test_long_sentence_is_split_not_truncated(whitespace_spans, caplog):
    caplog.set_level(logging.INFO, logger="kgbuild.ingest.chunker")
    words = " ".join(f"w{i}" for i in range(100))
    doc = _doc(f"Short one. {words} end. Last sentence here.")
    chunks = chunk_document(doc, whitespace_spans, max_tokens=16, overlap_tokens=4)
    _check(doc, chunks, whitespace_spans, 16)
    joined = " ".join(c.text for c in chunks)
    assert all(f"w{i} " in joined for i in range(100))
    # Pieces of the long sentence overlap too (by at most 4 tokens).
    assert any(b.start < a.end for a, b in zip(chunks[1:], chunks[2:], strict=False))
    (record,) = [r for r in caplog.records if "splitting" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert doc.id in record.getMessage() and "offset 11" in record.getMessage()


def test_long_unspaced_cjk_sentence_with_wordpiece(wordpiece_spans):
    # One token per character and no space to cut at: cuts fall between characters.
    text = "東京大阪名古屋札幌福岡神戸京都横浜" * 20 + "。"
    doc = _doc(text)
    chunks = chunk_document(doc, wordpiece_spans, max_tokens=10, overlap_tokens=2)
    _check(doc, chunks, wordpiece_spans, 10)
    assert len(chunks) >= len(text) // 10


def test_words_cut_inside_wordpieces_still_fit(wordpiece_spans):
    # Each word is many WordPieces: a 6-token window must cut inside words, and a cut word
    # ("##" pieces) can re-tokenize to more tokens on its own; the chunker re-checks.
    word = "pneumonoultramicroscopicsilicovolcanoconiosis"
    doc = _doc(" ".join([word, "xylophonist", word, "antidisestablishmentarianism"] * 6) + ".")
    assert len(wordpiece_spans(word)) > 6
    chunks = chunk_document(doc, wordpiece_spans, max_tokens=6, overlap_tokens=2)
    _check(doc, chunks, wordpiece_spans, 6)


def test_verification_shrinks_chunks_a_tokenizer_counts_differently(whitespace_spans):
    def with_start_token(text):
        """Like a tokenizer that adds a start-of-text piece: one more token on its own."""
        return [(0, 0)] + whitespace_spans(text)

    doc = _doc(SIX)
    chunks = chunk_document(doc, with_start_token, max_tokens=8, overlap_tokens=2)
    _check(doc, chunks, with_start_token, 8)
    # Without the check, the same budget is exceeded: the test above can fail.
    unchecked = chunk_document(doc, with_start_token, max_tokens=8, overlap_tokens=2, verify=False)
    assert max(len(with_start_token(c.text)) for c in unchecked) > 8


# --- edges and configuration --------------------------------------------------------------------


def test_whitespace_only_document_has_no_chunks(whitespace_spans):
    assert chunk_document(_doc(" \r\n\t "), whitespace_spans, 8, 2) == []


def test_a_custom_splitter_cannot_lose_text(whitespace_spans):
    doc = _doc(SIX)
    # A splitter that reports only one sentence in the middle: the rest is still chunked.
    chunks = chunk_document(doc, whitespace_spans, 8, 2, splitter=lambda text: [(26, 38)])
    _check(doc, chunks, whitespace_spans, 8)
    # Spans outside the text, or cutting through a word, change nothing either.
    odd = chunk_document(doc, whitespace_spans, 8, 2, splitter=lambda text: [(-5, 2), (999, 1000)])
    _check(doc, odd, whitespace_spans, 8)
    assert odd[0].text.startswith("Aa bb")


def test_sentence_splitters():
    text = "Dr. Smith met J. Doe at Acme Corp. in Zürich. Then he left!\r\n\r\nNew paragraph"
    expected = [
        "Dr. Smith met J. Doe at Acme Corp. in Zürich.",
        "Then he left!",
        "New paragraph",
    ]
    for name in ("spacy", "regex"):
        assert [text[s:e] for s, e in split_sentences(text, name)] == expected, name
    cjk = "東京へ行きました。とても楽しかった！ Then home."
    for name in ("spacy", "regex"):
        assert [cjk[s:e] for s, e in split_sentences(cjk, name)] == [
            "東京へ行きました。",
            "とても楽しかった！",
            "Then home.",
        ], name
    with pytest.raises(ValueError, match="unknown sentence splitter"):
        split_sentences(text, "nltk")


def test_budget_checks(whitespace_spans):
    with pytest.raises(ValueError, match="overlap_tokens"):
        chunk_document(_doc(SIX), whitespace_spans, max_tokens=8, overlap_tokens=4)
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_document(_doc(SIX), whitespace_spans, max_tokens=0, overlap_tokens=0)


def test_chunker_config():
    assert ChunkerConfig().max_tokens is None and ChunkerConfig().sentence_splitter == "spacy"
    with pytest.raises(ValidationError, match="overlap_tokens"):
        ChunkerConfig(max_tokens=64, overlap_tokens=32)
    with pytest.raises(ValidationError):
        ChunkerConfig(sentence_splitter="nltk")
    assert ChunkerConfig().resolve_max_tokens(200) == 200
    assert ChunkerConfig(max_tokens=100).resolve_max_tokens(200) == 100
    assert ChunkerConfig(max_tokens=300).resolve_max_tokens(200) == 200  # never past the window
    with pytest.raises(ValueError, match="overlap_tokens"):
        ChunkerConfig(overlap_tokens=32).resolve_max_tokens(60)


# --- size ---------------------------------------------------------------------------------------


def _big_text(n_chars: int) -> str:
    paragraph = (
        "Émile Garnier founded Lumière Optique Inc. in Besançon in 1962. "
        "The company moved to Zürich in 1971, where Jürgen Schäfer joined it! "
        "東京の支社は2015年に開設された。 Was it a success? Mostly, yes 🎉.\r\n\r\n"
    )
    return (paragraph * (n_chars // len(paragraph) + 1))[:n_chars]


@pytest.mark.slow
@pytest.mark.parametrize("splitter", ["regex", "spacy"])
def test_ten_megabytes_in_linear_time(whitespace_spans, splitter):
    def timed(n_chars):
        doc = _doc(_big_text(n_chars))
        t0 = time.perf_counter()
        chunks = chunk_document(doc, whitespace_spans, 128, 32, splitter)
        return doc, chunks, time.perf_counter() - t0

    _, _, small = timed(1_000_000)
    doc, chunks, big = timed(10_000_000)
    assert chunks[-1].end == len(doc.text.rstrip())
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)
    assert max(len(whitespace_spans(c.text)) for c in chunks) <= 128
    # Linear: 10x the text takes about 10x the time (quadratic would be 100x).
    assert big < 25 * small, (small, big)
