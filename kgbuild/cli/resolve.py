"""``kgbuild explain``, ``kgbuild merge``, ``kgbuild split``: see and steer resolution.

::

    kgbuild explain graph.json "Nordwind"          aliases, merges with rule and score,
                                                   the mentions behind each
    kgbuild explain bolt://localhost:7687 "Paris" --type location --json
    kgbuild merge "Nordwind" "Nordwind Energie GmbH" --overrides overrides.json --store graph.json
    kgbuild split "Paris" "Paris Hilton" --overrides overrides.json --store graph.json

``merge`` and ``split`` add a "same" / "different" entry to the overrides file (creating
it; an opposite entry for the same names is replaced) and, with ``--store``, apply it at
once: the stored documents the change touches are ingested again from their sources
under the new overrides (give the extraction options of the original ingest: entity and
relation types, schema, model). Later ingests follow the file when given
``--overrides``. See :mod:`kgbuild.resolve.explain` and :mod:`kgbuild.resolve.overrides`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlparse

import typer

from kgbuild.cli.common import CLIError, echo_json, open_store_checked, remember_secret, user_errors
from kgbuild.cli.options import (
    DatabaseOption,
    EntityTypesOption,
    JsonOption,
    ModelOption,
    PasswordOption,
    RelationTypesOption,
    SchemaOption,
    UserOption,
)

__all__ = ["explain", "merge", "register", "split"]

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


NamesArgument = Annotated[
    list[str], typer.Argument(metavar="NAME...", help="Two or more names, as in the text.")
]
OverridesFileOption = Annotated[
    Path,
    typer.Option("--overrides", metavar="FILE", help="The overrides file to write (created)."),
]
ApplyStoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        "-s",
        metavar="STORE",
        help="Apply the change to this graph now (re-ingests the documents it touches).",
    ),
]


def _decide(
    kind: Literal["same", "different"],
    names: list[str],
    overrides_file: Path,
    entity_type: str | None,
    store: str | None,
    entity_types: str | None,
    relation_types: str | None,
    schema: Path | None,
    model: Path | None,
    user: str | None,
    password: str | None,
    database: str | None,
    json_output: bool,
) -> None:
    remember_secret(password)
    with user_errors():
        from kgbuild.resolve.overrides import (
            OverrideName,
            Overrides,
            add_entry,
            load_overrides,
            save_overrides,
        )

        if len(names) < 2:
            raise CLIError(f"kgbuild {_COMMAND[kind]} needs two or more names, got {names}")
        current = load_overrides(overrides_file) if overrides_file.exists() else Overrides()
        entry = [OverrideName(name=n, type=entity_type) for n in names]
        updated, notes = add_entry(current, kind, entry)
        applied = _apply(
            updated, store, entity_types, relation_types, schema, model, user, password, database
        )
        save_overrides(updated, overrides_file)  # after a successful apply only
    if json_output:
        echo_json({"overrides": str(overrides_file), "notes": notes, **applied})
        return
    for note in notes:
        typer.echo(note)
    typer.echo(f"{overrides_file}: {kind} {', '.join(repr(n) for n in names)}")
    if store is not None:
        typer.echo(f"{store}: re-resolved {applied['reresolved']} document(s)")


_COMMAND = {"same": "merge", "different": "split"}


def _apply(
    overrides, store, entity_types, relation_types, schema, model, user, password, database
) -> dict:
    """Re-ingest the stored documents the new overrides touch, from their sources."""
    if store is None:
        return {}
    from kgbuild.cli.common import build_config, make_schema
    from kgbuild.cli.main import _load_extractor
    from kgbuild.pipeline.builder import KnowledgeGraphBuilder
    from kgbuild.pipeline.overrides import documents_to_reresolve
    from kgbuild.resolve import EntityResolver

    graph_store = open_store_checked(
        store, user=user, password=password, database=database, must_exist=True
    )
    resolver = EntityResolver(overrides=overrides)
    with graph_store:
        touched = documents_to_reresolve(
            graph_store, graph_store.document_states(), resolver.overrides, resolver.name_kind
        )
    paths = sorted({_source_path(s.source) for s in touched})
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise CLIError(
            f"cannot apply: {len(missing)} source(s) of the documents to re-resolve are gone "
            f"(e.g. {missing[0]}); the overrides file is unchanged"
        )
    if not paths:
        return {"reresolved": 0}
    config = build_config(
        schema=make_schema(entity_types, relation_types, schema), overrides=overrides
    )
    builder = KnowledgeGraphBuilder(
        graph_store, extractor=_load_extractor(model), config=config, progress=False
    )
    try:
        summary = builder.ingest(paths)
    finally:
        graph_store.close()
    if summary.failures:
        f = summary.failures[0]
        raise CLIError(f"re-resolving failed ({f.stage}): {f.source}: {f.reason}")
    return {"reresolved": summary.documents.changed, "summary": summary.model_dump(mode="json")}


def _source_path(source: str) -> str:
    """The file a document source names: a file URI, minus a JSONL record's ``#id``."""
    if source.startswith("file:"):
        return unquote(urlparse(source).path)
    return source.split("#", 1)[0]


def _decision_command(kind: Literal["same", "different"], doc: str):
    """The ``merge`` (``kind`` "same") or ``split`` ("different") command: the same
    options, one kind of override entry."""

    def command(
        names: NamesArgument,
        overrides_file: OverridesFileOption,
        entity_type: TypeOption = None,
        store: ApplyStoreOption = None,
        entity_types: EntityTypesOption = None,
        relation_types: RelationTypesOption = None,
        schema: SchemaOption = None,
        model: ModelOption = None,
        user: UserOption = None,
        password: PasswordOption = None,
        database: DatabaseOption = None,
        json_output: JsonOption = False,
    ) -> None:
        _decide(
            kind,
            names,
            overrides_file,
            entity_type,
            store,
            entity_types,
            relation_types,
            schema,
            model,
            user,
            password,
            database,
            json_output,
        )

    command.__doc__ = doc
    return command


merge = _decision_command(
    "same",
    """Make names one entity on every run: add a "same" entry to the overrides file (and
    with --store, apply it now).""",
)
split = _decision_command(
    "different",
    """Keep names apart on every run: add a "different" entry to the overrides file (and
    with --store, apply it now).""",
)


def register(app: typer.Typer) -> None:
    """Add ``explain``, ``merge`` and ``split`` to the ``kgbuild`` app."""
    app.command(name="explain")(explain)
    app.command(name="merge")(merge)
    app.command(name="split")(split)
