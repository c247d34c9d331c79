"""Which extractor the pipeline uses: a checkpoint, ``$KGBUILD_EXTRACTOR``, or the shipped model.

The environment variable ``KGBUILD_EXTRACTOR`` replaces the default with any class that
follows :class:`~kgbuild.extract.base.Extractor`, named as ``package.module:Class`` or
``path/to/file.py:Class``. The builder, the Ray engine's workers, the one-call API and
the CLI all choose their extractor here.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

from kgbuild.extract.base import Extractor
from kgbuild.extract.options import ExtractorOptions

__all__ = ["EXTRACTOR_ENV", "import_extractor", "load_pipeline_extractor"]

#: Environment variable naming an extractor class to use instead of the shipped model.
EXTRACTOR_ENV = "KGBUILD_EXTRACTOR"


def load_pipeline_extractor(options: ExtractorOptions | str | Path | None = None) -> Extractor:
    """The extractor the pipeline and CLI use (``options`` a path: a checkpoint folder).

    ``options.model`` given: the checkpoint in that folder. Otherwise the class named by
    ``$KGBUILD_EXTRACTOR`` if set, else the default checkpoint shipped with kgbuild.
    A checkpoint comes as a :class:`~kgbuild.extract.inference.lazy.LazyExtractor`: torch
    and the weights load when a document first needs the model, so an ingest where
    nothing changed never loads them. The other fields of ``options`` (backend, int8,
    relation-label layout, threads) say how it runs; an extractor class from
    ``$KGBUILD_EXTRACTOR`` takes none of them.
    """
    if isinstance(options, str | Path):
        options = ExtractorOptions(model=Path(options))
    options = options or ExtractorOptions()
    spec = os.environ.get(EXTRACTOR_ENV, "").strip()
    if options.model is None and spec:
        return import_extractor(spec)()
    from kgbuild.extract import load_extractor

    return load_extractor(options=options, lazy=True)


def import_extractor(spec: str) -> type:
    """``module:Class`` or ``file.py:Class`` -> the class."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name:
        raise ValueError(
            f"{EXTRACTOR_ENV}={spec!r}: expected 'package.module:Class' or 'path/file.py:Class'"
        )
    if target.endswith(".py"):
        path = Path(target).resolve()
        if not path.is_file():
            raise ValueError(f"{EXTRACTOR_ENV}={spec!r}: no such file {path}")
        module_name = f"_kgbuild_extractor_{path.stem}"
        module = sys.modules.get(module_name)
        if module is None:
            loader_spec = importlib.util.spec_from_file_location(module_name, path)
            assert loader_spec is not None and loader_spec.loader is not None
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[module_name] = module
            loader_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise ValueError(f"{EXTRACTOR_ENV}={spec!r}: cannot import {target}: {exc}") from exc
    try:
        return getattr(module, name)
    except AttributeError:
        raise ValueError(f"{EXTRACTOR_ENV}={spec!r}: {target} has no {name!r}") from None
