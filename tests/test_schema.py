import json

import pytest

from kgbuild.schema import (
    DEFAULT_ENTITY_TYPES,
    DEFAULT_RELATION_TYPES,
    InvalidTypeName,
    Schema,
    entity_label,
    relation_label,
)


def test_default_schema_is_valid_and_maps_to_free_labels():
    # regression: the default "part of" mapped to PART_OF, the chunk -> document edge
    schema = Schema()
    assert schema.entity_types == DEFAULT_ENTITY_TYPES
    assert schema.relation_types == DEFAULT_RELATION_TYPES
    assert "PART_OF" not in {relation_label(r) for r in schema.relation_types}


def test_labels():
    assert entity_label("work of art") == "WorkOfArt"
    assert entity_label("person") == "Person"
    assert relation_label("works for") == "WORKS_FOR"
    assert relation_label("Organization based in") == "ORGANIZATION_BASED_IN"
    assert relation_label("used-for") == "USED_FOR"


@pytest.mark.parametrize(
    "bad",
    ["Person`) DETACH DELETE (n", "a'b", "x; MATCH (n)", "", "1st", "entity", "chunk", "part of"],
)
def test_unsafe_or_reserved_names_are_rejected(bad):
    with pytest.raises(InvalidTypeName):
        entity_label(bad) if bad in {"entity", "chunk"} else relation_label(bad)
    with pytest.raises(ValueError, match="not allowed|reserved|invalid"):  # pydantic wraps it
        Schema(
            entity_types=[bad] if bad in {"entity", "chunk"} else ["person"], relation_types=[bad]
        )


def test_schema_dedupes_and_fingerprint_ignores_order():
    a = Schema(entity_types=["person", "Person", "place"], relation_types=["lives in"])
    assert a.entity_types == ["person", "place"]
    b = Schema(entity_types=["place", "person"], relation_types=["lives in"])
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != Schema(entity_types=["person"], relation_types=[]).fingerprint()


def test_from_spert_types_file(tmp_path):
    path = tmp_path / "types.json"
    path.write_text(
        json.dumps(
            {
                "entities": {"Peop": {"short": "P", "verbose": "People"}},
                "relations": {"Compare": {"short": "C", "verbose": "Compare", "symmetric": True}},
            }
        )
    )
    schema = Schema.from_file(path)
    assert schema.entity_types == ["People"]
    assert schema.symmetric_relations == ["Compare"]
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        Schema.from_file(bad)


def test_types_may_carry_descriptions(tmp_path):
    data = {
        "entity_types": {"person": None, "organization": {"description": "a company or club"}},
        "relation_types": {
            "founded by": {
                "description": "the person who founded the organization (a founder)",
                "head": ["organization"],
                "tail": ["person"],
            },
            "works for": {"head": ["person"], "tail": ["organization"]},
            "knows": None,
        },
    }
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(data))
    schema = Schema.from_file(path)
    assert schema.entity_types == ["person", "organization"]
    assert schema.relation_types == ["founded by", "works for", "knows"]
    assert schema.descriptions == {
        "organization": "a company or club",
        "founded by": "the person who founded the organization (a founder)",
    }
    assert schema.relation_constraints["founded by"].head == ["organization"]
    entities, relations, back = schema.prompt_labels()
    assert entities == ["person", "organization: a company or club"]
    # the first eight words, punctuation the extractor never trained on dropped
    assert relations[0] == "founded by: the person who founded the organization a founder"
    assert relations[1:] == ["works for", "knows"]
    assert back[relations[0]] == "founded by" and back["knows"] == "knows"
    # descriptions change what is extracted, so the fingerprint; without any it is as before
    plain = Schema(entity_types=["person", "organization"], relation_types=schema.relation_types)
    assert plain.fingerprint() == Schema.model_validate(plain.model_dump()).fingerprint()
    assert (
        schema.fingerprint()
        != Schema.model_validate({**schema.model_dump(), "descriptions": {}}).fingerprint()
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"relation_types": ["works for"], "descriptions": {"owns": "x"}}, "no such entity"),
        ({"entity_types": {"person": {"colour": "red"}}}, "expected null or"),
        ({"relation_types": {"works for": "employment"}}, "expected null or an object"),
        ({"relation_types": ["works for"], "descriptions": {"works for": "  "}}, "non-empty"),
    ],
)
def test_bad_descriptions_are_named(data, message):
    with pytest.raises(ValueError, match=message):
        Schema.model_validate(data)


def test_the_default_schema_constrains_its_relations():
    from kgbuild.schema import DEFAULT_RELATION_TYPES, Schema

    default = Schema()
    assert default.relation_types == DEFAULT_RELATION_TYPES
    assert set(default.relation_constraints) == set(DEFAULT_RELATION_TYPES)
    born = default.relation_constraints["place of birth"]
    assert born.allows("person", "location")
    assert not born.allows("person", "date") and not born.allows("location", "location")
    # a user's own types come without the defaults' constraints
    assert Schema(entity_types=["gene", "protein"]).relation_constraints == {}
    assert Schema(relation_types=["born in"]).relation_constraints == {}


def test_builder_types_over_the_default_schema_drop_its_constraints(tmp_path):
    from kgbuild.pipeline.builder import KnowledgeGraphBuilder

    builder = KnowledgeGraphBuilder(str(tmp_path / "g.json"), entity_types=["gene"])
    assert builder.schema.entity_types == ["gene"]
    assert builder.schema.relation_constraints == {}
