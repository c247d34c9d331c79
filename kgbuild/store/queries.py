"""The query library: ready-made Cypher queries in the repository's ``cypher/`` folder.

Each ``cypher/<name>.cypher`` file holds one read query with a header comment saying
what it returns and which ``$parameters`` it takes. They run on Neo4j 5 and on the
NetworkX store (its embedded engine, :mod:`kgbuild.store.cypher_embedded`), and they
stay within the subset that grand-cypher also runs (the store's pure-Python engine,
:mod:`kgbuild.store.cypher_networkx`), so ``store.query(load_query(name), params)``
gives the same rows on either backend and either engine::

    from kgbuild.store import open_store
    from kgbuild.store.queries import load_query

    with open_store("graph.json") as store:
        rows = store.query(load_query("top_entities"), {"limit": 10})

``cypher/schema.cypher`` (the Neo4j constraints and indexes, not a read query) is not
part of the library.

Where the files are found: the folder named by ``$KGBUILD_CYPHER_DIR`` if set, else
``kgbuild/cypher/`` inside an installed wheel (``setup.py`` copies the top-level folder
there when the wheel is built), else ``cypher/`` beside the ``kgbuild`` package, i.e.
the top of a source checkout or editable install. In the repository the files exist
only once, in the top-level folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["list_queries", "load_query", "queries_dir"]

#: Files in the cypher/ folder that are not read queries.
NOT_QUERIES = frozenset({"schema"})
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def queries_dir() -> Path:
    """The folder holding the ``.cypher`` files (see the module docs for the search order)."""
    override = os.environ.get("KGBUILD_CYPHER_DIR")
    if override:
        folder = Path(override)
        if not folder.is_dir():
            raise FileNotFoundError(f"KGBUILD_CYPHER_DIR={override} is not a folder")
        return folder
    package = Path(__file__).resolve().parent.parent
    for folder in (package / "cypher", package.parent / "cypher"):
        if folder.is_dir():
            return folder
    raise FileNotFoundError(
        f"no cypher/ query folder next to {package}: run from a source checkout or set "
        "KGBUILD_CYPHER_DIR to the folder holding the .cypher files"
    )


def list_queries() -> dict[str, str]:
    """Every library query, name (file name without ``.cypher``) -> query text, sorted."""
    folder = queries_dir()
    return {
        path.stem: path.read_text(encoding="utf-8")
        for path in sorted(folder.glob("*.cypher"))
        if path.stem not in NOT_QUERIES
    }


def load_query(name: str) -> str:
    """The text of the library query ``name`` (e.g. ``"top_entities"``).

    Raises ``KeyError`` naming the available queries when there is no such query.
    """
    stem = name.removesuffix(".cypher")
    path = queries_dir() / f"{stem}.cypher"
    if not _NAME.match(stem) or stem in NOT_QUERIES or not path.is_file():
        available = ", ".join(list_queries())
        raise KeyError(f"no query named {name!r} in {queries_dir()}; available: {available}")
    return path.read_text(encoding="utf-8")
