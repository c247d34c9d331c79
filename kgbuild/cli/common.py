"""Helpers shared by the CLI commands: errors, output, stores, schemas and ingest options.

User errors (a bad path, a bad type name, a store that does not answer) end the
command with one line on stderr and exit code 1, never a traceback; ``kgbuild
--verbose`` shows tracebacks for debugging. Passwords never reach the output:
every message goes through :func:`scrub`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer

__all__ = [
    "EXIT_ERROR",
    "EXIT_PARTIAL",
    "CLIError",
    "build_config",
    "echo_json",
    "fail",
    "make_schema",
    "open_store_checked",
    "parse_params",
    "parse_types",
    "scrub",
    "setup_logging",
    "user_errors",
]

logger = logging.getLogger("kgbuild.cli")

#: Exit code of a user error (bad input, unreachable store, ...).
EXIT_ERROR = 1
#: Exit code of an ingest that wrote what it could but had documents fail.
EXIT_PARTIAL = 3

#: Secrets to hide from every message (the password given on the command line or env).
_SECRETS: set[str] = set()


class CLIError(Exception):
    """A user error: printed as one line, exit code 1."""


def remember_secret(value: str | None) -> None:
    """Hide ``value`` from every message printed from now on."""
    if value:
        _SECRETS.add(value)


def scrub(text: str) -> str:
    """``text`` with every remembered secret replaced by ``***``."""
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print ``Error: message`` on stderr and exit with ``code``."""
    typer.echo(f"Error: {scrub(message)}", err=True)
    raise typer.Exit(code)


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Log kgbuild's messages to stderr: warnings by default, DEBUG with --verbose."""
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING
    root = logging.getLogger("kgbuild")
    root.setLevel(level)
    handler = next((h for h in root.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        handler.setFormatter(_ScrubbingFormatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    handler.setLevel(level)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (test runners swap it per command)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _ScrubbingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def is_verbose() -> bool:
    return logging.getLogger("kgbuild").level <= logging.DEBUG


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can cause into one line on stderr and exit code 1.

    Anything else is a bug: it also prints one line, and the traceback with ``--verbose``.
    """
    from pydantic import ValidationError

    from kgbuild.schema import InvalidTypeName
    from kgbuild.store.base import StoreError

    try:
        yield
    except typer.Exit:
        raise
    except ValidationError as exc:
        if is_verbose():
            logger.exception("invalid settings")
        details = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}"
            for err in exc.errors()
        )
        fail(f"invalid settings: {details}")
    except (
        CLIError,
        InvalidTypeName,
        StoreError,
        ValueError,
        FileNotFoundError,
        KeyError,
        ImportError,  # an optional extra that is not installed (the message says which)
    ) as exc:
        if is_verbose():
            logger.exception("error")
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        fail(str(message))
    except OSError as exc:
        if is_verbose():
            logger.exception("error")
        fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
    except Exception as exc:  # noqa: BLE001 - last resort: still one line, unless --verbose
        if is_verbose():
            logger.exception("internal error")
        name = type(exc).__name__
        if _is_neo4j_error(exc):
            fail(f"Neo4j: {name}: {exc}")
        fail(f"internal error: {name}: {exc} (run `kgbuild --verbose ...` for the traceback)")


def _is_neo4j_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("neo4j")


def echo_json(data: Any) -> None:
    """Print exactly one JSON object on stdout."""
    typer.echo(json.dumps(data, ensure_ascii=False, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    if hasattr(value, "model_dump"):
        return value.model_dump()
    # neo4j Node / Relationship objects: their properties (and labels / type).
    if hasattr(value, "items") and hasattr(value, "element_id"):
        out = dict(value.items())
        if hasattr(value, "labels"):
            out["__labels__"] = sorted(value.labels)
        if hasattr(value, "type"):
            out["__type__"] = value.type
        return out
    return str(value)


def parse_types(value: str | None, what: str) -> list[str] | None:
    """``"person, organization"`` -> ``["person", "organization"]`` (None stays None)."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items and what == "entity types":
        raise CLIError(f"--entity-types is empty: give a comma-separated list, e.g. {_EXAMPLE}")
    return items


_EXAMPLE = '"person,organization,location"'


def extractor_options(
    model: Path | None = None,
    backend: str | None = None,
    relation_labels: str | None = None,
    int8: bool | None = None,
) -> Any:
    """The :class:`~kgbuild.extract.options.ExtractorOptions` of ``--model``, ``--backend``,
    ``--relation-labels`` and ``--int8`` (each None: its environment variable, else the
    default), checked at once so that a wrong value is an error before any work starts.
    """
    from pydantic import ValidationError

    from kgbuild.extract.options import ExtractorOptions

    flags = {"backend": "--backend", "relation_labels": "--relation-labels", "int8": "--int8"}
    try:
        options = ExtractorOptions(
            model=model, backend=backend, relation_labels=relation_labels, int8=int8
        )
        options.resolved()
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error.get("loc") else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        raise CLIError(f"{flags.get(field, field)}: {message}") from None
    except ValueError as exc:  # an environment variable's value
        raise CLIError(str(exc)) from None
    return options


def make_schema(
    entity_types: str | None, relation_types: str | None, schema_file: Path | None
) -> Any:
    """The :class:`~kgbuild.schema.Schema` from ``--schema`` or the type options (or defaults)."""
    from kgbuild.schema import Schema

    if schema_file is not None:
        if entity_types is not None or relation_types is not None:
            raise CLIError("give either --schema or --entity-types/--relation-types, not both")
        if not schema_file.is_file():
            raise CLIError(f"schema file {schema_file} does not exist")
        return Schema.from_file(schema_file)
    data: dict[str, Any] = {}
    if (ents := parse_types(entity_types, "entity types")) is not None:
        data["entity_types"] = ents
    if (rels := parse_types(relation_types, "relation types")) is not None:
        data["relation_types"] = rels
    return Schema.model_validate(data)


def open_store_checked(
    store: str,
    *,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
    must_exist: bool = False,
) -> Any:
    """``open_store`` with CLI checks: a NetworkX file must exist for reading commands."""
    from kgbuild.store import open_store

    remember_secret(password)
    remember_secret(os.environ.get("NEO4J_PASSWORD"))
    if must_exist and "://" not in store and not Path(store).is_file():
        raise CLIError(f"store {store} does not exist (build one with `kgbuild ingest`)")
    if "://" not in store and store.lower().endswith(".json"):
        parent = Path(store).resolve().parent
        if not parent.is_dir():
            raise CLIError(f"store {store}: folder {parent} does not exist")
    return open_store(store, user=user, password=password, database=database)


def parse_params(params: list[str] | None) -> dict[str, Any]:
    """``["type=person", "limit=5"]`` -> ``{"type": "person", "limit": 5}``.

    A value that parses as JSON (numbers, true/false/null, lists, quoted strings)
    takes that type; anything else is a string. ``limit='"5"'`` gives the string "5".
    """
    out: dict[str, Any] = {}
    for item in params or []:
        key, sep, raw = item.partition("=")
        key = key.strip().lstrip("$")
        if not sep or not key.isidentifier():
            raise CLIError(f"--param {item!r}: expected NAME=VALUE, e.g. --param type=person")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def build_config(
    *,
    schema: Any,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    jsonl_text_field: str = "text",
    jsonl_id_field: str = "id",
    batch_size: int | None = None,
    threshold: float | None = None,
    relation_threshold: float | None = None,
    prune: bool = False,
    reextract: bool = False,
    embeddings: bool = False,
    extractor: Any = None,
    overrides: Any = None,
    **engine: Any,
) -> Any:
    """The :class:`~kgbuild.pipeline.builder.BuildConfig` for the ingest options.

    ``kgbuild ingest`` and ``kgbuild watch`` share these options, so both build their
    configuration here; ``extractor``: the :class:`~kgbuild.extract.options.ExtractorOptions`
    (:func:`extractor_options`); ``engine`` holds ingest's ``engine``, ``ray_address``,
    ``workers`` and ``worker_threads`` (None: the default).
    """
    from kgbuild.ingest.loaders import LoadOptions
    from kgbuild.pipeline.builder import BuildConfig

    data: dict[str, Any] = {
        "schema": schema,
        "load": LoadOptions(
            include=include or None,
            exclude=exclude or None,
            jsonl_text_field=jsonl_text_field,
            jsonl_id_field=jsonl_id_field,
        ),
        "entity_threshold": threshold,
        "relation_threshold": relation_threshold if relation_threshold is not None else threshold,
        "prune": prune,
        "reextract": reextract,
        "embeddings": embeddings,
        "overrides": overrides,
        **{k: v for k, v in engine.items() if v is not None},
    }
    if extractor is not None:
        data["extractor"] = extractor
    if batch_size is not None:
        data["batch_size"] = batch_size
    return BuildConfig.model_validate(data)
