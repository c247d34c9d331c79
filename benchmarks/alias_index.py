"""The alias index of the Neo4j store: helper key nodes, the mentions' name keys, a list scan.

``Neo4jStore.find_entities(keys)`` finds the stored entities that share a normalized key
with the names of a document. Designs, on one Bolt server, in one run (the same entities,
each mentioned once, with ``REFERS_TO``; ``--batch-size`` rows per UNWIND transaction):

* **key nodes** (the store before): one ``(:_EntityKey {key, entity_ids})`` node per
  distinct key under a uniqueness constraint, MERGEd at every write; looked up with every
  key the resolver asked for then (names and blocking keys).
* **mention name_key** (the store now): no helper node; each Mention holds the key of its
  own name (``n:``/``x:``) as an indexed ``name_key``; looked up with the names' keys.
* **keys list scan**: no index at all; one pass over the Entity nodes testing their
  ``keys`` list against a map of the names' keys (in the same database as name_key).

For each: write throughput, nodes, and the latency of one document's lookup (``--names``
names: half of them in the graph; median and p90 over ``--lookups`` documents), and of
one lookup for ``--batch-docs`` documents' names together.

Usage::

    python benchmarks/alias_index.py                      # 100,000 entities, private server
    python benchmarks/alias_index.py --entities 5000      # a quick look
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import random
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from neo4j import GraphDatabase  # noqa: E402
from neo4j_write import start_private_server, stop_private_server  # noqa: E402

from kgbuild import ids  # noqa: E402
from kgbuild.resolve import EntityResolver, ResolverConfig  # noqa: E402
from kgbuild.resolve.normalize import OTHER, PERSON  # noqa: E402

FIRST = "Anna Jonas Lena Karl Marie Ada Tim Satya Fredrik Stephen Jorma Leo Fabiola Rolf".split()
WORDS = "Nord Wind Energie Hafen Werft Bau Stahl Licht Data Bio Solar Tech Agrar Medi".split()
SUFFIX = ["GmbH", "AG", "Inc.", "Corp.", "Ltd", "Oy", ""]
KEY_LABEL = "_EntityKey"


def entity_rows(n: int, seed: int = 3) -> list[dict]:
    """``n`` distinct entities, half people, half companies, with the keys kgbuild stores."""
    rng = random.Random(seed)
    engine = EntityResolver()._engine
    rows = []
    for i in range(n):
        tag = f"{i:06d}"
        if i % 2:
            kind, etype = PERSON, "person"
            name = f"{rng.choice(FIRST)} {rng.choice(WORDS)}mann{tag}"
        else:
            kind, etype = OTHER, "organization"
            second = f"{rng.choice(WORDS)}{rng.randrange(10_000)}"
            name = f"{rng.choice(WORDS)}{tag} {second} {rng.choice(SUFFIX)}".strip()
        parsed = engine.norm.analyze(name, kind)
        keys = [*parsed.keys, *engine._short_form_keys(parsed, etype)]
        eid = ids.entity_id(etype, parsed.key)
        rows.append(
            {
                "id": eid,
                "name": name,
                "type": etype,
                "keys": keys,
                "label": "Person" if kind == PERSON else "Organization",
                "mention": {"id": "m" + eid, "text": name, "keys": keys, "name_key": keys[0]},
                "parsed": (parsed, etype),
            }
        )
    return rows


def lookup_keys(rows: list[dict], rng: random.Random, names: int, before: bool) -> list[str]:
    """What the resolver asks the store for one document of ``names`` names, half of them
    in the graph: before, the names' and their blocking keys; now, the names' keys."""
    engine = EntityResolver(ResolverConfig(store_blocking_keys=before))._engine
    norm = engine.norm
    keys: dict[str, None] = {}
    for j in range(names):
        if j % 2:
            parsed, etype = rng.choice(rows)["parsed"]
        else:  # a name the graph does not hold
            etype = "person" if j % 4 else "organization"
            kind = PERSON if etype == "person" else OTHER
            parsed = norm.analyze(f"Unknown{rng.randrange(10**9)} Person{j}", kind)
        keys.update(dict.fromkeys(engine._lookup_keys(parsed, etype)))
    return list(keys)


def arcadedb(http: str, user: str, password: str, command: str) -> None:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    req = urllib.request.Request(
        f"{http}/api/v1/server",
        data=json.dumps({"command": command}).encode(),
        headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(req, timeout=120).read()


def write(driver, db: str, rows: list[dict], batch: int, key_nodes: bool) -> float:
    schema = [
        "CREATE CONSTRAINT entity_id IF NOT EXISTS FOR (n:Entity) REQUIRE n.id IS UNIQUE",
        "CREATE CONSTRAINT mention_id IF NOT EXISTS FOR (n:Mention) REQUIRE n.id IS UNIQUE",
        f"CREATE CONSTRAINT entity_key IF NOT EXISTS FOR (n:`{KEY_LABEL}`) REQUIRE n.key IS UNIQUE"
        if key_nodes
        else "CREATE INDEX mention_name_key IF NOT EXISTS FOR (n:Mention) ON (n.name_key)",
    ]
    for statement in schema:
        driver.execute_query(statement, database_=db)
    index = (
        f"UNWIND $rows AS r MERGE (k:`{KEY_LABEL}` {{key: r.key}}) "
        "SET k.entity_ids = coalesce(k.entity_ids, []) "
        "+ [i IN r.ids WHERE NOT i IN coalesce(k.entity_ids, [])]"
    )
    t0 = time.perf_counter()
    with driver.session(database=db) as session:
        for start in range(0, len(rows), batch):
            part = rows[start : start + batch]
            by_label: dict[str, list[dict]] = {}
            for r in part:
                by_label.setdefault(r["label"], []).append(r)

            def work(tx, by_label=by_label, part=part) -> None:
                for label, group in by_label.items():
                    tx.run(
                        f"UNWIND $rows AS r CREATE (e:Entity:`{label}` {{id: r.id}}) "
                        "SET e.name = r.name, e.type = r.type, e.keys = r.keys "
                        "CREATE (m:Mention {id: r.mention.id}) "
                        "SET m.text = r.mention.text, m.keys = r.mention.keys"
                        + ("" if key_nodes else ", m.name_key = r.mention.name_key")
                        + " CREATE (m)-[:REFERS_TO]->(e)",
                        rows=[{k: v for k, v in r.items() if k != "parsed"} for r in group],
                    ).consume()
                if key_nodes:
                    by_key: dict[str, list[str]] = {}
                    for r in part:
                        for k in r["keys"]:
                            by_key.setdefault(k, []).append(r["id"])
                    tx.run(index, rows=[{"key": k, "ids": v} for k, v in by_key.items()]).consume()

            session.execute_write(work)
    return time.perf_counter() - t0


#: The lookups: the old store's over key nodes; the new store's through the mentions'
#: name_key; a scan testing each entity's keys against a map (``$keys`` a map then).
LOOKUP = {
    "key nodes": f"UNWIND $keys AS key MATCH (k:`{KEY_LABEL}` {{key: key}}) "
    "UNWIND k.entity_ids AS id MATCH (e:Entity {id: id}) "
    "RETURN DISTINCT e.id AS id, e.name AS name, e.keys AS keys",
    "mention name_key": "UNWIND $keys AS key MATCH (:Mention {name_key: key})-[:REFERS_TO]->"
    "(e:Entity) RETURN DISTINCT e.id AS id, e.name AS name, e.keys AS keys",
    "keys list scan": "MATCH (e:Entity) WHERE any(k IN e.keys WHERE $keys[k] IS NOT NULL) "
    "RETURN e.id AS id, e.name AS name, e.keys AS keys",
}


def timed_lookups(driver, db, design, key_sets) -> tuple[list[float], int]:
    out, found = [], 0
    for keys in key_sets:
        param = dict.fromkeys(keys, True) if "scan" in design else keys
        t0 = time.perf_counter()
        records, _, _ = driver.execute_query(LOOKUP[design], keys=param, database_=db)
        out.append(time.perf_counter() - t0)
        found += len(records)
    return out, found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entities", type=int, default=100_000)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--names", type=int, default=40, help="names per looked-up document")
    ap.add_argument("--lookups", type=int, default=30)
    ap.add_argument("--batch-docs", type=int, default=32)
    ap.add_argument("--heap", default="4g")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "alias_index.json"))
    args = ap.parse_args()

    rows = entity_rows(args.entities)
    key_sets, batch_keys = {}, {}
    for before in (True, False):
        rng = random.Random(11)  # the same names for both
        key_sets[before] = [lookup_keys(rows, rng, args.names, before) for _ in range(args.lookups)]
        batch_keys[before] = [
            list(
                dict.fromkeys(
                    k
                    for _ in range(args.batch_docs)
                    for k in lookup_keys(rows, rng, args.names, before)
                )
            )
            for _ in range(5)
        ]
    state = Path(tempfile.mkdtemp(prefix="kgbuild-alias-"))
    server = start_private_server(state, args.heap)
    uri, user = server["KGBUILD_TEST_BOLT_URI"], server["KGBUILD_TEST_BOLT_USER"]
    password, http = server["KGBUILD_TEST_BOLT_PASSWORD"], server["KGBUILD_TEST_ARCADEDB_HTTP"]
    results: dict = {}
    try:
        with GraphDatabase.driver(uri, auth=(user, password)) as driver:
            agent = driver.get_server_info().agent
            for key_nodes, designs in ((True, ["key nodes"]), (False, list(LOOKUP)[1:])):
                ks, bks = key_sets[key_nodes], batch_keys[key_nodes]
                db = "alias_nodes" if key_nodes else "alias_list"
                arcadedb(http, user, password, f"create database {db}")
                print(f"{db}: writing {len(rows):,} entities ...", flush=True)
                seconds = write(driver, db, rows, args.batch_size, key_nodes)
                nodes = driver.execute_query(
                    "MATCH (n) RETURN count(n) AS n", database_=db
                ).records[0]["n"]
                for name in designs:
                    timed_lookups(driver, db, name, ks[:3])  # warm-up
                    lat, found = timed_lookups(driver, db, name, ks)
                    blat, bfound = timed_lookups(driver, db, name, bks)
                    lat.sort()
                    results[name] = {
                        "write_seconds": round(seconds, 2),
                        "entities_per_s": round(len(rows) / seconds, 1),
                        "nodes": nodes,
                        "helper_nodes": nodes - 2 * len(rows),
                        "lookup_ms_median": round(statistics.median(lat) * 1000, 2),
                        "lookup_ms_p90": round(lat[int(0.9 * (len(lat) - 1))] * 1000, 2),
                        "lookups": len(lat),
                        "entities_found_per_lookup": round(found / len(lat), 1),
                        "batch_lookup_ms_median": round(statistics.median(blat) * 1000, 2),
                        "batch_lookup_ms_per_document": round(
                            statistics.median(blat) * 1000 / args.batch_docs, 2
                        ),
                        "keys_per_lookup": round(statistics.mean(map(len, ks)), 1),
                        "keys_per_batch_lookup": round(statistics.mean(map(len, bks))),
                        "entities_found_per_batch_lookup": round(bfound / len(bks), 1),
                    }
                arcadedb(http, user, password, f"drop database {db}")
    finally:
        stop_private_server(state)

    keys_per_entity = statistics.mean(len(r["keys"]) for r in rows)
    out = {
        "benchmark": "alias_index",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "server": f"ArcadeDB private instance -Xmx{args.heap}; agent {agent}",
        "python": platform.python_version(),
        "entities": len(rows),
        "keys_per_entity": round(keys_per_entity, 2),
        "batch_size": args.batch_size,
        "results": results,
    }
    print(
        f"\n{len(rows):,} entities ({keys_per_entity:.1f} keys each), each mentioned once; "
        f"lookups for {args.names} names per document"
    )
    print(
        f"{'design':<18}{'entities/s':>11}{'nodes':>9}{'helpers':>9}{'keys':>6}{'lookup ms':>11}"
        f"{'p90 ms':>8}{'batch of ' + str(args.batch_docs) + ' ms':>16}{'per doc':>9}"
    )
    for name, r in results.items():
        print(
            f"{name:<18}{r['entities_per_s']:>11,.0f}{r['nodes']:>9,}{r['helper_nodes']:>9,}"
            f"{r['keys_per_lookup']:>6.0f}"
            f"{r['lookup_ms_median']:>11.1f}{r['lookup_ms_p90']:>8.1f}"
            f"{r['batch_lookup_ms_median']:>16.1f}{r['batch_lookup_ms_per_document']:>9.2f}"
        )
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
