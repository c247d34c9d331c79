"""The pipeline's stages one at a time (kgbuild.pipeline.stages), with the test extractor.

The engines compose these stages; their end-to-end behaviour is checked in
test_builder.py, test_incremental.py and test_ray_engine.py.
"""

from __future__ import annotations

import pytest
from fake_extractor import FakeExtractor

from kgbuild.ids import content_hash, document_id
from kgbuild.ingest.chunker import ChunkerConfig
from kgbuild.pipeline import BuildConfig
from kgbuild.pipeline.extraction import ExtractionError, merge_chunk_extractions
from kgbuild.pipeline.progress import StageProgress
from kgbuild.pipeline.stages import (
    AssembledDocument,
    ChunkLimits,
    ChunkStage,
    DocumentPlanner,
    DocumentWork,
    PipelineStages,
    WriteStage,
)
from kgbuild.pipeline.summary import DocumentFailure
from kgbuild.schema import Schema
from kgbuild.store import NetworkXStore
from kgbuild.store.base import DocumentState
from kgbuild.types import Document


def document(name: str, text: str) -> Document:
    source = f"file:///docs/{name}"
    return Document(
        id=document_id(source), source=source, text=text, content_hash=content_hash(text)
    )


ADA = document(
    "ada.txt", "Ada Lovelace works for Acme Corp in Paris and Bob Jones works for Globex Inc."
)
BOB = document("bob.txt", "Carla Diaz works for Initech Corp in London.")


def state(doc: Document, **change) -> DocumentState:
    values = {
        "id": doc.id,
        "source": doc.source,
        "content_hash": doc.content_hash,
        "model_id": "m1",
        "schema_fingerprint": "s1",
    }
    return DocumentState(**{**values, **change})


@pytest.mark.parametrize(
    ("stored", "reextract", "status"),
    [
        (None, False, "new"),
        ({"content_hash": "other"}, False, "changed"),
        ({}, False, "unchanged"),
        ({"model_id": "m0"}, False, "unchanged"),
        ({"model_id": "m0"}, True, "reextracted"),
        ({"schema_fingerprint": "s0"}, True, "reextracted"),
        ({}, True, "unchanged"),
    ],
)
def test_the_planner_extracts_new_changed_and_on_request_stale_documents(stored, reextract, status):
    planner = DocumentPlanner("m1", "s1", reextract=reextract)
    assert planner.run(ADA, None if stored is None else state(ADA, **stored)) == status


def test_chunks_fit_the_window_and_count_the_documents_tokens():
    stages = PipelineStages(BuildConfig(), FakeExtractor(window=24))
    limits = stages.chunk_limits()
    # 24-token window, less one token per default type (the fake extractor's prompt)
    schema = BuildConfig().schema
    text_tokens = 24 - len(schema.entity_types) - len(schema.relation_types)
    assert limits == ChunkLimits(max_tokens=text_tokens, overlap_tokens=4)
    work = stages.chunker.run(ADA, "new", limits)
    assert isinstance(work, DocumentWork)
    assert work.tokens == len(ADA.text.split()) == 15
    assert len(work.chunks) > 1
    assert all(len(c.text.split()) <= 10 for c in work.chunks)
    assert all(ADA.text[c.start : c.end] == c.text for c in work.chunks)


def test_a_chunking_error_is_the_documents_failure():
    class Broken(FakeExtractor):
        def token_spans(self, text):
            return [(0, len(text) + 5)]  # past the end: the chunker refuses it

    chunker = ChunkStage(Broken(), Schema(), ChunkerConfig())
    out = chunker.run(ADA, "new", ChunkLimits(max_tokens=8, overlap_tokens=2))
    assert isinstance(out, DocumentFailure)
    assert (out.source, out.stage) == (ADA.source, "chunk")
    assert "token spans fall outside the text" in out.reason


class FailsOn(FakeExtractor):
    """Raises on any batch holding a text with ``word``."""

    def __init__(self, word: str) -> None:
        super().__init__()
        self.word = word
        self.calls: list[int] = []

    def extract(self, texts, *args, **kwargs):
        self.calls.append(len(texts))
        if any(self.word in t for t in texts):
            raise RuntimeError(f"cannot read {self.word}")
        return super().extract(texts, *args, **kwargs)


def works(stages: PipelineStages, *docs: Document) -> list[DocumentWork]:
    limits = stages.chunk_limits()
    return [stages.chunker.run(d, "new", limits) for d in docs]


