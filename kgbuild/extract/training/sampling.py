"""What each training step sees: datasets loaded for a run, label pools, each example's
sampled labels (all positives, some negatives, distractors from elsewhere, shuffled),
encoded instances with their targets, and batches of similar length."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

from kgbuild.extract.model.encoding import EncodedText, TextEncoder, hide_word_shapes, join_words
from kgbuild.extract.training.config import DataSpec, TrainConfig
from kgbuild.extract.training.data import (
    ENTITY_DISTRACTORS,
    Example,
    fewrel_relation_names,
    label_variant,
    norm_label,
    relation_variant,
    wikidata_relation_names,
)
from kgbuild.extract.training.datasets import read_dataset
from kgbuild.extract.training.label_names import dataset_label_names

logger = logging.getLogger(__name__)


@dataclass
class Instance:
    """An encoded example with its training targets."""

    encoded: EncodedText
    entity_targets: list[tuple[int, int]]  # (span index, label index)
    #: per entity label slot: its loss weight (0 = not vouched for by this dataset)
    entity_label_weights: list[float]
    #: per relation label slot: True for distractors (no loss on pairs with a gold relation)
    relation_distractor: list[bool]
    #: per entity target: its weight (silver targets weigh less)
    entity_target_weights: list[float]
    mention_spans: list[int]
    mention_tokens: list[tuple[int, int]]
    mention_cluster: list[int]
    num_clusters: int
    pairs: list[tuple[int, int]]
    pair_targets: list[tuple[int, int]]  # (pair index, label index)
    #: what was encoded (the one_way stage encodes it again, without its relation labels)
    text: str = ""
    word_spans: list[tuple[int, int]] | None = None
    entity_prompt: list[str] | None = None
    relation_prompt: list[str] | None = None


@dataclass
class LabelPools:
    """Where distractor labels come from, and the descriptions used for phrasings."""

    entity: list[str]
    relation: list[str]
    relation_descriptions: dict[str, str]


def sample_entity_labels(
    ex: Example, cfg: TrainConfig, pools: LabelPools, rng: random.Random
) -> list[tuple[str, float]]:
    """The entity labels of one example with their loss weights.

    Every gold positive (weight 1) and silver positive (``silver_weight``); the
    dataset's other labels as negatives, some dropped; a varying number of distractors
    from the pool with weight 0: the dataset cannot vouch that a span is *not* of a type
    it never annotates, so distractors shape the prompt but teach nothing about spans.
    """
    gold = list(dict.fromkeys(t for *_, t in ex.entities))
    silver = list(dict.fromkeys(t for *_, t in ex.silver if t not in gold))
    weights = {x: 1.0 for x in ex.entity_labels}
    weights.update({x: cfg.silver_weight for x in ex.silver_labels if x not in weights})
    labels = gold + silver
    negatives = [x for x in weights if x not in labels]
    rng.shuffle(negatives)
    keep_prob = 1.0 - cfg.drop_negative_prob * rng.random() * 2
    for neg in negatives:
        if len(labels) >= cfg.max_entity_labels:
            break
        if rng.random() < keep_prob:
            labels.append(neg)
    own = {norm_label(x) for x in weights}
    pool = [d for d in pools.entity if norm_label(d) not in own]
    k = min(len(pool), rng.randint(0, cfg.max_distractors))
    for d in rng.sample(pool, k=k):
        if len(labels) >= cfg.max_entity_labels:
            break
        labels.append(d)
    rng.shuffle(labels)
    return [(x, weights.get(x, 0.0)) for x in labels]


def sample_relation_labels(
    ex: Example, cfg: TrainConfig, pools: LabelPools, rng: random.Random
) -> list[tuple[str, bool]]:
    """The relation labels of one example, each marked True when it is a distractor."""
    gold = list(dict.fromkeys(r for *_, r in ex.relations))
    labels = list(gold)
    negatives = [x for x in ex.relation_labels if x not in labels]
    rng.shuffle(negatives)
    keep_prob = 1.0 - cfg.drop_negative_prob * rng.random() * 2
    for neg in negatives:
        if len(labels) >= cfg.max_relation_labels:
            break
        if rng.random() < keep_prob:
            labels.append(neg)
    own = {norm_label(x) for x in ex.relation_labels}
    n_own = len(labels)
    k = rng.randint(0, cfg.max_relation_distractors)
    for d in rng.sample(pools.relation, k=min(len(pools.relation), 3 * k)):
        if len(labels) >= cfg.max_relation_labels or len(labels) - n_own >= k:
            break
        if norm_label(d) not in own and d not in labels:
            labels.append(d)
    flags = [(x, i >= n_own) for i, x in enumerate(labels)]
    rng.shuffle(flags)
    return flags


def build_instance(
    ex: Example,
    encoder: TextEncoder,
    max_width: int,
    rng: random.Random,
    cfg: TrainConfig,
    pools: LabelPools,
) -> Instance:
    ent_sampled = sample_entity_labels(ex, cfg, pools, rng)
    rel_sampled = sample_relation_labels(ex, cfg, pools, rng)
    ent_labels = [x for x, _ in ent_sampled]
    rel_labels = [x for x, _ in rel_sampled]
    ent_weights = [w for _, w in ent_sampled]
    rel_distractor = [d for _, d in rel_sampled]
    # the phrasing the model reads may differ from the label's own name
    ent_prompt = [label_variant(x, rng, cfg.label_variant_prob) for x in ent_labels]
    rel_prompt = [
        relation_variant(x, pools.relation_descriptions, rng, cfg.label_variant_prob)
        for x in rel_labels
    ]
    words = ex.words
    if cfg.lowercase_prob and rng.random() < cfg.lowercase_prob:
        words = [w.lower() for w in words]  # same words, so every span stays valid
    text, spans = join_words(words)
    enc = encoder.encode(text, spans, ent_prompt, rel_prompt)
    if ex.uncased_text:
        hide_word_shapes(enc)
    ent_index = {x: i for i, x in enumerate(ent_labels)}
    rel_index = {x: i for i, x in enumerate(rel_labels)}

    def visible(s: int, e: int) -> bool:
        return (
            e - s <= max_width
            and e <= enc.num_words
            and enc.word_first_token[s] >= 0
            and enc.word_last_token[e - 1] >= 0
        )

    weighted: dict[tuple[int, int], float] = {}
    for (s, e, label), w in [
        *((x, 1.0) for x in ex.entities),
        *((x, cfg.silver_weight) for x in ex.silver),
    ]:
        if label in ent_index and visible(s, e):
            key = (s * max_width + e - s - 1, ent_index[label])
            weighted[key] = max(weighted.get(key, 0.0), w)
    targets = sorted(weighted.items())

    # gold mentions the model can see: inside the window, not too wide
    usable = [m for m, (s, e, _) in enumerate(ex.entities) if visible(s, e)]

    # entities (clusters) with at least one usable mention
    usable_set = set(usable)
    cluster_ids: dict[int, int] = {}
    mention_spans, mention_tokens, mention_cluster = [], [], []
    for c, members in enumerate(ex.get_clusters()):
        for m in members:
            if m in usable_set:
                s, e, _ = ex.entities[m]
                mention_spans.append(s * max_width + e - s - 1)
                mention_tokens.append(
                    (int(enc.word_first_token[s]), int(enc.word_last_token[e - 1]))
                )
                mention_cluster.append(cluster_ids.setdefault(c, len(cluster_ids)))
    n = len(cluster_ids)
    gold: dict[tuple[int, int], set[int]] = {}
    for h, t, r in ex.relations:
        if h in cluster_ids and t in cluster_ids and r in rel_index:
            gold.setdefault((cluster_ids[h], cluster_ids[t]), set()).add(rel_index[r])
            if r in ex.symmetric:
                gold.setdefault((cluster_ids[t], cluster_ids[h]), set()).add(rel_index[r])
    pairs = [(h, t) for h in range(n) for t in range(n) if h != t]
    if len(pairs) > cfg.max_pairs:
        positives = [p for p in pairs if p in gold]
        negatives = [p for p in pairs if p not in gold]
        pairs = positives + rng.sample(negatives, max(0, cfg.max_pairs - len(positives)))
    pair_targets = [(i, r) for i, p in enumerate(pairs) for r in sorted(gold.get(p, ()))]
    return Instance(
        encoded=enc,
        entity_targets=[t for t, _ in targets],
        entity_label_weights=ent_weights,
        relation_distractor=rel_distractor,
        entity_target_weights=[w for _, w in targets],
        mention_spans=mention_spans,
        mention_tokens=mention_tokens,
        mention_cluster=mention_cluster,
        num_clusters=n,
        pairs=pairs,
        pair_targets=pair_targets,
        text=text,
        word_spans=spans,
        entity_prompt=ent_prompt,
        relation_prompt=rel_prompt,
    )


def make_batches(
    instances: list[Instance], cfg: TrainConfig, rng: random.Random
) -> list[list[Instance]]:
    """Similar lengths together (little padding), batches in random order."""
    order = sorted(instances, key=lambda it: len(it.encoded.input_ids) + rng.random())
    batches, current, longest = [], [], 0
    for it in order:
        n = len(it.encoded.input_ids)
        if current and (
            max(longest, n) * (len(current) + 1) > cfg.batch_tokens
            or len(current) >= cfg.max_sentences
        ):
            batches.append(current)
            current, longest = [], 0
        current.append(it)
        longest = max(longest, n)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def epoch_batches(cfg, train_sets, encoder, pools: LabelPools, epoch: int) -> list[list[Instance]]:
    """The batches of one epoch: deterministic from the seed and the epoch number."""
    rng = random.Random(cfg.seed * 1000 + epoch)
    examples = []
    for spec in cfg.train:
        data = train_sets[spec.name]
        if spec.per_epoch and spec.per_epoch < len(data):
            examples += rng.sample(data, spec.per_epoch)
        else:
            examples += data
    instances = [
        build_instance(ex, encoder, cfg.model.max_width, rng, cfg, pools) for ex in examples
    ]
    return make_batches(instances, cfg, rng)


def held_out_relations(cfg: TrainConfig) -> list[str]:
    """Every relation name no training example may show."""
    return [*cfg.exclude_relations, *cfg.benchmark_relations]


def _excluded(cfg: TrainConfig) -> set[str]:
    return {norm_label(x) for x in [*cfg.exclude_distractors, *held_out_relations(cfg)]}


def build_pools(cfg: TrainConfig, train_sets: dict[str, list[Example]]) -> LabelPools:
    """Distractor pools: every training set's names, FewRel's, Wikidata's 11k properties
    and a list of common entity types, minus everything held out."""
    root = Path(cfg.data_root)
    excluded = _excluded(cfg)
    entity = list(ENTITY_DISTRACTORS)
    relation: list[str] = []
    descriptions: dict[str, str] = {}
    if cfg.fewrel_dir:
        relation += fewrel_relation_names(root / cfg.fewrel_dir)
    if cfg.relation_pool:
        descriptions = wikidata_relation_names(root / cfg.relation_pool)
        relation += list(descriptions)
    for examples in train_sets.values():
        names = dataset_label_names(examples)  # every example's, not the first 50's
        entity += names[0]
        relation += names[1]
    entity = [x for x in dict.fromkeys(entity) if norm_label(x) not in excluded]
    relation = [x for x in dict.fromkeys(relation) if norm_label(x) not in excluded]
    return LabelPools(entity, relation, descriptions)


def load_datasets(
    cfg: TrainConfig, specs: list[DataSpec], training: bool, silver: bool = True
) -> dict[str, list[Example]]:
    from kgbuild.extract.training.silver import add_silver

    root = Path(cfg.data_root)
    out = {}
    for spec in specs:
        kw = spec.model_dump()
        held_out = held_out_relations(cfg)
        if training and held_out:
            kw["exclude_relations"] = held_out
        examples = read_dataset(kw, root)
        if training and held_out:
            # a relation held out of training is not shown by any other dataset either
            held = {norm_label(x) for x in held_out}
            for ex in examples:
                ex.relations = [r for r in ex.relations if norm_label(r[2]) not in held]
                ex.relation_labels = [x for x in ex.relation_labels if norm_label(x) not in held]
        if training and spec.silver and silver:
            cache = Path(cfg.output_dir).parent / "silver-cache" / f"{spec.name}.json"
            counts = add_silver(examples, cache)
            logger.info("silver entities for %s: %s", spec.name, counts)
        out[spec.name] = examples
    return out
