"""Write throughput of the Neo4j store: batched UNWIND/MERGE vs one MERGE statement per row.

Usage::

    nice -n 10 python benchmarks/neo4j_write.py                  # 100k entities, 200k relations
    python benchmarks/neo4j_write.py --entities 5000 --relations 10000   # a quick look

What it measures, on one Bolt server, in one run:

* **store, batched**: ``Neo4jStore.write_documents`` on synthetic DocumentGraphs
  (every entity mentioned once, every relation with one piece of evidence, chunks and
  Document nodes). Rows/s counts entity + relation rows; the store also writes the
  mentions, chunks, alias keys and documents behind them, so this is the end-to-end rate.
* **per-row baseline**: the same entity and relation rows, one auto-committed ``MERGE``
  statement per row (the usual first attempt), on a subset of the documents
  (``--baseline-documents``), measured on an empty graph with the same constraints. The
  baseline is conservative: its entity MERGE leaves out the type label, because on
  ArcadeDB a two-label ``MERGE (e:Entity:Person {id: ...})`` scans instead of using the
  ``Entity.id`` index and would make the baseline slower than per-row writes really are.
* **raw batched**: the same subset with the baseline's statements turned into
  ``UNWIND $rows`` batches, for a like-for-like statement comparison.
* **re-write unchanged**: ``write_documents`` again with the same graphs (the store
  replaces each document's evidence), and the skip check a pipeline does instead
  (``document_states()`` + content hashes).

By default it starts a private ArcadeDB Bolt server (``scripts/test-server`` with its
own state directory and a larger heap) and stops it at the end; ``--use-test-server``
uses the running test server instead (its graph is wiped!), and ``--uri`` etc. any Bolt
server (Neo4j 5 from ``docker/``; also wiped). Prints a table and writes JSON to
``benchmarks/results/neo4j_write.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kgbuild import ids  # noqa: E402
from kgbuild.schema import entity_label, relation_label  # noqa: E402
from kgbuild.store.neo4j_store import Neo4jStore  # noqa: E402
from kgbuild.types import (  # noqa: E402
    Chunk,
    Document,
    DocumentGraph,
    Entity,
    Mention,
    Relation,
    RelationEvidence,
)

ENTITY_TYPES = ["person", "organization", "location", "product"]
RELATION_TYPES = ["works for", "located in", "member of", "created by"]
CHUNKS_PER_DOCUMENT = 10


# -- synthetic data ----------------------------------------------------------------------


def make_graphs(n_docs: int, entities_per_doc: int, relations_per_doc: int) -> list[DocumentGraph]:
    """Documents whose text lists their entities' names, so every offset is exact."""
    rng = random.Random(7)
    graphs = []
    for d in range(n_docs):
        source = f"bench://doc-{d:05d}.txt"
        doc_id = ids.document_id(source)
        names = [f"Name{d:05d}x{i:04d}" for i in range(entities_per_doc)]
        types = [ENTITY_TYPES[i % len(ENTITY_TYPES)] for i in range(entities_per_doc)]
        # Text: names separated by ". ", cut into CHUNKS_PER_DOCUMENT chunks at name bounds.
        text_parts, spans, pos = [], [], 0
        for name in names:
            spans.append((pos, pos + len(name)))
            text_parts.append(name + ". ")
            pos += len(name) + 2
        text = "".join(text_parts)
        per_chunk = -(-entities_per_doc // CHUNKS_PER_DOCUMENT)
        chunks, chunk_of = [], []
        for c in range(0, entities_per_doc, per_chunk):
            start, end = spans[c][0], spans[min(c + per_chunk, entities_per_doc) - 1][1]
            chunks.append(
                Chunk(
                    id=ids.chunk_id(doc_id, start, end),
                    document_id=doc_id,
                    index=len(chunks),
                    start=start,
                    end=end,
                    text=text[start:end],
                )
            )
            chunk_of += [len(chunks) - 1] * (min(c + per_chunk, entities_per_doc) - c)
        entities, mentions = [], []
        for i, (name, etype) in enumerate(zip(names, types, strict=True)):
            eid = ids.entity_id(etype, name.lower())
            entities.append(
                Entity(
                    id=eid,
                    name=name,
                    type=etype,
                    aliases=[name],
                    mention_count=1,
                    keys=[name.lower()],
                )
            )
            start, end = spans[i]
            mentions.append(
                Mention(
                    id=ids.mention_id(doc_id, start, end, etype),
                    document_id=doc_id,
                    chunk_id=chunks[chunk_of[i]].id,
                    start=start,
                    end=end,
                    text=name,
                    label=etype,
                    score=0.9,
                    entity_id=eid,
                )
            )
        relations, seen = [], set()
        while len(relations) < relations_per_doc:
            h = rng.randrange(entities_per_doc)
            t = (h + 1 + rng.randrange(min(20, entities_per_doc - 1))) % entities_per_doc
            rtype = RELATION_TYPES[len(relations) % len(RELATION_TYPES)]
            rid = ids.relation_id(entities[h].id, rtype, entities[t].id)
            if rid in seen:
                continue
            seen.add(rid)
            score = round(rng.uniform(0.5, 1.0), 3)
            relations.append(
                Relation(
                    id=rid,
                    head_id=entities[h].id,
                    tail_id=entities[t].id,
                    type=rtype,
                    score=score,
                    evidence=[
                        RelationEvidence(
                            document_id=doc_id,
                            chunk_id=mentions[h].chunk_id,
                            head_mention_id=mentions[h].id,
                            tail_mention_id=mentions[t].id,
                            score=score,
                        )
                    ],
                )
            )
        graphs.append(
            DocumentGraph(
                document=Document(
                    id=doc_id, source=source, text=text, content_hash=ids.content_hash(text)
                ),
                chunks=chunks,
                mentions=mentions,
                entities=entities,
                relations=relations,
            )
        )
    return graphs


# -- the per-row baseline and its batched twin -----------------------------------------------


def entity_rows(graphs: list[DocumentGraph]) -> list[dict[str, Any]]:
    return [
        {
            "id": e.id,
            "label": entity_label(e.type),
            "props": {
                "name": e.name,
                "type": e.type,
                "label": entity_label(e.type),
                "aliases": e.aliases,
                "keys": e.keys,
                "mention_count": e.mention_count,
            },
        }
        for g in graphs
        for e in g.entities
    ]


def relation_rows(graphs: list[DocumentGraph]) -> list[dict[str, Any]]:
    rows = []
    for g in graphs:
        for r in g.relations:
            ev = r.evidence[0]
            rows.append(
                {
                    "id": r.id,
                    "head_id": r.head_id,
                    "tail_id": r.tail_id,
                    "rel_type": relation_label(r.type),
                    "props": {
                        "type": r.type,
                        "score": r.score,
                        "evidence_count": 1,
                        "document_ids": [ev.document_id],
                        "chunk_ids": [ev.chunk_id],
                        "head_mention_ids": [ev.head_mention_id],
                        "tail_mention_ids": [ev.tail_mention_id],
                        "evidence_scores": [ev.score],
                    },
                }
            )
    return rows


def per_row(driver, database: str | None, ents: list[dict], rels: list[dict]) -> float:
    """One auto-committed MERGE statement per row; returns seconds."""
    t0 = time.perf_counter()
    with driver.session(database=database) as session:
        for row in ents:
            session.run(
                "MERGE (e:Entity {id: $id}) SET e += $props", id=row["id"], props=row["props"]
            ).consume()
        for row in rels:
            session.run(
                "MATCH (a:Entity {id: $head_id}) MATCH (b:Entity {id: $tail_id}) "
                f"MERGE (a)-[r:`{row['rel_type']}` {{id: $id}}]->(b) SET r += $props",
                id=row["id"],
                head_id=row["head_id"],
                tail_id=row["tail_id"],
                props=row["props"],
            ).consume()
    return time.perf_counter() - t0


def raw_batched(
    driver, database: str | None, ents: list[dict], rels: list[dict], batch: int
) -> float:
    """The baseline's statements as UNWIND batches in managed transactions; seconds."""

    def grouped(rows: list[dict], key: str) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for row in rows:
            out.setdefault(row[key], []).append(row)
        return out

    t0 = time.perf_counter()
    with driver.session(database=database) as session:
        for rows in grouped(ents, "label").values():
            q = "UNWIND $rows AS r MERGE (e:Entity {id: r.id}) SET e += r.props"
            for i in range(0, len(rows), batch):
                session.execute_write(
                    lambda tx, q=q, b=rows[i : i + batch]: tx.run(q, rows=b).consume()
                )
        for rel_type, rows in grouped(rels, "rel_type").items():
            q = (
                "UNWIND $rows AS r "
                "MATCH (a:Entity {id: r.head_id}) MATCH (b:Entity {id: r.tail_id}) "
                f"MERGE (a)-[e:`{rel_type}` {{id: r.id}}]->(b) SET e += r.props"
            )
            for i in range(0, len(rows), batch):
                session.execute_write(
                    lambda tx, q=q, b=rows[i : i + batch]: tx.run(q, rows=b).consume()
                )
    return time.perf_counter() - t0


def wipe(driver, database: str | None) -> None:
    with driver.session(database=database) as session:
        while session.run(
            "MATCH (n) WITH n LIMIT 5000 DETACH DELETE n RETURN count(*) AS n"
        ).single()["n"]:
            pass


# -- server ----------------------------------------------------------------------------------


def read_env(path: Path) -> dict[str, str]:
    import shlex

    out = {}
    for line in path.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        out[key] = "".join(shlex.split(value))
    return out


def start_private_server(state_dir: Path, heap: str) -> dict[str, str]:
    script = REPO / "scripts" / "test-server"
    subprocess.run(
        [sys.executable, str(script), "start", "--state-dir", str(state_dir), "--heap", heap],
        check=True,
    )
    return read_env(state_dir / "env")


def stop_private_server(state_dir: Path) -> None:
    script = REPO / "scripts" / "test-server"
    subprocess.run(
        [sys.executable, str(script), "stop", "--state-dir", str(state_dir)], check=False
    )
    shutil.rmtree(state_dir, ignore_errors=True)


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--relations", type=int, default=200_000)
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--baseline-documents", type=int, default=4, help="per-row subset")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--skip-rewrite", action="store_true", help="no re-write measurement")
    parser.add_argument("--heap", default="4g", help="heap of the private server")
    parser.add_argument("--use-test-server", action="store_true")
    parser.add_argument("--uri")
    parser.add_argument("--user", default=os.environ.get("NEO4J_USERNAME", "neo4j"))
    parser.add_argument("--database", default=os.environ.get("NEO4J_DATABASE"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "neo4j_write.json"))
    args = parser.parse_args()

    n_docs = args.documents
    per_doc_e = -(-args.entities // n_docs)
    per_doc_r = -(-args.relations // n_docs)
    t0 = time.perf_counter()
    graphs = make_graphs(n_docs, per_doc_e, per_doc_r)
    n_ent = sum(len(g.entities) for g in graphs)
    n_rel = sum(len(g.relations) for g in graphs)
    n_men = sum(len(g.mentions) for g in graphs)
    n_chk = sum(len(g.chunks) for g in graphs)
    print(
        f"generated {n_docs} documents: {n_ent:,} entities, {n_rel:,} relations, "
        f"{n_men:,} mentions, {n_chk:,} chunks in {time.perf_counter() - t0:.1f}s",
        flush=True,
    )

    private_dir = None
    if args.uri:
        server = {
            "KGBUILD_TEST_BOLT_URI": args.uri,
            "KGBUILD_TEST_BOLT_USER": args.user,
            "KGBUILD_TEST_BOLT_PASSWORD": os.environ.get("NEO4J_PASSWORD", ""),
            "KGBUILD_TEST_BOLT_DATABASE": args.database or "",
        }
        server_name = f"Bolt server at {args.uri}"
    elif args.use_test_server:
        state_dir = os.environ.get("KGBUILD_TEST_SERVER_DIR") or REPO / ".test-server"
        server = read_env(Path(state_dir) / "env")
        server_name = "ArcadeDB test server (scripts/test-server)"
    else:
        private_dir = Path(tempfile.mkdtemp(prefix="kgbuild-bench-"))
        server = start_private_server(private_dir, args.heap)
        server_name = f"ArcadeDB (arcadedb-embedded, private instance, -Xmx{args.heap})"

    results: dict[str, Any] = {}
    try:
        store = Neo4jStore(
            server["KGBUILD_TEST_BOLT_URI"],
            server["KGBUILD_TEST_BOLT_USER"],
            server["KGBUILD_TEST_BOLT_PASSWORD"],
            server["KGBUILD_TEST_BOLT_DATABASE"] or None,
            batch_size=args.batch_size,
        )
        with store:
            driver, db = store.driver, store.database
            wipe(driver, db)
            store.setup_schema()
            agent = driver.get_server_info().agent

            # 1. Per-row baseline on a subset, on an empty graph; then its batched twin.
            subset = graphs[: args.baseline_documents]
            ents, rels = entity_rows(subset), relation_rows(subset)
            base_rows = len(ents) + len(rels)
            print(f"per-row baseline: {base_rows:,} rows, one MERGE each ...", flush=True)
            base_s = per_row(driver, db, ents, rels)
            wipe(driver, db)
            raw_s = raw_batched(driver, db, ents, rels, args.batch_size)
            wipe(driver, db)

            # 2. The store, batched, everything.
            print(f"store, batched: {n_ent + n_rel:,} entity + relation rows ...", flush=True)
            t = time.perf_counter()
            store.write_documents(graphs)
            store_s = time.perf_counter() - t
            counts = store.counts()
            expected = {
                "documents": n_docs,
                "chunks": n_chk,
                "mentions": n_men,
                "entities": n_ent,
                "relations": n_rel,
            }
            if counts != expected:
                raise SystemExit(f"counts {counts} differ from the data written {expected}")

            # 3. Unchanged data again: what a pipeline does (skip), and a forced re-write.
            t = time.perf_counter()
            states = store.document_states()
            todo = [
                g
                for g in graphs
                if states.get(g.document.id) is None
                or states[g.document.id].content_hash != g.document.content_hash
            ]
            skip_s = time.perf_counter() - t
            assert not todo
            rewrite_s = None
            if not args.skip_rewrite:
                print("re-writing the unchanged documents ...", flush=True)
                t = time.perf_counter()
                store.write_documents(graphs)
                rewrite_s = time.perf_counter() - t
                if store.counts() != expected:
                    raise SystemExit("re-write changed the counts")
    finally:
        if private_dir is not None:
            stop_private_server(private_dir)

    rows = n_ent + n_rel
    all_rows = rows + n_men + n_chk + n_docs
    results = {
        "benchmark": "neo4j_write",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "server": f"{server_name}; agent {agent}",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "batch_size": args.batch_size,
        "data": {**expected},
        "store_batched": {
            "seconds": round(store_s, 2),
            "entity_relation_rows": rows,
            "rows_per_s": round(rows / store_s, 1),
            "all_rows": all_rows,
            "all_rows_per_s": round(all_rows / store_s, 1),
        },
        "per_row_baseline": {
            "documents": len(subset),
            "rows": base_rows,
            "seconds": round(base_s, 2),
            "rows_per_s": round(base_rows / base_s, 1),
        },
        "raw_batched_same_subset": {
            "rows": base_rows,
            "seconds": round(raw_s, 2),
            "rows_per_s": round(base_rows / raw_s, 1),
        },
        "ratio_store_batched_vs_per_row": round((rows / store_s) / (base_rows / base_s), 1),
        "ratio_raw_batched_vs_per_row": round(base_s / raw_s, 1),
        "reingest_unchanged_skip_check_s": round(skip_s, 3),
        "rewrite_unchanged": None
        if rewrite_s is None
        else {"seconds": round(rewrite_s, 2), "rows_per_s": round(rows / rewrite_s, 1)},
    }

    print()
    print(f"server: {results['server']}   batch size {args.batch_size}")
    print(f"data: {n_docs} documents, {n_ent:,} entities, {n_rel:,} relations, {n_men:,} mentions")
    print(f"{'run':<44}{'rows':>10}{'seconds':>10}{'rows/s':>11}")
    table = [
        ("per-row MERGE (auto-commit), subset", base_rows, base_s),
        ("raw UNWIND batches, same subset", base_rows, raw_s),
        ("Neo4jStore.write_documents, all", rows, store_s),
    ]
    if rewrite_s is not None:
        table.append(("Neo4jStore re-write unchanged, all", rows, rewrite_s))
    for name, n, s in table:
        print(f"{name:<44}{n:>10,}{s:>10.1f}{n / s:>11,.0f}")
    print(f"store batched vs per-row: {results['ratio_store_batched_vs_per_row']}x (target >= 20x)")
    print(f"raw batched vs per-row:   {results['ratio_raw_batched_vs_per_row']}x")
    print(f"re-ingest unchanged (document_states + hash check): {skip_s:.3f}s, nothing written")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
