"""The ``kgbuild`` command line.

::

    kgbuild ingest PATH... --store STORE      documents -> graph (incremental)
    kgbuild watch PATH... --store STORE --interval SECONDS   ingest on a timer and on changes
    kgbuild extract --text "..." | --file F   entities and relations of one text
    kgbuild query STORE CYPHER                run Cypher (or a query from cypher/)
    kgbuild export STORE --format graphml|json --output FILE
    kgbuild view STORE [-o graph.html] [--query CYPHER | --entity NAME | --type TYPE]
                                              interactive offline HTML page of the graph
    kgbuild explain STORE NAME                why an entity is what it is: aliases, merges
                                              (rule, score, evidence) and their mentions
    kgbuild merge|split NAME NAME --overrides FILE [--store STORE]
                                              one entity / never one entity, on every run
    kgbuild search STORE "TEXT" [--k 10] [--expand 1]   chunks and entities that answer
                                              a query (vector + keywords), with evidence
    kgbuild train --config FILE               train an extractor checkpoint
    kgbuild eval DATA --types TYPES.json      score an extractor on a labelled set

STORE is a path ending in ``.json`` (a NetworkX graph saved there) or a
``bolt://`` / ``neo4j://`` / ``neo4j+s://`` URI (credentials from ``--user`` /
``--password`` / ``--database`` or NEO4J_USERNAME / NEO4J_PASSWORD / NEO4J_DATABASE).

``--json`` prints exactly one JSON object on stdout (logs and progress go to
stderr). Exit codes: 0 success, 1 user error (one line on stderr), 2 bad usage,
3 ingest finished but some documents failed (listed in the summary).

The extractor is the model shipped with kgbuild, or ``--model DIR``; the
environment variable ``KGBUILD_EXTRACTOR=module:Class`` (or ``file.py:Class``)
replaces it with any class following the Extractor protocol (the tests use
``tests/fake_extractor.py:FakeExtractor``).
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kgbuild._version import __version__
from kgbuild.cli.common import (
    EXIT_PARTIAL,
    CLIError,
    build_config,
    echo_json,
    extractor_options,
    make_schema,
    open_store_checked,
    parse_params,
    parse_types,
    remember_secret,
    setup_logging,
    user_errors,
)
from kgbuild.cli.options import (
    BackendOption,
    BatchSizeOption,
    DatabaseOption,
    EmbeddingsOption,
    EngineOption,
    EntityTypesOption,
    ExcludeOption,
    IncludeOption,
    Int8Option,
    JsonlIdFieldOption,
    JsonlTextFieldOption,
    JsonOption,
    ModelOption,
    OverridesOption,
    PasswordOption,
    PruneOption,
    RayAddressOption,
    ReextractOption,
    RelationLabelsOption,
    RelationThresholdOption,
    RelationTypesOption,
    SchemaOption,
    StoreOption,
    ThresholdOption,
    UserOption,
    WorkersOption,
    WorkerThreadsOption,
)

app = typer.Typer(
    name="kgbuild",
    help="Turn document collections into provenance-rich knowledge graphs (NetworkX or Neo4j).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kgbuild {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Log debug messages and show tracebacks on errors."),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Turn document collections into provenance-rich knowledge graphs (NetworkX or Neo4j)."""
    setup_logging(verbose=verbose)


def _load_extractor(options: Any):
    """The extractor of ``options`` (lazy: nothing loads before a text needs the model)."""
    from kgbuild.pipeline.api import load_pipeline_extractor

    return load_pipeline_extractor(options)


# -- ingest ----------------------------------------------------------------------------------


@app.command()
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH",
            help="Files and folders to ingest (.txt, .md, .html, .jsonl; folders recursively).",
        ),
    ],
    store: StoreOption,
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
    engine: EngineOption = "sequential",
    ray_address: RayAddressOption = None,
    workers: WorkersOption = None,
    worker_threads: WorkerThreadsOption = 1,
    user: UserOption = None,
    password: PasswordOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No progress bars, warnings or summary (errors still shown)."
        ),
    ] = False,
) -> None:
    """Build or update a graph from documents (only new and changed ones are extracted).

    With ``--engine ray`` extraction runs on a Ray cluster (a local one unless
    ``--ray-address``) and this process resolves and writes: the same graph.
    """
    remember_secret(password)
    if quiet:
        setup_logging(quiet=True)
    with user_errors():
        from kgbuild.pipeline.builder import KnowledgeGraphBuilder, describe_store

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
            overrides=overrides,
            engine=engine,
            ray_address=ray_address,
            workers=workers,
            worker_threads=worker_threads,
            extractor=extractor_options(model, backend, relation_labels, int8),
        )
        graph_store = open_store_checked(store, user=user, password=password, database=database)
        extractor = _load_extractor(config.extractor)
        # Not opened here: the builder opens it under the run lock (a NetworkX file is
        # then read once, by the run that holds the lock).
        try:
            builder = KnowledgeGraphBuilder(
                graph_store,
                extractor=extractor,
                config=config,
                progress=False if (quiet or json_output) else None,
            )
            summary = builder.ingest(paths)
        finally:
            graph_store.close()
        summary.store = describe_store(store)
    if json_output:
        echo_json(summary.model_dump(mode="json"))
    elif not quiet:
        typer.echo(summary.render())
    elif summary.failures:
        for f in summary.failures:
            typer.echo(f"failed ({f.stage}): {f.source}: {f.reason}", err=True)
    if summary.failures:
        raise typer.Exit(EXIT_PARTIAL)


