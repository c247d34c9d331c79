"""Training the joint extractor: ``kgbuild train --config FILE``.

A run mixes datasets with natural-language labels, samples each example's label
set (all positives, some negatives, distractors from elsewhere, shuffled), and
learns from every span and every gold entity pair of a text in one encoder pass
(SpERT's strong negatives). After each epoch it saves a resumable checkpoint and
logs loss and dev F1; at the end it picks thresholds on dev, writes the model
folder (fp16, config, model card) and a JSON log.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from kgbuild.extract.data import (
    ENTITY_DISTRACTORS,
    Example,
    fewrel_relation_names,
    label_variant,
    norm_label,
    read_dataset,
    relation_variant,
    wikidata_relation_names,
)
from kgbuild.extract.encoding import EncodedText, TextEncoder, join_words
from kgbuild.extract.model import (
    ExtractorConfig,
    JointExtractionModel,
    collate,
    collate_one_way_rows,
)
from kgbuild.extract.readers_round2 import dataset_label_names, hide_word_shapes

logger = logging.getLogger(__name__)


class DataSpec(BaseModel):
    """One dataset of the training mix; paths are relative to ``TrainConfig.data_root``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    format: str
    path: str
    types: str | None = None
    rel_info: str | None = None
    skip: int = 0
    limit: int | None = None
    #: examples drawn per epoch (None: all, in a new order each epoch)
    per_epoch: int | None = None
    #: re3d: the source folders to read (default: all)
    sources: list[str] | None = None
    #: CoNLL-style NER: the label phrases kept (default: all the file's types)
    labels: list[str] | None = None
    #: WebNLG: keep only these relations (held-out evaluation)
    only_relations: list[str] | None = None
    #: add silver entities from the teacher model for types the dataset does not annotate
    silver: bool = False
    #: add each relation's inverse phrasing, head and tail swapped, where one is known
    #: (``readers_round2.inverse_relation``)
    inverses: bool = False


class TrainConfig(BaseModel):
    """Everything a training run needs; saved beside the checkpoint."""

    model_config = ConfigDict(extra="forbid")

    model: ExtractorConfig = Field(default_factory=ExtractorConfig)
    #: ``joint``: train the model. ``relation_label_encoder``: starting from ``init_from``,
    #: train only the adapter that lets relation labels be embedded apart from the text
    #: (large schemas), everything else frozen: the joint layout's outputs stay the same.
    #: ``one_way``: likewise, only the update for relation labels read after the text
    #: (``JointExtractionModel.add_one_way_lora``, rank ``lora_rank``)
    stage: Literal["joint", "relation_label_encoder", "one_way"] = "joint"
    #: relation_label_encoder stage: weight of matching the joint layout's relation
    #: probabilities on every pair (besides the gold relations)
    distill_weight: float = 1.0
    #: relation_label_encoder stage: rank of the encoder's low-rank update for that mode
    #: (0: only the relation-label adapter trains, and texts read without relation labels
    #: are encoded by the frozen joint encoder)
    lora_rank: int = 16
    #: relation_label_encoder stage: add the cross-attention from relation labels to the
    #: text (``JointExtractionModel.add_relation_label_context``)
    relation_label_context: bool = False
    #: relation_label_encoder stage: decoder layers from relation labels to the text
    #: (``JointExtractionModel.add_relation_label_fusion``; 0: none)
    relation_label_fusion_layers: int = 0
    #: relation_label_encoder and one_way stages: weight of matching the joint layout's
    #: relation-label vectors themselves (squared error relative to their mean squared
    #: norm), for every label of every text
    vector_distill_weight: float = 0.0
    data_root: str = "../shared/datasets"
    train: list[DataSpec]
    dev: list[DataSpec] = Field(default_factory=list)
    fewrel_dir: str | None = "fewrel"
    output_dir: str = "runs/extractor"
    seed: int = 13
    epochs: int = 10
    lr_encoder: float = 8e-5
    lr_heads: float = 5e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    batch_tokens: int = 2048
    max_sentences: int = 16
    max_entity_labels: int = 12
    max_relation_labels: int = 12
    max_distractors: int = 3
    #: label phrases never to use as distractors (e.g. a held-out dataset's labels)
    exclude_distractors: list[str] = Field(default_factory=list)
    drop_negative_prob: float = 0.15
    #: relation names held out of training entirely: texts stating them are skipped and
    #: they never appear as distractors (the unseen-relation benchmark's labels)
    exclude_relations: list[str] = Field(default_factory=list)
    #: relation names held out exactly like ``exclude_relations``, which
    #: ``benchmarks/zero_shot.py`` scores as unseen relations (the WebNLG draw of
    #: ``scripts/draw_heldout_relations.py``)
    benchmark_relations: list[str] = Field(default_factory=list)
    #: Wikidata property names + descriptions: a large pool of distractor relation labels
    relation_pool: str | None = "wikidata-properties/all_wikidata_properties.json"
    max_relation_distractors: int = 4
    #: chance that a label is shown in another phrasing (synonym, or name + description)
    label_variant_prob: float = 0.15
    #: loss weight of silver (teacher) entity labels
    silver_weight: float = 0.5
    #: start from this model folder instead of the bare encoder (continued training)
    init_from: str | None = None
    #: the config that produces ``init_from``: trained first when that folder is missing,
    #: so one command reproduces a multi-stage recipe
    init_config: str | None = None
    #: dev sets (by name) whose labels were held out of training: thresholds are picked on
    #: these so that they transfer to labels the model never saw (default: all dev sets)
    threshold_dev: list[str] = Field(default_factory=list)
    threshold_grid: list[float] = Field(default_factory=lambda: [0.2, 0.3, 0.4, 0.5, 0.6])
    max_pairs: int = 400
    focal_gamma: float = 1.0
    relation_loss_weight: float = 1.0
    dev_limit: int = 200
    num_threads: int | None = None


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
    #: what was encoded (the relation_label_encoder stage encodes it again, differently)
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
    text, spans = join_words(ex.words)
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


