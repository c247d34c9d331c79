"""Find things in the graph: embeddings, hybrid search and the subgraph behind each hit.

* :mod:`.encoder`: all-MiniLM-L6-v2 sentence vectors on ONNX Runtime, loaded lazily.
* :mod:`.embeddings`: vectors on chunks and entities at ingest, kept in step with the text.
* :mod:`.index`: exact cosine search and BM25, kept in kgbuild's cache per graph version.
* :mod:`.native`: Neo4j 5.11+'s own vector and full-text indexes, where the server has them.
* :mod:`.access`: what search reads from each store (NetworkX in memory, Cypher on Bolt).
* :mod:`.api`: :func:`search` and :class:`Searcher`; :mod:`.models` its pydantic results.

Example::

    import kgbuild

    hits = kgbuild.search("graph.json", "who founded Nokia", k=5, expand=1)
    for hit in hits.results:
        print(hit.kind, hit.score, hit.document, hit.start, hit.end, hit.text[:80])
"""

from __future__ import annotations

import sys
import types
from typing import Any

from kgbuild.search.api import (
    MAX_K,
    MAX_QUERY_CHARS,
    InvalidQuery,
    NoEmbeddings,
    Searcher,
    search,
)
from kgbuild.search.models import (
    EntityRef,
    Evidence,
    MentionRef,
    RelationRef,
    SearchResult,
    SearchResults,
    Subgraph,
)

__all__ = [
    "MAX_K",
    "MAX_QUERY_CHARS",
    "EntityRef",
    "Evidence",
    "InvalidQuery",
    "MentionRef",
    "NoEmbeddings",
    "RelationRef",
    "SearchResult",
    "SearchResults",
    "Searcher",
    "Subgraph",
    "search",
]


class _CallableModule(types.ModuleType):
    """``kgbuild.search`` is this package and :func:`~kgbuild.search.api.search` at once:
    ``kgbuild.search(store, "text")`` calls the function, ``kgbuild.search.Searcher``
    reads the package."""

    def __call__(self, *args: Any, **kwargs: Any) -> SearchResults:
        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
