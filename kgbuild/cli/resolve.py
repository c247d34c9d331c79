"""``kgbuild explain``: why an entity is what it is.

::

    kgbuild explain graph.json "Nordwind"          aliases, merges with rule and score,
                                                   the mentions behind each
    kgbuild explain bolt://localhost:7687 "Paris" --type location --json

See :mod:`kgbuild.resolve.explain`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from kgbuild.cli.common import CLIError, echo_json, open_store_checked, remember_secret, user_errors
from kgbuild.cli.options import DatabaseOption, JsonOption, PasswordOption, UserOption

__all__ = ["explain", "register"]

StoreArgument = Annotated[str, typer.Argument(help="The graph: a .json file or a Neo4j URI.")]
TypeOption = Annotated[
    str | None,
    typer.Option("--type", "-t", metavar="TYPE", help="Only entities of this type."),
]


def explain(
    store: StoreArgument,
    name: Annotated[str, typer.Argument(help="The entity's name or any alias (any case).")],
    entity_type: TypeOption = None,
    user: UserOption = None,
    password: PasswordOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show why an entity is what it is: its aliases, each merge with its rule, score and
    evidence, and the mentions (document, character offsets) behind each."""
    remember_secret(password)
    with user_errors():
        from kgbuild.resolve.explain import explain_entity, render_explanation

        graph_store = open_store_checked(
            store, user=user, password=password, database=database, must_exist=True
        )
        with graph_store:
            found = explain_entity(graph_store, name, entity_type)
        if not found:
            kind = f" of type {entity_type!r}" if entity_type else ""
            raise CLIError(f"no entity{kind} is called {name!r} in {store}")
    if json_output:
        echo_json({"entities": [e.model_dump(mode="json") for e in found]})
        return
    typer.echo("\n\n".join(render_explanation(e) for e in found))


def register(app: typer.Typer) -> None:
    """Add ``explain`` to the ``kgbuild`` app."""
    app.command(name="explain")(explain)
