"""``kgbuild search``: the chunks and entities that answer a query, with their evidence.

::

    kgbuild search graph.json "who founded Nokia"               best 10 hits, as text
    kgbuild search bolt://localhost:7687 "wind-turbine suppliers" --k 5 --json
    kgbuild search graph.json "Nokia" --expand 1                 + the one-hop subgraph

See :mod:`kgbuild.search.api`.
"""

from __future__ import annotations

import textwrap
from typing import Annotated

import typer

from kgbuild.cli.common import echo_json, open_store_checked, remember_secret, user_errors
from kgbuild.cli.options import DatabaseOption, JsonOption, PasswordOption, UserOption

__all__ = ["register", "search"]


def search(
    store: Annotated[str, typer.Argument(help="The graph: a .json file or a Neo4j URI.")],
    text: Annotated[str, typer.Argument(help="What to look for, in words.")],
    k: Annotated[int, typer.Option("--k", "-k", help="How many hits (1 to 1000).")] = 10,
    expand: Annotated[
        int,
        typer.Option(
            "--expand",
            help="1: add the one-hop subgraph around each hit's entities (and rank the "
            "chunks with their relations' evidence too).",
        ),
    ] = 0,
    kind: Annotated[
        str,
        typer.Option("--kind", help="chunk, entity or both (chunk,entity)."),
    ] = "chunk,entity",
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="hybrid (vector + keyword, fused; keyword only on a graph ingested without "
            "--embeddings), vector or keyword.",
        ),
    ] = "hybrid",
    user: UserOption = None,
    password: PasswordOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Find the chunks and entities that best answer a query: vector similarity and
    keywords (BM25), fused; each hit with its document, offsets, entities and relations."""
    remember_secret(password)
    with user_errors():
        from kgbuild.search.api import Searcher, check_query

        check_query(text, k, expand)  # before the store is opened
        kinds = [part.strip() for part in kind.split(",") if part.strip()]
        graph_store = open_store_checked(
            store, user=user, password=password, database=database, must_exist=True
        )
        with graph_store:
            found = Searcher(graph_store).search(
                text,
                k,
                expand=expand,
                kinds=kinds,
                mode=mode,  # type: ignore[arg-type]
            )
    if json_output:
        echo_json(found.model_dump(mode="json"))
        return
    if not found.results:
        typer.echo("no hits")
    for rank, hit in enumerate(found.results, start=1):
        where = hit.document or hit.document_id or "?"
        if hit.page is not None:
            where += f" p.{hit.page}"
        if hit.section:
            where += f" § {hit.section}"
        head = f"{rank}. [{hit.kind}] {hit.score:.4f}  {where}  [{hit.start}:{hit.end}]"
        if hit.kind == "entity":
            head += f"  {' '.join(hit.entities[0].name.split())} ({hit.entities[0].type})"
        typer.echo(head)
        snippet = " ".join(hit.text.split())
        typer.echo(textwrap.indent(textwrap.fill(snippet[:300], 96), "   "))
        for r in hit.relations[:5]:
            typer.echo(f"   {r.head} -{r.type}-> {r.tail} ({r.score:.2f})")
        if hit.subgraph is not None and hit.subgraph.relations:
            typer.echo(f"   one hop: {len(hit.subgraph.relations)} relation(s)")
            for r in hit.subgraph.relations[:5]:
                typer.echo(f"     {r.head} -{r.type}-> {r.tail} ({r.score:.2f})")


def register(app: typer.Typer) -> None:
    """Add ``search`` to the ``kgbuild`` app."""
    app.command(name="search")(search)
