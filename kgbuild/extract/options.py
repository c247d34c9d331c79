"""How the extractor runs: one typed options object, its environment fallbacks and values.

:class:`ExtractorOptions` is what :class:`~kgbuild.pipeline.builder.BuildConfig` holds
(``BuildConfig(extractor=ExtractorOptions(backend="torch"))``), what the CLI fills from
``--model``, ``--backend``, ``--int8`` and ``--relation-labels``, and what
:func:`kgbuild.extract.load_extractor` takes. A field left at None is read from its
environment variable when the options are :meth:`~ExtractorOptions.resolved`, else
takes its default. Nothing here imports torch: the model id of a checkpoint (which the
pipeline compares before it decides to load anything) is known without it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL_NAME",
    "ENVIRONMENT",
    "RELATION_LABEL_LAYOUTS",
    "Backend",
    "ExtractorOptions",
    "LayoutName",
    "default_model_dir",
    "checkpoint_model_id",
    "model_id_of",
]

#: The checkpoint shipped inside kgbuild (``kgbuild/models/<name>``): what ``model`` None loads.
DEFAULT_MODEL_NAME = "kgbuild-relex-minilm"


def default_model_dir() -> Path:
    """Folder of the checkpoint shipped with kgbuild (kgbuild/models/<name>)."""
    return Path(__file__).resolve().parent.parent / "models" / DEFAULT_MODEL_NAME


#: What runs the encoder and scoring heads: ONNX Runtime (``onnx``; the graph exported
#: once and cached), eager PyTorch (``torch``), or ``auto`` (ONNX Runtime when it is
#: installed and the export works, else torch).
Backend = Literal["auto", "onnx", "torch"]
BACKENDS: tuple[str, ...] = get_args(Backend)

#: How relation labels reach the model, by the name of the layout (the registry:
#: :mod:`kgbuild.extract.inference.layouts`). ``hybrid`` (default): the labels that fit
#: the first pass beside the entity labels are read with the text; the others, where a
#: schema has more, are appended after the text and read one way, so that one pass reads
#: any schema. ``prompt``: every relation label read with the text, in as many passes
#: over it as the labels need. The two agree on every schema that fits one pass.
LayoutName = Literal["hybrid", "prompt"]
RELATION_LABEL_LAYOUTS: tuple[str, ...] = get_args(LayoutName)

#: Values the layouts had before they were retired or renamed: what each means now.
_LAYOUT_ALIASES = {"auto": "hybrid"}
_RETIRED_LAYOUTS = ("oneway", "separate")

#: Field -> environment variable read for it when the field is None.
ENVIRONMENT = {
    "backend": "KGBUILD_BACKEND",
    "int8": "KGBUILD_QUANTIZE",
    "relation_labels": "KGBUILD_RELATION_LABELS",
}

_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


class ExtractorOptions(BaseModel):
    """How to load and run the extractor (not what it extracts: that is the schema).

    Example::

        ExtractorOptions()                                   # defaults and environment
        ExtractorOptions(backend="torch", int8=True)
        ExtractorOptions(model="runs/extractor", relation_labels="prompt")
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Path | None = Field(
        default=None,
        description="Checkpoint folder (config.json + model.safetensors); None: the model "
        "shipped with kgbuild.",
    )
    backend: Backend | None = Field(
        default=None,
        description="What runs the model: onnx, torch or auto (onnx when installed, else "
        "torch). None: $KGBUILD_BACKEND, else auto.",
    )
    int8: bool | None = Field(
        default=None,
        description="int8 weights (dynamic quantization): about 1.3x as fast on ONNX "
        "Runtime, within 0.3 F1 on CoNLL04 but 1.3-1.6 F1 lower on labels never trained "
        "on. None: $KGBUILD_QUANTIZE (1 or 0), else off.",
    )
    relation_labels: LayoutName | None = Field(
        default=None,
        description="How relation types reach the model: hybrid (one pass over each text "
        "whatever the number of types) or prompt (all with the text, in several passes when "
        "they do not fit one). None: $KGBUILD_RELATION_LABELS, else hybrid.",
    )
    threads: int | None = Field(
        default=None,
        ge=1,
        description="Threads for torch and ONNX Runtime; None: one per core (torch's "
        "default, or what the process set).",
    )

    @field_validator("backend", mode="before")
    @classmethod
    def _backend(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            if value not in BACKENDS:
                raise ValueError(f"unknown backend {value!r}: use {', '.join(BACKENDS)}")
        return value

    @field_validator("relation_labels", mode="before")
    @classmethod
    def _relation_labels(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            if value in _RETIRED_LAYOUTS:
                raise ValueError(
                    f"the {value!r} relation-label layout was retired (hybrid reads large "
                    "schemas in one pass with higher relation F1): use hybrid or prompt"
                )
            value = _LAYOUT_ALIASES.get(value, value)
            if value not in RELATION_LABEL_LAYOUTS:
                raise ValueError(
                    f"unknown relation-label layout {value!r}: use "
                    f"{', '.join(RELATION_LABEL_LAYOUTS)}"
                )
        return value

    @classmethod
    def combine(
        cls, options: ExtractorOptions | None, model: str | Path | None = None, **fields: Any
    ) -> ExtractorOptions:
        """``options`` (None: the defaults) with the fields given beside them: ``model``
        and any of ``fields`` that are not None override it; checked."""
        merged = (options or cls()).model_dump(exclude_none=True)
        merged.update({k: v for k, v in fields.items() if v is not None})
        if model is not None:
            merged["model"] = model
        return cls.model_validate(merged)

    def resolved(self) -> ExtractorOptions:
        """These options with ``backend``, ``int8`` and ``relation_labels`` decided: each
        None is read from its environment variable (:data:`ENVIRONMENT`), else takes its
        default (auto, off, hybrid).

        Raises:
            ValueError: an environment variable holds a value the field does not allow
                (the message names the variable).
        """
        update: dict[str, Any] = {}
        for name, variable in ENVIRONMENT.items():
            if getattr(self, name) is not None:
                continue
            raw = os.environ.get(variable, "").strip().lower()
            try:
                update[name] = _parse(name, raw) if raw else _DEFAULTS[name]
                update[name] = type(self).model_validate({name: update[name]}).__dict__[name]
            except ValueError as exc:
                raise ValueError(f"${variable}={raw!r}: {_reason(exc)}") from None
        return self.model_copy(update=update) if update else self

    def model_id(self, checkpoint_name: str) -> str:
        """The id the pipeline records for what this checkpoint extracts when loaded with
        these options (see :func:`model_id_of`)."""
        return model_id_of(checkpoint_name, bool(self.resolved().int8))


_DEFAULTS: dict[str, Any] = {"backend": "auto", "int8": False, "relation_labels": "hybrid"}


def _parse(name: str, raw: str) -> Any:
    if name != "int8":
        return raw
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError("use 1 (int8) or 0 (fp32)")


def _reason(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(str(e.get("msg", e)).removeprefix("Value error, ") for e in errors())
    return str(exc)


def model_id_of(checkpoint_name: str, int8: bool, version: str = "") -> str:
    """The ``model_id`` of a checkpoint named ``checkpoint_name``: int8 weights give other
    outputs, so they name another model. The relation-label layouts do not: ``hybrid``
    and ``prompt`` read every schema that fits one pass alike, and a store built with one
    is brought up to date with the other by ``--reextract``. ``version``: what tells two
    states of one checkpoint apart (see
    :func:`~kgbuild.extract.inference.lazy.checkpoint_model_id`), after an ``@``."""
    return f"{checkpoint_name}{'@' + version if version else ''}{'-int8' if int8 else ''}"


#: ``ExtractorConfig.name``'s default, for a config.json without "name".
_DEFAULT_CONFIG_NAME = "kgbuild-relex"


def checkpoint_model_id(directory: str | Path, *, int8: bool = False) -> str:
    """The ``model_id`` the checkpoint in ``directory`` has when loaded with ``int8``
    weights or not (see :func:`~kgbuild.extract.options.model_id_of`): its name, and
    after an ``@`` a digest of its ``config.json`` and ``training.json``, so that the
    same checkpoint retrained or with other thresholds has another id
    ("kgbuild-relex-minilm@1a2b3c4d").

    Read from those two small files alone (no torch).

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
    # the thresholds live in config.json and every training run writes a training.json
    # of its own: a retrained or retuned checkpoint gives other outputs under the same
    # name, and a store must see that to extract its documents again
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode())
    summary = Path(directory) / "training.json"
    if summary.is_file():
        digest.update(summary.read_bytes())
    return model_id_of(str(data.get("name", _DEFAULT_CONFIG_NAME)), int8, digest.hexdigest()[:8])
