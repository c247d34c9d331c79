"""ONNX Runtime inference for the joint model's encoder and scoring heads.

Everything the model computes once per batch of texts (the encoder forward over labels
and text, every span's hidden vector, the span-label scores and the relation-label
vectors) is exported with ``torch.onnx.export`` into one ONNX graph and run by
`ONNX Runtime <https://onnxruntime.ai>`_; the per-text pair scoring after entity
decoding stays in torch (it is small, and its shape depends on what was found).

On the 2-core machines kgbuild is measured on, ONNX Runtime runs this graph several
times faster than eager torch (fused layer norms and GELUs, no Python between ops; see
README's performance section), with the same scores up to float rounding (the tests
compare the two on real chunks).

* **Export once, cached.** The graph is exported the first time a checkpoint is loaded
  with ``backend="onnx"`` (a few seconds) and kept in the cache folder
  (``$KGBUILD_CACHE_DIR``, else ``$XDG_CACHE_HOME/kgbuild``, else ``~/.cache/kgbuild``)
  under a name that fingerprints the checkpoint, the base encoder and the library
  versions, so a changed checkpoint is never served a stale graph. Files are written
  to a temporary name and renamed, so concurrent loads do not see half a file.
* **int8, opt in.** ``quantize=True`` gives the graph's matrix products with weight
  matrices ONNX Runtime's dynamic int8 quantization with one scale per output channel
  (per-channel; one scale per matrix cost 1.2 entity and 1.8 relation F1 on CoNLL04,
  per-channel 0.26 and 0.48, but 1.3 / 1.6 on re3d's unseen labels). The int8 graph is
  cached beside the fp32 one under a name that also says how it was quantized.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import warnings
from importlib import metadata
from pathlib import Path

import torch
from torch import nn

from kgbuild.extract.inference.layouts import GRAPHS
from kgbuild.extract.model.config import resolve_encoder_path
from kgbuild.extract.model.network import JointExtractionModel, checkpoint_files

__all__ = ["InferenceHeads", "OnnxHeads", "cache_dir", "onnx_available"]

logger = logging.getLogger(__name__)

#: Bump when :class:`InferenceHeads` changes what it computes: old cached graphs are ignored.
EXPORT_VERSION = 4
#: Checkpoint versions (fingerprints) per model name whose graphs the cache keeps: a new
#: export removes the graphs of older ones (each version's graphs take 0.3 to 0.6 GB).
KEEP_VERSIONS = 3
#: Graph variants, one per layout's first pass (see :func:`exported_graph`).
VARIANTS = GRAPHS
#: The batch tensors the graph reads, in order (names as :func:`~kgbuild.extract.model.collate`).
INPUTS = (
    "input_ids",
    "marker_types",
    "shape_ids",
    "attention_mask",
    "word_first",
    "word_last",
    "entity_markers",
    "relation_markers",
)
#: What the ``hybrid`` graph reads besides (see ``collate_one_way``).
ONE_WAY_INPUTS = (
    "block_ids",
    "block_markers",
    "block_positions",
    "block_groups",
    "final_text_rows",
    "final_label_rows",
)
OUTPUTS = ("hidden", "span_start", "span_end", "entity_logits", "relation_labels")


def onnx_available() -> bool:
    """True when ONNX Runtime and the exporter's packages (onnx, onnxscript) are installed.

    Only ONNX Runtime is imported here: the exporter's packages take half a second to
    import and are needed only when a graph is not in the cache yet."""
    import importlib.util

    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxscript"))


def cache_dir() -> Path:
    """Where exported graphs are kept (created on demand)."""
    root = os.environ.get("KGBUILD_CACHE_DIR")
    if root:
        return Path(root) / "onnx"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "kgbuild" / "onnx"


class InferenceHeads(nn.Module):
    """The per-batch part of inference, as one module (what is exported to ONNX).

    Returns the encoder's hidden states ``(B, T, H)``, the per-token start and end parts
    of the span layer ``(B, T, 2D)`` (see ``JointExtractionModel.span_parts``; the few
    spans relations need are assembled from them, so the ``(B, S, 2D)`` vectors of every
    span never leave the graph), the span-label logits ``(B, S, Le)`` and the
    relation-label vectors ``(B, Lr, D)``, exactly as
    :class:`~kgbuild.extract.inference.extractor.JointExtractor` computes them with torch.
    """

    def __init__(self, model: JointExtractionModel) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: torch.Tensor,
        marker_types: torch.Tensor,
        shape_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        word_first: torch.Tensor,
        word_last: torch.Tensor,
        entity_markers: torch.Tensor,
        relation_markers: torch.Tensor,
        block_ids: torch.Tensor | None = None,
        block_markers: torch.Tensor | None = None,
        block_positions: torch.Tensor | None = None,
        block_groups: torch.Tensor | None = None,
        final_text_rows: torch.Tensor | None = None,
        final_label_rows: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        m = self.model
        batch = {
            "input_ids": input_ids,
            "marker_types": marker_types,
            "shape_ids": shape_ids,
            "attention_mask": attention_mask,
            "word_first": word_first,
            "word_last": word_last,
        }
        label_hidden = None
        if block_ids is not None:  # the hybrid layout (see collate_one_way)
            batch["block_ids"] = block_ids
            batch["block_markers"] = block_markers
            batch["block_positions"] = block_positions
            batch["block_groups"] = block_groups
            batch["final_text_rows"] = final_text_rows
            batch["final_label_rows"] = final_label_rows
            hidden, label_hidden = m.encode_one_way(batch)
        else:
            hidden = m.encode(batch)
        parts = m.span_parts(hidden)
        span_hidden = m.span_hidden(hidden, batch, parts)
        entity_labels = m.label_embeddings(hidden, entity_markers, m.entity_label_proj)
        entity_logits = m.entity_logits_from_hidden(span_hidden, entity_labels)
        relation_labels = m.label_embeddings(
            hidden if label_hidden is None else label_hidden,
            relation_markers,
            m.relation_label_proj,
        )
        return hidden, parts[0], parts[1], entity_logits, relation_labels


def _versions() -> str:
    names = ("torch", "onnx", "onnxscript", "onnxruntime")
    out = []
    for name in names:
        try:
            out.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name}=?")
    return ",".join(out)


def checkpoint_fingerprint(directory: Path, encoder: str, quantize: bool) -> str:
    """A short hash of everything the exported graph depends on."""
    digest = hashlib.sha256()
    for name in ("config.json", *checkpoint_files(directory)):
        digest.update((directory / name).read_bytes())
    # the word embeddings come from the base encoder package: its files' identity
    base = Path(resolve_encoder_path(encoder))
    for name in ("config.json", "model.safetensors"):
        path = base / name
        if path.exists():
            stat = path.stat()
            digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    digest.update(f"{_versions()}|v{EXPORT_VERSION}|int8={quantize}".encode())
    return digest.hexdigest()[:16]


def _example_batch(model: JointExtractionModel, one_way: bool = False) -> dict[str, torch.Tensor]:
    """A small batch to trace with. Every dynamic size is at least 2 (sizes 0 and 1 are
    specialised by torch.export)."""
    b, t, n = 2, 24, 12
    vocab = model.encoder.config.vocab_size
    extra = {}
    if one_way:  # relation labels after the text: two groups of two tokens
        extra = {
            "block_ids": torch.randint(1000, vocab, (4,)),
            "block_markers": torch.tensor([2, 0, 2, 0]),
            "block_positions": torch.tensor([5, 6, 5, 6]),
            "block_groups": torch.tensor([2, 2, 3, 3]),
            "relation_markers": torch.tensor([[0, 2]] * b),
            "final_text_rows": torch.tensor([0, 1, 3, *range(6, t)]),
            "final_label_rows": torch.tensor([0, 2]),
        }
    return {
        "input_ids": torch.randint(1000, vocab, (b, t)),
        "marker_types": torch.zeros((b, t), dtype=torch.long),
        "shape_ids": torch.ones((b, t), dtype=torch.long),
        "attention_mask": torch.ones((b, t), dtype=torch.long),
        "word_first": torch.arange(8, 8 + n).repeat(b, 1),
        "word_last": torch.arange(8, 8 + n).repeat(b, 1),
        "entity_markers": torch.tensor([[1, 3, 5]] * b),
        "relation_markers": torch.tensor([[6, 7]] * b),
    } | extra


def export_onnx(model: JointExtractionModel, path: Path, one_way: bool = False) -> None:
    """Export :class:`InferenceHeads` of ``model`` to ``path`` (dynamic batch, length,
    word and label counts).

    Traced by torch's TorchScript exporter with the encoder's plain ("eager") attention:
    on the pipeline's chunks that graph ran in 0.80 of the time of the ``dynamo=True``
    export of the same model, whose scaled-dot-product attention becomes a masked softmax
    with NaN guards (``IsNaN``/``Where``: 7.5 % of its time). Same scores up to float
    rounding. The ``dynamo`` exporter is the fallback should tracing fail.
    """
    model.materialize_encoder()
    heads = InferenceHeads(model).eval()
    example = _example_batch(model, one_way)
    inputs = INPUTS + ONE_WAY_INPUTS if one_way else INPUTS
    args = tuple(example[k] for k in inputs)
    # the exporters log each step at INFO and warn about things that do not concern us
    for name in ("torch.onnx", "torch.export", "onnxscript", "onnx_ir"):
        logging.getLogger(name).setLevel(logging.ERROR)
    encoder = model.encoder
    attention = encoder.config._attn_implementation
    try:
        encoder.set_attn_implementation("eager")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                heads,
                args,
                str(path),
                input_names=list(inputs),
                output_names=list(OUTPUTS),
                dynamic_axes={k: DYNAMIC_AXES[k] for k in inputs},
                opset_version=17,
                dynamo=False,
            )
        return
    except Exception as exc:  # a future torch without the TorchScript exporter
        logger.info("TorchScript export failed (%s); exporting with dynamo", exc)
    finally:
        encoder.set_attn_implementation(attention)
    _export_dynamo(heads, args, inputs, path)


#: Dynamic sizes of the graph's inputs: batch, tokens, words, entity and relation labels.
DYNAMIC_AXES = {
    "input_ids": {0: "batch", 1: "tokens"},
    "marker_types": {0: "batch", 1: "tokens"},
    "shape_ids": {0: "batch", 1: "tokens"},
    "attention_mask": {0: "batch", 1: "tokens"},
    "word_first": {0: "batch", 1: "words"},
    "word_last": {0: "batch", 1: "words"},
    "entity_markers": {0: "batch", 1: "entity_labels"},
    "relation_markers": {0: "batch", 1: "relation_labels"},
    "block_ids": {0: "block"},
    "block_markers": {0: "block"},
    "block_positions": {0: "block"},
    "block_groups": {0: "block"},
    "final_text_rows": {0: "text_rows"},
    "final_label_rows": {0: "label_rows"},
}


def _export_dynamo(
    heads: InferenceHeads, args: tuple[torch.Tensor, ...], inputs: tuple[str, ...], path: Path
) -> None:
    from torch.export import Dim

    dims = {
        "batch": Dim("batch"),
        "tokens": Dim("tokens", max=8192),
        "words": Dim("words", max=8192),
        "entity_labels": Dim("entity_labels"),
        "relation_labels": Dim("relation_labels"),
        "block": Dim("block"),
        "text_rows": Dim("text_rows"),
        "label_rows": Dim("label_rows"),
    }
    shapes = {
        name: {axis: dims[dim] for axis, dim in DYNAMIC_AXES[name].items()} for name in inputs
    }
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            heads,
            args,
            input_names=list(inputs),
            output_names=list(OUTPUTS),
            dynamic_shapes=shapes,
            dynamo=True,
            optimize=True,
            verbose=False,
        )
    program.save(str(path))


#: How the int8 graph is made (part of its cache name): per-channel weights.
QUANTIZATION = "dynamic-qint8-per-channel-matmul"


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8, one scale per output channel, for every MatMul with a weight matrix.

    MatMuls whose second input is not a constant 2-D matrix (attention scores, a
    matrix-vector product of the heads) stay fp32: ONNX Runtime's per-channel kernel
    rejects a 1-D weight, and activations are quantized per batch anyway.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    matrices = {i.name for i in graph.initializer if len(i.dims) == 2}
    keep_fp32 = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and node.input[1] not in matrices
    ]
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer's advice goes to the root logger
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=keep_fp32,
        )
    finally:
        root.setLevel(level)


def exported_graph(
    model: JointExtractionModel, directory: Path, quantize: bool = False, variant: str = "joint"
) -> Path:
    """The cached ONNX graph of the checkpoint in ``directory``; exported when missing.

    ``variant``: ``"joint"`` (labels in the prompt), or ``"hybrid"``: the graph of the
    hybrid layout's first pass, which also reads the block of relation labels appended
    after the texts (``collate_one_way``; the joint encoder on the text rows,
    ``one_way_lora`` on the label rows). The prompt's relation labels are then read from
    the graph's hidden states (see ``JointExtractor._forward``).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown graph variant {variant!r}: use one of {', '.join(VARIANTS)}")
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    key = checkpoint_fingerprint(directory, model.config.encoder, quantize=False)
    suffix = "" if variant == "joint" else f"-{variant}"
    fp32 = folder / f"{model.config.name}-{key}{suffix}.onnx"
    if fp32.exists():
        _touch(fp32)  # marks the version as used (see prune_cache)
    else:
        logger.info("exporting %s%s to ONNX (once; cached in %s)", directory, suffix, folder)
        model.materialize_encoder()
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            tmp_path = Path(tmp) / "model.onnx"
            export_onnx(model, tmp_path, one_way=variant != "joint")
            os.replace(tmp_path, fp32)
        prune_cache(folder, model.config.name, key)
    if not quantize:
        return fp32
    recipe = hashlib.sha256(QUANTIZATION.encode()).hexdigest()[:8]
    int8 = folder / f"{model.config.name}-{key}{suffix}-int8-{recipe}.onnx"
    if not int8.exists():
        logger.info("quantizing the ONNX graph to int8 (once; cached in %s)", folder)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            tmp_path = Path(tmp) / "model.onnx"
            _quantize(fp32, tmp_path)
            os.replace(tmp_path, int8)
    return int8


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:  # a read-only cache: nothing is pruned there either
        pass


