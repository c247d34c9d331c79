"""An extractor checkpoint that loads only when it is first needed.

Loading the joint model (torch, transformers, the weights) takes seconds, and an
ingest where nothing changed never needs it: the pipeline compares content
hashes and model ids, and the model id is read from the checkpoint's
``config.json`` without importing torch. :class:`LazyExtractor` follows the
:class:`~kgbuild.extract.base.Extractor` protocol and builds the real
:class:`~kgbuild.extract.extractor.JointExtractor` on the first call that needs
the model or its tokenizer (``token_spans``, ``max_text_tokens``, ``extract``, or
any other attribute of the loaded extractor).

This module imports neither torch nor transformers.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgbuild.extract.base import Extraction

if TYPE_CHECKING:
    from kgbuild.extract.extractor import JointExtractor
    from kgbuild.schema import RelationConstraint

__all__ = ["LazyExtractor", "checkpoint_model_id"]

logger = logging.getLogger(__name__)

#: ``ExtractorConfig.name``'s default (kgbuild.extract.model), for a config.json without "name".
_DEFAULT_CONFIG_NAME = "kgbuild-relex"


#: Environment variable choosing the extractor's backend (see ``resolve_backend``).
BACKEND_ENV = "KGBUILD_BACKEND"
#: Environment variable choosing int8 (1) or fp32 (0) weights (see ``resolve_quantize``).
QUANTIZE_ENV = "KGBUILD_QUANTIZE"
#: Environment variable choosing how relation labels reach the model (see
#: ``resolve_relation_label_mode``).
RELATION_LABELS_ENV = "KGBUILD_RELATION_LABELS"
#: The ways relation labels can reach the model (see ``resolve_relation_label_mode``).
RELATION_LABEL_MODES = ("auto", "prompt", "hybrid", "oneway", "separate")


def resolve_backend(backend: str | None) -> str:
    """``backend``, else ``$KGBUILD_BACKEND``, else ``"auto"``; checked."""
    backend = backend or os.environ.get(BACKEND_ENV, "").strip().lower() or "auto"
    if backend not in ("auto", "onnx", "torch"):
        raise ValueError(f"unknown backend {backend!r}: use 'auto', 'onnx' or 'torch'")
    return backend


def resolve_relation_label_mode(mode: str | None) -> str:
    """``mode``, else ``$KGBUILD_RELATION_LABELS``, else ``"auto"``; checked.

    ``"auto"`` (default): ``"prompt"`` where every label fits one pass beside the text,
    else ``"hybrid"``. ``"prompt"``: relation labels are read with the text (the joint
    layout), in several passes when they do not fit one. ``"hybrid"``: the joint
    layout's first pass (the entity labels and the first group of relation labels in the
    prompt), with the other relation labels appended after the text and read one way,
    so that a large schema costs one text pass: on 96 Re-DocRED relations 2.1x the
    joint layout's words/s, with relation F1 up, not down (README,
    ``benchmarks/relation_label_modes.py``). ``"oneway"``: every relation label
    appended, the text read with its entity labels only. ``"separate"``: embedded once
    per schema apart from the text (checkpoints with a relation-label adapter, as the
    shipped one). The last two are faster still but find fewer relations of labels the
    model never trained on, so they are opt-in.
    """
    mode = mode or os.environ.get(RELATION_LABELS_ENV, "").strip().lower() or "auto"
    if mode not in RELATION_LABEL_MODES:
        raise ValueError(
            f"relation_label_mode must be one of {', '.join(RELATION_LABEL_MODES)}, not {mode!r} "
            f"(argument or ${RELATION_LABELS_ENV})"
        )
    return mode


def resolve_quantize(quantize: bool | None) -> bool:
    """Whether the extractor runs with int8 weights: ``quantize`` if given, else
    ``$KGBUILD_QUANTIZE`` (1 or 0), else fp32.

    On ONNX Runtime int8 (per-channel) costs 0.26 / 0.48 entity / relation F1 on CoNLL04
    and runs about 1.3x as fast, but 1.3 / 1.6 on re3d, labels it never trained on, so
    it is opt-in (benchmarks/backend_quality.py, benchmarks/zero_shot.py). Decided
    without importing torch or ONNX Runtime, so a lazy extractor knows its ``model_id``.
    """
    if quantize is not None:
        return quantize
    env = os.environ.get(QUANTIZE_ENV, "").strip().lower()
    if env:
        if env not in ("0", "1", "true", "false", "yes", "no"):
            raise ValueError(f"${QUANTIZE_ENV}={env!r}: use 1 (int8) or 0 (fp32)")
        return env in ("1", "true", "yes")
    return False


def checkpoint_model_id(
    directory: str | Path, *, quantize: bool | None = False, relation_label_mode: str = "auto"
) -> str:
    """The ``model_id`` that ``JointExtractor.from_pretrained(directory, quantize=...,
    relation_label_mode=...)`` will have (``quantize=None``: see :func:`resolve_quantize`).

    Read from ``directory/config.json`` alone (no torch).

    Raises:
        FileNotFoundError: if the folder holds no ``config.json``.
        ValueError: if ``config.json`` is not a JSON object.
    """
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"no extractor checkpoint in {Path(directory)}: train one with `kgbuild train "
            "--config configs/extractor.json` or pass --model DIR"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    name = str(data.get("name", _DEFAULT_CONFIG_NAME))
    return extractor_model_id(name, resolve_quantize(quantize), relation_label_mode)


def extractor_model_id(name: str, quantize: bool, relation_label_mode: str) -> str:
    """The ``model_id`` of a checkpoint named ``name`` as loaded: int8 weights and a
    forced ``oneway`` or ``separate`` layout give other outputs for the same schema, so
    they name another model (``auto``, the default, and ``hybrid``, which it picks for
    schemas that need several joint passes, keep the name, as does ``prompt``: they read
    every schema that fits one pass alike)."""
    layout = f"-{relation_label_mode}" if relation_label_mode in ("oneway", "separate") else ""
    return f"{name}{'-int8' if quantize else ''}{layout}"


class LazyExtractor:
    """A :class:`~kgbuild.extract.extractor.JointExtractor` checkpoint, loaded on first use.

    ``model_id`` is known at once (from ``config.json``); everything else loads the
    model first (thread-safe, once). Attributes of the loaded extractor (``model``,
    ``config``, ``predict``, ...) are reachable through this object too.

    Example::

        extractor = LazyExtractor()          # the shipped checkpoint; nothing loaded yet
        extractor.model_id                   # 'kgbuild-relex-minilm', still nothing loaded
        extractor.extract(["Tim Cook leads Apple."], ["person", "organization"], [])
        extractor.loaded                     # True

    Args:
        directory: A checkpoint folder (default: the one shipped with kgbuild).
        quantize: int8 weights (None: ``$KGBUILD_QUANTIZE``, else fp32; see
            :func:`resolve_quantize` and ``JointExtractor.from_pretrained``).
        num_threads: torch threads to set when loading (None: torch's default).
        backend: what runs the model, ``"auto"``, ``"onnx"`` or ``"torch"`` (None:
            ``$KGBUILD_BACKEND``, else auto; see ``JointExtractor.from_pretrained``).
        relation_label_mode: ``"auto"``, ``"prompt"``, ``"hybrid"``, ``"oneway"`` or
            ``"separate"`` (None: ``$KGBUILD_RELATION_LABELS``, else auto; see
            :func:`resolve_relation_label_mode`).
    """

    def __init__(
        self,
        directory: str | Path | None = None,
        *,
        quantize: bool | None = None,
        num_threads: int | None = None,
        backend: str | None = None,
        relation_label_mode: str | None = None,
    ) -> None:
        from kgbuild.extract import default_model_dir

        self.directory = Path(directory) if directory else default_model_dir()
        self.backend = backend
        self.quantize = resolve_quantize(quantize)  # decided now: model_id needs it
        self.relation_label_mode = resolve_relation_label_mode(relation_label_mode)
        self.num_threads = num_threads
        self.model_id: str = checkpoint_model_id(
            self.directory, quantize=self.quantize, relation_label_mode=self.relation_label_mode
        )
        self._extractor: JointExtractor | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:
        """Pickled unloaded (e.g. to Ray workers, which load the weights themselves).

        The shipped checkpoint travels as "the default", so a worker machine loads the
        copy inside its own kgbuild installation.
        """
        from kgbuild.extract import default_model_dir

        default = self.directory.resolve() == default_model_dir().resolve()
        return {
            "directory": None if default else self.directory,
            "quantize": self.quantize,
            "num_threads": self.num_threads,
            "backend": self.backend,
            "relation_label_mode": self.relation_label_mode,
        }

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(
            state["directory"],
            quantize=state["quantize"],
            num_threads=state["num_threads"],
            backend=state.get("backend"),
            relation_label_mode=state.get("relation_label_mode"),
        )  # type: ignore[arg-type,misc]

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded."""
        return self._extractor is not None

    def load(self) -> JointExtractor:
        """The loaded extractor (loading it now if it is not yet).

        Raises:
            RuntimeError: if the loaded model's id differs from the one promised by
                ``config.json`` (the folder changed between the two reads).
        """
        if self._extractor is None:
            with self._lock:
                if self._extractor is None:
                    from kgbuild.extract.extractor import JointExtractor

                    t0 = time.perf_counter()
                    extractor = JointExtractor.from_pretrained(
                        self.directory,
                        quantize=self.quantize,
                        num_threads=self.num_threads,
                        backend=self.backend,
                        relation_label_mode=self.relation_label_mode,
                    )
                    if extractor.model_id != self.model_id:
                        raise RuntimeError(
                            f"extractor in {self.directory} loaded as {extractor.model_id!r}, "
                            f"but its config.json named {self.model_id!r}: did the folder change?"
                        )
                    logger.info(
                        "loaded extractor %s from %s in %.1f s",
                        self.model_id,
                        self.directory,
                        time.perf_counter() - t0,
                    )
                    self._extractor = extractor
        return self._extractor

    # -- Extractor protocol -------------------------------------------------------------------

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in ``text`` (loads the model)."""
        return self.load().token_spans(text)

    def max_text_tokens(self, entity_types: list[str], relation_types: list[str]) -> int:
        """How many text tokens fit in one window beside these labels (loads the model)."""
        return self.load().max_text_tokens(entity_types, relation_types)

    def extract(
        self,
        texts: list[str],
        entity_types: list[str],
        relation_types: list[str],
        *,
        entity_threshold: float | None = None,
        relation_threshold: float | None = None,
        symmetric_relations: list[str] | None = None,
        relation_constraints: Mapping[str, RelationConstraint] | None = None,
    ) -> list[Extraction]:
        """``JointExtractor.extract`` (loads the model)."""
        return self.load().extract(
            texts,
            entity_types,
            relation_types,
            entity_threshold=entity_threshold,
            relation_threshold=relation_threshold,
            symmetric_relations=symmetric_relations,
            relation_constraints=relation_constraints,
        )

    def __getattr__(self, name: str) -> Any:
        # Only called for names this object lacks: the loaded extractor's attributes.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.load(), name)

    def __repr__(self) -> str:
        state = "loaded" if self.loaded else "not loaded"
        return f"LazyExtractor({str(self.directory)!r}, model_id={self.model_id!r}, {state})"
