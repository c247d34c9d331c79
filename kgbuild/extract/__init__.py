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


def load_extractor(model_dir: str | Path | None = None, *, quantize: bool = False) -> Extractor:
    """Load the joint extractor from ``model_dir`` (default: the shipped checkpoint)."""
    from kgbuild.extract.extractor import JointExtractor

    directory = Path(model_dir) if model_dir else default_model_dir()
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(
            f"no extractor checkpoint in {directory}: train one with `kgbuild train --config "
            "configs/extractor.json` or pass --model DIR"
        )
    return JointExtractor.from_pretrained(directory, quantize=quantize)