# -- extract ---------------------------------------------------------------------------------


@app.command()
def extract(
    text: Annotated[str | None, typer.Option("--text", "-t", help="The text to read.")] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help="Read the text from this file (.txt/.md as is; .html: its visible text).",
        ),
    ] = None,
    entity_types: EntityTypesOption = None,
    relation_types: RelationTypesOption = None,
    threshold: Annotated[
        float | None,
        typer.Option("--threshold", min=0.0, max=1.0, help="Minimum entity and relation score."),
    ] = None,
    model: ModelOption = None,
    backend: BackendOption = None,
    relation_labels: RelationLabelsOption = None,
    int8: Int8Option = None,
    json_output: JsonOption = False,
) -> None:
    """Extract entities and (head, relation, tail) triplets from a text."""
    with user_errors():
        if (text is None) == (file is None):
            raise CLIError("give exactly one of --text or --file")
        if file is not None:
            text = _read_text_file(file)
        assert text is not None
        from kgbuild.pipeline.api import extract_text

        result = extract_text(
            text,
            parse_types(entity_types, "entity types"),
            parse_types(relation_types, "relation types"),
            threshold,
            extractor=_load_extractor(extractor_options(model, backend, relation_labels, int8)),
        )
    if json_output:
        echo_json(result.model_dump(mode="json"))
        return
    if not result.entities:
        typer.echo("no entities found")
        return
    typer.echo("entities:")
    for e in result.entities:
        typer.echo(f"  {e.start:>6}-{e.end:<6} {e.label:<14} {e.text}  ({e.score:.2f})")
    typer.echo("relations:" if result.relations else "relations: none")
    for r in result.relations:
        typer.echo(f"  {r.head.text} --[{r.relation}]--> {r.tail.text}  ({r.score:.2f})")


def _read_text_file(path: Path) -> str:
    from kgbuild.ingest.loaders import LoadFailure, LoadOptions, iter_documents

    if path.suffix.lower() == ".jsonl":
        raise CLIError(f"{path}: --file takes one text document; ingest .jsonl files instead")
    for item in iter_documents([path], LoadOptions()):
        if isinstance(item, LoadFailure):
            raise CLIError(f"cannot read {path}: {item.reason}")
        return item.text
    raise CLIError(f"cannot read {path}")


# -- query -----------------------------------------------------------------------------------


