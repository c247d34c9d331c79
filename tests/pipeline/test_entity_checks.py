import pytest

from kgbuild.extract.base import ExtractedEntity, ExtractedRelation, Extraction
from kgbuild.pipeline.entity_checks import (
    drop_implausible_entities,
    is_date_type,
    looks_like_date,
)
from kgbuild.pipeline.extraction import run_extractor


@pytest.mark.parametrize(
    "text",
    ["4 July 1934", "1867", "the 1990s", "'90s", "2021-12-25", "7/11/1867", "14:30",
     "last spring", "the 19th century", "three years ago", "Monday", "Sept. 3", "today",
     "the nineties", "recent", "late 80s"],
)  # fmt: skip
def test_dates_pass(text):
    assert looks_like_date(text)


@pytest.mark.parametrize("text", ["1", "2", "ASN.1", "X.509", "42", "v3.2", "RFC 5280", "DER"])
def test_numbers_and_identifiers_are_not_dates(text):
    assert not looks_like_date(text)


def test_which_types_are_checked():
    assert all(map(is_date_type, ["date", "Date", "time", "year", "date of birth"]))
    assert not any(map(is_date_type, ["person", "update", "dateline", "organization"]))


def _entity(text, label, start):
    return ExtractedEntity(start=start, end=start + len(text), text=text, label=label, score=0.9)


def test_a_bare_number_typed_date_goes_with_its_relations():
    text = "Section 2 of ASN.1 was released in 1984 by ITU."
    ents = [_entity("2", "date", 8), _entity("ASN.1", "product", 13),
            _entity("1984", "date", 35), _entity("ITU", "organization", 43)]  # fmt: skip
    rels = [ExtractedRelation(head=1, tail=0, label="release date", score=0.7),
            ExtractedRelation(head=1, tail=2, label="release date", score=0.8),
            ExtractedRelation(head=1, tail=3, label="created by", score=0.9)]  # fmt: skip
    for e in ents:
        assert text[e.start : e.end] == e.text
    out = drop_implausible_entities(Extraction(entities=ents, relations=rels))
    assert [e.text for e in out.entities] == ["ASN.1", "1984", "ITU"]
    found = [(out.entities[r.head].text, r.label, out.entities[r.tail].text) for r in out.relations]
    assert found == [
        ("ASN.1", "release date", "1984"),
        ("ASN.1", "created by", "ITU"),
    ]  # fmt: skip
    clean = Extraction(entities=ents[1:], relations=[])
    assert drop_implausible_entities(clean) is clean


class _NumbersAsDates:
    """An extractor that types every number as a date (as the model does on manuals)."""

    model_id = "numbers-as-dates"

    def extract(self, texts, entity_types, relation_types, **kwargs):
        import re

        return [
            Extraction(
                entities=[_entity(m.group(), "date", m.start()) for m in re.finditer(r"\d+", t)]
            )  # fmt: skip
            for t in texts
        ]


def test_the_pipeline_keeps_years_and_drops_section_numbers():
    out = run_extractor(_NumbersAsDates(), ["See section 3, table 12: revised in 2019."],
                        ["date"], [])  # fmt: skip
    assert [e.text for e in out[0].entities] == ["2019"]
