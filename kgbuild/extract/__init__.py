"""The extractor: a joint zero-shot entity and relation model.

Folders by role: :mod:`.model` (the network, its adapters and input batches),
:mod:`.inference` (running it: the extractor, relation-label layouts, ONNX Runtime, lazy
loading) and :mod:`.training` (data readers, sampling, losses, the loop, thresholds,
evaluation); :mod:`.options` says how it runs, :mod:`.base` what any extractor returns.

``load_extractor()`` returns the checkpoint shipped inside kgbuild; any folder
written by ``kgbuild train`` (or ``save_pretrained``) loads the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kgbuild.extract.base import ExtractedEntity, ExtractedRelation, Extraction, Extractor
from kgbuild.extract.options import DEFAULT_MODEL_NAME, ExtractorOptions, default_model_dir

__all__ = [
    "DEFAULT_MODEL_NAME",
    "ExtractedEntity",
    "ExtractedRelation",
    "Extraction",
    "Extractor",
    "ExtractorOptions",
    "default_model_dir",
    "load_extractor",
]


def load_extractor(
    model_dir: str | Path | None = None,
    *,
    options: ExtractorOptions | None = None,
    lazy: bool = False,
    **fields: Any,
) -> Extractor:
    """Load the joint extractor from ``model_dir`` (default: ``options.model``, else the
    shipped checkpoint).

    ``options`` (:class:`~kgbuild.extract.options.ExtractorOptions`) says how it runs:
    ``backend``, ``int8``, ``relation_labels``, ``threads``; ``fields`` override single
    options (``load_extractor(backend="torch")``). Options left None are read from their
    environment variables (``KGBUILD_BACKEND``, ``KGBUILD_QUANTIZE``,
    ``KGBUILD_RELATION_LABELS``), else take their defaults.

    ``lazy=True`` returns a :class:`~kgbuild.extract.inference.lazy.LazyExtractor`: its
    ``model_id`` is read from ``config.json`` now, and torch and the weights load on
    first use.

    Raises:
        FileNotFoundError: if the folder holds no checkpoint (checked at once, lazy or not).
        ValueError: an option (or its environment variable) has a value it does not allow.
    """
    from kgbuild.extract.inference.lazy import LazyExtractor

    options = ExtractorOptions.combine(options, model_dir, **fields)
    extractor = LazyExtractor(options)  # a missing or broken config.json fails here
    return extractor if lazy else extractor.load()
