"""KnowledgeGraphBuilder end to end on real files, with the deterministic test extractor."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from fake_extractor import FakeExtractor
from pipeline_helpers import load_graph, nodes

from kgbuild.extract.base import ExtractedEntity, Extraction
from kgbuild.ingest.chunker import ChunkerConfig
from kgbuild.pipeline import BuildConfig, KnowledgeGraphBuilder
from kgbuild.pipeline.extraction import ExtractionError
from kgbuild.store import NetworkXStore


def ingest(paths, store, extractor=None, **config):
    builder = KnowledgeGraphBuilder(
        store,
        extractor=extractor or FakeExtractor(),
        config=BuildConfig(**config),
        progress=False,
    )
    return builder.ingest(paths)


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# -- offsets ------------------------------------------------------------------------------


def test_offsets_exact_on_unicode_files(tmp_path, unicode_dir, pipeline_dir):
    store_path = tmp_path / "graph.json"
    # A small window gives several chunks per document, so offsets are shifted for real.
    summary = ingest([unicode_dir, pipeline_dir], str(store_path), FakeExtractor(window=40))
    assert summary.documents.failed == 0
    assert summary.documents.new == 6  # 3 unicode files, 1 HTML page, 2 JSONL records
    store = load_graph(store_path)
    texts = {d["id"]: d["text"] for d in nodes(store, "Document")}
    mentions = nodes(store, "Mention")
    chunks = nodes(store, "Chunk")
    assert len(chunks) > len(texts), "expected documents cut into several chunks"
    assert mentions
    for m in mentions:
        assert texts[m["document_id"]][m["start"] : m["end"]] == m["text"]
    for c in chunks:
        assert texts[c["document_id"]][c["start"] : c["end"]] == c["text"]
    found = {m["text"] for m in mentions}
    # Accents, CJK-adjacent and emoji-adjacent names come back exactly as written.
    assert {
        "Jürgen Schäfer",
        "Jürgen Weiß",
        "Hanako Sato",
        "Sakura Robotics Inc",
        "Zürich",
    } <= found
    # CRLF survives in the stored text (offsets count both characters).
    assert any("\r\n" in t for t in texts.values())


def test_no_mention_in_a_chunk_window_gets_lost(tmp_path, unicode_dir):
    """Entities found in two overlapping chunks are one mention (best score), not two."""
    store_path = tmp_path / "graph.json"
    ingest([unicode_dir], str(store_path), FakeExtractor(window=30))
    store = load_graph(store_path)
    spans = [(m["document_id"], m["start"], m["end"], m["label"]) for m in nodes(store, "Mention")]
    assert len(spans) == len(set(spans))
    # Every capitalised name the test extractor can see is found exactly once per place.
    one_chunk = tmp_path / "one.json"
    ingest([unicode_dir], str(one_chunk), FakeExtractor(window=10_000))
    single = {
        (m["document_id"], m["start"], m["end"]) for m in nodes(load_graph(one_chunk), "Mention")
    }
    multi = {(d, s, e) for d, s, e, _ in spans}
    # Chunk borders may cut a multi-word name; names away from borders are all there.
    assert len(multi & single) >= 0.8 * len(single)


# -- determinism --------------------------------------------------------------------------


def test_same_documents_twice_give_identical_graph(tmp_path, unicode_dir, pipeline_dir):
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    ingest([unicode_dir, pipeline_dir], str(first))
    ingest([unicode_dir, pipeline_dir], str(second))
    assert first.read_bytes() == second.read_bytes()

    before = first.read_bytes()
    again = ingest([unicode_dir, pipeline_dir], str(first))
    assert again.documents.unchanged == 6
    assert again.documents.new == again.documents.changed == 0
    assert again.chunks == 0 and again.mentions == 0  # the extractor never ran
    assert first.read_bytes() == before


def test_reingest_after_order_change_is_identical(tmp_path, unicode_dir, pipeline_dir):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    ingest([unicode_dir, pipeline_dir], str(a))
    ingest([pipeline_dir], str(b))
    ingest([unicode_dir, pipeline_dir], str(b))
    graph_a, graph_b = load_graph(a).graph, load_graph(b).graph
    assert sorted(graph_a.nodes) == sorted(graph_b.nodes)
    assert sorted(graph_a.edges(keys=True)) == sorted(graph_b.edges(keys=True))


# -- bad input ----------------------------------------------------------------------------


def test_bad_files_are_reported_and_the_rest_goes_on(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text("Alice Smith works for Acme Inc in Paris.", encoding="utf-8")
    (docs / "empty.txt").write_text("", encoding="utf-8")
    (docs / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00" * 20)
    (docs / "latin1.txt").write_bytes("Caf\xe9 Society".encode("latin-1"))
    (docs / "records.jsonl").write_text(
        '{"id": "r1", "text": "Bob Jones works for Initech Corp."}\n'
        '{"id": "r2", "text": "unterminated\n'
        '{"id": "r3", "text": "Carol King works for Globex Ltd in London."}\n',
        encoding="utf-8",
    )
    missing = tmp_path / "nowhere.txt"
    store_path = tmp_path / "graph.json"

    summary = ingest([docs, missing], str(store_path))

    assert summary.documents.new == 4  # good.txt, latin1.txt (decoded as cp1252), r1, r3
    reasons = {(f.source.rsplit("/", 1)[-1], f.reason) for f in summary.failures}
    assert ("empty.txt", "empty") in reasons
    assert any(s == "records.jsonl" and r.startswith("line 2:") for s, r in reasons)
    assert any(s == "nowhere.txt" and r == "not found" for s, r in reasons)
    assert [f.source.rsplit("/", 1)[-1] for f in summary.skipped] == ["binary.txt"]
    assert summary.documents.failed == 3 and not summary.ok
    names = {e["name"] for e in nodes(load_graph(store_path), "Entity")}
    assert {"Alice Smith", "Bob Jones", "Carol King", "Acme Inc"} <= names


class ExplodingExtractor(FakeExtractor):
    """Fails on any text that mentions EXPLODE, like a model that crashes on one input."""

    def extract(self, texts, *args, **kwargs):
        if any("EXPLODE" in t for t in texts):
            raise RuntimeError("model crashed")
        return super().extract(texts, *args, **kwargs)


def test_extraction_failure_of_one_document_is_isolated(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(5):
        (docs / f"d{i}.txt").write_text(f"Person Number{i} works for Firm{i} Inc.", "utf-8")
    (docs / "d2.txt").write_text("Dana Scully works for EXPLODE Inc.", encoding="utf-8")

    summary = ingest([docs], str(tmp_path / "g.json"), ExplodingExtractor(), batch_size=64)

    assert summary.documents.new == 4
    assert [(f.source.rsplit("/", 1)[-1], f.stage) for f in summary.failures] == [
        ("d2.txt", "extract")
    ]
    assert "model crashed" in summary.failures[0].reason


class FlakyStore(NetworkXStore):
    """Refuses to write one document, as a server might reject one bad batch row."""

    def write_documents(self, graphs):
        graphs = list(graphs)
        if any("broken" in g.document.source for g in graphs):
            raise RuntimeError("write rejected")
        super().write_documents(graphs)


def test_write_failure_of_one_document_is_isolated_and_keeps_stored_version(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Alice Smith works for Acme Inc.", encoding="utf-8")
    (docs / "broken.txt").write_text("Bob Jones works for Initech Corp.", encoding="utf-8")
    store_path = tmp_path / "g.json"
    ingest([docs], str(store_path))  # first run: everything written

    (docs / "a.txt").write_text("Alice Smith works for Umbrella Corp.", encoding="utf-8")
    (docs / "broken.txt").write_text("Bob Jones works for Hooli Inc.", encoding="utf-8")
    with FlakyStore(store_path) as store:
        summary = ingest([docs], store)
    assert summary.documents.changed == 1
    assert [(f.source.rsplit("/", 1)[-1], f.stage) for f in summary.failures] == [
        ("broken.txt", "write")
    ]
    names = {e["name"] for e in nodes(load_graph(store_path), "Entity")}
    assert "Umbrella Corp" in names and "Acme Inc" not in names  # a.txt replaced
    assert "Initech Corp" in names and "Hooli Inc" not in names  # broken.txt kept as it was


class LyingExtractor(FakeExtractor):
    """Returns an entity whose text is not what its offsets point at: a bug to catch."""

    def extract(self, texts, *args, **kwargs):
        return [
            Extraction(
                entities=[ExtractedEntity(start=0, end=3, text="XYZ", label="person", score=0.9)]
            )
            for _ in texts
        ]


def test_offset_mismatch_is_an_internal_error(tmp_path):
    (tmp_path / "a.txt").write_text("Alice Smith works for Acme Inc.", encoding="utf-8")
    with pytest.raises(ExtractionError, match="XYZ"):
        ingest([tmp_path / "a.txt"], str(tmp_path / "g.json"), LyingExtractor())


# -- changes between runs -----------------------------------------------------------------


def test_changed_document_is_replaced(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Alice Smith works for Acme Inc in Paris.", encoding="utf-8")
    (docs / "b.txt").write_text("Bob Jones works for Acme Inc.", encoding="utf-8")
    store_path = tmp_path / "g.json"
    ingest([docs], str(store_path))

    (docs / "a.txt").write_text("Alice Smith works for Globex Corp in Berlin.", "utf-8")
    summary = ingest([docs], str(store_path))

    assert (summary.documents.changed, summary.documents.unchanged) == (1, 1)
    store = load_graph(store_path)
    names = {e["name"] for e in nodes(store, "Entity")}
    assert {"Globex Corp", "Berlin", "Acme Inc"} <= names  # Acme still mentioned by b.txt
    assert "Paris" not in names  # only a.txt's old version mentioned it
    fresh = tmp_path / "fresh.json"
    ingest([docs], str(fresh))
    assert sorted(store.graph.edges(keys=True)) == sorted(load_graph(fresh).graph.edges(keys=True))


def test_deleted_document_is_pruned_only_when_asked(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Alice Smith works for Acme Inc.", encoding="utf-8")
    (docs / "b.txt").write_text("Bob Jones works for Initech Corp in London.", "utf-8")
    store_path = tmp_path / "g.json"
    ingest([docs], str(store_path))
    (docs / "b.txt").unlink()

    kept = ingest([docs], str(store_path))
    assert kept.documents.deleted == 1 and kept.documents.pruned == 0
    assert kept.deleted_sources == [(docs / "b.txt").resolve().as_uri()]
    assert load_graph(store_path).counts()["documents"] == 2

    pruned = ingest([docs], str(store_path), prune=True)
    assert pruned.documents.deleted == pruned.documents.pruned == 1
    fresh = tmp_path / "fresh.json"
    ingest([docs], str(fresh))
    assert store_path.read_bytes() == fresh.read_bytes()


def test_document_that_fails_to_load_is_not_pruned(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Alice Smith works for Acme Inc.", encoding="utf-8")
    store_path = tmp_path / "g.json"
    ingest([docs], str(store_path))
    (docs / "a.txt").write_bytes(b"\xef\xbb\xbfAlice \xff broken")  # UTF-8 BOM, then a bad byte

    summary = ingest([docs], str(store_path), prune=True)
    assert summary.documents.failed == 1 and summary.documents.deleted == 0
    assert load_graph(store_path).counts()["documents"] == 1


def test_reextract_only_when_asked(tmp_path):
    (tmp_path / "a.txt").write_text("Alice Smith works for Acme Inc.", encoding="utf-8")
    store_path = str(tmp_path / "g.json")
    ingest([tmp_path / "a.txt"], store_path)

    newer = FakeExtractor()
    newer.model_id = "fake-regex-2"
    assert ingest([tmp_path / "a.txt"], store_path, newer).documents.unchanged == 1
    summary = ingest([tmp_path / "a.txt"], store_path, newer, reextract=True)
    assert summary.documents.reextracted == 1
    doc = nodes(load_graph(Path(store_path)), "Document")[0]
    assert doc["model_id"] == "fake-regex-2"
    # Once re-extracted with the new model, it is unchanged again.
    assert ingest([tmp_path / "a.txt"], store_path, newer, reextract=True).documents.unchanged == 1


# -- graph content ------------------------------------------------------------------------


def test_relations_are_merged_across_documents_with_evidence(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Alice Smith works for Acme Inc.", encoding="utf-8")
    (docs / "b.txt").write_text("Alice Smith works for Acme Inc. and likes it.", "utf-8")
    store_path = tmp_path / "g.json"
    summary = ingest([docs], str(store_path))
    assert summary.relations == 1
    store = load_graph(store_path)
    rows = store.query(
        "MATCH (a:Person)-[r:WORKS_FOR]->(b:Organization) "
        "RETURN a.name AS head, b.name AS tail, r.evidence_count AS n, r.document_ids AS docs"
    )
    assert len(rows) == 1
    assert (rows[0]["head"], rows[0]["tail"], rows[0]["n"]) == ("Alice Smith", "Acme Inc", 2)
    assert len(set(rows[0]["docs"])) == 2


class CountingExtractor(FakeExtractor):
    def __init__(self):
        super().__init__()
        self.calls: list[int] = []

    def extract(self, texts, *args, **kwargs):
        self.calls.append(len(texts))
        return super().extract(texts, *args, **kwargs)


def test_chunks_of_several_documents_share_extractor_batches(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(12):
        (docs / f"d{i:02}.txt").write_text(f"Person Number{i} works for Firm{i} Inc.", "utf-8")
    extractor = CountingExtractor()
    summary = ingest([docs], str(tmp_path / "g.json"), extractor, batch_size=5)
    assert summary.documents.new == 12
    assert sum(extractor.calls) == 12  # one chunk each, every chunk extracted once
    assert max(extractor.calls) == 5 and len(extractor.calls) <= 4


def test_chunk_budget_follows_the_extractor_window(tmp_path, unicode_dir):
    extractor = FakeExtractor(window=40)
    config = BuildConfig(chunker=ChunkerConfig(overlap_tokens=4))
    builder = KnowledgeGraphBuilder(
        str(tmp_path / "g.json"), extractor=extractor, config=config, progress=False
    )
    builder.ingest([unicode_dir])
    budget = extractor.max_text_tokens(builder.schema.entity_types, builder.schema.relation_types)
    chunks = nodes(load_graph(tmp_path / "g.json"), "Chunk")
    assert chunks and all(len(extractor.token_spans(c["text"])) <= budget for c in chunks)


def test_types_override_the_config_schema_and_are_validated(tmp_path):
    builder = KnowledgeGraphBuilder(
        str(tmp_path / "g.json"),
        entity_types=["person", "organization"],
        relation_types=["works for"],
        extractor=FakeExtractor(),
    )
    assert builder.schema.entity_types == ["person", "organization"]
    with pytest.raises(ValueError, match="entity type"):
        KnowledgeGraphBuilder(str(tmp_path / "g.json"), entity_types=["Bad!Type"])


class PartOfExtractor(FakeExtractor):
    """Also calls every 'works for' pair 'part of', a type that maps to a reserved label."""

    def extract(self, texts, entity_types, relation_types, **kwargs):
        out = super().extract(texts, entity_types, relation_types, **kwargs)
        for extraction in out:
            extraction.relations += [
                r.model_copy(update={"label": "part of"}) for r in extraction.relations
            ]
        return out


def test_a_type_that_cannot_become_a_label_is_left_out_not_the_document(tmp_path, caplog):
    from kgbuild.schema import Schema

    (tmp_path / "a.txt").write_text("Alice Smith works for Acme Inc.", encoding="utf-8")
    # PART_OF is the chunk -> document edge; model_construct skips validation on purpose.
    schema = Schema.model_construct(
        entity_types=["person", "organization"],
        relation_types=["works for", "part of"],
        symmetric_relations=[],
    )
    builder = KnowledgeGraphBuilder(
        str(tmp_path / "g.json"),
        extractor=PartOfExtractor(),
        config=BuildConfig(schema=schema),
        progress=False,
    )
    summary = builder.ingest([tmp_path / "a.txt"])
    assert summary.documents.new == 1 and summary.ok
    store = load_graph(tmp_path / "g.json")
    types = {d.get("type") for _, _, d in store.graph.edges(data=True) if "evidence_count" in d}
    assert types == {"works for"}
    assert "'part of' maps to a reserved or invalid type" in caplog.text


class WatchedStore(NetworkXStore):
    """Notes which documents were written; before each write but the last, waits (up to
    20 s) until the extractor has started on the next batch, and notes whether it did:
    only an ingest that extracts one batch while it writes the one before gets True."""

    def __init__(self, path, documents: int):
        super().__init__(path)
        self.documents = documents
        self.extractor: CountingBatches | None = None
        self.written: list[str] = []
        self.next_batch_was_extracting: list[bool] = []

    def write_documents(self, graphs):
        graphs = list(graphs)
        if len(self.written) + len(graphs) < self.documents:
            writes = len(self.next_batch_was_extracting) + 1
            deadline = time.monotonic() + 20
            while self.extractor.batches <= writes and time.monotonic() < deadline:
                time.sleep(0.01)
            self.next_batch_was_extracting.append(self.extractor.batches > writes)
        super().write_documents(graphs)
        self.written += [Path(g.document.source).name for g in graphs]


class CountingBatches(ExplodingExtractor):
    """Counts batch calls (the per-document retries after a failed batch have one text)."""

    def __init__(self):
        super().__init__()
        self.batches = 0

    def extract(self, texts, *args, **kwargs):
        if len(texts) > 1:
            self.batches += 1
        return super().extract(texts, *args, **kwargs)


def test_the_next_batch_is_extracted_while_the_previous_one_is_written(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(9):
        (docs / f"d{i}.txt").write_text(f"Person Number{i} works for Firm{i} Inc.", "utf-8")
    (docs / "d4.txt").write_text("Dana Scully works for EXPLODE Inc.", encoding="utf-8")
    store = WatchedStore(tmp_path / "g.json", documents=8)
    store.open()
    extractor = store.extractor = CountingBatches()
    # batches of 3 documents: d0-d2, d3-d5 (d4 fails and is retried alone), d6-d8
    summary = KnowledgeGraphBuilder(
        store, extractor=extractor, config=BuildConfig(batch_size=3), progress=False
    ).ingest([docs])
    store.close()

    # the second and third batches were being extracted while the one before was written
    assert store.next_batch_was_extracting == [True, True]
    assert extractor.batches == 3
    # batches are still written in input order, each once; the failure is recorded
    assert store.written == [f"d{i}.txt" for i in range(9) if i != 4]
    assert [(Path(f.source).name, f.stage) for f in summary.failures] == [("d4.txt", "extract")]
    assert summary.documents.new == 8
    names = {d["name"] for d in nodes(load_graph(tmp_path / "g.json"), "Entity")}
    assert {"Person Number0", "Firm8 Inc"} <= names
