import numpy as np
import pytest

from kgbuild.extract.model.encoding import (
    MARKER_ENTITY,
    MARKER_RELATION,
    SHAPE_DIGIT,
    SHAPE_LOWER,
    SHAPE_MIXED,
    SHAPE_PAD,
    SHAPE_TITLE,
    SHAPE_UPPER,
    TextEncoder,
    casing_is_informative,
    join_words,
    split_words,
    token_shape,
    word_tokens,
)


def test_split_words_covers_every_non_space_character():
    text = "Dr. Müller joined IBM's U.S. office in 東京 on 3/4/2021 🎉 — really!\r\nNext."
    spans = split_words(text)
    covered = set()
    for s, e in spans:
        assert text[s:e].strip() == text[s:e] != ""
        covered.update(range(s, e))
    assert covered == {i for i, c in enumerate(text) if not c.isspace()}
    assert "U.S." in [text[s:e] for s, e in spans]


def test_join_words_spans():
    text, spans = join_words(["John", "Smith", "works", "."])
    assert text == "John Smith works ."
    assert [text[s:e] for s, e in spans] == ["John", "Smith", "works", "."]


@pytest.mark.parametrize(
    "piece,shape",
    [
        ("apple", SHAPE_LOWER),
        ("Apple", SHAPE_TITLE),
        ("IBM", SHAPE_UPPER),
        ("iPhone", SHAPE_MIXED),
        ("1984", SHAPE_DIGIT),
        ("A", SHAPE_TITLE),
    ],
)
def test_token_shape(piece, shape):
    assert token_shape(piece) == shape


@pytest.mark.parametrize(
    "text,informative",
    [
        ("Angela Merkel visited Zurich.", True),
        ("it works.", False),  # no capital at all: lower-cased text
        ("what movies did tom hanks star in", False),
        ("NASA LAUNCHED A ROCKET", False),  # all capitals
        ("1984 - 2021", True),  # nothing written in a case: shapes are as they were
        ("東京 2020", True),
        ("", True),
    ],
)
def test_casing_is_informative(text, informative):
    assert casing_is_informative(text) is informative


def test_lower_cased_text_is_read_without_word_shapes(tokenizer):
    enc = TextEncoder(tokenizer, max_length=64)
    labels = (["person"], ["lives in"])
    cased = "Tom Hanks lives in Los Angeles."
    lower = cased.lower()
    out_cased = enc.encode(cased, split_words(cased), *labels)
    out_lower = enc.encode(lower, split_words(lower), *labels)
    assert out_cased.input_ids == out_lower.input_ids  # the encoder is uncased
    text_shapes = out_cased.shape_ids[out_cased.input_ids.index(enc.sep_id) + 1 : -1]
    assert SHAPE_TITLE in text_shapes and SHAPE_LOWER in text_shapes
    assert set(out_lower.shape_ids) == {SHAPE_PAD}


def test_encode_maps_words_to_tokens(tokenizer):
    enc = TextEncoder(tokenizer, max_length=64)
    text = "Ángela Merkel visited Zürich."
    spans = split_words(text)
    out = enc.encode(text, spans, ["person", "location"], ["lives in"])
    assert [out.marker_types[p] for p in out.entity_marker_positions] == [MARKER_ENTITY] * 2
    assert [out.marker_types[p] for p in out.relation_marker_positions] == [MARKER_RELATION]
    assert len(out.input_ids) == len(out.marker_types) == len(out.shape_ids)
    # every word has tokens, first <= last, and words are in order
    assert (out.word_first_token >= 0).all()
    assert (out.word_first_token <= out.word_last_token).all()
    assert (np.diff(out.word_first_token) > 0).all()
    # the uncased tokenizer strips the accent, the shape id keeps the capital
    first = out.word_first_token[0]
    assert tokenizer.convert_ids_to_tokens(out.input_ids[first]).startswith("angela")
    assert out.shape_ids[first] == SHAPE_TITLE
    assert out.num_words == len(spans)


def test_encode_cuts_at_window_and_marks_words(tokenizer):
    enc = TextEncoder(tokenizer, max_length=32)
    words = [f"word{i}" for i in range(40)]
    text, spans = join_words(words)
    out = enc.encode(text, spans, ["thing"], [])
    assert len(out.input_ids) <= 32
    assert 0 < out.num_words < 40
    assert (out.word_first_token[out.num_words :] == -1).all()
    assert (out.word_first_token[: out.num_words] >= 0).all()
    assert enc.max_text_tokens(["thing"], []) == 32 - enc.prompt_length(["thing"], [])


def _word_tokens(words, offsets, offset=5):
    first = np.full(len(words), -1, dtype=np.int64)
    last = np.full(len(words), -1, dtype=np.int64)
    word_tokens(words, np.asarray(offsets, dtype=np.int64).reshape(-1, 2), offset, first, last)
    return first.tolist(), last.tolist()


def test_sentencepiece_tokens_map_to_words_by_character_overlap():
    # "Mori met Ōsaka Corp." as XLM-R's SentencePiece reads it: each piece's span takes
    # the space before it ("▁met" is " met"), "Ōsaka" starts with a bare "▁" (the space
    # alone), and "▁Corp." is one piece over two words
    text = "Mori met Ōsaka Corp."
    words = split_words(text)
    assert [text[s:e] for s, e in words] == ["Mori", "met", "Ōsaka", "Corp", "."]
    pieces = [(0, 4), (4, 8), (8, 9), (9, 10), (10, 14), (14, 20)]  # ▁Mori ▁met ▁ Ō saka ▁Corp.
    first, last = _word_tokens(words, pieces)
    # positions are the token indices + 5
    assert first == [5, 6, 8, 10, 10]
    assert last == [5, 6, 9, 10, 10]


def test_wordpiece_tokens_map_to_the_word_they_lie_in():
    text = "Schröder's firm"
    words = split_words(text)  # Schröder's, firm
    pieces = [(0, 4), (4, 8), (8, 9), (9, 10), (11, 15)]  # schr ##oder ' s firm
    first, last = _word_tokens(words, pieces, offset=0)
    assert first == [0, 4] and last == [3, 4]
    # a zero-width token counts where it stands; a word with no token has none
    first, last = _word_tokens([(0, 3), (4, 7)], [(1, 1)], offset=0)
    assert first == [0, -1] and last == [0, -1]
