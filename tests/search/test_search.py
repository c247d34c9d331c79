"""Search on both stores: the same hits, evidence, vectors in step with the text, bad queries."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

import kgbuild
from kgbuild import KnowledgeGraphBuilder
from kgbuild.search import InvalidQuery, NoEmbeddings, Searcher, SearchResults
from kgbuild.search.access import reader_for
from kgbuild.search.encoder import DIMENSIONS
from kgbuild.store import open_store

TESTS = Path(__file__).resolve().parents[1]
QUERIES = [
    "who founded Nokia",
    "space telescope mirror",
    "radioactivity research in Paris",
    "the first computer program",
]


def ingest(store, paths, extractor, **config) -> None:
    """Ingest with embeddings on unless ``embeddings=False`` (they are off by default)."""
    from kgbuild.pipeline.builder import BuildConfig

    config.setdefault("embeddings", True)
    builder = KnowledgeGraphBuilder(store, extractor=extractor, config=BuildConfig(**config))
    summary = builder.ingest(paths)
    assert summary.ok, summary.render()


def vectors(store, label: str) -> dict[str, list[float] | None]:
    rows = store.query(f"MATCH (n:{label}) RETURN n.id AS id, n.embedding AS embedding")
    return {r["id"]: r["embedding"] for r in rows}


def test_every_chunk_and_entity_has_a_unit_vector(store, docs, extractor):
    ingest(store, [docs], extractor)
    for label in ("Chunk", "Entity"):
        found = vectors(store, label)
        assert found, label
        for node_id, vector in found.items():
            assert vector is not None and len(vector) == DIMENSIONS, node_id
            assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, abs_tol=1e-4)
    stale = reader_for(store).stale_entities()
    assert stale == []


def test_entity_vectors_come_from_the_chunk_pass(store, docs, extractor, monkeypatch):
    """Entities are read in the chunks' own forward pass (no pass of their own), and
    give the same stored vectors as reading their strongest mention afresh."""
    from kgbuild.search import encoder as encoder_module
    from kgbuild.search.embeddings import entity_vectors, to_property

    class Counting(encoder_module.TextEncoder):
        texts: ClassVar[list[str]] = []

        def encode_spans(self, texts, spans):
            Counting.texts.extend(texts)
            return super().encode_spans(texts, spans)

    monkeypatch.setattr(encoder_module, "_shared", Counting())
    ingest(store, [docs], extractor)
    chunks = {r["text"] for r in store.query("MATCH (c:Chunk) RETURN c.text AS text")}
    # One pass per chunk; besides, only the sentences of mentions past a chunk's 256 tokens.
    assert sorted(t for t in Counting.texts if t in chunks) == sorted(chunks)
    extra = [t for t in Counting.texts if t not in chunks]
    assert all(any(t in c for c in chunks) and len(t) < 400 for t in extra), extra
    stored = vectors(store, "Entity")
    reader = reader_for(store)
    rows = reader.entity_inputs(sorted(stored))
    assert all(r["mentions"] for r in rows)
    fresh = to_property(entity_vectors(encoder_module.TextEncoder(), rows))
    assert {r["id"]: v for r, v in zip(rows, fresh, strict=True)} == stored


def test_search_finds_the_chunk_that_states_it(store, docs, extractor):
    ingest(store, [docs], extractor)
    found = kgbuild.search(store, "Nokia was founded by the mining engineer Fredrik Idestam", k=3)
    assert isinstance(found, SearchResults)
    best = found.results[0]
    assert best.document.endswith("nokia_history.html")
    assert "Fredrik Idestam" in best.text
    # The evidence is where it says it is: the document's text at the chunk's offsets.
    doc = store.query(
        "MATCH (d:Document {id: $id}) RETURN d.text AS text", {"id": best.document_id}
    )[0]
    assert doc["text"][best.start : best.end] == best.text
    for mention in best.mentions:
        assert doc["text"][mention.start : mention.end] == mention.text
    assert best.ranks.keys() <= {"vector", "keyword"}


def test_same_hits_on_both_stores(tmp_path, docs, extractor, empty_bolt_graph):
    server = empty_bolt_graph
    bolt = open_store(
        server.uri, user=server.user, password=server.password, database=server.database
    )
    with open_store(tmp_path / "graph.json") as nx_store, bolt:
        ingest(nx_store, [docs], extractor)
        ingest(bolt, [docs], extractor)
        for query in QUERIES:
            for expand in (0, 1):
                a = Searcher(nx_store).search(query, 8, expand=expand)
                b = Searcher(bolt).search(query, 8, expand=expand)
                assert [(h.kind, h.id) for h in a.results] == [(h.kind, h.id) for h in b.results]
                assert a.model_dump() == b.model_dump(), (query, expand)
                assert len(a.results) == 8
                if expand:
                    assert all(h.subgraph is not None for h in a.results)


def test_each_hit_gets_the_one_hop_subgraph_of_its_own_entities(store, docs, extractor):
    """The subgraphs of all hits are read together, then split: each is what the
    hit's entities alone give."""
    ingest(store, [docs], extractor)
    reader = reader_for(store)
    found = Searcher(store).search("Toyota production system in Japan", 8, expand=1)
    assert any(h.subgraph.relations for h in found.results)
    for hit in found.results:
        seeds = sorted({e.id for e in hit.entities})
        relations = reader.neighbourhood(seeds)
        assert [r.id for r in hit.subgraph.relations] == [r["id"] for r in relations]
        ends = {r[end] for r in relations for end in ("head_id", "tail_id")} | set(seeds)
        assert [e.id for e in hit.subgraph.entities] == sorted(ends)


