"""``kgbuild watch``: keep a graph in step with folders, on a timer and on file changes.

::

    kgbuild watch docs/ --store graph.json --interval 300 -e "person,organization"

Runs an incremental ingest at once, then every ``--interval`` seconds and soon after a
supported file under PATH changes (unless ``--no-watch-files``); see
:mod:`kgbuild.pipeline.watch`. Each cycle prints one line (``--json``: one JSON object
per line) on stdout. SIGTERM or Ctrl-C ends it after the documents in flight, with exit
code 0; a second one stops at once (exit code 130), which is safe as well. Exit code 1
if the store's run lock was lost (another run took it over after it expired).

The ingest options are those of ``kgbuild ingest``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kgbuild.cli.common import (
    build_config,
    echo_json,
    extractor_options,
    fail,
    make_schema,
    open_store_checked,
    remember_secret,
    setup_logging,
    user_errors,
)
from kgbuild.cli.options import (
    BackendOption,
    BatchSizeOption,
    DatabaseOption,
    EmbeddingsOption,
    EntityTypesOption,
    ExcludeOption,
    IncludeOption,
    Int8Option,
    JsonlIdFieldOption,
    JsonlTextFieldOption,
    ModelOption,
    OverridesOption,
    PasswordOption,
    PruneOption,
    ReextractOption,
    RelationLabelsOption,
    RelationThresholdOption,
    RelationTypesOption,
    SchemaOption,
    StoreOption,
    ThresholdOption,
    UserOption,
)

__all__ = ["register", "watch"]

#: Exit code after a second signal interrupted a cycle (128 + SIGINT, as shells do).
EXIT_INTERRUPTED = 130


def watch(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH",
            help="Files and folders to keep in the graph (.txt, .md, .html, .jsonl).",
        ),
    ],
    store: StoreOption,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            "-i",
            min=0.1,
            metavar="SECONDS",
            help="Seconds between the starts of two ingest cycles.",
        ),
    ] = 300.0,
    watch_files: Annotated[
        bool,
        typer.Option(
            "--watch-files/--no-watch-files",
            help="Also run a cycle soon after a file under PATH is added, changed or removed.",
        ),
    ] = True,
    max_cycles: Annotated[
        int | None,
        typer.Option("--max-cycles", min=1, metavar="N", help="Stop after N cycles."),
    ] = None,
    entity_types: EntityTypesOption = None,
    relation_types: RelationTypesOption = None,
    schema: SchemaOption = None,
    include: IncludeOption = None,
    exclude: ExcludeOption = None,
    jsonl_text_field: JsonlTextFieldOption = "text",
    jsonl_id_field: JsonlIdFieldOption = "id",
    batch_size: BatchSizeOption = None,
    threshold: ThresholdOption = None,
    relation_threshold: RelationThresholdOption = None,
    prune: PruneOption = False,
    reextract: ReextractOption = False,
    embeddings: EmbeddingsOption = False,
    overrides: OverridesOption = None,
    model: ModelOption = None,
    backend: BackendOption = None,
    relation_labels: RelationLabelsOption = None,
    int8: Int8Option = None,
    user: UserOption = None,
    password: PasswordOption = None,
    database: DatabaseOption = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per cycle, one per line.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only errors and failed documents.")
    ] = False,
) -> None:
    """Keep a graph up to date: ingest on a timer and when files change (Ctrl-C to stop)."""
    remember_secret(password)
    if quiet:
        setup_logging(quiet=True)
    with user_errors():
        from kgbuild.pipeline.api import load_pipeline_extractor
        from kgbuild.pipeline.builder import KnowledgeGraphBuilder
        from kgbuild.pipeline.watch import CycleReport, Watcher

        config = build_config(
            schema=make_schema(entity_types, relation_types, schema),
            include=include,
            exclude=exclude,
            jsonl_text_field=jsonl_text_field,
            jsonl_id_field=jsonl_id_field,
            batch_size=batch_size,
            threshold=threshold,
            relation_threshold=relation_threshold,
            prune=prune,
            reextract=reextract,
            embeddings=embeddings,
            extractor=extractor_options(model, backend, relation_labels, int8),
            overrides=overrides,
        )
        # Not opened here: each cycle's run lock opens it (a NetworkX file after locking).
        graph_store = open_store_checked(store, user=user, password=password, database=database)
        builder = KnowledgeGraphBuilder(
            graph_store,
            extractor=load_pipeline_extractor(config.extractor),
            config=config,
            progress=False,
        )
        watcher = Watcher(builder, paths, interval=interval, watch_files=watch_files)

    def report(cycle: CycleReport) -> None:
        if cycle.summary is not None:
            cycle.summary.store = store
        if json_output:
            echo_json(cycle.model_dump(mode="json"))
        elif not quiet or cycle.error or (cycle.summary and cycle.summary.failures):
            typer.echo(cycle.line(), err=quiet)
        if cycle.summary is not None and not json_output:
            for f in cycle.summary.failures:
                typer.echo(f"  failed ({f.stage}): {f.source}: {f.reason}", err=quiet)

    try:
        with watcher.stop_on_signals():
            watcher.run(max_cycles=max_cycles, on_cycle=report)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        graph_store.close()
    if watcher.stopping and not watcher.stop_requested:
        # Not a clean stop: a supervisor (systemd Restart=on-failure) should start it again.
        fail("stopped: another run took over the store's run lock")


def register(app: typer.Typer) -> None:
    """Add ``watch`` to the ``kgbuild`` command line (called by kgbuild.cli.main)."""
    app.command(name="watch")(watch)