def test_extraction_isolates_the_document_that_fails():
    extractor = FailsOn("Initech")
    stages = PipelineStages(BuildConfig(), extractor)
    batch = works(stages, ADA, BOB)
    out = stages.extraction.run(batch)
    assert extractor.calls == [2, 1, 1]  # the batch, then each document
    assert list(out.found) == [ADA.id]
    assert [len(x) for x in out.found.values()] == [len(batch[0].chunks)]
    assert out.failures == [
        DocumentFailure(source=BOB.source, stage="extract", reason="cannot read Initech")
    ]
    assert out.seconds > 0


def test_an_extractor_answering_nonsense_stops_the_run():
    class Nonsense(FakeExtractor):
        def extract(self, texts, *args, **kwargs):
            return super().extract(texts, *args, **kwargs)[:-1]  # one result short

    stages = PipelineStages(BuildConfig(), Nonsense())
    with pytest.raises(ExtractionError, match="returned 1 results for 2 texts"):
        stages.extraction.run(works(stages, ADA, BOB))


def test_assembly_resolves_mentions_into_entities_and_relations(tmp_path):
    stages = PipelineStages(BuildConfig(), FakeExtractor())
    (work,) = works(stages, ADA)
    found = merge_chunk_extractions(work.chunks, stages.extraction.run([work]).found[ADA.id])
    with NetworkXStore(tmp_path / "graph.json") as store:
        graph = stages.assembler.run(work.document, work.chunks, found, store)
    assert sorted(e.name for e in graph.entities) == [
        "Acme Corp",
        "Ada Lovelace",
        "Bob Jones",
        "Globex Inc",
        "Paris",
    ]
    names = {e.id: e.name for e in graph.entities}
    assert sorted((names[r.head_id], r.type, names[r.tail_id]) for r in graph.relations) == [
        ("Acme Corp", "located in", "Paris"),
        ("Ada Lovelace", "works for", "Acme Corp"),
        ("Bob Jones", "works for", "Globex Inc"),
    ]
    assert all(ADA.text[m.start : m.end] == m.text for m in graph.mentions)


def test_writing_isolates_the_document_that_fails(tmp_path):
    stages = PipelineStages(BuildConfig(), FakeExtractor())
    run = stages.start(NetworkXStore(tmp_path / "unused.json"), [], store_name="test")
    batch = works(stages, ADA, BOB)
    found = stages.record_extraction(batch, stages.extraction.run(batch), run, StageProgress(False))
    assert set(found) == {ADA.id, BOB.id}

    class RefusesBob(NetworkXStore):
        def write_documents(self, graphs):
            graphs = list(graphs)
            if any(g.document.id == BOB.id for g in graphs):
                raise RuntimeError("disk full")
            super().write_documents(graphs)

    with RefusesBob(tmp_path / "graph.json") as store:
        store.setup_schema()
        assembled = []
        for work in batch:
            merged = merge_chunk_extractions(work.chunks, found[work.document.id])
            graph = stages.assembler.run(work.document, work.chunks, merged, store)
            assembled.append(AssembledDocument(work=work, graph=graph))
        out = WriteStage(batch_size=2).run(assembled, store)
        assert [d.work.document.id for d in out.written] == [ADA.id]
        assert out.failures == [
            DocumentFailure(source=BOB.source, stage="write", reason="disk full")
        ]
        assert set(store.document_states()) == {ADA.id}


def test_the_serial_tail_counts_what_it_wrote(tmp_path):
    """resolve_and_write (both engines' tail): counts, failures and graph of one batch."""
    stages = PipelineStages(BuildConfig(), FailsOn("Initech"))
    with NetworkXStore(tmp_path / "graph.json") as store:
        run = stages.start(store, ["docs"], store_name="graph.json")
        progress = StageProgress(False)
        batch = works(stages, ADA, BOB)
        found = stages.record_extraction(batch, stages.extraction.run(batch), run, progress)
        stages.resolve_and_write(batch, found, store, run, progress)
        summary = stages.finish(store, run)
    assert (summary.documents.new, summary.documents.failed) == (1, 1)
    assert [(f.source, f.stage) for f in summary.failures] == [(BOB.source, "extract")]
    assert summary.tokens == len(ADA.text.split())
    assert summary.entities == 5 and summary.relations == 3
    assert summary.graph["documents"] == 1
