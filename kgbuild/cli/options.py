"""Command-line options shared by ``kgbuild ingest``, ``kgbuild watch`` and the others.

Each is an ``Annotated`` type, so a command declares ``store: StoreOption`` and every
command gets the same flag names, help text and environment variables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

StoreOption = Annotated[
    str,
    typer.Option(
        "--store",
        "-s",
        metavar="STORE",
        help="Where the graph lives: a path ending in .json (NetworkX) or a bolt://, "
        "neo4j:// or neo4j+s:// URI.",
    ),
]
UserOption = Annotated[
    str | None,
    typer.Option("--user", envvar="NEO4J_USERNAME", metavar="USER", help="Neo4j user."),
]
PasswordOption = Annotated[
    str | None,
    typer.Option(
        "--password",
        envvar="NEO4J_PASSWORD",
        show_default=False,
        metavar="PASSWORD",
        help="Neo4j password (prefer the environment variable: a command line is visible "
        "to other users of the machine).",
    ),
]
DatabaseOption = Annotated[
    str | None,
    typer.Option("--database", envvar="NEO4J_DATABASE", metavar="NAME", help="Neo4j database."),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")
]
EntityTypesOption = Annotated[
    str | None,
    typer.Option(
        "--entity-types",
        "-e",
        metavar="TYPES",
        help='Comma-separated entity types, e.g. "person,organization,location" '
        "(default: kgbuild's default schema).",
    ),
]
RelationTypesOption = Annotated[
    str | None,
    typer.Option(
        "--relation-types",
        "-r",
        metavar="TYPES",
        help='Comma-separated relation types, e.g. "works for,located in" '
        "(default: kgbuild's default schema).",
    ),
]
ModelOption = Annotated[
    Path | None,
    typer.Option(
        "--model",
        metavar="DIR",
        help="Extractor checkpoint folder (default: the model shipped with kgbuild).",
        file_okay=False,
    ),
]

BackendOption = Annotated[
    str | None,
    typer.Option(
        "--backend",
        metavar="NAME",
        help="What runs the extractor model: onnx (ONNX Runtime; the graph is exported once "
        "and cached), torch, or auto (onnx when installed, else torch). Default: "
        "$KGBUILD_BACKEND, else auto.",
    ),
]
RelationLabelsOption = Annotated[
    str | None,
    typer.Option(
        "--relation-labels",
        metavar="LAYOUT",
        help="How relation types reach the model. hybrid: the types that fit beside the text "
        "are read with it, the others appended after it and read one way: one pass over each "
        "text whatever the number of types (about 2x as fast as prompt with 96 types, relation "
        "F1 as good or better). prompt: all read with each text, in several passes over it when "
        "they do not fit one. The two agree where all types fit one pass. Default: "
        "$KGBUILD_RELATION_LABELS, else hybrid.",
    ),
]
Int8Option = Annotated[
    bool | None,
    typer.Option(
        "--int8/--fp32",
        help="int8 weights for the extractor (about 1.3x as fast on ONNX Runtime, 0.3 F1 lower "
        "on CoNLL04, 1.3-1.6 lower on types it never trained on) or fp32. Default: "
        "$KGBUILD_QUANTIZE (1 or 0), else fp32.",
        show_default=False,
    ),
]


# -- what to ingest and how (ingest and watch) ----------------------------------------------

SchemaOption = Annotated[
    Path | None,
    typer.Option(
        "--schema",
        metavar="FILE",
        help='JSON file with {"entity_types": [...], "relation_types": [...]} '
        "(or a SpERT types file); instead of --entity-types/--relation-types.",
    ),
]
IncludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--include",
        metavar="GLOB",
        help="Only load files matching this glob (repeatable), e.g. '**/*.md'.",
    ),
]
ExcludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        metavar="GLOB",
        help="Skip files and folders matching this glob (repeatable).",
    ),
]
JsonlTextFieldOption = Annotated[
    str, typer.Option("--jsonl-text-field", help="Field holding the text in .jsonl records.")
]
JsonlIdFieldOption = Annotated[
    str,
    typer.Option(
        "--jsonl-id-field",
        help="Field holding the record id in .jsonl records (else the line number).",
    ),
]
BatchSizeOption = Annotated[
    int | None,
    typer.Option("--batch-size", min=1, help="Chunks per extractor call (default 16)."),
]
ThresholdOption = Annotated[
    float | None,
    typer.Option(
        "--threshold",
        min=0.0,
        max=1.0,
        help="Minimum entity (and relation) score, 0-1 (default: the model's own).",
    ),
]
RelationThresholdOption = Annotated[
    float | None,
    typer.Option(
        "--relation-threshold",
        min=0.0,
        max=1.0,
        help="Minimum relation score, 0-1 (default: --threshold, else the model's own).",
    ),
]
PruneOption = Annotated[
    bool,
    typer.Option("--prune", help="Remove documents from the store that are no longer in PATHS."),
]
ReextractOption = Annotated[
    bool,
    typer.Option(
        "--reextract",
        help="Re-extract unchanged documents extracted by another model or schema.",
    ),
]
EmbeddingsOption = Annotated[
    bool,
    typer.Option(
        "--embeddings",
        help="Also give every chunk and entity a sentence vector, for kgbuild search's "
        "vector ranking (off by default: ingest takes about 1.4x as long; without them "
        "search uses keywords only).",
    ),
]
OverridesOption = Annotated[
    Path | None,
    typer.Option(
        "--overrides",
        metavar="FILE",
        help='Entity-resolution decisions to follow on every run: JSON {"same": [[name, '
        'name]], "different": [[name, name]]} (kgbuild merge / kgbuild split write it).',
    ),
]


# -- where extraction runs (ingest) -----------------------------------------------------------

EngineOption = Annotated[
    str,
    typer.Option(
        "--engine",
        metavar="ENGINE",
        help="sequential (this process) or ray (extraction on a Ray cluster; needs "
        "kgbuild[ray]). Same graph either way.",
    ),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        envvar="RAY_ADDRESS",
        metavar="ADDRESS",
        help="Ray cluster to join with --engine ray (default: start a local one for the run).",
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        help="Extraction actors with --engine ray (default: one per --worker-threads CPUs).",
    ),
]
WorkerThreadsOption = Annotated[
    int,
    typer.Option("--worker-threads", min=1, help="CPUs (torch threads) per extraction actor."),
]
