"""The extractor: a joint zero-shot entity and relation model (see model.py).

``load_extractor()`` returns the checkpoint shipped inside kgbuild; any folder
written by ``kgbuild train`` (or ``save_pretrained``) loads the same way.
"""

from __future__ import annotations

from pathlib import Path

from kgbuild.extract.base import ExtractedEntity, ExtractedRelation, Extraction, Extractor

__all__ = [
    "DEFAULT_MODEL_NAME",
    "ExtractedEntity",
    "ExtractedRelation",
    "Extraction",
    "Extractor",
    "default_model_dir",
    "load_extractor",
]

DEFAULT_MODEL_NAME = "kgbuild-relex-minilm"


def default_model_dir() -> Path:
    """Folder of the checkpoint shipped with kgbuild (kgbuild/models/<name>)."""
    return Path(__file__).resolve().parent.parent / "models" / DEFAULT_MODEL_NAME


def load_extractor(
    model_dir: str | Path | None = None,
    *,
    quantize: bool | None = None,
    lazy: bool = False,
    backend: str | None = None,
    relation_label_mode: str | None = None,
) -> Extractor:
    """Load the joint extractor from ``model_dir`` (default: the shipped checkpoint).

    ``backend`` (``"auto"``, ``"onnx"``, ``"torch"``; default ``$KGBUILD_BACKEND``, else
    ``"auto"``) is what runs the model: see ``JointExtractor.from_pretrained``. ``quantize``
    (default: ``$KGBUILD_QUANTIZE``, else off) chooses int8 weights. ``relation_label_mode``
    (``"auto"``, ``"prompt"``, ``"hybrid"``, ``"oneway"``, ``"separate"``; default
    ``$KGBUILD_RELATION_LABELS``, else ``"auto"``): how relation labels reach the
    model, see ``JointExtractor``.

    ``lazy=True`` returns a :class:`~kgbuild.extract.lazy.LazyExtractor`: its ``model_id``
    is read from ``config.json`` now, and torch and the weights load on first use.

    Raises:
        FileNotFoundError: if the folder holds no checkpoint (checked at once, lazy or not).
    """
    from kgbuild.extract.lazy import LazyExtractor, checkpoint_model_id

    directory = Path(model_dir) if model_dir else default_model_dir()
    checkpoint_model_id(directory)  # a missing or broken config.json fails here, not later
    if lazy:
        return LazyExtractor(
            directory, quantize=quantize, backend=backend, relation_label_mode=relation_label_mode
        )
    from kgbuild.extract.extractor import JointExtractor

    return JointExtractor.from_pretrained(
        directory, quantize=quantize, backend=backend, relation_label_mode=relation_label_mode
    )
