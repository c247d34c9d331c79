"""Why entities merged, recorded on both stores and read back by ``explain``; short forms
across documents joined by a shared neighbour.

``tests/data/nordwind``: "Nordwind Energie GmbH was founded by Klaus Vogel" (1), "Klaus
Vogel, the founder of Nordwind" (2), and the company again with an office in Bremen (3).
Document 2 shares only Klaus Vogel with document 1, too little context for the
co-occurrence rule, but the extractor relates "Nordwind" to him in both: a shared neighbour.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fake_extractor import FakeExtractor
from test_incremental import STORES, ingest, make_target

from kgbuild.extract.base import ExtractedRelation, Extraction
from kgbuild.resolve import MergeDecision
from kgbuild.resolve.explain import explain_entity, render_explanation
from kgbuild.schema import Schema

DATA = Path(__file__).resolve().parents[1] / "data"
NORDWIND = DATA / "nordwind"
SCHEMA = Schema(entity_types=["person", "organization", "location"], relation_types=["founded by"])


class FoundingExtractor(FakeExtractor):
    """The test extractor, knowing GmbH companies, that "Nordwind" and "Parliament" alone
    are organizations too, and relating every organization of a sentence to every person
    of it by "founded by" (``relations=False``: no relations at all)."""

    model_id = "fake-founding-1"
    _ORGS = ("Nordwind", "Parliament")

    def __init__(self, relations: bool = True) -> None:
        super().__init__()
        self.relations = relations

    def _type(self, name: str) -> str:
        if name.endswith(("GmbH", "AG")) or name.startswith(self._ORGS):
            return "organization"
        if name in {"Hamburg", "Bremen", "Oslo"}:
            return "location"
        return super()._type(name)

    def extract(self, texts, entity_types, relation_types, **kwargs) -> list[Extraction]:
        out = []
        for text, found in zip(
            texts, super().extract(texts, entity_types, [], **kwargs), strict=True
        ):
            rels = []
            if self.relations and "founded by" in relation_types:
                sentence = [
                    len(re.findall(r"[.!?](\s|$)", text[: e.start])) for e in found.entities
                ]
                for i, head in enumerate(found.entities):
                    for j, tail in enumerate(found.entities):
                        if (
                            head.label == "organization"
                            and tail.label == "person"
                            and sentence[i] == sentence[j]
                        ):
                            rels.append(
                                ExtractedRelation(head=i, tail=j, label="founded by", score=0.8)
                            )
            out.append(Extraction(entities=list(found.entities), relations=rels))
        return out


@pytest.fixture(params=STORES)
def target(request, tmp_path):
    return make_target(request, tmp_path)


def _entities(store) -> dict[str, list[str]]:
    rows = store.query("MATCH (e:Entity) RETURN e.name AS name, e.aliases AS aliases")
    return {r["name"]: sorted(r["aliases"]) for r in rows}


def test_a_short_form_joins_its_full_name_through_a_shared_neighbour(target):
    ingest(target.store(), [NORDWIND], extractor=FoundingExtractor(), schema=SCHEMA)
    with target.store() as store:
        entities = _entities(store)
        (nordwind,) = explain_entity(store, "Nordwind")
        text = render_explanation(nordwind)
        stored = store.query(
            "MATCH (e:Entity) WHERE e.name = $name RETURN e.merges AS merges",
            {"name": "Nordwind Energie GmbH"},
        )
    assert entities["Nordwind Energie GmbH"] == ["Nordwind", "Nordwind Energie GmbH"]
    assert "Nordwind" not in entities
    assert nordwind.name == "Nordwind Energie GmbH" and nordwind.mention_count == 4

    aliases = {a.text: a for a in nordwind.aliases}
    assert set(aliases) == {"Nordwind", "Nordwind Energie GmbH"}
    (short,) = aliases["Nordwind"].mentions
    assert short.source.endswith("2_interview.txt")
    doc2 = (NORDWIND / "2_interview.txt").read_text(encoding="utf-8")
    assert doc2[short.start : short.end] == "Nordwind"
    assert len(aliases["Nordwind Energie GmbH"].mentions) == 3

    (merge,) = nordwind.merges
    assert (merge.rule, merge.source, merge.target) == (
        "linked_short_form",
        "Nordwind",
        "Nordwind Energie GmbH",
    )
    assert merge.evidence == "shared neighbour: Klaus Vogel"
    assert [m.id for m in merge.mentions] == [short.id]
    # The entity node keeps the reason too, as JSON that MergeDecision reads.
    (row,) = stored
    assert [MergeDecision.from_json(x).evidence for x in row["merges"]] == [merge.evidence]
    assert "'Nordwind' -> 'Nordwind Energie GmbH'  by linked_short_form (85)" in text
    assert "shared neighbour: Klaus Vogel" in text and "2_interview.txt" in text


def test_without_a_shared_neighbour_the_short_form_stays_apart(tmp_path):
    from kgbuild.store import NetworkXStore

    path = tmp_path / "graph.json"
    ingest(NetworkXStore(path), [NORDWIND], extractor=FoundingExtractor(False), schema=SCHEMA)
    with NetworkXStore(path) as store:
        entities = _entities(store)
    # Document 2 shares one entity with document 1: too little context alone.
    assert entities["Nordwind"] == ["Nordwind"]
    assert entities["Nordwind Energie GmbH"] == ["Nordwind Energie GmbH"]


def test_a_kind_of_body_does_not_join_its_x_of_y_name_even_with_a_neighbour(tmp_path):
    from kgbuild.store import NetworkXStore

    docs = tmp_path / "docs"
    docs.mkdir()
    # "Of" capitalized: the test extractor takes runs of capitalized words as names.
    (docs / "a.txt").write_text("Parliament Of Norway was founded by Erna Solberg in Oslo.\n")
    (docs / "b.txt").write_text("Erna Solberg addressed Parliament in Oslo.\n")
    path = tmp_path / "graph.json"
    ingest(NetworkXStore(path), [docs], extractor=FoundingExtractor(), schema=SCHEMA)
    with NetworkXStore(path) as store:
        entities = _entities(store)
        assert explain_entity(store, "Parliament")[0].merges == []
    assert entities["Parliament"] == ["Parliament"]
    assert entities["Parliament Of Norway"] == ["Parliament Of Norway"]


def test_explain_lists_within_document_merges_with_their_mentions(tmp_path):
    from kgbuild.store import NetworkXStore

    docs = tmp_path / "docs"
    docs.mkdir()
    text = "Klaus Vogel founded Nordwind Energie GmbH in 2009, and Vogel still leads it.\n"
    (docs / "a.txt").write_text(text)
    path = tmp_path / "graph.json"
    ingest(NetworkXStore(path), [docs], extractor=FoundingExtractor(), schema=SCHEMA)
    with NetworkXStore(path) as store:
        (vogel,) = explain_entity(store, "vogel")  # any alias, any case
        assert explain_entity(store, "Vogel", type="organization") == []
        assert explain_entity(store, "Nobody Known") == []
    assert vogel.name == "Klaus Vogel"
    (merge,) = vogel.merges
    assert (merge.rule, merge.source, merge.target, merge.score) == (
        "last_name",
        "Vogel",
        "Klaus Vogel",
        100.0,
    )
    (mention,) = merge.mentions
    assert text[mention.start : mention.end] == mention.text == "Vogel"
    assert mention.source.endswith("a.txt")


def test_the_top_level_api_explains_from_a_store_path(tmp_path):
    import kgbuild
    from kgbuild.store import NetworkXStore

    path = tmp_path / "graph.json"
    ingest(NetworkXStore(path), [NORDWIND], extractor=FoundingExtractor(), schema=SCHEMA)
    (entity,) = kgbuild.explain(path, "NORDWIND")
    assert entity.name == "Nordwind Energie GmbH"
    assert [m.rule for m in entity.merges] == ["linked_short_form"]