def focal_bce(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma: float,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sum of focal binary cross-entropy terms (gamma 0 = plain BCE), each term
    multiplied by ``weights`` where given (0 masks it out)."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    if gamma:
        p = torch.sigmoid(logits)
        p_t = p * targets + (1 - p) * (1 - targets)
        bce = bce * (1 - p_t).pow(gamma)
    if weights is not None:
        bce = bce * weights
    return bce.sum()


def batch_loss(
    model: JointExtractionModel, items: list[Instance], cfg: TrainConfig
) -> tuple[torch.Tensor, float, float]:
    batch = collate([it.encoded for it in items])
    hidden = model.encode(batch)
    spans, logits = _spans_and_entity_logits(model, hidden, batch)  # (B, S, D), (B, S, Le)
    targets, weights = _entity_targets(items, logits)
    mask = model.span_mask(batch).unsqueeze(-1) & (batch["entity_markers"] >= 0).unsqueeze(1)
    ent_loss = focal_bce(logits[mask], targets[mask], cfg.focal_gamma, weights[mask])

    rel_emb = model.label_embeddings(hidden, batch["relation_markers"], model.relation_label_proj)
    rel_loss = logits.new_zeros(())
    for b, it in enumerate(items):
        n_rel = len(it.encoded.relation_marker_positions)
        if not it.pairs or not n_rel:
            continue
        pair_logits = model.pair_logits(
            hidden[b],
            spans[b, torch.tensor(it.mention_spans)],
            torch.tensor(it.mention_tokens),
            torch.tensor(it.mention_cluster),
            it.num_clusters,
            torch.tensor(it.pairs),
            rel_emb[b, :n_rel],
        )
        t, w = _pair_targets(it, pair_logits)
        rel_loss = rel_loss + focal_bce(pair_logits, t, cfg.focal_gamma, w)
    b = len(items)
    loss = (ent_loss + cfg.relation_loss_weight * rel_loss) / b
    return loss, ent_loss.item() / b, rel_loss.item() / b


def relation_label_encoder_loss(
    model: JointExtractionModel, items: list[Instance], cfg: TrainConfig, encoder: TextEncoder
) -> tuple[torch.Tensor, float, float]:
    """Loss of the separate relation-label parts on one batch (the joint model frozen).

    Three passes: the joint layout (the teacher: the text with entity and relation
    labels, no gradients), the text with its entity labels only and the relation labels
    on their own (both through ``separate_lora`` when the model has it). Spans are scored
    from the second pass against its entity labels, pairs from the second with relation
    vectors from the third. The loss is the gold entities' and relations' (as in
    training) plus ``distill_weight`` times the KL divergence to the teacher's entity
    and relation probabilities on every span and pair. Returns the loss, the
    distillation part and the gold part (per text).
    """
    text_only = [encoder.encode(it.text, it.word_spans, it.entity_prompt, []) for it in items]
    labels_only = [encoder.encode("", [], [], it.relation_prompt) for it in items]
    joint = collate([it.encoded for it in items])
    hidden_j, spans_j, rel_j, ent_j = _joint_teacher(model, joint, entities=True)
    text_batch = collate(text_only)
    label_batch = collate(labels_only)
    with model.separate_encoding():
        hidden_t = model.encode(text_batch)
        hidden_l = model.encode(label_batch)
    spans_t, ent_t = _spans_and_entity_logits(model, hidden_t, text_batch)
    rel_vectors = model.separate_relation_vectors(
        model.marker_states(hidden_l, label_batch["relation_markers"]),
        hidden_t,
        text_batch["attention_mask"],
    )

    # entities: the spans the teacher saw (the text-only window holds at least those)
    targets, weights = _entity_targets(items, ent_t)
    mask = model.span_mask(joint).unsqueeze(-1) & (joint["entity_markers"] >= 0).unsqueeze(1)
    gold_loss = focal_bce(ent_t[mask], targets[mask], cfg.focal_gamma, weights[mask])
    distill_loss = _kl(ent_t[mask], ent_j[mask])
    pair_gold, pair_distill = _pair_losses(
        model, items, cfg, encoder, (hidden_j, spans_j, rel_j), (hidden_t, spans_t, rel_vectors)
    )
    return _adapter_loss(
        cfg, len(items), gold_loss + pair_gold, distill_loss + pair_distill,
        rel_vectors, rel_j, joint["relation_markers"],
    )  # fmt: skip


@torch.no_grad()
def _joint_teacher(
    model: JointExtractionModel, joint: dict[str, torch.Tensor], entities: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """What an adapter stage's student is taught from: the joint layout's hidden
    states, span vectors and relation-label vectors of a batch, and with ``entities``
    its entity logits (else None); no gradients."""
    hidden = model.encode(joint)
    if entities:
        spans, entity_logits = _spans_and_entity_logits(model, hidden, joint)
    else:
        spans, entity_logits = model.span_embeddings(hidden, joint), None
    relations = model.label_embeddings(hidden, joint["relation_markers"], model.relation_label_proj)
    return hidden, spans, relations, entity_logits


def _adapter_loss(
    cfg: TrainConfig,
    texts: int,
    gold_loss: torch.Tensor,
    distill_loss: torch.Tensor,
    student_vectors: torch.Tensor,
    teacher_vectors: torch.Tensor,
    markers: torch.Tensor,
) -> tuple[torch.Tensor, float, float]:
    """An adapter stage's loss from its summed gold and distillation parts: plus
    ``vector_distill_weight`` times the label vectors' error (:func:`_vector_error`),
    weighted by ``distill_weight``, per text. Returns the loss, the distillation part and
    the gold part (per text)."""
    if cfg.vector_distill_weight:
        distill_loss = distill_loss + cfg.vector_distill_weight * _vector_error(
            student_vectors, teacher_vectors, markers
        )
    # (a batch without a single pair still yields a loss that backward accepts)
    loss = (gold_loss + cfg.distill_weight * distill_loss) / texts + 0.0 * student_vectors.sum()
    return loss, distill_loss.item() / texts, gold_loss.item() / texts


def _vector_error(
    student: torch.Tensor, teacher: torch.Tensor, markers: torch.Tensor
) -> torch.Tensor:
    """Squared error of the student's relation-label vectors (B, L, D) against the
    joint layout's, summed over the real labels (``markers`` >= 0), relative to the
    teacher vectors' mean squared norm. The joint layout's vectors read the text, and
    with them the pair scores of the joint layout come back almost whole (a student's
    text states with the joint vectors lose 0.6 of 23.4 relation F1 on WebNLG's unseen
    relations with gold entities), so matching every label of every text is a far denser
    signal than the pairs' probabilities alone. 0 for a batch without relation labels
    (NER data)."""
    real = (markers >= 0).unsqueeze(-1)
    if not bool(real.any()):
        return student.new_zeros(())
    teacher = teacher.detach()
    scale = (teacher.pow(2).sum(-1, keepdim=True) * real).sum() / real.sum()
    error = ((student - teacher).pow(2).sum(-1, keepdim=True) * real).sum()
    return error / scale.clamp(min=1e-6)


def _kl(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """KL divergence of the student's from the teacher's probabilities (sigmoid of the
    logits), summed: cross-entropy minus the teacher's entropy, so the same gradient as
    the cross-entropy and 0 when they agree."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    soft = torch.sigmoid(teacher)
    return bce(student, soft, reduction="sum") - bce(teacher, soft, reduction="sum")


def _pair_losses(
    model: JointExtractionModel,
    items: list[Instance],
    cfg: TrainConfig,
    encoder: TextEncoder,
    teacher: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    student: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The gold and the distillation loss of a batch's entity pairs (summed over texts,
    times ``relation_loss_weight``), scored by the teacher (the joint layout) and by a
    student that read each text without relation labels in its prompt. Each is
    (hidden states, span vectors, relation-label vectors)."""
    hidden_j, spans_j, rel_j = teacher
    hidden_t, spans_t, rel_vectors = student
    gold_loss = rel_vectors.new_zeros(())
    distill_loss = rel_vectors.new_zeros(())
    for b, it in enumerate(items):
        n_rel = len(it.encoded.relation_marker_positions)
        if not it.pairs or not n_rel:
            continue
        # the text starts where the prompt ends: its tokens move by the relation labels'
        shift = encoder.prompt_length(it.entity_prompt, it.relation_prompt) - (
            encoder.prompt_length(it.entity_prompt, [])
        )
        mention_spans = torch.tensor(it.mention_spans)
        tokens = torch.tensor(it.mention_tokens)
        cluster = torch.tensor(it.mention_cluster)
        pairs = torch.tensor(it.pairs)
        with torch.no_grad():
            target = model.pair_logits(
                hidden_j[b], spans_j[b, mention_spans], tokens, cluster, it.num_clusters,
                pairs, rel_j[b, :n_rel],
            )  # fmt: skip
        logits = model.pair_logits(
            hidden_t[b], spans_t[b, mention_spans], tokens - shift,
            cluster, it.num_clusters, pairs, rel_vectors[b, :n_rel],
        )  # fmt: skip
        t, w = _pair_targets(it, logits)
        gold_loss = gold_loss + cfg.relation_loss_weight * focal_bce(logits, t, cfg.focal_gamma, w)
        distill_loss = distill_loss + cfg.relation_loss_weight * _kl(logits, target)
    return gold_loss, distill_loss


def one_way_loss(
    model: JointExtractionModel, items: list[Instance], cfg: TrainConfig, encoder: TextEncoder
) -> tuple[torch.Tensor, float, float]:
    """Loss of ``one_way_lora`` on one batch (everything else frozen).

    The teacher is the joint layout (the text with entity and relation labels, no
    gradients); the student reads the text with its entity labels only and the relation
    labels appended after it, one way (:meth:`JointExtractionModel.encode_one_way`, as
    one group at the positions they have in the joint layout). Pairs are scored from the
    student's text states with its label vectors. The loss is the gold relations' (as in
    training) plus ``distill_weight`` times the KL divergence to the teacher's relation
    probabilities on every pair and ``vector_distill_weight`` times the error of the
    label vectors themselves (:func:`_vector_error`). Entities do not change (the text
    part is frozen), so they have no loss. Returns the loss, the distillation part and
    the gold part (per text).
    """
    joint = collate([it.encoded for it in items])
    hidden_j, spans_j, rel_j, _ = _joint_teacher(model, joint)
    batch = collate_one_way_rows(
        [encoder.encode(it.text, it.word_spans, it.entity_prompt, []) for it in items],
        [encoder.relation_label_block(it.entity_prompt, [it.relation_prompt]) for it in items],
    )
    with model.separate_encoding():
        hidden_t, hidden_l = model.encode_one_way(batch)
    with torch.no_grad():
        spans_t = model.span_embeddings(hidden_t, batch)
    rel_vectors = model.label_embeddings(
        hidden_l, batch["relation_markers"], model.relation_label_proj
    )
    gold_loss, distill_loss = _pair_losses(
        model, items, cfg, encoder, (hidden_j, spans_j, rel_j), (hidden_t, spans_t, rel_vectors)
    )
    return _adapter_loss(
        cfg, len(items), gold_loss, distill_loss, rel_vectors, rel_j, joint["relation_markers"]
    )


def _spans_and_entity_logits(
    model: JointExtractionModel, hidden: torch.Tensor, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every span's vector (B, S, D) and its scores against the batch's entity labels
    (B, S, Le), from the encoder's hidden states."""
    spans = model.span_embeddings(hidden, batch)
    labels = model.label_embeddings(hidden, batch["entity_markers"], model.entity_label_proj)
    return spans, model.entity_logits(spans, labels)


def _entity_targets(
    items: list[Instance], logits: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets and loss weights per (span, label) of a batch's entity logits: the
    label's weight for its negatives (0 for labels the dataset does not annotate), the
    target's own weight for positives."""
    targets = torch.zeros_like(logits)
    weights = torch.zeros_like(logits)
    for b, it in enumerate(items):
        weights[b, :, : len(it.entity_label_weights)] = torch.tensor(it.entity_label_weights)
        if it.entity_targets:
            idx = torch.tensor(it.entity_targets)
            targets[b, idx[:, 0], idx[:, 1]] = 1.0
            weights[b, idx[:, 0], idx[:, 1]] = torch.tensor(it.entity_target_weights)
    return targets, weights


def _pair_targets(it: Instance, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets and loss weights of one text's pair logits."""
    t = torch.zeros_like(logits)
    w = torch.ones_like(logits)
    if it.pair_targets:
        idx = torch.tensor(it.pair_targets)
        t[idx[:, 0], idx[:, 1]] = 1.0
        # a distractor may be a synonym of a gold relation: no loss on related pairs
        related = torch.unique(idx[:, 0])
        distractor = torch.tensor(it.relation_distractor[: t.size(1)])
        w[related.unsqueeze(1), distractor.nonzero().squeeze(1).unsqueeze(0)] = 0.0
    return t, w


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


def _epoch_batches(cfg, train_sets, encoder, pools: LabelPools, epoch: int) -> list[list[Instance]]:
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


def _load(cfg: TrainConfig, specs: list[DataSpec], training: bool) -> dict[str, list[Example]]:
    from kgbuild.extract.silver import add_silver

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
        if training and spec.silver:
            cache = Path(cfg.output_dir).parent / "silver-cache" / f"{spec.name}.json"
            counts = add_silver(examples, cache)
            logger.info("silver entities for %s: %s", spec.name, counts)
        out[spec.name] = examples
    return out


def _train_mode(model: JointExtractionModel, cfg: TrainConfig) -> None:
    """Dropout where weights train: everywhere, or only in the relation-label adapter."""
    if cfg.stage == "one_way":
        model.eval()
        model.one_way_lora.train()
    elif cfg.stage == "relation_label_encoder":
        model.eval()
        model.relation_label_adapter.train()
        for part in ("relation_label_attention", "relation_label_fusion"):
            if hasattr(model, part):
                getattr(model, part).train()
    else:
        model.train()


def _evaluate_dev(
    model,
    tokenizer,
    dev: dict[str, list[Example]],
    cfg: TrainConfig,
    thresholds=None,
    mode: str | None = None,
) -> dict:
    from kgbuild.extract.evaluate import predict_examples, score_predictions
    from kgbuild.extract.extractor import JointExtractor

    model.eval()
    # the adapter stages are judged with relation labels as they will be read
    if mode is None:
        mode = {"relation_label_encoder": "separate", "one_way": "oneway"}.get(cfg.stage, "prompt")
    extractor = JointExtractor(model, tokenizer, model_id=cfg.model.name, relation_label_mode=mode)
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
    _train_mode(model, cfg)
    return out


def _relation_dev(dev, cfg: TrainConfig) -> dict[str, list[Example]]:
    """The threshold dev sets (``threshold_dev``) that have gold relations."""
    picked = [n for n in cfg.threshold_dev if n in dev and _has_gold(dev[n], "rel")]
    return {n: dev[n] for n in picked or [n for n in dev if _has_gold(dev[n], "rel")]}


def _best_on_grid(grid, dev_scores, score, what: str, default: float | None = None):
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


def _tune_separate_threshold(model, tokenizer, dev, cfg: TrainConfig) -> float:
    """The relation threshold (grid) with the best mean dev RE F1 when relation labels
    are read as the stage trains them to be (embedded apart, or one way); the entity
    threshold stays the joint model's."""
    dev = _relation_dev(dev, cfg)
    best = _best_on_grid(
        cfg.threshold_grid,
        lambda thr: _evaluate_dev(
            model, tokenizer, dev, cfg, thresholds=(model.config.entity_threshold, thr)
        ),
        lambda scores: float(np.mean([v["rel_micro_f1"] for v in scores.values()])),
        f"{cfg.stage} relation",
        default=model.config.relation_threshold,
    )
    model.eval()
    return best


def _tune_hybrid_threshold(model, tokenizer, dev, cfg: TrainConfig) -> float | None:
    """The ``hybrid`` layout's threshold for the relation labels it reads one way (those
    in its prompt keep the joint threshold): the grid value with the best mean of micro
    and macro RE F1 over the dev sets whose schema needs that layout (micro alone favours
    a high threshold that drops rare relations: on Re-DocRED's 96, 0.6 against 0.55 gave
    +0.6 micro and -1.2 macro). None: no dev set needs it."""
    from kgbuild.extract.extractor import JointExtractor

    probe = JointExtractor(model, tokenizer, model_id="probe", relation_label_mode="hybrid")
    dev = {
        n: examples
        for n, examples in _relation_dev(dev, cfg).items()
        if any(
            probe.relation_label_layout(ex.entity_labels, ex.relation_labels) == "hybrid"
            for ex in examples[: cfg.dev_limit]
        )
    }
    if not dev:
        return None
    previous = model.config.hybrid_relation_threshold

    def dev_scores(thr: float) -> dict:
        model.config.hybrid_relation_threshold = thr
        return _evaluate_dev(model, tokenizer, dev, cfg, mode="hybrid")

    try:
        return _best_on_grid(
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


def train(config_path: str | Path, *, resume: bool = True, max_steps: int | None = None) -> Path:
    """Train from a JSON config; returns the folder of the final model.

    Resumes from ``<output_dir>/checkpoint`` when it exists (unless ``resume`` is
    False). ``max_steps`` stops early (for tests and smoke runs).
    """
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    from kgbuild.extract.model import resolve_encoder_path

    config_path = Path(config_path)
    cfg = TrainConfig.model_validate_json(config_path.read_text())
    if cfg.init_from and not (Path(cfg.init_from) / "config.json").is_file():
        if not cfg.init_config:
            raise FileNotFoundError(
                f"{config_path}: init_from {cfg.init_from} does not exist and no init_config "
                "says how to train it"
            )
        logger.info("training the earlier stage first: %s", cfg.init_config)
        produced = train(cfg.init_config, resume=resume, max_steps=max_steps)
        if produced.resolve() != Path(cfg.init_from).resolve():
            raise ValueError(
                f"{cfg.init_config} writes {produced}, but {config_path} starts from "
                f"{cfg.init_from}"
            )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    torch.set_num_threads(cfg.num_threads or os.cpu_count() or 1)
    out = Path(cfg.output_dir)
    ckpt = out / "checkpoint"
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.json").write_text(cfg.model_dump_json(indent=2) + "\n")

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder_path(cfg.model.encoder))
    encoder = TextEncoder(tokenizer, max_length=cfg.model.max_length)
    train_sets = _load(cfg, cfg.train, training=True)
    dev_sets = _load(cfg, cfg.dev, training=False)
    pools = build_pools(cfg, train_sets)
    logger.info("label pools: %d entity, %d relation names", len(pools.entity), len(pools.relation))

    total_steps = len(_epoch_batches(cfg, train_sets, encoder, pools, 0)) * cfg.epochs

    if cfg.init_from:
        model = JointExtractionModel.from_pretrained(cfg.init_from)
        if cfg.stage != "joint":
            # the joint model stays as trained, thresholds included
            model.config.name = cfg.model.name
        else:
            model.config = cfg.model
        logger.info("continuing from %s", cfg.init_from)
    else:
        model = JointExtractionModel.from_base_encoder(cfg.model)
    adapter_stage = cfg.stage != "joint"
    if adapter_stage and not cfg.init_from:
        raise ValueError(f"{config_path}: stage {cfg.stage} needs init_from")
    if cfg.stage == "one_way":
        if not hasattr(model, "one_way_lora"):
            model.add_one_way_lora(cfg.lora_rank)
        for name, param in model.named_parameters():
            param.requires_grad_(name.startswith("one_way_lora."))
    elif adapter_stage:
        if not hasattr(model, "relation_label_adapter"):
            model.add_relation_label_adapter(cfg.lora_rank)
        if cfg.relation_label_context and not hasattr(model, "relation_label_attention"):
            model.add_relation_label_context()
        if cfg.relation_label_fusion_layers and not hasattr(model, "relation_label_fusion"):
            model.add_relation_label_fusion(cfg.relation_label_fusion_layers)
        trained = (
            "relation_label_adapter.",
            "separate_lora.",
            "relation_label_attention.",
            "relation_label_fusion.",
        )
        for name, param in model.named_parameters():
            param.requires_grad_(name.startswith(trained))
    head_params = [
        p for n, p in model.named_parameters() if not n.startswith("encoder.") and p.requires_grad
    ]
    enc_params = [
        p for n, p in model.named_parameters() if n.startswith("encoder.") and p.requires_grad
    ]
    groups = [
        {"params": enc_params, "lr": cfg.lr_encoder},
        {"params": head_params, "lr": cfg.lr_heads},
    ]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], weight_decay=cfg.weight_decay)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(cfg.warmup_ratio * total_steps), total_steps
    )
    start_epoch, step, history = 0, 0, []
    if resume and (ckpt / "state.pt").is_file():
        state = torch.load(ckpt / "state.pt", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, step, history = state["epoch"], state["step"], state["history"]
        logger.info("resumed from %s at epoch %d (step %d)", ckpt, start_epoch, step)

    _train_mode(model, cfg)
    # what the two logged parts of the loss are
    parts = ("distillation", "gold") if adapter_stage else ("entity", "relation")
    started = time.time() - sum(h.get("seconds", 0) for h in history)
    for epoch in range(start_epoch, cfg.epochs):
        batches = _epoch_batches(cfg, train_sets, encoder, pools, epoch)
        t0 = time.time()
        sums = np.zeros(3)
        for i, batch in enumerate(batches):
            if cfg.stage == "one_way":
                loss, ent_l, rel_l = one_way_loss(model, batch, cfg, encoder)
            elif adapter_stage:
                loss, ent_l, rel_l = relation_label_encoder_loss(model, batch, cfg, encoder)
            else:
                loss, ent_l, rel_l = batch_loss(model, batch, cfg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            optimizer.step()
            if step < total_steps - 1:
                scheduler.step()
            step += 1
            sums += (loss.item(), ent_l, rel_l)
            if (i + 1) % 50 == 0:
                logger.info(
                    "epoch %d batch %d/%d loss %.3f (%s %.3f, %s %.3f) %.1f s",
                    epoch + 1, i + 1, len(batches), sums[0] / (i + 1), parts[0],
                    sums[1] / (i + 1), parts[1], sums[2] / (i + 1), time.time() - t0,
                )  # fmt: skip
            if max_steps and step >= max_steps:
                break
        entry = {
            "epoch": epoch + 1,
            "loss": round(float(sums[0] / max(1, i + 1)), 4),
            f"{parts[0]}_loss": round(float(sums[1] / max(1, i + 1)), 4),
            f"{parts[1]}_loss": round(float(sums[2] / max(1, i + 1)), 4),
            "seconds": round(time.time() - t0, 1),
        }
        if dev_sets and not max_steps:
            entry["dev"] = _evaluate_dev(model, tokenizer, dev_sets, cfg)
        history.append(entry)
        logger.info("epoch %d done: %s", epoch + 1, json.dumps(entry))
        ckpt.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "epoch": epoch + 1,
                "step": step,
                "history": history,
            },
            ckpt / "state.pt.tmp",
        )
        os.replace(ckpt / "state.pt.tmp", ckpt / "state.pt")
        if max_steps and step >= max_steps:
            break

    model.eval()
    if dev_sets and not max_steps and cfg.stage == "one_way":
        model.config.one_way_relation_threshold = _tune_separate_threshold(
            model, tokenizer, dev_sets, cfg
        )
        model.config.hybrid_relation_threshold = _tune_hybrid_threshold(
            model, tokenizer, dev_sets, cfg
        )
    elif dev_sets and not max_steps and adapter_stage:
        model.config.separate_relation_threshold = _tune_separate_threshold(
            model, tokenizer, dev_sets, cfg
        )
    elif dev_sets and not max_steps:
        best = _tune_thresholds(model, tokenizer, dev_sets, cfg)
        model.config.entity_threshold, model.config.relation_threshold = best
    final = out / "model"
    model.save_pretrained(final)
    summary = {
        "train_seconds": round(time.time() - started, 1),
        "history": history,
        "entity_threshold": model.config.entity_threshold,
        "relation_threshold": model.config.relation_threshold,
        "config": json.loads(model.config.model_dump_json()),
        "train_config": json.loads(cfg.model_dump_json()),
    }
    (final / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_model_card(final, summary)
    logger.info("saved %s", final)
    return final


def _tune_thresholds(model, tokenizer, dev, cfg: TrainConfig) -> tuple[float, float]:
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
            useful = [v[key] for n, v in scores.items() if _has_gold(dev[n], key)]
            return float(np.mean(useful)) if useful else 0.0

        return _best_on_grid(
            cfg.threshold_grid,
            lambda thr: _evaluate_dev(model, tokenizer, dev, cfg, thresholds=thresholds_for(thr)),
            score,
            kind,
        )

    entity = best("ner_micro_f1", "entity", lambda t: (t, cfg.model.relation_threshold))
    relation = best("rel_micro_f1", "relation", lambda t: (entity, t))
    return entity, relation


def retune_thresholds(config_path: str | Path, model_dir: str | Path | None = None) -> Path:
    """Pick the thresholds of a trained model folder again on the config's dev sets
    (``threshold_dev``) and write them into its config.json and training.json: the
    entity and relation thresholds, or for a ``one_way`` stage those of the relation
    labels it reads one way (``one_way_relation_threshold``, ``hybrid_relation_threshold``)."""
    from transformers import AutoTokenizer

    from kgbuild.extract.model import resolve_encoder_path

    cfg = TrainConfig.model_validate_json(Path(config_path).read_text())
    model_dir = Path(model_dir or Path(cfg.output_dir) / "model")
    torch.set_num_threads(cfg.num_threads or os.cpu_count() or 1)
    model = JointExtractionModel.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder_path(model.config.encoder))
    dev_sets = _load(cfg, cfg.dev, training=False)
    if cfg.stage == "one_way":
        picked = {
            "one_way_relation_threshold": _tune_separate_threshold(model, tokenizer, dev_sets, cfg),
            "hybrid_relation_threshold": _tune_hybrid_threshold(model, tokenizer, dev_sets, cfg),
        }
    else:
        entity, relation = _tune_thresholds(model, tokenizer, dev_sets, cfg)
        picked = {"entity_threshold": entity, "relation_threshold": relation}
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
        summary.update(picked)
        if "config" in summary:
            summary["config"].update(picked)
        summary_path.write_text(json.dumps(summary, indent=2) + "\n")


def _has_gold(examples: list[Example], key: str) -> bool:
    if key.startswith("ner"):
        return any(ex.entities for ex in examples)
    return any(ex.relations for ex in examples)


def write_model_card(directory: Path, summary: dict, scores: dict | None = None) -> None:
    """README.md of a model folder: what it is, how it was trained, what it scores."""
    cfg = summary["config"]
    history = summary["history"]
    # the relation-label adapter stage logs distillation where the joint stages log entities
    first_part, second_part = (
        ("distillation", "gold")
        if history and "distillation_loss" in history[0]
        else ("entity", "relation")
    )
    lines = [
        f"# {cfg['name']}",
        "",
        "A GLiNER-Relex-style joint entity and relation extractor trained by `kgbuild train`.",
        f"Base encoder: `{cfg['encoder']}` (word embeddings frozen and loaded from it; this folder",
        "holds the rest of the weights in fp16). Labels are read as text, so entity and relation",
        "types are chosen at call time.",
        "",
        "## Training",
        f"- training time: {summary['train_seconds'] / 60:.1f} min on this machine",
        f"- thresholds picked on dev: entity {summary['entity_threshold']}, "
        f"relation {summary['relation_threshold']}",
        "",
        f"| epoch | loss | {first_part} loss | {second_part} loss | seconds | dev |",
        "|---|---|---|---|---|---|",
    ]
    for h in summary["history"]:
        lines.append(
            f"| {h['epoch']} | {h['loss']} | {h[f'{first_part}_loss']} | "
            f"{h[f'{second_part}_loss']} | "
            f"{h['seconds']} | {json.dumps(h.get('dev', {}))} |"
        )
    for variant, table in (scores or {}).items():
        lines += [
            "",
            f"## Scores: {variant} (strict, `kgbuild eval`)",
            "",
            "| data | NER micro | NER macro | RE+ micro | RE+ macro |",
            "|---|---|---|---|---|",
        ]
        for name, sc in table.items():
            lines.append(
                f"| {name} | {sc['ner_micro_f1']} | {sc['ner_macro_f1']} | "
                f"{sc['rel_micro_f1']} | {sc['rel_macro_f1']} |"
            )
    notes = directory / "NOTES.md"
    if notes.is_file():
        lines += ["", notes.read_text().strip()]
    (directory / "README.md").write_text("\n".join(lines) + "\n")
