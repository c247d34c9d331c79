"""The alias index of the Neo4j store: helper key nodes against a list property on Entity.

``Neo4jStore.find_entities(keys)`` finds the stored entities that share a normalized key
(``n:nokia``, ``s:...``, ``l:curie``...) with the names of a document. Two designs, each
in a database of its own on one Bolt server, in one run:

* **key nodes** (kgbuild up to 0.x): one ``(:_EntityKey {key, entity_ids})`` node per
  distinct key under a uniqueness constraint; a write MERGEs the entity's keys into them.
* **keys list**: the keys only as the ``keys`` list property every Entity already has
  (with ``CREATE INDEX ... ON (n.keys)``, in case the server indexes list elements); the
  lookup is ``MATCH (e:Entity) WHERE any(k IN e.keys WHERE k IN $keys)``.

For each: write throughput of ``--entities`` entities (synthetic people and companies
named like real ones, keys from kgbuild's normalizer, ``--batch-size`` rows per UNWIND
transaction), nodes in the database, and the latency of one document's lookup
(``--names`` names, all their lookup keys; median and p90 over ``--lookups`` documents),
and of one lookup for ``--batch-docs`` documents' keys together.

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
from kgbuild.resolve import EntityResolver  # noqa: E402
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
            name = f"{rng.choice(WORDS)}{tag} {rng.choice(WORDS)} {rng.choice(SUFFIX)}".strip()
        parsed = engine.norm.analyze(name, kind)
        keys = [*parsed.keys, *engine._short_form_keys(parsed, etype)]
        rows.append(
            {
                "id": ids.entity_id(etype, parsed.key),
                "name": name,
                "type": etype,
                "keys": keys,
                "label": "Person" if kind == PERSON else "Organization",
            }
        )
    return rows


def lookup_keys(rows: list[dict], rng: random.Random, names: int) -> list[str]:
    """What find_entities gets for one document: the keys of ``names`` names, half known."""
    keys: dict[str, None] = {}
    for j in range(names):
        if j % 2:
            keys.update(dict.fromkeys(rng.choice(rows)["keys"]))
        else:  # a name the graph does not hold
            keys.update(dict.fromkeys([f"n:unknown {rng.random()}", f"k:nknwn{j}"]))
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
        f"CREATE CONSTRAINT entity_key IF NOT EXISTS FOR (n:`{KEY_LABEL}`) REQUIRE n.key IS UNIQUE"
        if key_nodes
        else "CREATE INDEX entity_keys IF NOT EXISTS FOR (n:Entity) ON (n.keys)",
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
                        "SET e.name = r.name, e.type = r.type, e.keys = r.keys",
                        rows=group,
                    ).consume()
                if key_nodes:
                    by_key: dict[str, list[str]] = {}
                    for r in part:
                        for k in r["keys"]:
                            by_key.setdefault(k, []).append(r["id"])
                    tx.run(index, rows=[{"key": k, "ids": v} for k, v in by_key.items()]).consume()

            session.execute_write(work)
    return time.perf_counter() - t0


#: The lookups: the old store's over key nodes; a list-membership scan; the new store's
#: scan that tests each key against a map (``$keys`` is then a map of key -> true).
LOOKUP = {
    "key nodes": f"UNWIND $keys AS key MATCH (k:`{KEY_LABEL}` {{key: key}}) "
    "UNWIND k.entity_ids AS id MATCH (e:Entity {id: id}) "
    "RETURN DISTINCT e.id AS id, e.name AS name, e.keys AS keys",
    "keys list, k IN $list": "MATCH (e:Entity) WHERE any(k IN e.keys WHERE k IN $keys) "
    "RETURN e.id AS id, e.name AS name, e.keys AS keys",
    "keys list, $map[k]": "MATCH (e:Entity) WHERE any(k IN e.keys WHERE $keys[k] IS NOT NULL) "
    "RETURN e.id AS id, e.name AS name, e.keys AS keys",
}


def timed_lookups(driver, db, design, key_sets) -> tuple[list[float], int]:
    out, found = [], 0
    for keys in key_sets:
        param = dict.fromkeys(keys, True) if "map" in design else keys
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
    rng = random.Random(11)
    key_sets = [lookup_keys(rows, rng, args.names) for _ in range(args.lookups)]
    batch_keys = [
        list(dict.fromkeys(k for _ in range(args.batch_docs) for k in lookup_keys(rows, rng, 40)))
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
                db = "alias_nodes" if key_nodes else "alias_list"
                arcadedb(http, user, password, f"create database {db}")
                print(f"{db}: writing {len(rows):,} entities ...", flush=True)
                seconds = write(driver, db, rows, args.batch_size, key_nodes)
                nodes = driver.execute_query(
                    "MATCH (n) RETURN count(n) AS n", database_=db
                ).records[0]["n"]
                for name in designs:
                    # A list-membership scan costs keys x entity keys per node: a few
                    # single-document lookups only, no batches (minutes each at 100k).
                    slow = "$list" in name
                    timed_lookups(driver, db, name, key_sets[: 1 if slow else 3])  # warm-up
                    lat, found = timed_lookups(driver, db, name, key_sets[: 5 if slow else None])
                    blat, bfound = timed_lookups(driver, db, name, [] if slow else batch_keys)
                    blat = blat or [float("nan")]
                    lat.sort()
                    results[name] = {
                        "write_seconds": round(seconds, 2),
                        "entities_per_s": round(len(rows) / seconds, 1),
                        "nodes": nodes,
                        "helper_nodes": nodes - len(rows),
                        "lookup_ms_median": round(statistics.median(lat) * 1000, 2),
                        "lookup_ms_p90": round(lat[int(0.9 * (len(lat) - 1))] * 1000, 2),
                        "lookups": len(lat),
                        "entities_found_per_lookup": round(found / len(lat), 1),
                        "batch_lookup_ms_median": round(statistics.median(blat) * 1000, 2),
                        "batch_lookup_ms_per_document": round(
                            statistics.median(blat) * 1000 / args.batch_docs, 2
                        ),
                        "keys_per_batch_lookup": round(statistics.mean(map(len, batch_keys))),
                        "entities_found_per_batch_lookup": round(bfound / len(batch_keys), 1),
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
        "keys_per_document_lookup": round(statistics.mean(map(len, key_sets)), 1),
        "batch_size": args.batch_size,
        "results": results,
    }
    print(
        f"\n{len(rows):,} entities ({keys_per_entity:.1f} keys each); lookups of "
        f"{out['keys_per_document_lookup']:.0f} keys ({args.names} names) per document"
    )
    print(
        f"{'design':<22}{'entities/s':>11}{'nodes':>9}{'helpers':>9}{'lookup ms':>11}"
        f"{'p90 ms':>8}{'batch of ' + str(args.batch_docs) + ' ms':>16}{'per doc':>9}"
    )
    for name, r in results.items():
        print(
            f"{name:<22}{r['entities_per_s']:>11,.0f}{r['nodes']:>9,}{r['helper_nodes']:>9,}"
            f"{r['lookup_ms_median']:>11.1f}{r['lookup_ms_p90']:>8.1f}"
            f"{r['batch_lookup_ms_median']:>16.1f}{r['batch_lookup_ms_per_document']:>9.2f}"
        )
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