def prune_cache(folder: Path, name: str, current: str, keep: int = KEEP_VERSIONS) -> list[Path]:
    """Remove the cached graphs of model ``name`` but those of the ``keep`` checkpoint
    versions (fingerprints) used last, ``current`` among them; returns what it removed.

    Every retrained or retuned checkpoint gets a new fingerprint, and nothing else would
    ever remove the old one's graphs. A version's age is its newest file's modification
    time. Graphs of other model names are left alone; one in use by another process
    stays readable to it (ONNX Runtime has read it into memory). :func:`exported_graph`
    touches a graph each time it hands it out, so that modification times say when a
    version was used last."""
    pattern = re.compile(
        rf"{re.escape(name)}-([0-9a-f]{{16}})(?:-[a-z]+)?(?:-int8-[0-9a-f]{{8}})?\.onnx"
    )
    versions: dict[str, list[Path]] = {}
    for path in folder.glob(f"{name}-*.onnx"):
        match = pattern.fullmatch(path.name)
        if match:
            versions.setdefault(match.group(1), []).append(path)

    def last_used(key: str) -> float:
        times = []
        for path in versions[key]:
            try:
                times.append(path.stat().st_mtime)
            except FileNotFoundError:  # removed meanwhile by another process
                pass
        return max(times, default=0.0)

    older = sorted((k for k in versions if k != current), key=last_used, reverse=True)
    removed = []
    for key in older[max(0, keep - 1) :]:
        for path in versions[key]:
            try:
                path.unlink()
                removed.append(path)
            except FileNotFoundError:
                pass
    if removed:
        logger.info("removed %d cached graph(s) of older %s versions", len(removed), name)
    return removed


class OnnxHeads:
    """Runs :class:`InferenceHeads` through an ONNX Runtime session.

    Args:
        path: the exported graph (see :func:`exported_graph`).
        num_threads: ONNX Runtime's intra-op threads (default: torch's thread count, so
            one setting governs both).
    """

    def __init__(self, path: Path, num_threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.path = path
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        #: what the graph reads (an exporter drops inputs it does not use)
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __repr__(self) -> str:
        return f"OnnxHeads({self.path.name!r})"

    def __call__(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """The graph's :data:`OUTPUTS` for ``batch`` (tensors sharing ONNX Runtime's memory)."""
        feed = {name: batch[name].numpy() for name in self.inputs}
        return tuple(torch.from_numpy(o) for o in self.session.run(list(OUTPUTS), feed))
