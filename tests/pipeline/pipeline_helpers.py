"""Helpers for the pipeline tests: open a saved graph, list its nodes."""

from __future__ import annotations

import json
from pathlib import Path

from kgbuild.store import NetworkXStore


def load_graph(path: Path) -> NetworkXStore:
    """The saved NetworkX store at ``path``, opened."""
    store = NetworkXStore(path)
    store.open()
    return store


def nodes(store: NetworkXStore, label: str) -> list[dict]:
    return [d for _, d in store.graph.nodes(data=True) if label in d.get("__labels__", ())]


def file_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))
