"""Type descriptions reach the extractor beside the names, and the graph keeps the names."""

from __future__ import annotations

from fake_extractor import FakeExtractor

from kgbuild.pipeline.builder import BuildConfig, KnowledgeGraphBuilder
from kgbuild.pipeline.extraction import run_extractor
from kgbuild.schema import Schema
from kgbuild.store import open_store


class RecordingExtractor(FakeExtractor):
    """The test extractor, answering for described labels as for their names, and
    recording what it was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[list[str], list[str]]] = []
        self.windows: list[tuple[list[str], list[str]]] = []

    def max_text_tokens(self, entity_types, relation_types):
        self.windows.append((list(entity_types), list(relation_types)))
        return super().max_text_tokens(entity_types, relation_types)

    def extract(self, texts, entity_types, relation_types, **kwargs):
        self.asked.append((list(entity_types), list(relation_types)))
        names = {t.split(":")[0]: t for t in [*entity_types, *relation_types]}
        out = super().extract(texts, list(names), list(names), **kwargs)
        for extraction in out:  # answer with the labels as asked
            for item in (*extraction.entities, *extraction.relations):
                item.label = names.get(item.label, item.label)
        return out


SCHEMA = Schema.model_validate(
    {
        "entity_types": {"person": {"description": "a human being"}, "organization": None},
        "relation_types": {"works for": {"description": "is employed by"}},
    }
)
TEXT = "Alice Smith works for Acme Inc in Paris."


def test_run_extractor_asks_with_descriptions_and_answers_with_names():
    extractor = RecordingExtractor()
    (found,) = run_extractor(
        extractor, [TEXT], SCHEMA.entity_types, SCHEMA.relation_types,
        descriptions=SCHEMA.descriptions,
    )  # fmt: skip
    assert extractor.asked == [
        (["person: a human being", "organization"], ["works for: is employed by"])
    ]
    assert {e.label for e in found.entities} == {"person", "organization"}
    assert [r.label for r in found.relations] == ["works for"]


def test_the_graph_keeps_the_type_names(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(TEXT, encoding="utf-8")
    extractor = RecordingExtractor()
    store = tmp_path / "graph.json"
    config = BuildConfig(schema=SCHEMA)
    KnowledgeGraphBuilder(store, extractor=extractor, config=config, progress=False).ingest(docs)
    # the chunks were sized for the prompt the extractor reads, descriptions included
    assert (["person: a human being", "organization"], ["works for: is employed by"]) in (
        extractor.windows
    )
    with open_store(store) as graph:
        rows = graph.query(
            "MATCH (a:Entity)-[r]->(b:Entity) WHERE type(r) = 'WORKS_FOR' "
            "RETURN a.name AS a, b.name AS b, a.type AS type"
        )
    assert rows and rows[0]["type"] == "person"
