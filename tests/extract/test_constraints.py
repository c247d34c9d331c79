"""Relation type constraints: schema files, the extractor's decoding, the pipeline, eval."""

import json

import pytest
from fake_extractor import FakeExtractor
from pydantic import ValidationError

import kgbuild
from kgbuild.extract.base import ExtractedEntity, ExtractedRelation, filter_relations
from kgbuild.schema import RelationConstraint, Schema

SCHEMA = {
    "entity_types": ["person", "organization", "location"],
    "relation_types": {
        "works for": {"head": ["person"], "tail": ["organization"]},
        "located in": {"head": ["organization", "location"], "tail": ["location"]},
        "knows": None,
    },
}


def test_schema_reads_relation_objects_and_validates_types(tmp_path):
    schema = Schema.model_validate(SCHEMA)
    assert schema.relation_types == ["works for", "located in", "knows"]
    assert set(schema.relation_constraints) == {"works for", "located in"}
    assert schema.relation_constraints["works for"].allows("person", "organization")
    assert not schema.relation_constraints["works for"].allows("organization", "person")
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SCHEMA))
    assert Schema.from_file(path) == schema
    # constraints change what is extracted, so they change the fingerprint
    plain = Schema(
        entity_types=SCHEMA["entity_types"], relation_types=list(SCHEMA["relation_types"])
    )
    assert plain.fingerprint() != schema.fingerprint()
    with pytest.raises(ValidationError, match="not entity types"):
        Schema.model_validate(
            {"entity_types": ["person"], "relation_types": {"works for": {"head": ["persn"]}}}
        )
    with pytest.raises(ValidationError, match="no such relation type"):
        Schema(entity_types=["person"], relation_types=["a b"],
               relation_constraints={"c d": RelationConstraint(head=["person"])})  # fmt: skip


def _ent(label):
    return ExtractedEntity(start=0, end=1, text="x", label=label, score=1.0)


def test_filter_relations_by_type_and_symmetry():
    ents = [_ent("person"), _ent("organization"), _ent("location")]
    rels = [
        ExtractedRelation(head=0, tail=1, label="works for", score=0.9),
        ExtractedRelation(head=1, tail=0, label="works for", score=0.9),  # wrong direction
        ExtractedRelation(head=2, tail=1, label="partner of", score=0.9),  # reversed, symmetric
        ExtractedRelation(head=0, tail=2, label="unconstrained", score=0.9),
    ]
    rules = {
        "works for": RelationConstraint(head=["person"], tail=["organization"]),
        "partner of": RelationConstraint(head=["organization"], tail=["location"]),
    }
    kept = filter_relations(ents, rels, rules, {"partner of"})
    assert [(r.head, r.tail, r.label) for r in kept] == [
        (0, 1, "works for"), (2, 1, "partner of"), (0, 2, "unconstrained"),
    ]  # fmt: skip
    assert len(filter_relations(ents, rels, rules)) == 2  # not symmetric: reversed one dropped


TEXT = "Anna Berg works for Acme Inc in Paris. Acme Inc is located in Paris."


def test_pipeline_and_extract_text_apply_constraints(tmp_path):
    fake = FakeExtractor()
    free = kgbuild.extract_text(TEXT, ["person", "organization", "location"],
                                ["works for", "located in"], extractor=fake)  # fmt: skip
    assert ("Acme Inc", "located in", "Paris") in free.triplets()
    # a schema where "located in" may only start at a location drops the fake's org -> loc
    strict = kgbuild.extract_text(
        TEXT, ["person", "organization", "location"],
        {"works for": {"head": ["person"], "tail": ["organization"]},
         "located in": {"head": ["location"], "tail": ["location"]}},
        extractor=fake,
    )  # fmt: skip
    assert ("Anna Berg", "works for", "Acme Inc") in strict.triplets()
    assert not any(r == "located in" for _, r, _ in strict.triplets())

    doc = tmp_path / "docs" / "a.txt"
    doc.parent.mkdir()
    doc.write_text(TEXT)
    store = tmp_path / "g.json"
    kgbuild.build(
        doc.parent, store=str(store), extractor=fake, progress=False,
        schema={"entity_types": ["person", "organization", "location"],
                "relation_types": {"works for": None,
                                   "located in": {"head": ["location"], "tail": ["location"]}}},
    )  # fmt: skip
    data = json.loads(store.read_text())
    types = {e.get("type") for e in data.get("links", data.get("edges", []))}
    assert "located in" not in types and "works for" in types


def test_eval_applies_constraints(datasets):
    """The shipped model on a CoNLL04 slice: constraints never add relations, and a
    constraint no gold relation satisfies removes every relation of that type."""
    from kgbuild.extract.training.evaluate import evaluate

    data, types = datasets / "conll04/conll04_test.json", datasets / "conll04/conll04_types.json"
    base = evaluate(data, types, limit=40)
    impossible = {"work for": {"head": ["location"], "tail": ["location"]}}
    constrained = evaluate(data, types, limit=40, relation_constraints=impossible)
    assert base["rel"]["per_type"]["work for"]["support"] > 0
    assert constrained["rel"]["per_type"]["work for"]["f1"] == 0.0
    assert base["rel"]["per_type"]["work for"]["f1"] > 0.0
    assert constrained["rel"]["per_type"]["kill"] == base["rel"]["per_type"]["kill"]
