"""Every data format by name: :func:`read_dataset` reads one entry of a training
config's mix (:class:`~kgbuild.extract.training.config.DataSpec`) with the reader of its
format (:mod:`.data`, :mod:`.diversity_data`)."""

from __future__ import annotations

import logging
from pathlib import Path

from kgbuild.extract.training.data import (
    Example,
    read_conll_ner,
    read_crossre,
    read_docred,
    read_plain_triples,
    read_re3d,
    read_spert,
    read_webnlg,
)
from kgbuild.extract.training.diversity_data import read_round2

logger = logging.getLogger(__name__)


def read_dataset(spec: dict, root: Path) -> list[Example]:
    """Read one entry of a training config's ``data`` list.

    ``spec``: ``{"format": "spert"|"crossre"|"docred"|"webnlg"|"re3d"|"conll"|"triples",
    "path": ..., "types": ..., "rel_info": ..., "limit": n, "skip": n, "sources": [...],
    "labels": [...], "only_relations": [...], "exclude_relations": [...]}`` with paths
    relative to ``root`` (a path starting with ``./``: to the working directory).
    The label-diversity formats (multiconer, fewrel, semeval, rebel, pile-ner) are read by
    ``diversity_data.read_round2``.
    """
    fmt = spec["format"]
    # "./..." is relative to the working directory (data kept with the project, such as
    # benchmarks/data), anything else to the data root
    path = Path(spec["path"]) if spec["path"].startswith("./") else root / spec["path"]
    if fmt == "spert":
        examples = read_spert(path, root / spec["types"], source=spec.get("name"))
    elif fmt == "crossre":
        examples = read_crossre(path)
    elif fmt == "docred":
        examples = read_docred(path, root / spec["rel_info"])
    elif fmt == "webnlg":
        only = spec.get("only_relations")
        examples = read_webnlg(
            path,
            exclude_predicates=set(spec.get("exclude_relations") or []) or None,
            only_predicates=set(only) if only else None,
        )
        if only:
            # a held-out evaluation asks every text for all the held-out names, as a user
            # with a schema would, not only for the names its own triplets carry
            for ex in examples:
                ex.relation_labels = sorted(only)
    elif fmt == "re3d":
        examples = read_re3d(path, spec.get("sources"))
    elif fmt == "triples":
        examples = read_plain_triples(path, source=spec.get("name"))
    elif fmt == "conll":
        examples = read_conll_ner(path, source=spec.get("name"), labels=spec.get("labels"))
    else:  # the label-diversity formats (multiconer, fewrel, semeval, rebel, pile-ner)
        examples = read_round2(spec, root)
    skip, limit = spec.get("skip", 0), spec.get("limit")
    examples = examples[skip : skip + limit if limit else None]
    logger.info("read %d examples from %s", len(examples), path)
    return examples
