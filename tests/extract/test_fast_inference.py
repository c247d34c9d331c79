"""The faster inference path gives the outputs of the code it replaced, on real chunks.

``reference_inference.ReferenceExtractor`` runs the inference code as it was before
(one tokenization per label pass through transformers, pair contexts projected per
pair); the shipped extractor runs the new one (tokens reused from the chunker's
``token_spans`` and shared by all passes, the Rust tokenizer's batch call, the
context projection folded into the pair layer when pairs outnumber tokens). Both
read the same weights, so any difference is the new code's: entities and relations
must be the same, and scores equal up to float rounding (the folded projection sums
in another order).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import torch
from reference_inference import ReferenceExtractor, reference_pair_logits

from kgbuild.extract import load_extractor
from kgbuild.extract.inference.extractor import JointExtractor
from kgbuild.extract.inference.layouts import get_layout
from kgbuild.extract.model.collation import collate
from kgbuild.ingest.chunker import ChunkerConfig, chunk_document
from kgbuild.ingest.loaders import iter_documents
from kgbuild.pipeline.builder import chunk_budget
from kgbuild.schema import DEFAULT_ENTITY_TYPES, DEFAULT_RELATION_TYPES, RelationConstraint
from kgbuild.types import Document

ROOT = Path(__file__).resolve().parents[2]
SCORE_TOLERANCE = 1e-4  # scores are rounded to 4 decimals; float reassociation may flip one

FIRST = "Anna Carlos Elena Fatima Hiro Ingrid Kwame Mateo Nadia Pierre Rosa Viktor Yusuf".split()
LAST = "Bauer Dubois Fischer Ito Kowalski Moreau Okafor Petrov Rossi Tanaka Weber Xu".split()
ORGS = "Northwind Bluepeak Silverline Redwood Ironbridge Clearwater Oakmont Starling".split()
KINDS = "Robotics Foods Energy Pharma Motors Software Optics Airlines".split()
CITIES = "Paris London Berlin Tokyo Madrid Lisbon Oslo Vienna Milan Osaka Seoul Toronto".split()


def dense_document(seed: int, sentences: int = 40) -> str:
    """News-like text with many distinct entities per chunk (so pairs outnumber tokens)."""
    rng = random.Random(seed)
    out = []
    for _ in range(sentences):
        person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        org = f"{rng.choice(ORGS)} {rng.choice(KINDS)} Inc."
        city = rng.choice(CITIES)
        out.append(
            rng.choice(
                [
                    f"{person} works for {org} in {city}.",
                    f"{org} was founded by {person} in {city}.",
                    f"{person} was born in {city} and joined {org}.",
                ]
            )
        )
    return " ".join(out)


@pytest.fixture(scope="module")
def extractor() -> JointExtractor:
    # torch: these tests compare two torch code paths (ONNX Runtime: test_onnx_backend.py)
    loaded = load_extractor(backend="torch")
    assert isinstance(loaded, JointExtractor) and loaded.backend == "torch"
    return loaded


@pytest.fixture(scope="module")
def reference(extractor) -> ReferenceExtractor:
    # Same weights and tokenizer, its own TextEncoder (so no tokens are shared).
    return ReferenceExtractor(
        extractor.model, extractor.encoder.tokenizer, model_id=extractor.model_id
    )


def pipeline_chunks(extractor, entity_types, relation_types) -> list[str]:
    """Chunk texts as the pipeline makes them: examples/docs and two dense documents."""
    budget, overlap = chunk_budget(
        ChunkerConfig(), extractor.max_text_tokens(entity_types, relation_types)
    )
    docs = [d for d in iter_documents([ROOT / "examples" / "docs"]) if isinstance(d, Document)]
    assert len(docs) >= 5
    for seed in (1, 2):
        text = dense_document(seed)
        docs.append(Document(id=f"dense{seed}", source=f"dense{seed}", text=text, content_hash=""))
    texts = []
    for doc in docs:
        texts += [c.text for c in chunk_document(doc, extractor.token_spans, budget, overlap)]
    return texts


def assert_same_extractions(new, old, tolerance: float = SCORE_TOLERANCE) -> None:
    assert len(new) == len(old)
    for a, b in zip(new, old, strict=True):
        assert [(e.start, e.end, e.text, e.label) for e in a.entities] == [
            (e.start, e.end, e.text, e.label) for e in b.entities
        ]
        assert [(r.head, r.tail, r.label) for r in a.relations] == [
            (r.head, r.tail, r.label) for r in b.relations
        ]
        for x, y in zip([*a.entities, *a.relations], [*b.entities, *b.relations], strict=True):
            # 1e-9: 0.2295 - 0.2294 is 1.00000000000017e-4 in binary floating point
            assert abs(x.score - y.score) <= tolerance + 1e-9, (x, y)


def test_default_schema_matches_reference_on_pipeline_chunks(extractor, reference):
    texts = pipeline_chunks(extractor, DEFAULT_ENTITY_TYPES, DEFAULT_RELATION_TYPES)
    assert len(extractor.label_passes(DEFAULT_ENTITY_TYPES, DEFAULT_RELATION_TYPES)) == 1
    # the chunker's token_spans saw every chunk's final text: extract reuses those tokens
    assert all(t in extractor.encoder._recent for t in texts)
    new = extractor.extract(texts, DEFAULT_ENTITY_TYPES, DEFAULT_RELATION_TYPES)
    old = reference.extract(texts, DEFAULT_ENTITY_TYPES, DEFAULT_RELATION_TYPES)
    assert_same_extractions(new, old)
    assert sum(len(x.relations) for x in new) > 20  # the comparison covers many relations
    assert not any(t in extractor.encoder._recent for t in texts)  # used once, then dropped


@pytest.fixture(params=["prompt", "hybrid"])
def relation_label_mode(request, extractor, reference):
    """Ways of reading many relation labels: in several joint passes ("prompt"), or the
    ones beside the entity labels in the first pass and the others read one way after
    the text ("hybrid", the default)."""
    previous = extractor.layout
    extractor.layout = reference.layout = get_layout(request.param)
    yield request.param
    extractor.layout = reference.layout = previous


def test_many_labels_symmetric_and_constraints_match_reference(
    extractor, reference, relation_label_mode
):
    # Enough labels for several passes; symmetric relations and type constraints on top.
    entity_types = [*DEFAULT_ENTITY_TYPES, *[f"kind of thing number {i}" for i in range(25)]]
    relation_types = [*DEFAULT_RELATION_TYPES, "sibling of", "partner of"]
    relation_types += [f"relation number {i}" for i in range(20)]
    passes = extractor.label_passes(entity_types, relation_types)
    assert len(passes) > 1  # entity labels too many for one pass either way
    one_way = extractor.layout.one_way_labels(relation_types, passes)
    assert bool(one_way) == (relation_label_mode == "hybrid")
    assert any(rels for _, rels in passes)
    texts = pipeline_chunks(extractor, entity_types, relation_types)[:12]
    kwargs = {
        "symmetric_relations": ["sibling of", "partner of", "works for"],
        "relation_constraints": {
            "works for": RelationConstraint(head=["person"], tail=["organization"])
        },
        "entity_threshold": 0.3,
        "relation_threshold": 0.2,
    }
    new = extractor.extract(texts, entity_types, relation_types, **kwargs)
    old = reference.extract(texts, entity_types, relation_types, **kwargs)
    assert_same_extractions(new, old)
    assert any(x.relations for x in new)


@torch.inference_mode()
def test_folded_pair_logits_match_reference_formula(extractor):
    # One dense chunk; every decoded entity a single mention, with more pairs than tokens.
    text = dense_document(3, sentences=14)
    model = extractor.model
    spans = [(m.start(), m.end()) for m in re.finditer(r"\w+|[^\w\s]", text)]
    enc = extractor.encoder.encode(text, spans, list(DEFAULT_ENTITY_TYPES), ["works for"])
    batch = collate([enc])
    hidden = model.encode(batch)
    w = extractor.config.max_width
    # mentions: every single word and every two-word span, as distinct entities
    mentions = [(i, i + 1) for i in range(0, len(spans) - 1, 2)]
    assert len(mentions) * (len(mentions) - 1) > hidden.size(1)
    span_idx = torch.tensor([s * w + (e - s - 1) for s, e in mentions])
    span_vecs = model.project_spans(model.span_hidden(hidden, batch)[0][span_idx])
    tokens = torch.tensor(
        [[enc.word_first_token[s], enc.word_last_token[e - 1]] for s, e in mentions]
    )
    c = len(mentions)
    cluster = torch.randperm(c, generator=torch.Generator().manual_seed(0))  # any order
    heads, tails = torch.meshgrid(torch.arange(c), torch.arange(c), indexing="ij")
    off = heads != tails
    pairs = torch.stack([heads[off], tails[off]], dim=-1)
    rel = model.label_embeddings(hidden, batch["relation_markers"], model.relation_label_proj)[0]
    args = (hidden[0], span_vecs, tokens, cluster, c, pairs, rel)
    new = model.pair_logits(*args)
    old = reference_pair_logits(model, *args)
    assert new.shape == old.shape == (c * (c - 1), 1)
    assert torch.allclose(new, old, atol=1e-4, rtol=0), (new - old).abs().max()
    # with pooled mentions (several mentions of some entities), many pairs: pairs of
    # one-mention entities are folded, the others pooled
    pooled = cluster.clone()
    pooled[pooled == c - 1] = 0
    pooled[pooled == c - 2] = 1
    keep = pairs.max(dim=1).values < c - 2
    args = (hidden[0], span_vecs, tokens, pooled, c - 2, pairs[keep], rel)
    assert int(keep.sum()) > hidden.size(1)
    new, old = model.pair_logits(*args), reference_pair_logits(model, *args)
    assert torch.allclose(new, old, atol=1e-4, rtol=0), (new - old).abs().max()
    # few pairs (fewer than tokens): the unfolded path runs, exactly equal
    few = pairs[keep][: hidden.size(1) // 2]
    args = (hidden[0], span_vecs, tokens, pooled, c - 2, few, rel)
    assert torch.equal(model.pair_logits(*args), reference_pair_logits(model, *args))


def test_tokenize_matches_transformers_and_reuses_token_spans(extractor, tokenizer):
    encoder = extractor.encoder  # its tokenizer comes from tokenizer.json, not transformers
    long_text = dense_document(4, sentences=60)  # far past MiniLM's tokenizer.json cut at 128
    texts = ["Café Zürich — naïve résumé: 東京, 🌧!", long_text, "", "U.S. Steel Corp."]
    hf = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    got = encoder.tokenize(texts)
    assert len(got[1]) > 400
    for tokens, ids, offsets in zip(got, hf["input_ids"], hf["offset_mapping"], strict=True):
        assert tokens.ids.tolist() == ids
        assert [tuple(o) for o in tokens.offsets.tolist()] == [tuple(o) for o in offsets]
    # token_spans keeps a window-sized text's tokens for one later tokenize, then forgets them
    short = texts[0]
    spans = encoder.token_spans(short)
    encoder.token_spans(long_text)
    assert short in encoder._recent and long_text not in encoder._recent
    again = encoder.tokenize([short])[0]
    assert short not in encoder._recent
    assert [tuple(o) for o in again.offsets.tolist()] == spans