def test_vector_and_keyword_modes_rank_differently_and_fuse(store, docs, extractor):
    ingest(store, [docs], extractor)
    searcher = Searcher(store)
    vector = searcher.search("machines that compute", 5, mode="vector", kinds=["chunk"])
    keyword = searcher.search("machines that compute", 5, mode="keyword", kinds=["chunk"])
    fused = searcher.search("machines that compute", 5, kinds=["chunk"])
    assert all(set(h.ranks) == {"vector"} for h in vector.results)
    assert all(set(h.ranks) == {"keyword"} for h in keyword.results)
    assert fused.results[0].id in {h.id for h in vector.results + keyword.results}
    scores = [h.score for h in fused.results]
    assert scores == sorted(scores, reverse=True)


def test_changing_a_document_removes_the_old_chunk_vector(store, docs, extractor):
    ingest(store, [docs], extractor)
    path = docs / "ada_lovelace.txt"
    text = path.read_text(encoding="utf-8")
    before = vectors(store, "Chunk")
    old_texts = {
        r["id"]: r["text"] for r in store.query("MATCH (c:Chunk) RETURN c.id AS id, c.text AS text")
    }
    old_hit = Searcher(store).search("Analytical Engine notes", 1, kinds=["chunk"]).results[0]
    assert old_hit.document.endswith("ada_lovelace.txt")

    # Rewrite the end of the document: its last chunks change, the first keeps its text.
    cut = len(text) // 2
    path.write_text(text[:cut] + "\nShe later bred racehorses in Yorkshire.\n", encoding="utf-8")
    ingest(store, [docs], extractor)

    after = vectors(store, "Chunk")
    new_texts = {
        r["id"]: r["text"] for r in store.query("MATCH (c:Chunk) RETURN c.id AS id, c.text AS text")
    }
    gone = set(before) - set(after)
    assert gone, "the changed document's later chunks should be new nodes"
    changed = {i for i in set(before) & set(after) if old_texts[i] != new_texts[i]}
    for chunk_id in gone | changed:
        assert chunk_id not in after or after[chunk_id] != before[chunk_id]
    assert all(after[i] == before[i] for i in set(before) & set(after) if i not in changed)
    assert all(v is not None for v in after.values())
    hit = Searcher(store).search("bred racehorses in Yorkshire", 1, kinds=["chunk"]).results[0]
    assert "racehorses" in hit.text
    assert reader_for(store).stale_entities() == []


def test_pruned_document_takes_its_vectors_and_entities_refresh(store, docs, extractor):
    ingest(store, [docs], extractor)
    (docs / "higgs_boson.txt").unlink()
    ingest(store, [docs], extractor, prune=True)
    sources = {r["s"] for r in store.query("MATCH (d:Document) RETURN d.source AS s")}
    assert not any(s.endswith("higgs_boson.txt") for s in sources)
    for hit in Searcher(store).search("Higgs boson Large Hadron Collider", 10).results:
        assert not hit.document.endswith("higgs_boson.txt")
    rows = store.query(
        "MATCH (e:Entity) RETURN e.mention_count AS n, e.embedding_mentions AS m, "
        "e.embedding IS NULL AS missing"
    )
    assert rows and all(r["n"] == r["m"] and not r["missing"] for r in rows)


def test_unchanged_rerun_loads_no_encoder_and_keeps_the_index(tmp_path, docs, extractor):
    from kgbuild.search import encoder as encoder_module
    from kgbuild.search.embeddings import IngestEmbedder

    path = tmp_path / "graph.json"
    ingest(str(path), [docs], extractor)
    first = kgbuild.search(str(path), "Toyota", k=3)
    calls = []
    original = IngestEmbedder.embed_chunks

    def spy(self, store, graphs, stored=()):
        calls.append(len(graphs))
        return original(self, store, graphs, stored)

    IngestEmbedder.embed_chunks = spy
    try:
        ingest(str(path), [docs], extractor)
    finally:
        IngestEmbedder.embed_chunks = original
    assert calls == []
    assert kgbuild.search(str(path), "Toyota", k=3) == first
    assert encoder_module.ENCODER_ID == "all-MiniLM-L6-v2"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty"),
        ("   \n\t", "empty"),
        ("word " * 400, "characters long"),
        (b"bytes", "must be text"),
        (None, "must be text"),
        (42, "must be text"),
        (["a", "list"], "must be text"),
    ],
)
def test_bad_queries_get_a_clear_error(tmp_path, query, message):
    # Checked before the store is even opened (this file does not exist).
    with pytest.raises(InvalidQuery, match=message):
        kgbuild.search(tmp_path / "none.json", query)


