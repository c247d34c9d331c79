"""Strict evaluation of the joint extractor (SpERT's definition).

* NER: a predicted entity is correct when its type and both word boundaries match.
* RE+: a predicted relation is correct when its type matches and both arguments
  match gold entities in boundaries and types. Symmetric relations count in either
  direction. For document data (entity clusters), a relation is judged between the
  gold entities its argument mentions belong to.

Scores are percentages (0-100), micro and macro (macro averages over the dataset's
types).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from pathlib import Path

from kgbuild.extract.model.encoding import join_words
from kgbuild.extract.options import ExtractorOptions
from kgbuild.extract.training.data import (
    Example,
    read_conll_ner,
    read_crossre,
    read_docred,
    read_re3d,
    read_spert,
    read_webnlg,
)

logger = logging.getLogger(__name__)

#: Formats ``read_examples`` (and ``kgbuild eval --format``) reads.
DATA_FORMATS = ("spert", "crossre", "docred", "webnlg", "re3d", "conll")


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": 100 * p, "recall": 100 * r, "f1": 100 * f, "support": n_gold}


def _scores(gold: Counter, pred: Counter, tp: Counter, types: list[str]) -> dict:
    per_type = {t: _prf(tp[t], pred[t], gold[t]) for t in types}
    micro = _prf(sum(tp.values()), sum(pred.values()), sum(gold.values()))
    macro = sum(v["f1"] for v in per_type.values()) / len(per_type) if per_type else 0.0
    return {"micro": micro, "macro_f1": macro, "per_type": per_type}


def score_predictions(examples: list[Example], predictions: list) -> dict:
    """Strict NER and RE+ scores of word-level predictions against gold examples."""
    ent_gold, ent_pred, ent_tp = Counter(), Counter(), Counter()
    rel_gold, rel_pred, rel_tp = Counter(), Counter(), Counter()
    reversed_count = 0
    ent_types: list[str] = []
    rel_types: list[str] = []
    for ex, (ents, rels) in zip(examples, predictions, strict=True):
        ent_types += [t for t in ex.entity_labels if t not in ent_types]
        rel_types += [t for t in ex.relation_labels if t not in rel_types]
        gold_ents = {(s, e, t) for s, e, t in ex.entities}
        pred_ents = {(x.start, x.end, x.label) for x in ents}
        for *_, t in gold_ents:
            ent_gold[t] += 1
        for *_, t in pred_ents:
            ent_pred[t] += 1
        for *_, t in gold_ents & pred_ents:
            ent_tp[t] += 1
        # gold entity (cluster) of each gold mention
        cluster_of = {}
        for c, members in enumerate(ex.get_clusters()):
            for m in members:
                cluster_of[ex.entities[m]] = c

        def key(h, t, r, sym):
            return (r, *sorted((h, t), key=str)) if sym else (r, h, t)

        gold_rels = {key(h, t, r, r in ex.symmetric) for h, t, r in ex.relations}
        pred_rels = set()
        for rel in rels:
            he, te = ents[rel.head], ents[rel.tail]
            h = cluster_of.get((he.start, he.end, he.label), ("pred", he.start, he.end, he.label))
            t = cluster_of.get((te.start, te.end, te.label), ("pred", te.start, te.end, te.label))
            pred_rels.add(key(h, t, rel.label, rel.label in ex.symmetric))
        for r, *_ in gold_rels:
            rel_gold[r] += 1
        for r, *_ in pred_rels:
            rel_pred[r] += 1
        for r, *_ in gold_rels & pred_rels:
            rel_tp[r] += 1
        # wrong predictions whose gold triple is the same pair the other way round
        reversed_count += sum(
            1
            for r, *pair in pred_rels - gold_rels
            if len(pair) == 2 and (r, *pair[::-1]) in gold_rels
        )
    ner = _scores(ent_gold, ent_pred, ent_tp, ent_types)
    rel = _scores(rel_gold, rel_pred, rel_tp, rel_types)
    return {
        "ner_micro_f1": round(ner["micro"]["f1"], 2),
        "ner_macro_f1": round(ner["macro_f1"], 2),
        "rel_micro_f1": round(rel["micro"]["f1"], 2),
        "rel_macro_f1": round(rel["macro_f1"], 2),
        "ner": ner,
        "rel": rel,
        #: predicted triples that are wrong only in direction (the gold has head and tail
        #: the other way round)
        "reversed_relations": reversed_count,
        "predicted_relations": sum(rel_pred.values()),
        "examples": len(examples),
    }


def predict_examples(extractor, examples: list[Example], **kwargs) -> list:
    """Run the extractor over examples grouped by label set (word-level output)."""
    groups: dict[tuple, list[int]] = {}
    for i, ex in enumerate(examples):
        key = (tuple(ex.entity_labels), tuple(ex.relation_labels), tuple(sorted(ex.symmetric)))
        groups.setdefault(key, []).append(i)
    out: list = [None] * len(examples)
    for (ents, rels, sym), idx in groups.items():
        joined = [join_words(examples[i].words) for i in idx]
        preds = extractor.predict(
            [t for t, _ in joined],
            [s for _, s in joined],
            list(ents),
            list(rels),
            symmetric_relations=list(sym),
            **kwargs,
        )
        for i, p in zip(idx, preds, strict=True):
            out[i] = p
    return out


def read_examples(
    data: str | Path, types: str | Path | None, data_format: str = "spert"
) -> list[Example]:
    """Read evaluation data in SpERT, CrossRE or DocRED format."""
    data = Path(data)
    if not data.exists():
        raise FileNotFoundError(f"evaluation data {data} does not exist")
    if data_format == "webnlg":
        # types: optional JSON list of the relation names to evaluate (others are ignored)
        only = set(json.loads(Path(types).read_text())) if types else None
        return read_webnlg(data, only_predicates=only)
    if data_format == "re3d":
        if (data / "documents.json").is_file():
            return read_re3d(data.parent, [data.name])
        return read_re3d(data)
    if data_format == "conll":
        return read_conll_ner(data)
    if not data.is_file():
        raise FileNotFoundError(f"evaluation data {data} is not a file")
    if data_format == "spert":
        if types is None:
            raise ValueError("SpERT data needs --types TYPES.json (label phrases)")
        return read_spert(data, types)
    if data_format == "crossre":
        return read_crossre(data)
    if data_format == "docred":
        if types is None:
            raise ValueError("DocRED data needs --types rel_info.json")
        return read_docred(data, types)
    raise ValueError(f"unknown data format {data_format!r} ({', '.join(DATA_FORMATS)})")


def evaluate(
    data: str | Path,
    types: str | Path | None = None,
    model_dir: str | Path | None = None,
    data_format: str = "spert",
    *,
    limit: int | None = None,
    options: ExtractorOptions | None = None,
    extractor=None,
    relation_constraints: dict | None = None,
) -> dict:
    """Evaluate a checkpoint (default: the shipped model) on a dataset file.

    Returns ``ner_micro_f1``, ``ner_macro_f1``, ``rel_micro_f1``, ``rel_macro_f1``
    (percent) and per-type precision/recall/F1 under ``ner`` and ``rel``.
    ``relation_constraints`` (relation -> ``RelationConstraint`` or ``{"head": [...],
    "tail": [...]}``) drops relations between entities of other types.
    ``options``: how the checkpoint runs (:class:`~kgbuild.extract.options.ExtractorOptions`;
    ``model_dir`` overrides its ``model``); ``extractor``: score this one instead.
    """
    from kgbuild.extract.inference.extractor import JointExtractor

    examples = read_examples(data, types, data_format)[:limit]
    if extractor is None:
        extractor = JointExtractor.from_pretrained(model_dir, options=options)
    start = time.perf_counter()
    kwargs = {}
    if relation_constraints:
        from kgbuild.schema import RelationConstraint

        kwargs["relation_constraints"] = {
            k: v if isinstance(v, RelationConstraint) else RelationConstraint.model_validate(v)
            for k, v in relation_constraints.items()
        }
    predictions = predict_examples(extractor, examples, **kwargs)
    seconds = time.perf_counter() - start
    result = score_predictions(examples, predictions)
    result.update(
        {
            "data": str(data),
            "model": extractor.model_id,
            "backend": getattr(extractor, "backend", None),
            "seconds": round(seconds, 2),
            "words_per_second": round(sum(len(e.words) for e in examples) / max(seconds, 1e-9), 1),
        }
    )
    return result
