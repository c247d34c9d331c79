"""See the graph: an interactive, offline HTML page of entities, relations and their evidence.

::

    import kgbuild

    page = kgbuild.view("graph.json")                  # the 1,000 most mentioned entities
    page = kgbuild.view("graph.json", entity="Marie Curie", hops=2)
    page.save("graph.html")                            # one file, works offline
    page                                               # in Jupyter: shown inline

The same page comes from a NetworkX file and from a Neo4j (Bolt) server: one query layer
(:mod:`kgbuild.viewer.data`) reads the store, one renderer (:mod:`kgbuild.viewer.render`)
writes the page, drawn by the vendored vis-network library.

The page opens on the entities that have relations, laid out in clusters (the Louvain
communities ``data`` computes) that settle once and then stay still, with the names of
the most connected ones; the entities without relations are behind a switch that says
how many there are. Clicking an entity centres it and fades what is more than one or two
relations away; filters by entity type, relation type and document. A page with more than
:attr:`PageOptions.large` connected entities opens on the most connected
:attr:`PageOptions.open` and their clusters, and says so, with buttons to show more.
"""

from __future__ import annotations

import html
import logging
import os
from pathlib import Path
from typing import Any

from kgbuild.store.base import GraphStore
from kgbuild.viewer.data import Selection, ViewError, ViewGraph, load_view_graph
from kgbuild.viewer.render import PageOptions, render_html

__all__ = ["GraphView", "PageOptions", "Selection", "ViewError", "ViewGraph", "view"]

logger = logging.getLogger(__name__)


class GraphView:
    """A rendered page: :meth:`save` writes it, Jupyter shows it inline.

    ``graph`` is what the page shows (a :class:`ViewGraph`: entities, relations, their
    evidence, and how many the limit left out); ``html`` is the page itself, opened as
    ``options`` say (:class:`PageOptions`: when a graph counts as large, and how much of
    it the page opens on).
    """

    def __init__(
        self, graph: ViewGraph, title: str | None = None, options: PageOptions | None = None
    ) -> None:
        self.graph = graph
        self.html = render_html(graph, title, options)

    def __repr__(self) -> str:
        g = self.graph
        return (
            f"<GraphView {g.store}: {len(g.entities)} entities, {len(g.relations)} relations, "
            f"{g.entities_left_out} entities left out>"
        )

    def save(self, path: str | os.PathLike[str] = "graph.html") -> Path:
        """Write the page to ``path`` (folders are created); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.html, encoding="utf-8")
        logger.info("wrote %s (%d bytes)", target, len(self.html.encode("utf-8")))
        return target

    def _repr_html_(self) -> str:
        """The page in a sandboxed iframe (Jupyter, VS Code notebooks)."""
        return (
            '<iframe sandbox="allow-scripts" style="width:100%;height:640px;border:1px solid '
            f'#ddd" srcdoc="{html.escape(self.html, quote=True)}"></iframe>'
        )


def view(
    store: GraphStore | str | os.PathLike[str],
    *,
    query: str | None = None,
    parameters: dict[str, Any] | None = None,
    entity: str | None = None,
    hops: int = 1,
    type: str | None = None,  # noqa: A002 - the CLI's --type
    limit: int = 1000,
    max_evidence: int = 50,
    title: str | None = None,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
) -> GraphView:
    """An interactive page of (part of) the graph in ``store``.

    Args:
        store: An open :class:`GraphStore`, or what :func:`kgbuild.open_store` takes (a
            ``.json`` path or a ``bolt://`` / ``neo4j://`` URI), opened and closed here.
        query: Show the entities (and relationships) a read Cypher query returns: any
            entity node, relationship, or ``entity:`` / ``rel:`` id in its rows. With
            relationships in the rows only those are drawn; else every relation between
            the entities. ``parameters`` are its ``$parameters``.
        entity: Show this entity (name, else a name or alias ignoring case) and the
            entities within ``hops`` relations of it.
        type: Show the entities of one type (the phrase, e.g. ``"person"``).
        limit: At most this many entities: the most mentioned (for ``entity``, the
            nearest first). How many were left out is on the page and in ``graph``.
        max_evidence: Mentions per entity and evidence per relation put on the page.
        title: The page title (default: the store's name).
        user, password, database: Neo4j credentials, as for ``open_store``.

    Raises :class:`ViewError` (a ``ValueError``) for an unknown entity or type, a query
    that returns no entities, or more than one of ``query`` / ``entity`` / ``type``.
    """
    chosen = [name for name, v in (("query", query), ("entity", entity), ("type", type)) if v]
    if len(chosen) > 1:
        raise ViewError(f"give at most one of query, entity, type (got {', '.join(chosen)})")
    selection = Selection(
        query=query,
        parameters=parameters or {},
        entity=entity,
        hops=hops,
        type=type,
        limit=limit,
        max_evidence=max_evidence,
    )
    if isinstance(store, GraphStore):
        graph = load_view_graph(store, selection)
    else:
        from kgbuild.store import open_store

        path = os.fspath(store)
        if "://" not in path and not Path(path).is_file():
            raise FileNotFoundError(f"store {path} does not exist (build one with kgbuild ingest)")
        with open_store(path, user=user, password=password, database=database) as opened:
            graph = load_view_graph(opened, selection)
    return GraphView(graph, title)
