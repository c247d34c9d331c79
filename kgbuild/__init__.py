"""kgbuild: documents in, a provenance-rich knowledge graph out.

The public API, imported lazily so that ``import kgbuild`` stays fast (no torch)::

    import kgbuild

    summary = kgbuild.build("docs/", store="graph.json")        # files -> graph
    found = kgbuild.extract_text("Ada Lovelace was born in London.")  # text -> entities, triplets
    builder = kgbuild.KnowledgeGraphBuilder("graph.json", entity_types=["person"])
    kgbuild.view("graph.json").save("graph.html")                 # graph -> interactive page
    kgbuild.explain("graph.json", "Nordwind")                      # why an entity is what it is
    kgbuild.search("graph.json", "who founded Nokia", k=5)         # chunks and entities, hybrid
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kgbuild._version import __version__

#: Public name -> module that defines it (imported on first access).
_LAZY = {
    "build": "kgbuild.pipeline.api",
    "extract_text": "kgbuild.pipeline.api",
    "TextExtraction": "kgbuild.pipeline.api",
    "KnowledgeGraphBuilder": "kgbuild.pipeline.builder",
    "BuildConfig": "kgbuild.pipeline.config",
    "IngestSummary": "kgbuild.pipeline.summary",
    "Schema": "kgbuild.schema",
    "open_store": "kgbuild.store",
    "view": "kgbuild.viewer",
    "GraphView": "kgbuild.viewer",
    "explain": "kgbuild.resolve.explain",
    "Overrides": "kgbuild.resolve.overrides",
    "search": "kgbuild.search",  # the package itself, callable: kgbuild.search(store, text)
    "SearchResults": "kgbuild.search.models",
}

__all__ = [
    "BuildConfig",
    "GraphView",
    "IngestSummary",
    "KnowledgeGraphBuilder",
    "Overrides",
    "Schema",
    "TextExtraction",
    "__version__",
    "build",
    "explain",
    "extract_text",
    "open_store",
    "search",
    "SearchResults",
    "view",
]

if TYPE_CHECKING:
    from kgbuild import search
    from kgbuild.pipeline.api import TextExtraction, build, extract_text
    from kgbuild.pipeline.builder import KnowledgeGraphBuilder
    from kgbuild.pipeline.config import BuildConfig
    from kgbuild.pipeline.summary import IngestSummary
    from kgbuild.resolve.explain import explain
    from kgbuild.resolve.overrides import Overrides
    from kgbuild.schema import Schema
    from kgbuild.search.models import SearchResults
    from kgbuild.store import open_store
    from kgbuild.viewer import GraphView, view


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kgbuild' has no attribute {name!r}")
    import importlib

    if module == f"kgbuild.{name}":  # a sub-package that is also a function (search)
        return importlib.import_module(module)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
