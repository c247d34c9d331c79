"""The no-relation score: each relation label judged against a learned score of the same
pair (ATLOP's adaptive threshold), without full training."""

from __future__ import annotations

import random

import pytest
import torch

from kgbuild.extract.inference.extractor import JointExtractor
from kgbuild.extract.model.collation import collate
from kgbuild.extract.model.config import ExtractorConfig
from kgbuild.extract.model.encoding import TextEncoder, split_words
from kgbuild.extract.model.network import JointExtractionModel
from kgbuild.extract.training.config import TrainConfig
from kgbuild.extract.training.data import read_spert
from kgbuild.extract.training.losses import adaptive_threshold_loss, batch_loss
from kgbuild.extract.training.sampling import LabelPools, build_instance

TEXT = "Anna Weber works for Northwind Robotics in Berlin. She met Hiro Tanaka in Osaka."


def test_the_loss_ranks_gold_labels_above_the_pair_score_and_the_rest_below():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0]], requires_grad=True)
    no_relation = torch.tensor([0.0, 1.0], requires_grad=True)
    targets = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    loss = adaptive_threshold_loss(logits, no_relation, targets)
    # by hand: pair 0's gold label against {gold, NA}; each pair's NA against {others, NA}
    lse = torch.logsumexp
    want = (
        -(2.0 - lse(torch.tensor([2.0, 0.0]), 0))
        - (0.0 - lse(torch.tensor([-1.0, 0.5, 0.0]), 0))
        - (1.0 - lse(torch.tensor([0.0, 0.0, 0.0, 1.0]), 0))
    )
    assert loss.item() == pytest.approx(want.item(), rel=1e-6)
    loss.backward()
    assert logits.grad[0, 0] < 0  # the gold label goes up
    assert logits.grad[0, 2] > 0 and logits.grad[1].gt(0).all()  # the others go down
    assert no_relation.grad[1] < 0  # a pair without gold: its no-relation score goes up


def test_a_masked_label_counts_for_neither_side():
    logits = torch.tensor([[1.0, 3.0]])
    targets = torch.tensor([[1.0, 0.0]])
    masked = adaptive_threshold_loss(logits, torch.zeros(1), targets, torch.tensor([[1.0, 0.0]]))
    alone = adaptive_threshold_loss(logits[:, :1], torch.zeros(1), targets[:, :1])
    assert masked.item() == pytest.approx(alone.item())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(11)
    config = ExtractorConfig(name="tiny-na", max_length=128, no_relation_score=True)
    model = JointExtractionModel.from_base_encoder(config)
    with torch.no_grad():
        model.no_relation.normal_(0.0, 0.5)
    directory = tmp_path_factory.mktemp("no-relation") / "model"
    model.save_pretrained(directory)
    return directory


@torch.no_grad()
def test_relations_are_scored_against_the_pair_no_relation_score(tiny):
    x = JointExtractor.from_pretrained(tiny, backend="torch")
    assert x.model.config.no_relation_score
    entities, relations = ["person", "organization", "city"], ["works for", "lives in"]
    (out,) = x.predict(
        [TEXT], [split_words(TEXT)], entities, relations,
        entity_threshold=0.5, relation_threshold=0.0,
    )  # fmt: skip
    found, rels = out
    assert len(found) >= 2 and rels
    # by hand: the pair's logits against the labels and the no-relation vector
    enc = x.encoder.encode(TEXT, split_words(TEXT), entities, relations)
    batch = collate([enc])
    hidden = x.model.encode(batch)
    vectors = x.model.label_embeddings(
        hidden, batch["relation_markers"], x.model.relation_label_proj
    )
    with_na = x.model.with_no_relation(vectors[0])
    assert with_na.shape[0] == len(relations) + 1
    torch.testing.assert_close(with_na[-1], x.model.no_relation)
    expected = torch.tensor([r.score for r in rels])
    # each returned score is sigmoid(label logit - no-relation logit) of its pair
    logits = _pair_logits(x, hidden[0], enc, found, with_na)
    got = []
    for r in rels:
        h, t = r.head, r.tail
        row = logits[(h, t)]
        got.append(torch.sigmoid(row[relations.index(r.label)] - row[-1]))
    torch.testing.assert_close(torch.stack(got), expected, atol=1e-5, rtol=1e-5)


def _pair_logits(x, hidden, enc, found, vectors):
    """(head, tail) -> the pair's logits, one mention per entity (as in TEXT)."""
    tokens = torch.tensor(
        [[enc.word_first_token[e.start], enc.word_last_token[e.end - 1]] for e in found]
    )
    words = torch.tensor([e.end - e.start for e in found])
    start, end, _ = x.model.span_parts(hidden.unsqueeze(0))
    spans = x.model.project_spans(
        x.model.span_hidden_at(start[0], end[0], x._width_part(), tokens[:, 0], tokens[:, 1], words)
    )
    n = len(found)
    pairs = torch.tensor([(h, t) for h in range(n) for t in range(n) if h != t])
    out = x.model.pair_logits(hidden, spans, tokens, torch.arange(n), n, pairs, vectors)
    return {tuple(p): row for p, row in zip(pairs.tolist(), out, strict=True)}


def test_training_with_the_no_relation_score_learns(datasets, tokenizer):
    torch.manual_seed(0)
    examples = read_spert(
        datasets / "conll04/conll04_train.json", datasets / "conll04/conll04_types.json"
    )[:6]
    cfg = TrainConfig(
        train=[], model=ExtractorConfig(max_length=128, no_relation_score=True), max_distractors=0
    )
    model = JointExtractionModel.from_base_encoder(cfg.model)
    encoder = TextEncoder(tokenizer, max_length=128)
    rng = random.Random(0)
    items = [
        build_instance(ex, encoder, cfg.model.max_width, rng, cfg, LabelPools([], [], {}))
        for ex in examples
    ]
    assert any(it.pair_targets for it in items)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-4)
    model.train()
    losses = []
    for _ in range(12):
        loss, _, rel = batch_loss(model, items, cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(rel)
    assert model.no_relation.grad is not None  # the no-relation vector trains
    assert losses[-1] < 0.7 * losses[0], losses


def test_a_run_adds_the_score_to_a_trained_model(datasets, tmp_path):
    import json

    from kgbuild.extract.training.loop import train

    base = JointExtractionModel.from_base_encoder(ExtractorConfig(name="base", max_length=96))
    base.add_one_way_lora(2)  # what a shipped checkpoint has: the next one_way stage redoes it
    base.save_pretrained(tmp_path / "base")
    config = {
        "model": {"name": "with-na", "max_length": 96, "no_relation_score": True},
        "init_from": str(tmp_path / "base"),
        "data_root": str(datasets),
        "output_dir": str(tmp_path / "run"),
        "epochs": 1,
        "train": [
            {
                "name": "c",
                "format": "spert",
                "path": "conll04/conll04_train.json",
                "types": "conll04/conll04_types.json",
                "limit": 4,
            }
        ],
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    out = train(path, max_steps=2)
    model = JointExtractionModel.from_pretrained(out)
    assert model.config.no_relation_score and hasattr(model, "no_relation")
    assert not hasattr(model, "one_way_lora") and model.config.one_way_lora_rank == 0
    x = JointExtractor.from_pretrained(out, backend="torch")
    (found,) = x.extract([TEXT], ["person", "organization"], ["works for"])
    assert found.entities is not None
