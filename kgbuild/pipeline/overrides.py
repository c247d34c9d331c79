"""Overrides on every run: which stored documents a changed overrides file touches.

Each Document node records the fingerprint of the override entries that applied to its
names when it was resolved (``overrides``; see :mod:`kgbuild.resolve.overrides`). At the
start of a run, :func:`documents_to_reresolve` finds the documents that use a name of
the current overrides (through the mentions' indexed ``name_key``) and compares what
their fingerprint would be now with what they recorded. Those that differ (an entry
added, changed or removed that concerns them) are re-resolved: the builder removes them
from the store and ingests them again with the run, as if new, so the graph is that of
a fresh ingest under the new overrides. Every other document stays as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from kgbuild.resolve.config import type_key
from kgbuild.resolve.overrides import CompiledOverrides, Overrides, load_overrides
from kgbuild.store.base import DocumentState, GraphStore

__all__ = ["documents_to_reresolve", "read_overrides", "warn_unused_names"]

logger = logging.getLogger(__name__)


def read_overrides(source: Path | Overrides | None) -> Overrides | None:
    """The overrides of a run: read (and checked) from a file again on every run, so an
    edit between two runs of ``kgbuild watch`` counts."""
    if source is None or isinstance(source, Overrides):
        return source
    return load_overrides(source)


def _expected(
    store: GraphStore, compiled: CompiledOverrides | None, kind_of: Callable[[str], str]
) -> dict[str, str | None]:
    """Per stored document using a name of the overrides: the fingerprint it should have."""
    if compiled is None:
        return {}
    entries: dict[str, set[int]] = {}
    for row in store.find_mentions(compiled.all_name_keys()):
        found = compiled.entries_of(row["text"], row["label"], kind_of(row["label"]))
        entries.setdefault(row["document_id"], set()).update(found)
    return {doc: compiled.fingerprint(e) for doc, e in entries.items()}


def documents_to_reresolve(
    store: GraphStore,
    states: dict[str, DocumentState],
    compiled: CompiledOverrides | None,
    kind_of: Callable[[str], str],
) -> list[DocumentState]:
    """Stored documents whose names fall under other override entries than when they were
    resolved, sorted by source."""
    expected = _expected(store, compiled, kind_of)
    out = []
    for doc_id, state in states.items():
        if expected.get(doc_id) != state.overrides:
            out.append(state)
    return sorted(out, key=lambda s: s.source)


def warn_unused_names(
    store: GraphStore, compiled: CompiledOverrides | None, kind_of: Callable[[str], str], where: str
) -> list[str]:
    """Warn about override names that no mention of the store uses (a typo, or the name of
    a document not ingested yet), naming the entry; returns the warnings."""
    if compiled is None:
        return []
    used: set[tuple[str, str, str]] = set()  # (kind, key, type key) of the mentions found
    for row in store.find_mentions(compiled.all_name_keys()):
        kind = kind_of(row["label"])
        used.add((kind, compiled.norm.analyze(row["text"], kind).key, type_key(row["label"])))
    warnings = []
    for entry, i, names in compiled.overrides.entries():
        for n in names:
            typ = type_key(n.type) if n.type else None
            if not any(
                key == compiled.norm.analyze(n.name, kind).key and typ in (None, tkey)
                for kind, key, tkey in used
            ):
                shown = f"{n.name!r}" + (f" of type {n.type!r}" if n.type else "")
                warnings.append(
                    f"overrides{' ' + where if where else ''}: {entry}[{i}]: no mention is "
                    f"called {shown}"
                )
    for w in warnings:
        logger.warning("%s", w)
    return warnings