@pytest.mark.parametrize(("k", "expand"), [(0, 0), (1001, 0), ("3", 0), (5, 2), (5, True)])
def test_bad_k_or_expand(tmp_path, k, expand):
    with pytest.raises(InvalidQuery, match="k must|expand must"):
        kgbuild.search(tmp_path / "none.json", "Nokia", k=k, expand=expand)


def test_cli_search_json_and_errors(tmp_path, docs, extractor):
    path = tmp_path / "graph.json"
    ingest(str(path), [docs], extractor)
    cli = [sys.executable, "-m", "kgbuild.cli.main", "search", str(path)]
    done = subprocess.run(
        [*cli, "Tim Berners-Lee web", "--k", "4", "--json", "--expand", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(done.stdout)
    assert len(data["results"]) == 4
    for hit in data["results"]:
        assert {"kind", "score", "document", "text", "start", "end", "entities", "relations"} <= (
            hit.keys()
        )
        assert hit["subgraph"] is not None
    assert data["results"][0]["document"].endswith("tim_berners_lee.md")
    text = subprocess.run([*cli, "Nokia", "--k", "2"], capture_output=True, text=True, check=True)
    assert text.stdout.startswith("1. [")
    for bad, message in (("  ", "query is empty"), ("x" * 1500, "1500 characters")):
        failed = subprocess.run([*cli, bad], capture_output=True, text=True)
        assert failed.returncode == 1
        assert message in failed.stderr
        assert failed.stdout == ""


def test_search_of_a_missing_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no graph at"):
        kgbuild.search(Path(tmp_path / "missing.json"), "Nokia")


# -- embeddings are opt-in ----------------------------------------------------------------------


def test_embeddings_are_off_by_default(store, docs, extractor):
    from kgbuild.pipeline.builder import BuildConfig

    assert BuildConfig().embeddings is False
    summary = KnowledgeGraphBuilder(store, extractor=extractor).ingest([docs])
    assert summary.ok and summary.seconds.embed == 0.0
    for label in ("Chunk", "Entity"):
        found = vectors(store, label)
        assert found and all(v is None for v in found.values()), label


def test_search_without_embeddings_falls_back_to_keywords(store, docs, extractor, caplog):
    ingest(store, [docs], extractor, embeddings=False)
    with caplog.at_level("WARNING", logger="kgbuild.search"):
        found = Searcher(store).search("Nokia founded Idestam", 5)
    assert found.results and all(set(h.ranks) == {"keyword"} for h in found.results)
    assert "keyword search only" in caplog.text and "--embeddings" in caplog.text
    assert found == Searcher(store).search("Nokia founded Idestam", 5, mode="keyword")
    with pytest.raises(NoEmbeddings, match="--embeddings"):
        Searcher(store).search("Nokia founded Idestam", 5, mode="vector")


def test_turning_embeddings_on_later_embeds_the_stored_chunks(store, docs, extractor):
    ingest(store, [docs], extractor, embeddings=False)
    ingest(store, [docs], extractor)  # nothing changed: only the missing vectors are added
    for label in ("Chunk", "Entity"):
        found = vectors(store, label)
        assert found and all(v is not None and len(v) == DIMENSIONS for v in found.values())
    assert reader_for(store).stale_entities() == []
    hit = Searcher(store).search("Analytical Engine notes", 1, mode="vector").results[0]
    assert hit.document.endswith("ada_lovelace.txt")


def test_cli_embeddings_flag(tmp_path, docs):
    env = {**os.environ, "KGBUILD_EXTRACTOR": f"{TESTS / 'fake_extractor.py'}:FakeExtractor"}
    path = tmp_path / "graph.json"
    main = [sys.executable, "-m", "kgbuild.cli.main"]
    for command in ("ingest", "watch"):
        shown = subprocess.run([*main, command, "--help"], capture_output=True, text=True, env=env)
        assert "--embeddings" in shown.stdout, command
    subprocess.run([*main, "ingest", str(docs), "--store", str(path), "-q"], env=env, check=True)
    search = [*main, "search", str(path), "Nokia founded Idestam", "--json"]
    failed = subprocess.run([*search, "--mode", "vector"], capture_output=True, text=True, env=env)
    assert failed.returncode == 1 and "--embeddings" in failed.stderr
    fallback = subprocess.run(search, capture_output=True, text=True, env=env, check=True)
    assert "keyword search only" in fallback.stderr
    assert all(set(h["ranks"]) == {"keyword"} for h in json.loads(fallback.stdout)["results"])
    subprocess.run(
        [*main, "ingest", str(docs), "--store", str(path), "-q", "--embeddings"],
        env=env,
        check=True,
    )
    done = subprocess.run(search, capture_output=True, text=True, env=env, check=True)
    assert "keyword search only" not in done.stderr
    assert any("vector" in h["ranks"] for h in json.loads(done.stdout)["results"])
