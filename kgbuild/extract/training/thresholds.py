"""Decision thresholds, picked on dev data whose labels were held out of training (so
that they transfer to labels the model never saw), and written into a checkpoint."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from kgbuild.extract.model.network import JointExtractionModel
from kgbuild.extract.training.config import TrainConfig, training_threads
from kgbuild.extract.training.data import Example, norm_label
from kgbuild.extract.training.losses import train_mode
from kgbuild.extract.training.sampling import load_datasets

logger = logging.getLogger(__name__)


def evaluate_dev(
    model,
    tokenizer,
    dev: dict[str, list[Example]],
    cfg: TrainConfig,
    thresholds=None,
    mode: str | None = None,
) -> dict:
    from kgbuild.extract.inference.extractor import JointExtractor
    from kgbuild.extract.training.evaluate import predict_examples, score_predictions

    model.eval()
    # the one_way stage is judged with relation labels read as it trains them to be
    if mode is None:
        mode = "hybrid" if cfg.stage == "one_way" else "prompt"
    extractor = JointExtractor(model, tokenizer, model_id=cfg.model.name, relation_labels=mode)
    out = {}
    for name, examples in dev.items():
        kw = {}
        if thresholds:
            kw = {"entity_threshold": thresholds[0], "relation_threshold": thresholds[1]}
        preds = predict_examples(extractor, examples[: cfg.dev_limit], **kw)
        s = score_predictions(examples[: cfg.dev_limit], preds)
        out[name] = {
            k: s[k] for k in ("ner_micro_f1", "ner_macro_f1", "rel_micro_f1", "rel_macro_f1")
        }
    train_mode(model, cfg)
    return out


def relation_dev(dev, cfg: TrainConfig) -> dict[str, list[Example]]:
    """The threshold dev sets (``threshold_dev``) that have gold relations."""
    picked = [n for n in cfg.threshold_dev if n in dev and has_gold(dev[n], "rel")]
    return {n: dev[n] for n in picked or [n for n in dev if has_gold(dev[n], "rel")]}


def best_on_grid(grid, dev_scores, score, what: str, default: float | None = None):
    """The value of ``grid`` whose dev scores (``dev_scores(value)``: per set) give the
    highest ``score(scores)``; each logged as ``what`` (``default`` for an empty grid)."""
    best_thr, best_score = default, -1.0
    for thr in grid:
        scores = dev_scores(thr)
        logger.info("%s threshold %.2f: dev %s", what, thr, json.dumps(scores))
        value = score(scores)
        if value > best_score:
            best_thr, best_score = thr, value
    return best_thr


def tune_hybrid_threshold(model, tokenizer, dev, cfg: TrainConfig) -> float | None:
    """The ``hybrid`` layout's threshold for the relation labels it reads one way (those
    in its prompt keep the joint threshold): the grid value with the best mean of micro
    and macro RE F1 over the dev sets whose schema needs that layout (micro alone favours
    a high threshold that drops rare relations: on Re-DocRED's 96, 0.6 against 0.55 gave
    +0.6 micro and -1.2 macro). None: no dev set needs it."""
    from kgbuild.extract.inference.extractor import JointExtractor

    probe = JointExtractor(model, tokenizer, model_id="probe", relation_labels="hybrid")

    def needs_hybrid(ex: Example) -> bool:
        passes = probe.label_passes(ex.entity_labels, ex.relation_labels)
        return bool(probe.layout.one_way_labels(ex.relation_labels, passes))

    dev = {
        n: examples
        for n, examples in relation_dev(dev, cfg).items()
        if any(needs_hybrid(ex) for ex in examples[: cfg.dev_limit])
    }
    if not dev:
        return None
    previous = model.config.hybrid_relation_threshold

    def dev_scores(thr: float) -> dict:
        model.config.hybrid_relation_threshold = thr
        return evaluate_dev(model, tokenizer, dev, cfg, mode="hybrid")

    try:
        return best_on_grid(
            sorted({*cfg.threshold_grid, 0.55}),
            dev_scores,
            lambda scores: float(
                np.mean([(v["rel_micro_f1"] + v["rel_macro_f1"]) / 2 for v in scores.values()])
            ),
            "hybrid relation",
        )
    finally:
        model.config.hybrid_relation_threshold = previous
        model.eval()


def tune_thresholds(model, tokenizer, dev, cfg: TrainConfig) -> tuple[float, float]:
    """Pick the entity threshold with the best mean dev NER F1, then, with it, the
    relation threshold with the best mean dev RE F1 (relations are scored only between
    kept entities, so the entity threshold goes first)."""

    picked = [n for n in cfg.threshold_dev if n in dev] or list(dev)
    dev = {n: dev[n] for n in picked}
    logger.info("picking thresholds on %s", picked)

    def best(key: str, kind: str, thresholds_for) -> float:
        """The grid threshold with the best mean dev F1 ``key``."""

        def score(scores: dict) -> float:
            # sets without a single gold item of this kind say nothing about its threshold
            useful = [v[key] for n, v in scores.items() if has_gold(dev[n], key)]
            return float(np.mean(useful)) if useful else 0.0

        return best_on_grid(
            cfg.threshold_grid,
            lambda thr: evaluate_dev(model, tokenizer, dev, cfg, thresholds=thresholds_for(thr)),
            score,
            kind,
        )

    entity = best("ner_micro_f1", "entity", lambda t: (t, cfg.model.relation_threshold))
    relation = best("rel_micro_f1", "relation", lambda t: (entity, t))
    return entity, relation


def seen_relation_names(
    cfg: TrainConfig, train_sets: dict[str, list[Example]] | None = None
) -> list[str]:
    """The relation names ``cfg``'s training data teaches as positives (held-out names
    left out, as training leaves them out); ``train_sets``: that data if already read."""
    if train_sets is None:
        train_sets = load_datasets(cfg, cfg.train, training=True, silver=False)
    return sorted(
        {r for examples in train_sets.values() for ex in examples for *_, r in ex.relations}
    )


def seen_entity_names(
    cfg: TrainConfig, train_sets: dict[str, list[Example]] | None = None
) -> list[str]:
    """The entity types ``cfg``'s training data teaches as positives; ``train_sets``:
    that data if already read."""
    if train_sets is None:
        train_sets = load_datasets(cfg, cfg.train, training=True, silver=False)
    return sorted(
        {t for examples in train_sets.values() for ex in examples for *_, t in ex.entities}
    )


def tune_unseen_threshold(
    model, tokenizer, dev, cfg: TrainConfig, train_sets: dict[str, list[Example]] | None = None
) -> float | None:
    """The threshold for relation names the model never trained on
    (``ExtractorConfig.unseen_relation_threshold``), picked on ``unseen_threshold_dev``
    with each set's relation names read as unseen: the grid value with the best mean
    over those sets of RE F1 relative to each set's best (the sets differ in how high
    their F1 runs; each counts the same). Sets ``model.config.seen_relation_labels``.
    None: no such dev set. ``train_sets``: the training data if already read."""
    return _tune_unseen(
        "relation", model, tokenizer, dev, cfg, train_sets, cfg.unseen_threshold_dev, (0.1, 0.15)
    )


def tune_unseen_entity_threshold(
    model, tokenizer, dev, cfg: TrainConfig, train_sets: dict[str, list[Example]] | None = None
) -> float | None:
    """The threshold for entity types the model never trained on
    (``ExtractorConfig.unseen_entity_threshold``), picked on
    ``unseen_entity_threshold_dev`` with each set's types read as unseen: the grid value
    with the best mean over those sets of NER F1 relative to each set's best, as for
    relation names (:func:`tune_unseen_threshold`). Sets
    ``model.config.seen_entity_labels``. None: no such dev set."""
    return _tune_unseen(
        "entity",
        model,
        tokenizer,
        dev,
        cfg,
        train_sets,
        cfg.unseen_entity_threshold_dev,
        (0.05, 0.1, 0.15),
    )


#: per kind of label: the gold it is scored on, its F1, the seen names and their labels
_UNSEEN_KINDS = {
    "relation": ("rel", "rel_micro_f1", seen_relation_names, lambda ex: ex.relation_labels),
    "entity": ("ner", "ner_micro_f1", seen_entity_names, lambda ex: ex.entity_labels),
}


def _tune_unseen(
    kind: str,
    model,
    tokenizer,
    dev,
    cfg: TrainConfig,
    train_sets: dict[str, list[Example]] | None,
    dev_names: list[str],
    low: tuple[float, ...],
) -> float | None:
    """The unseen-label threshold of ``kind`` ("relation" or "entity"), picked on the
    dev sets ``dev_names`` over ``cfg.threshold_grid`` and the ``low`` values (see
    :func:`tune_unseen_threshold`); sets ``seen_<kind>_labels`` and
    ``unseen_<kind>_threshold`` of ``model.config``."""
    gold, f1, seen_names, labels_of = _UNSEEN_KINDS[kind]
    seen_key, threshold_key = f"seen_{kind}_labels", f"unseen_{kind}_threshold"
    sets = {n: dev[n] for n in dev_names if n in dev and has_gold(dev[n], gold)}
    if not sets:
        return None
    seen = seen_names(cfg, train_sets)
    mode = "hybrid" if model.config.one_way_lora_rank else None
    grid = sorted({*cfg.threshold_grid, *low})
    scores: dict[float, dict] = {thr: {} for thr in grid}
    for name, examples in sets.items():
        # every label of a tuning set is read as one the model never saw, even where it
        # did (a document-level set with trained names stands in for documents read with
        # new ones)
        own = {norm_label(x) for ex in examples for x in labels_of(ex)}
        setattr(model.config, seen_key, [x for x in seen if norm_label(x) not in own])
        for thr in grid:
            setattr(model.config, threshold_key, thr)
            scores[thr] |= evaluate_dev(model, tokenizer, {name: examples}, cfg, mode=mode)
    for thr in grid:
        logger.info("unseen %s threshold %.2f: dev %s", kind, thr, json.dumps(scores[thr]))
    setattr(model.config, seen_key, seen)
    best_per_set = {n: max(scores[t][n][f1] for t in grid) or 1.0 for n in sets}

    def relative(thr: float) -> float:
        return float(np.mean([scores[thr][n][f1] / best_per_set[n] for n in sets]))

    picked = max(grid, key=relative)
    setattr(model.config, threshold_key, picked)
    model.eval()
    return picked


def retune_thresholds(
    config_path: str | Path, model_dir: str | Path | None = None, unseen_only: bool = False
) -> Path:
    """Pick the thresholds of a trained model folder again on the config's dev sets
    (``threshold_dev``) and write them into its config.json and training.json: the
    entity and relation thresholds, or for a ``one_way`` stage the threshold of the
    relation labels the ``hybrid`` layout reads one way (``hybrid_relation_threshold``)."""
    from transformers import AutoTokenizer

    from kgbuild.extract.model.config import resolve_encoder_path

    cfg = TrainConfig.model_validate_json(Path(config_path).read_text())
    model_dir = Path(model_dir or Path(cfg.output_dir) / "model")
    torch.set_num_threads(training_threads(cfg))
    model = JointExtractionModel.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder_path(model.config.encoder))
    dev_sets = load_datasets(cfg, cfg.dev, training=False)
    picked: dict = {}
    if not unseen_only and cfg.stage == "one_way":
        picked["hybrid_relation_threshold"] = tune_hybrid_threshold(model, tokenizer, dev_sets, cfg)
    elif not unseen_only:
        entity, relation = tune_thresholds(model, tokenizer, dev_sets, cfg)
        picked |= {"entity_threshold": entity, "relation_threshold": relation}
        model.config.entity_threshold, model.config.relation_threshold = entity, relation
    if unseen_only or cfg.stage != "one_way":
        # read once for both thresholds, and only where a dev set asks for one
        train_sets = None
        if cfg.unseen_threshold_dev or cfg.unseen_entity_threshold_dev:
            train_sets = load_datasets(cfg, cfg.train, training=True, silver=False)
        unseen = tune_unseen_threshold(model, tokenizer, dev_sets, cfg, train_sets)
        if unseen is not None:
            picked["unseen_relation_threshold"] = unseen
            picked["seen_relation_labels"] = model.config.seen_relation_labels
        unseen = tune_unseen_entity_threshold(model, tokenizer, dev_sets, cfg, train_sets)
        if unseen is not None:
            picked["unseen_entity_threshold"] = unseen
            picked["seen_entity_labels"] = model.config.seen_entity_labels
    write_thresholds(model_dir, picked, cfg.stage)
    logger.info("thresholds of %s: %s", model_dir, picked)
    return model_dir


def write_thresholds(model_dir: Path, picked: dict, stage: str = "joint") -> None:
    """Write ``picked`` thresholds into a checkpoint's config.json and into the training
    summary of ``stage``: ``training.json``, or ``training-one-way.json`` where a shipped
    checkpoint keeps the one_way stage's summary beside the joint one's."""
    config = json.loads((model_dir / "config.json").read_text())
    config.update(picked)
    (model_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    summary_path = model_dir / "training.json"
    if stage == "one_way" and (model_dir / "training-one-way.json").is_file():
        summary_path = model_dir / "training-one-way.json"
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text())
        # the lists of seen names live in config.json only
        numbers = {k: v for k, v in picked.items() if not k.startswith("seen_")}
        summary.update(numbers)
        if "config" in summary:
            summary["config"].update(numbers)
        summary_path.write_text(json.dumps(summary, indent=2) + "\n")


def has_gold(examples: list[Example], key: str) -> bool:
    if key.startswith("ner"):
        return any(ex.entities for ex in examples)
    return any(ex.relations for ex in examples)
