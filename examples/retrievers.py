"""kgbuild's hybrid search as a retriever for neo4j-graphrag and for LlamaIndex.

Neither library is a dependency of kgbuild: each class is defined only when its library
is installed, against its documented interface for custom retrievers.

neo4j-graphrag (``pip install neo4j-graphrag``): a ``Retriever`` subclass whose
``get_search_results`` returns a ``RawSearchResult`` of ``neo4j.Record`` objects, which
its ``search`` formats into ``RetrieverResultItem`` (content for the LLM, metadata), so
it plugs into ``GraphRAG``::

    from neo4j_graphrag.generation import GraphRAG
    retriever = KgbuildGraphRAGRetriever("graph.json", expand=1)  # or a bolt:// URI
    rag = GraphRAG(retriever=retriever, llm=my_llm)
    rag.search(query_text="Who founded Nokia?", retriever_config={"top_k": 5})

LlamaIndex (``pip install llama-index-core``): a ``BaseRetriever`` whose ``_retrieve``
turns a ``QueryBundle`` into ``NodeWithScore`` objects holding ``TextNode``\\ s (text,
metadata with the document, offsets, entities and relations)::

    from llama_index.core.query_engine import RetrieverQueryEngine
    retriever = KgbuildLlamaIndexRetriever("graph.json", k=5)
    engine = RetrieverQueryEngine.from_args(retriever, llm=my_llm)
    engine.query("Who founded Nokia?")

Run this file to print what either retriever hands the LLM for a question (without
either library installed it uses kgbuild alone)::

    python examples/retrievers.py build/examples/graph.json "Who founded Nokia?"
"""

from __future__ import annotations

import sys
from typing import Any

from kgbuild.search import Searcher, SearchResult
from kgbuild.store import open_store


def context_of(hit: SearchResult) -> str:
    """What an LLM reads of one hit: where it is from, the text, the facts stated in it."""
    where = hit.document or ""
    if hit.page is not None:
        where += f", page {hit.page}"
    if hit.section:
        where += f", section {hit.section}"
    lines = [f"[{where}, characters {hit.start}-{hit.end}]", hit.text.strip()]
    facts = hit.relations + (hit.subgraph.relations if hit.subgraph else [])
    seen = set()
    for r in facts:
        if r.id not in seen:
            seen.add(r.id)
            lines.append(f"Fact: {r.head} -{r.type}-> {r.tail} (score {r.score:.2f})")
    return "\n".join(lines)


def metadata_of(hit: SearchResult) -> dict[str, Any]:
    """Plain metadata of a hit (ids, document, offsets, entity names)."""
    return {
        "kind": hit.kind,
        "id": hit.id,
        "score": hit.score,
        "document": hit.document,
        "start": hit.start,
        "end": hit.end,
        "page": hit.page,
        "section": hit.section,
        "entities": [e.name for e in hit.entities],
    }


class _KgbuildSearch:
    """An open store and its searcher, shared by both retrievers."""

    def __init__(self, store: str, *, expand: int = 0, **credentials: str | None) -> None:
        self.store = open_store(store, **credentials)
        self.store.open()
        self.searcher = Searcher(self.store)
        self.expand = expand

    def hits(self, text: str, k: int) -> list[SearchResult]:
        return self.searcher.search(text, k, expand=self.expand).results

    def close(self) -> None:
        self.store.close()


try:  # neo4j-graphrag
    import neo4j
    from neo4j_graphrag.retrievers.base import Retriever
    from neo4j_graphrag.types import RawSearchResult, RetrieverResultItem
except ImportError:  # not installed: the class is not defined
    pass
else:

    class KgbuildGraphRAGRetriever(Retriever):
        """neo4j-graphrag retriever over a kgbuild graph (NetworkX file or Neo4j)."""

        VERIFY_NEO4J_VERSION = False  # any store kgbuild reads; no vector index needed

        def __init__(self, store: str, *, expand: int = 0, **credentials: str | None) -> None:
            super().__init__(driver=None)  # type: ignore[arg-type]  # kgbuild holds the store
            self._search = _KgbuildSearch(store, expand=expand, **credentials)

        def get_search_results(self, query_text: str, top_k: int = 5) -> RawSearchResult:
            hits = self._search.hits(query_text, top_k)
            records = [
                neo4j.Record({"content": context_of(h), "metadata": metadata_of(h)}) for h in hits
            ]
            return RawSearchResult(records=records, metadata={"query": query_text})

        def default_record_formatter(self, record: neo4j.Record) -> RetrieverResultItem:
            return RetrieverResultItem(content=record["content"], metadata=record["metadata"])


try:  # LlamaIndex
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
except ImportError:
    pass
else:

    class KgbuildLlamaIndexRetriever(BaseRetriever):
        """LlamaIndex retriever over a kgbuild graph (NetworkX file or Neo4j)."""

        def __init__(
            self, store: str, *, k: int = 5, expand: int = 0, **credentials: str | None
        ) -> None:
            super().__init__()
            self._search = _KgbuildSearch(store, expand=expand, **credentials)
            self._k = k

        def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
            return [
                NodeWithScore(
                    node=TextNode(id_=h.id, text=context_of(h), metadata=metadata_of(h)),
                    score=h.score,
                )
                for h in self._search.hits(query_bundle.query_str, self._k)
            ]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python examples/retrievers.py STORE QUESTION", file=sys.stderr)
        return 2
    search = _KgbuildSearch(argv[0], expand=1)
    try:
        for hit in search.hits(argv[1], 3):
            print(context_of(hit), end="\n\n")
    finally:
        search.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
