"""Cluster many mentions at once, without building pydantic objects.

:func:`cluster_mentions` runs exactly the algorithm of
:class:`~kgbuild.resolve.EntityResolver` (same rules, same in-run index) on plain
lists, for benchmarks and for deduplicating a name list. Its cost is near-linear in
the number of mentions: each distinct name is normalized once, and each cluster is
compared only with the entities that share one of its blocking keys (blocks larger
than ``config.max_block_size`` are skipped).
"""

from __future__ import annotations

import gc
from collections.abc import Sequence

from kgbuild.resolve.config import ResolverConfig
from kgbuild.resolve.resolver import _Engine


def cluster_mentions(
    names: Sequence[str],
    types: Sequence[str],
    doc_ids: Sequence[str] | None = None,
    config: ResolverConfig | None = None,
) -> list[int]:
    """Cluster label of every mention: mentions with the same label are one entity.

    Args:
        names: mention texts.
        types: entity type phrase of each mention ("person").
        doc_ids: document of each mention. Documents are resolved one after the other,
            in order of first appearance, each linking to the entities of the ones
            before (as the pipeline does). ``None``: all mentions form one document.
        config: rules and thresholds (defaults if ``None``).

    Returns:
        One label per mention: ``0, 1, 2, ...`` in order of first appearance.

    Example:
        >>> cluster_mentions(["Barack Obama", "Obama", "IBM"], ["person", "person", "org"])
        [0, 0, 1]
    """
    n = len(names)
    if len(types) != n or (doc_ids is not None and len(doc_ids) != n):
        raise ValueError(
            f"cluster_mentions: names ({n}), types ({len(types)}) and doc_ids "
            f"({'None' if doc_ids is None else len(doc_ids)}) must have the same length"
        )
    engine = _Engine(config or ResolverConfig())
    if doc_ids is None:
        docs: list[list[int]] = [list(range(n))]
    else:
        by_doc: dict[str, list[int]] = {}
        for i, d in enumerate(doc_ids):
            by_doc.setdefault(d, []).append(i)
        docs = list(by_doc.values())

    slots = [0] * n
    # Millions of small long-lived objects make the cyclic garbage collector rescan the
    # whole heap again and again; nothing here forms reference cycles.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for idx in docs:
            assign, clusters = engine.resolve([names[i] for i in idx], [types[i] for i in idx])
            for i, k in zip(idx, assign, strict=True):
                slots[i] = clusters[k].slot
    finally:
        if gc_was_enabled:
            gc.enable()
    # Slots are numbered in creation order, which is already first appearance.
    relabel: dict[int, int] = {}
    return [relabel.setdefault(s, len(relabel)) for s in slots]
