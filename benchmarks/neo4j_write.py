"""Write throughput of the Neo4j store against the server's own batched speed for the same rows.

Usage::

    nice -n 10 python benchmarks/neo4j_write.py                  # 100k entities, 200k relations
    python benchmarks/neo4j_write.py --entities 5000 --relations 10000   # a quick look
    python benchmarks/neo4j_write.py --before 266fcd4          # also the store of that commit

What it measures, on one Bolt server, in one run, each in a database of its own (ArcadeDB:
created through its HTTP API; another server: the one database, wiped in between):

* **raw batched**: every node and relationship the store writes (chunks + ``NEXT``,
  mentions + ``IN_CHUNK``, entities + ``REFERS_TO``, relation edges, documents +
  ``PART_OF``), as plain ``UNWIND $rows`` statements of ``--batch-size`` rows in managed
  transactions, ``CREATE`` where the row is new: the server's limit for these rows.
* **store**: ``Neo4jStore.write_documents`` on the same synthetic DocumentGraphs (every
  entity mentioned once, every relation with one piece of evidence). With ``--before
  REF`` also the store module of git commit REF (its own schema file), for before/after.
* **write amplification** of each store: statements run, rows sent in ``$rows`` and
  database records (nodes + relationships) per logical entity, mention and relation.
* **re-write unchanged**: ``write_documents`` again with the same graphs (the store
  replaces each document's evidence; ``--skip-rewrite`` leaves it out, ``--rewrite-before``
  also times it for the ``--before`` store), and the skip check a pipeline does instead.

Rates count database records (nodes + relationships) per second, the same for all runs. By
default it starts a private ArcadeDB Bolt server (``scripts/test-server`` with its own
state directory and a larger heap) and stops it at the end; ``--uri`` etc. use any Bolt
server (Neo4j 5 from ``docker/``; wiped!). Prints a table and writes JSON to
``benchmarks/results/neo4j_write.json``.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import neo4j

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kgbuild import ids  # noqa: E402
from kgbuild.resolve import Normalizer, ResolverConfig  # noqa: E402
from kgbuild.schema import entity_label, relation_label  # noqa: E402
from kgbuild.store import neo4j_store as after  # noqa: E402
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
FIRST = ["Ada", "Marie", "Tim", "Nordwind", "Hafen", "Lena", "Karl"]
NORMALIZER = Normalizer(ResolverConfig())


# -- synthetic data ----------------------------------------------------------------------


def make_graphs(n_docs: int, entities_per_doc: int, relations_per_doc: int) -> list[DocumentGraph]:
    """Documents whose text lists their entities' names, so every offset is exact."""
    rng = random.Random(7)
    graphs = []
    for d in range(n_docs):
        source = f"bench://doc-{d:05d}.txt"
        doc_id = ids.document_id(source)
        names = [f"{FIRST[i % len(FIRST)]} Name{d:05d}x{i:04d}" for i in range(entities_per_doc)]
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
            # The alias-index keys the resolver gives such a name (5 to 7 of them).
            kind = "person" if etype == "person" else "other"
            keys = list(NORMALIZER.analyze(name, kind).keys)
            keys += [f"l:{name.split()[-1].lower()}"] if kind == "person" else []
            entities.append(
                Entity(
                    id=eid,
                    name=name,
                    type=etype,
                    aliases=[name],
                    mention_count=1,
                    keys=keys,
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
                    keys=keys,
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


# -- raw batched: the same records, plain UNWIND statements --------------------------------


def raw_statements(graphs: list[DocumentGraph]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(statement, rows) pairs that write what the store writes, without its look-ups."""
    chunks, nexts, mentions, links, documents = [], [], [], [], []
    entities: dict[str, list[dict]] = {}
    relations: dict[str, list[dict]] = {}
    for g in graphs:
        cs = sorted(g.chunks, key=lambda c: c.index)
        chunks += [
            {"id": c.id, "props": c.model_dump(exclude={"id"}, exclude_none=True)} for c in cs
        ]
        nexts += [{"first": a.id, "second": b.id} for a, b in zip(cs, cs[1:], strict=False)]
        for m in g.mentions:
            props = m.model_dump(exclude={"id", "entity_id"}, exclude_none=True)
            mentions.append({"id": m.id, "props": props})
            links.append({"mention_id": m.id, "entity_id": m.entity_id})
        for e in g.entities:
            entities.setdefault(entity_label(e.type), []).append(
                {
                    "id": e.id,
                    "props": {
                        "name": e.name,
                        "type": e.type,
                        "label": entity_label(e.type),
                        "aliases": e.aliases,
                        "keys": e.keys,
                        "mention_count": e.mention_count,
                    },
                }
            )
        for r in g.relations:
            ev = r.evidence[0]
            relations.setdefault(relation_label(r.type), []).append(
                {
                    "id": r.id,
                    "head_id": r.head_id,
                    "tail_id": r.tail_id,
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
        documents.append({"id": g.document.id, "props": {"source": g.document.source}})
    out: list[tuple[str, list[dict[str, Any]]]] = [
        ("UNWIND $rows AS r MERGE (c:Chunk {id: r.id}) SET c += r.props", chunks),
        (
            "UNWIND $rows AS r MATCH (a:Chunk {id: r.first}) MATCH (b:Chunk {id: r.second}) "
            "CREATE (a)-[:NEXT]->(b)",
            nexts,
        ),
        (
            "UNWIND $rows AS r CREATE (m:Mention {id: r.id}) SET m += r.props WITH m, r "
            "MATCH (c:Chunk {id: r.props.chunk_id}) CREATE (m)-[:IN_CHUNK]->(c)",
            mentions,
        ),
    ]
    for label, rows in entities.items():
        out.append(
            (f"UNWIND $rows AS r CREATE (e:Entity:`{label}` {{id: r.id}}) SET e += r.props", rows)
        )
    out.append(
        (
            "UNWIND $rows AS r MATCH (m:Mention {id: r.mention_id}) "
            "MATCH (e:Entity {id: r.entity_id}) CREATE (m)-[:REFERS_TO]->(e)",
            links,
        )
    )
    for rel_type, rows in relations.items():
        out.append(
            (
                "UNWIND $rows AS r MATCH (a:Entity {id: r.head_id}) "
                f"MATCH (b:Entity {{id: r.tail_id}}) CREATE (a)-[e:`{rel_type}` {{id: r.id}}]->(b) "
                "SET e += r.props",
                rows,
            )
        )
    out.append(
        (
            "UNWIND $rows AS r MERGE (d:Document {id: r.id}) SET d += r.props WITH d "
            "MATCH (c:Chunk {document_id: d.id}) CREATE (c)-[:PART_OF]->(d)",
            documents,
        )
    )
    return out


def raw_batched(driver, database: str | None, graphs: list[DocumentGraph], batch: int) -> float:
    """The raw statements in managed transactions of ``batch`` rows; seconds."""
    statements = raw_statements(graphs)
    t0 = time.perf_counter()
    with driver.session(database=database) as session:
        for query, rows in statements:
            for i in range(0, len(rows), batch):
                session.execute_write(
                    lambda tx, q=query, b=rows[i : i + batch]: tx.run(q, rows=b).consume()
                )
    return time.perf_counter() - t0


def wipe(driver, database: str | None) -> None:
    with driver.session(database=database) as session:
        while session.run(
            "MATCH (n) WITH n LIMIT 5000 DETACH DELETE n RETURN count(*) AS n"
        ).single()["n"]:
            pass


def records(driver, database: str | None) -> dict[str, int]:
    """Nodes and relationships in the database, helper nodes included."""
    nodes = driver.execute_query("MATCH (n) RETURN count(n) AS n", database_=database)
    rels = driver.execute_query("MATCH ()-[r]->() RETURN count(r) AS n", database_=database)
    return {"nodes": nodes.records[0]["n"], "relationships": rels.records[0]["n"]}


class Statements:
    """Counts the statements the store runs and the ``$rows`` it sends (driver-level)."""

    def __init__(self) -> None:
        self.statements = 0
        self.rows = 0
        self._original = neo4j.ManagedTransaction.run

    def __enter__(self) -> Statements:
        counter = self

        def run(tx, query, parameters=None, **kwargs):
            counter.statements += 1
            rows = kwargs.get("rows", (parameters or {}).get("rows"))
            counter.rows += len(rows) if isinstance(rows, list) else 0
            return counter._original(tx, query, parameters, **kwargs)

        neo4j.ManagedTransaction.run = run
        return self

    def __exit__(self, *exc: object) -> None:
        neo4j.ManagedTransaction.run = self._original


def store_module_at(ref: str) -> Any:
    """``kgbuild.store.neo4j_store`` as of git commit ``ref``, with that commit's schema."""
    source = subprocess.run(
        ["git", "show", f"{ref}:kgbuild/store/neo4j_store.py"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    schema = subprocess.run(
        ["git", "show", f"{ref}:cypher/schema.cypher"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="kgbuild-before-"))
    (folder / "schema.cypher").write_text(schema)
    spec = importlib.util.spec_from_loader(f"neo4j_store_{ref}", loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    exec(compile(source, f"{ref}:kgbuild/store/neo4j_store.py", "exec"), module.__dict__)
    module._schema_file = lambda: folder / "schema.cypher"
    return module


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


class Databases:
    """A fresh database per run: ArcadeDB's HTTP API when given, else one wiped database."""

    def __init__(self, server: dict[str, str], driver) -> None:
        self.http = server.get("KGBUILD_TEST_ARCADEDB_HTTP")
        self.user = server["KGBUILD_TEST_BOLT_USER"]
        self.password = server["KGBUILD_TEST_BOLT_PASSWORD"]
        self.default = server.get("KGBUILD_TEST_BOLT_DATABASE") or None
        self.driver = driver

    def _command(self, command: str) -> None:
        auth = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        request = urllib.request.Request(
            f"{self.http}/api/v1/server",
            data=json.dumps({"command": command}).encode(),
            headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=300).read()

    def fresh(self, name: str) -> str | None:
        if self.http:
            self._command(f"create database {name}")
            return name
        wipe(self.driver, self.default)
        return self.default

    def drop(self, name: str | None) -> None:
        if self.http and name:
            self._command(f"drop database {name}")


# -- main ------------------------------------------------------------------------------------


def run_store(module, server, database, graphs, batch_size, rewrite: bool) -> dict[str, Any]:
    """Write ``graphs`` with a store class of ``module``; seconds, counts, amplification."""
    store = module.Neo4jStore(
        server["KGBUILD_TEST_BOLT_URI"],
        server["KGBUILD_TEST_BOLT_USER"],
        server["KGBUILD_TEST_BOLT_PASSWORD"],
        database,
        batch_size=batch_size,
    )
    out: dict[str, Any] = {}
    with store:
        store.setup_schema()
        with Statements() as counted:
            t = time.perf_counter()
            store.write_documents(graphs)
            out["seconds"] = time.perf_counter() - t
        out["statements"], out["rows_sent"] = counted.statements, counted.rows
        out["counts"] = store.counts()
        out["records"] = records(store.driver, database)
        t = time.perf_counter()
        states = store.document_states()
        todo = [
            g
            for g in graphs
            if states.get(g.document.id) is None
            or states[g.document.id].content_hash != g.document.content_hash
        ]
        out["skip_check_seconds"] = time.perf_counter() - t
        assert not todo
        out["rewrite_seconds"] = None
        if rewrite:
            with Statements() as counted:
                t = time.perf_counter()
                store.write_documents(graphs)
                out["rewrite_seconds"] = time.perf_counter() - t
            out["rewrite_statements"] = counted.statements
            if store.counts() != out["counts"]:
                raise SystemExit("re-write changed the counts")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--relations", type=int, default=200_000)
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--before", metavar="REF", help="also the store of this git commit")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median)")
    parser.add_argument("--skip-rewrite", action="store_true", help="no re-write measurement")
    parser.add_argument("--rewrite-before", action="store_true", help="re-write with --before")
    parser.add_argument("--heap", default="4g", help="heap of the private server")
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
    logical = {
        "entities": sum(len(g.entities) for g in graphs),
        "mentions": sum(len(g.mentions) for g in graphs),
        "relations": sum(len(g.relations) for g in graphs),
    }
    expected = {
        "documents": n_docs,
        "chunks": sum(len(g.chunks) for g in graphs),
        **{k: logical[k] for k in ("mentions", "entities", "relations")},
    }
    print(
        f"generated {n_docs} documents: {expected} in {time.perf_counter() - t0:.1f}s", flush=True
    )
    before = store_module_at(args.before) if args.before else None

    private_dir = None
    if args.uri:
        server = {
            "KGBUILD_TEST_BOLT_URI": args.uri,
            "KGBUILD_TEST_BOLT_USER": args.user,
            "KGBUILD_TEST_BOLT_PASSWORD": os.environ.get("NEO4J_PASSWORD", ""),
            "KGBUILD_TEST_BOLT_DATABASE": args.database or "",
        }
        server_name = f"Bolt server at {args.uri}"
    else:
        private_dir = Path(tempfile.mkdtemp(prefix="kgbuild-bench-"))
        server = start_private_server(private_dir, args.heap)
        server_name = f"ArcadeDB (arcadedb-embedded, private instance, -Xmx{args.heap})"

    runs: dict[str, Any] = {}
    try:
        auth = (server["KGBUILD_TEST_BOLT_USER"], server["KGBUILD_TEST_BOLT_PASSWORD"])
        with neo4j.GraphDatabase.driver(server["KGBUILD_TEST_BOLT_URI"], auth=auth) as driver:
            agent = driver.get_server_info().agent
            dbs = Databases(server, driver)

            print("warm-up (raw statements, 2 documents) ...", flush=True)
            db = dbs.fresh("warmup")
            raw_batched(driver, db, graphs[:2], args.batch_size)
            dbs.drop(db)
            stores = [("store before", before), ("store", after)] if before else [("store", after)]
            # Rounds alternate raw and stores, so a load on a shared machine hits all of
            # them alike; each run's time is its median over the rounds. Re-writes: last round.
            times: dict[str, list[float]] = {}
            for round_no in range(1, args.rounds + 1):
                last = round_no == args.rounds
                print(f"round {round_no}: raw UNWIND batches of the same records ...", flush=True)
                db = dbs.fresh(f"raw{round_no}")
                with after.Neo4jStore(
                    server["KGBUILD_TEST_BOLT_URI"], *auth, db, batch_size=args.batch_size
                ) as schema_only:
                    schema_only.setup_schema()  # the same constraints and indexes
                times.setdefault("raw batched", []).append(
                    raw_batched(driver, db, graphs, args.batch_size)
                )
                runs["raw batched"] = {"records": records(driver, db)}
                dbs.drop(db)
                for name, module in stores:
                    print(f"round {round_no}: {name}: write_documents ...", flush=True)
                    db = dbs.fresh(f"{name.replace(' ', '_')}{round_no}")
                    rewrite = (
                        last and not args.skip_rewrite and (name == "store" or args.rewrite_before)
                    )
                    runs[name] = run_store(module, server, db, graphs, args.batch_size, rewrite)
                    times.setdefault(name, []).append(runs[name]["seconds"])
                    if runs[name]["counts"] != expected:
                        raise SystemExit(f"{name}: counts {runs[name]['counts']} != {expected}")
                    dbs.drop(db)
            for name, seconds in times.items():
                runs[name]["seconds"] = statistics.median(seconds)
                runs[name]["seconds_per_round"] = [round(x, 2) for x in seconds]
    finally:
        if private_dir is not None:
            stop_private_server(private_dir)

    raw = runs["raw batched"]
    raw_records = sum(raw["records"].values())
    raw_rate = raw_records / raw["seconds"]
    n_logical = sum(logical.values())
    for name, r in runs.items():
        total = sum(r["records"].values())
        r["records_per_s"] = round(raw_records / r["seconds"], 1)
        r["seconds"] = round(r["seconds"], 2)
        if name == "raw batched":
            continue
        r["ratio_to_raw_batched"] = round(r["records_per_s"] / raw_rate, 3)
        r["amplification"] = {
            "statements_per_logical_row": round(r["statements"] / n_logical, 4),
            "rows_sent_per_logical_row": round(r["rows_sent"] / n_logical, 3),
            "records_per_logical_row": round(total / n_logical, 3),
            "helper_records": total - raw_records,
        }
        if r.get("rewrite_seconds") is not None:
            r["rewrite_seconds"] = round(r["rewrite_seconds"], 2)
            r["rewrite_vs_first_write"] = round(r["rewrite_seconds"] / r["seconds"], 2)
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
        "before": args.before,
        "rounds": args.rounds,
        "data": expected,
        "logical_rows": logical,
        "raw_records": raw["records"],
        "runs": runs,
    }

    print()
    print(f"server: {results['server']}   batch size {args.batch_size}")
    print(f"data: {expected}; {raw_records:,} database records (nodes + relationships)")
    header = f"{'run':<16}{'seconds':>9}{'records/s':>11}{'vs raw':>8}{'stmts/row':>10}"
    print(header + f"{'records/row':>12}{'helpers':>9}{'re-write s':>11}")
    for name, r in runs.items():
        amp = r.get("amplification", {})
        line = f"{name:<16}{r['seconds']:>9.1f}{r['records_per_s']:>11,.0f}"
        line += f"{r.get('ratio_to_raw_batched', 1.0):>8.2f}"
        line += f"{amp.get('statements_per_logical_row', float('nan')):>10.4f}"
        line += f"{amp.get('records_per_logical_row', float('nan')):>12.3f}"
        line += f"{amp.get('helper_records', 0):>9,}"
        rw = r.get("rewrite_seconds")
        line += f"{rw:>11.1f}" if rw is not None else f"{'-':>11}"
        print(line)
    print("(per logical row: entities + mentions + relations; re-write: unchanged documents)")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
