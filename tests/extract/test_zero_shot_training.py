"""Label sampling and loss masking for zero-shot training (no full training here)."""

import random

import pytest
import torch

from kgbuild.extract.model.config import ExtractorConfig
from kgbuild.extract.model.encoding import TextEncoder
from kgbuild.extract.model.network import JointExtractionModel
from kgbuild.extract.training.config import TrainConfig
from kgbuild.extract.training.data import Example, read_webnlg
from kgbuild.extract.training.losses import batch_loss
from kgbuild.extract.training.sampling import (
    LabelPools,
    build_instance,
    build_pools,
    sample_entity_labels,
    sample_relation_labels,
)

POOLS = LabelPools(
    entity=["disease", "vehicle", "weapon", "animal", "food", "law"],
    relation=["capital of", "spouse", "place of birth", "employer", "sibling"],
    relation_descriptions={},
)


def _example() -> Example:
    words = "Tim Cook , the CEO of Apple , visited Paris on 5 May 2020 .".split()
    return Example(
        words=words,
        entities=[(0, 2, "person"), (6, 7, "organization"), (9, 10, "location")],
        relations=[(0, 1, "works for")],
        entity_labels=["person", "organization", "location"],
        relation_labels=["works for", "located in"],
        silver=[(11, 14, "date")],
        silver_labels=["date", "money"],
    )


def _cfg(**kw) -> TrainConfig:
    base = dict(train=[], model=ExtractorConfig(max_length=128), max_distractors=3)
    base.update(kw)
    return TrainConfig(**base)


def test_entity_labels_weights_mask_what_the_dataset_cannot_vouch_for():
    cfg = _cfg(drop_negative_prob=0.0, max_distractors=3, silver_weight=0.5)
    rng = random.Random(1)
    for _ in range(30):
        sampled = dict(sample_entity_labels(_example(), cfg, POOLS, rng))
        # every gold and silver positive is always there
        assert {"person", "organization", "location", "date"} <= set(sampled)
        assert sampled["person"] == 1.0 and sampled["date"] == 0.5
        for label, weight in sampled.items():
            if label in POOLS.entity:
                assert weight == 0.0  # a distractor teaches nothing about spans
    # distractors do show up, in varying numbers
    counts = {
        sum(x in POOLS.entity for x, _ in sample_entity_labels(_example(), cfg, POOLS, rng))
        for _ in range(40)
    }
    assert len(counts) > 1 and max(counts) > 0


def test_relation_distractors_are_flagged_and_never_synonyms_of_own_labels():
    cfg = _cfg(max_relation_distractors=4)
    rng = random.Random(2)
    pools = LabelPools([], POOLS.relation + ["works for", "Works-For"], {})
    for _ in range(30):
        sampled = sample_relation_labels(_example(), cfg, pools, rng)
        labels = [x for x, _ in sampled]
        assert "works for" in labels
        assert labels.count("works for") == 1 and "Works-For" not in labels
        for label, distractor in sampled:
            assert distractor == (label not in _example().relation_labels)


def test_build_instance_carries_weights_and_silver_targets(tokenizer):
    cfg = _cfg(max_distractors=2, label_variant_prob=0.0)
    enc = TextEncoder(tokenizer, max_length=128)
    it = build_instance(_example(), enc, 12, random.Random(3), cfg, POOLS)
    assert len(it.entity_label_weights) == len(it.encoded.entity_marker_positions)
    assert len(it.relation_distractor) == len(it.encoded.relation_marker_positions)
    # gold spans have weight 1, the silver date span has the silver weight
    assert sorted(it.entity_target_weights) == [0.5, 1.0, 1.0, 1.0]
    assert it.pair_targets  # works for


def _loss_of(model, items, cfg):
    loss, ent, rel = batch_loss(model, items, cfg)
    return loss, ent, rel


def test_distractor_labels_get_no_entity_gradient(tokenizer):
    """The loss does not depend on a masked label's scores: its gradient is zero."""
    torch.manual_seed(0)
    cfg = _cfg(max_distractors=0, drop_negative_prob=0.0, label_variant_prob=0.0)
    model = JointExtractionModel.from_base_encoder(cfg.model)
    model.eval()  # no dropout: the comparison below is exact
    enc = TextEncoder(tokenizer, max_length=128)
    ex = _example()
    ex.silver, ex.silver_labels = [], []
    item = build_instance(ex, enc, 12, random.Random(0), cfg, POOLS)
    base, _, _ = _loss_of(model, [item], cfg)
    # now the same prompt, but one label the dataset does not annotate is added as a
    # distractor (weight 0): the entity loss stays the same
    ex2 = _example()
    ex2.silver, ex2.silver_labels = [], []
    pools = LabelPools(["vehicle"], [], {})
    item2 = build_instance(ex2, enc, 12, random.Random(0), _cfg(max_distractors=1,
                           drop_negative_prob=0.0, label_variant_prob=0.0), pools)  # fmt: skip
    labels = item2.entity_label_weights
    if 0.0 not in labels:
        pytest.skip("sampler drew no distractor with this seed")
    # with the distractor weighted 1 instead, the loss would grow (it is a real term)
    _, ent_masked, _ = _loss_of(model, [item2], cfg)
    item2.entity_label_weights = [1.0 for _ in labels]
    _, ent_unmasked, _ = _loss_of(model, [item2], cfg)
    assert ent_unmasked > ent_masked
    assert base.item() > 0


def test_relation_distractor_not_trained_on_related_pairs(tokenizer):
    torch.manual_seed(0)
    cfg = _cfg(max_distractors=0, drop_negative_prob=0.0, label_variant_prob=0.0)
    model = JointExtractionModel.from_base_encoder(cfg.model)
    model.eval()
    enc = TextEncoder(tokenizer, max_length=128)
    ex = _example()
    item = build_instance(ex, enc, 12, random.Random(0), cfg, LabelPools([], ["employer"], {}))
    _, _, rel_masked = _loss_of(model, [item], cfg)
    item.relation_distractor = [False] * len(item.relation_distractor)
    _, _, rel_unmasked = _loss_of(model, [item], cfg)
    if not any(
        x for x in build_instance(ex, enc, 12, random.Random(0), cfg,
                                  LabelPools([], ["employer"], {})).relation_distractor
    ):  # fmt: skip
        pytest.skip("no distractor drawn")
    assert rel_unmasked > rel_masked


def test_pools_leave_out_held_out_names(datasets):
    cfg = TrainConfig(
        train=[],
        data_root=str(datasets),
        exclude_relations=["city served", "place of birth"],
        exclude_distractors=["animal"],
    )
    train_sets = {"w": read_webnlg(datasets / "webnlg/en/train/2triples/Airport.xml")}
    pools = build_pools(cfg, train_sets)
    assert len(pools.relation) > 10_000
    assert "place of birth" not in pools.relation and "city served" not in pools.relation
    assert "animal" not in pools.entity
    assert "country" in pools.relation