@app.command()
def query(
    store: Annotated[str, typer.Argument(help="The graph: a .json file or a Neo4j URI.")],
    cypher: Annotated[
        str,
        typer.Argument(
            help="A Cypher query, a .cypher file, or the name of a query in cypher/ "
            "(e.g. top_entities)."
        ),
    ],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="Query parameter NAME=VALUE (repeatable); VALUE is JSON if it parses, "
            "else a string.",
        ),
    ] = None,
    user: UserOption = None,
    password: PasswordOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run a read query (Cypher) on a graph and print its rows."""
    remember_secret(password)
    with user_errors():
        text = _query_text(cypher)
        parameters = parse_params(param)
        graph_store = open_store_checked(
            store, user=user, password=password, database=database, must_exist=True
        )
        with graph_store:
            rows = graph_store.query(text, parameters)
    if json_output:
        echo_json({"rows": rows, "count": len(rows)})
        return
    _print_rows(rows)


def _query_text(cypher: str) -> str:
    """The query itself, read from a file, or from the query library by name."""
    from kgbuild.store.queries import load_query

    candidate = Path(cypher)
    if cypher.endswith(".cypher") and candidate.is_file():
        return candidate.read_text(encoding="utf-8")
    if cypher.replace("_", "").replace(".cypher", "").isalnum() and " " not in cypher:
        return load_query(cypher)  # KeyError lists the available names
    return cypher


def _print_rows(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=False)
    if not rows:
        typer.echo("(no rows)")
        return
    table = Table(show_lines=False)
    columns = list(rows[0])
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    console.print(table)
    typer.echo(f"{len(rows)} row(s)")


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


# -- export ----------------------------------------------------------------------------------


@app.command()
def export(
    store: Annotated[str, typer.Argument(help="The graph: a .json file (NetworkX store).")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write (replaced if it exists).")
    ],
    output_format: Annotated[
        str, typer.Option("--format", help="Output format: graphml or json (node-link).")
    ] = "graphml",
    json_output: JsonOption = False,
) -> None:
    """Export a NetworkX graph as GraphML (Gephi, yEd, Cytoscape) or JSON."""
    with user_errors():
        fmt = output_format.lower()
        if fmt not in {"graphml", "json"}:
            raise CLIError(f"--format {output_format!r}: use graphml or json")
        graph_store = open_store_checked(store, must_exist=True)
        if not hasattr(graph_store, "export_graphml"):
            raise CLIError(
                f"export works on NetworkX stores (.json files); for {store} use Neo4j's own "
                "tools (e.g. APOC export or neo4j-admin dump)"
            )
        with graph_store:
            if fmt == "graphml":
                graph_store.export_graphml(output)
            else:
                graph_store.export_json(output)
            counts = graph_store.counts()
    if json_output:
        echo_json({"output": str(output), "format": fmt, "counts": counts})
    else:
        typer.echo(f"wrote {output} ({fmt}): " + ", ".join(f"{v} {k}" for k, v in counts.items()))


# -- view ------------------------------------------------------------------------------------


@app.command()
def view(
    store: Annotated[str, typer.Argument(help="The graph: a .json file or a Neo4j URI.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="HTML file to write (replaced if it exists).")
    ] = Path("graph.html"),
    cypher: Annotated[
        str | None,
        typer.Option(
            "--query",
            metavar="CYPHER",
            help="Show the entities and relationships a read query returns (Cypher, a "
            ".cypher file, or a query name from cypher/).",
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="--query parameter NAME=VALUE (repeatable)."),
    ] = None,
    entity: Annotated[
        str | None,
        typer.Option("--entity", metavar="NAME", help="Show this entity and its neighbours."),
    ] = None,
    hops: Annotated[
        int, typer.Option("--hops", min=0, help="With --entity: how many relations away.")
    ] = 1,
    entity_type: Annotated[
        str | None,
        typer.Option("--type", metavar="TYPE", help="Show the entities of one type, e.g. person."),
    ] = None,
    limit: Annotated[
        int,
        typer.Option(
            "--limit", min=1, help="At most this many entities (the most mentioned first)."
        ),
    ] = 1000,
    max_evidence: Annotated[
        int,
        typer.Option(
            "--max-evidence", min=0, help="Mentions per entity and evidence per relation shown."
        ),
    ] = 50,
    title: Annotated[str | None, typer.Option("--title", help="Page title.")] = None,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the page in the default web browser.")
    ] = False,
    user: UserOption = None,
    password: PasswordOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Write an interactive HTML page of the graph, with the text behind every entity and
    relation (one self-contained file that works offline)."""
    remember_secret(password)
    with user_errors():
        from kgbuild.viewer import view as make_view

        chosen = [
            flag
            for flag, value in (("--query", cypher), ("--entity", entity), ("--type", entity_type))
            if value
        ]
        if len(chosen) > 1:
            raise CLIError(
                f"give at most one of --query, --entity, --type (got {' '.join(chosen)})"
            )
        text = _query_text(cypher) if cypher else None
        graph_store = open_store_checked(
            store, user=user, password=password, database=database, must_exist=True
        )
        with graph_store:
            page = make_view(
                graph_store,
                query=text,
                parameters=parse_params(param),
                entity=entity,
                hops=hops,
                type=entity_type,
                limit=limit,
                max_evidence=max_evidence,
                title=title,
            )
        written = page.save(output)
    graph = page.graph
    result = {
        "output": str(written),
        "entities": len(graph.entities),
        "relations": len(graph.relations),
        "entities_left_out": graph.entities_left_out,
        "relations_left_out": graph.relations_left_out,
    }
    if json_output:
        echo_json(result)
    else:
        left = ""
        if graph.entities_left_out or graph.relations_left_out:
            left = (
                f"; left out by --limit {limit}: {graph.entities_left_out} entities, "
                f"{graph.relations_left_out} relations"
            )
        typer.echo(
            f"wrote {written}: {result['entities']} entities, {result['relations']} relations"
            + left
        )
    if open_browser:
        import webbrowser

        webbrowser.open(written.resolve().as_uri())


# -- train / eval ----------------------------------------------------------------------------


