"""The extraction stage: chunk offsets -> document offsets, overlapping copies merged."""

from __future__ import annotations

import pytest
from fake_extractor import FakeExtractor

from kgbuild.extract.base import ExtractedEntity, ExtractedRelation, Extraction
from kgbuild.ids import chunk_id
from kgbuild.pipeline.extraction import ExtractionError, merge_chunk_extractions, run_extractor
from kgbuild.types import Chunk

TEXT = "Zoë Ångström works for Acme Inc. Zoë Ångström lives in Zürich."


def chunk(index: int, start: int, end: int) -> Chunk:
    return Chunk(
        id=chunk_id("doc:x", start, end),
        document_id="doc:x",
        index=index,
        start=start,
        end=end,
        text=TEXT[start:end],
    )


def ent(text: str, chunk_: Chunk, label: str, score: float, nth: int = 0) -> ExtractedEntity:
    start = -1
    for _ in range(nth + 1):
        start = chunk_.text.index(text, start + 1)
    return ExtractedEntity(start=start, end=start + len(text), text=text, label=label, score=score)


def test_offsets_are_shifted_and_overlap_copies_merged_with_best_score():
    first, second = chunk(0, 0, 46), chunk(1, 23, len(TEXT))  # overlap: "Acme Inc. Zoë Ångström"
    a = Extraction(
        entities=[
            ent("Zoë Ångström", first, "person", 0.9),
            ent("Acme Inc", first, "organization", 0.6),
            ent("Zoë Ångström", first, "person", 0.5, nth=1),
        ],
        relations=[ExtractedRelation(head=0, tail=1, label="works for", score=0.7)],
    )
    b = Extraction(
        entities=[
            ent("Acme Inc", second, "organization", 0.8),
            ent("Zoë Ångström", second, "person", 0.7),
            ent("Zürich", second, "location", 0.95),
        ],
        relations=[ExtractedRelation(head=1, tail=2, label="located in", score=0.6)],
    )
    merged = merge_chunk_extractions([first, second], [a, b])

    spans = [(e.start, e.end, e.label, e.score) for e in merged.entities]
    assert len(spans) == 4  # two copies of Acme and of the second Zoë merged
    for e in merged.entities:
        assert TEXT[e.start : e.end] == e.text
    acme = next(i for i, e in enumerate(merged.entities) if e.text == "Acme Inc")
    assert merged.entities[acme].score == 0.8 and merged.entity_chunks[acme] == 1
    second_zoe = max(i for i, e in enumerate(merged.entities) if e.text == "Zoë Ångström")
    assert merged.entities[second_zoe].score == 0.7 and merged.entity_chunks[second_zoe] == 1

    triples = {
        (merged.entities[r.head].text, r.label, merged.entities[r.tail].text, r.chunk_index)
        for r in merged.relations
    }
    assert triples == {
        ("Zoë Ångström", "works for", "Acme Inc", 0),
        ("Zoë Ångström", "located in", "Zürich", 1),
    }


def test_a_relation_found_by_two_chunks_is_kept_once_with_its_best_score():
    first, second = chunk(0, 0, 32), chunk(1, 0, 32)
    found = [
        Extraction(
            entities=[
                ent("Zoë Ångström", c, "person", 0.9),
                ent("Acme Inc", c, "organization", 0.9),
            ],
            relations=[ExtractedRelation(head=0, tail=1, label="works for", score=s)],
        )
        for c, s in ((first, 0.4), (second, 0.75))
    ]
    merged = merge_chunk_extractions([first, second], found)
    assert [(r.score, r.chunk_index) for r in merged.relations] == [(0.75, 1)]


def test_run_extractor_batches_and_checks_the_answer():
    extractor = FakeExtractor()
    texts = [f"Person Number{i} works for Firm{i} Inc." for i in range(7)]
    out = run_extractor(extractor, texts, ["person", "organization"], ["works for"], batch_size=3)
    assert len(out) == 7
    assert [e.text for e in out[6].entities] == ["Person Number6", "Firm6 Inc"]

    class ShortExtractor(FakeExtractor):
        def extract(self, texts, *args, **kwargs):
            return super().extract(texts[:-1], *args, **kwargs)

    with pytest.raises(ExtractionError, match="returned 1 results for 2 texts"):
        run_extractor(ShortExtractor(), texts[:2], ["person"], [])