@app.command()
def train(
    config: Annotated[
        Path,
        typer.Option("--config", "-c", help="Training configuration (JSON), e.g. configs/*.json."),
    ],
    retune: Annotated[
        bool,
        typer.Option(
            "--retune",
            help="Do not train: pick the decision thresholds of the config's trained model "
            "(output_dir/model, or --model) again on its dev sets and write them into that "
            "folder (a one_way stage: the thresholds of the relation labels read one way).",
        ),
    ] = False,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="With --retune: the checkpoint folder to retune (default: the config's "
            "output_dir/model).",
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume/--restart",
            help="Go on from the run's last checkpoint (output_dir/checkpoint, written every "
            "checkpoint_every steps and after each epoch), or start it again from scratch.",
        ),
    ] = True,
    max_minutes: Annotated[
        float | None,
        typer.Option(
            "--max-minutes",
            min=0.0,
            help="End this sitting after about this many minutes (a checkpoint is written): "
            "run the same command again to go on. Long recipes then run in sittings.",
        ),
    ] = None,
) -> None:
    """Train an extractor checkpoint (slow on CPU; see the model card)."""
    with user_errors():
        if not config.is_file():
            raise CLIError(f"config file {config} does not exist")
        from kgbuild.extract.training.loop import train as run_training

        # training is long: show its per-epoch loss and dev F1 unless --quiet was given
        if logging.getLogger("kgbuild").level == logging.WARNING:
            logging.getLogger("kgbuild.extract.training").setLevel(logging.INFO)
            for handler in logging.getLogger("kgbuild").handlers:
                handler.setLevel(logging.INFO)
        if retune:
            from kgbuild.extract.training.thresholds import retune_thresholds

            if model is not None and not (model / "config.json").is_file():
                raise CLIError(f"--model {model}: no checkpoint (config.json) there")
            out = retune_thresholds(config, model)
        else:
            if model is not None:
                raise CLIError("--model goes with --retune (training writes to output_dir)")
            out = run_training(config, resume=resume, max_minutes=max_minutes)
            if out is None:
                typer.echo(
                    f"sitting over after --max-minutes {max_minutes:g}: the run's checkpoint "
                    f"is saved; run `kgbuild train --config {config}` again to go on"
                )
                return
    typer.echo(f"checkpoint written to {out}")


@app.command(name="eval")
def evaluate(
    data: Annotated[
        Path,
        typer.Argument(
            help="Labelled data: a file (SpERT, CrossRE, DocRED, CoNLL) or a folder (WebNLG "
            "XML files; re3d, or one re3d source folder)."
        ),
    ],
    types: Annotated[
        Path | None,
        typer.Option(
            "--types",
            help="Types file (SpERT *_types.json; DocRED rel_info.json; WebNLG: optional JSON "
            "list of the relation names to score, the others are ignored).",
        ),
    ] = None,
    model: ModelOption = None,
    backend: BackendOption = None,
    relation_labels: RelationLabelsOption = None,
    int8: Int8Option = None,
    data_format: Annotated[
        str,
        typer.Option("--format", help="Data format: spert, crossre, docred, webnlg, re3d, conll."),
    ] = "spert",
    constraints: Annotated[
        Path | None,
        typer.Option(
            "--constraints",
            help='JSON object of relation -> {"head": [entity types], "tail": [entity types]}: '
            "relations between other types are dropped (as a schema's constraints do).",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Score an extractor (entity and relation F1) on labelled data."""
    with user_errors():
        from kgbuild.extract.training.evaluate import DATA_FORMATS

        if not data.exists():
            raise CLIError(f"data file {data} does not exist")
        if data_format not in DATA_FORMATS:
            raise CLIError(f"--format {data_format!r}: use {', '.join(DATA_FORMATS)}")
        if types is None and data_format in {"spert", "docred"}:
            raise CLIError(f"--types is required for --format {data_format}")
        rules = None
        if constraints is not None:
            try:
                rules = json.loads(constraints.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CLIError(f"cannot read --constraints {constraints}: {exc}") from exc
            if not isinstance(rules, dict):
                raise CLIError(f"--constraints {constraints}: expected a JSON object")
        from kgbuild.extract.training.evaluate import evaluate as run_evaluation

        scores = run_evaluation(
            data,
            types,
            data_format=data_format,
            relation_constraints=rules,
            options=extractor_options(model, backend, relation_labels, int8),
        )
    if json_output:
        echo_json(scores)
        return
    for key in ("ner_micro_f1", "ner_macro_f1", "rel_micro_f1", "rel_macro_f1"):
        if key in scores:
            typer.echo(f"{key:<14} {scores[key]:.4f}")


# -- commands defined in their own modules ----------------------------------------------------
# `kgbuild watch` (scheduled, incremental ingestion) lives in kgbuild/cli/watch.py: a module
# there exposing `register(app)` adds its command(s) to this app. It can reuse the ingest
# options through kgbuild.cli.common (build_config, make_schema, open_store_checked).
_COMMAND_MODULES = ("kgbuild.cli.watch", "kgbuild.cli.resolve", "kgbuild.cli.search")

for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as _exc:
        if _exc.name != _name:
            raise
    else:
        _module.register(app)


if __name__ == "__main__":  # python -m kgbuild.cli.main
    sys.exit(app())
