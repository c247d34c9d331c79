"""Search quality, latency and index size (issue 29).

1. **Quality** on facts the extractor was not trained on: Re-DocRED dev documents
   400-499 (``/work/shared/datasets/re-docred``) are ingested with the shipped model into
   a NetworkX store; every labelled fact (head, relation, tail) with evidence becomes a
   question ``"<head name> <relation name>"`` whose target is the chunk of that document
   holding an evidence sentence. Recall@5 and MRR (over the first 10) of the chunk
   ranking for ``vector``, ``keyword``, ``fused`` (reciprocal-rank fusion) and
   ``fused+expansion`` (``expand=1``), side by side.
2. **Entity vectors**: which text describes an entity best. The same questions, the
   target now the *tail* entity (its name among an entity's aliases), ranked by cosine
   alone over entity vectors made from ``name (type)`` plus the contexts of its 0, 1, 2
   or 3 strongest mentions encoded as a text of their own
   (:func:`kgbuild.search.embeddings.entity_text`), and the default: the strongest
   mention read in its chunk's forward pass
   (:func:`kgbuild.search.embeddings.entity_vectors`).
3. **Ingest cost** of embeddings, paired: the same documents ingested without and with
   embeddings in the same process, ``--rounds`` times, taken in turns (without, with,
   with, without, ...); the extractor is loaded and the encoder's ONNX graph exported
   before all runs (once per machine; its time is reported), the encoder's load counts
   against embeddings; plus the embed stage's share inside the runs (it overlaps the
   extraction of the next batch, so it is more than the added time).
4. **Latency and size**: graphs from 1 MB and 4 MB of generated news text
   (``benchmarks/ingest_throughput.py``'s corpus) built with the test extractor
   (``tests/fake_extractor.py``: the neural model takes too long for 4 MB on the
   shared 2-core machine) and seeded random unit vectors in place of real ones (latency
   does not depend on the values); one query's latency on the NetworkX file and on a
   Bolt server (``KGBUILD_TEST_BOLT_*``, e.g. ``eval "$(scripts/test-server env)"``):
   the first query (index built), the first query of a new process (index from the
   cache), and a warm query; the index's memory and disk. Exact numpy search is also
   timed on 10k, 100k and 1M random vectors: where an approximate index would pay off.

    python benchmarks/search_quality.py [--docs 400:500] [--sizes 1,4] [--bolt-sizes 1]
                                        [--rounds 2] [--skip-quality] [--skip-latency]

Prints tables and writes benchmarks/results/search_quality.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from kgbuild import KnowledgeGraphBuilder  # noqa: E402
from kgbuild.pipeline.builder import BuildConfig  # noqa: E402
from kgbuild.search import Searcher  # noqa: E402
from kgbuild.search import access as access_module  # noqa: E402
from kgbuild.search import index as index_module  # noqa: E402
from kgbuild.search.embeddings import entity_text, entity_vectors  # noqa: E402
from kgbuild.search.encoder import DIMENSIONS, exported_graph, get_encoder, model_dir  # noqa: E402
from kgbuild.store import open_store  # noqa: E402

DATA = Path("/work/shared/datasets/re-docred")
RESULTS = ROOT / "benchmarks" / "results" / "search_quality.json"
MODES = {
    "vector": {"mode": "vector"},
    "keyword": {"mode": "keyword"},
    "fused": {"mode": "hybrid"},
    "fused+expansion": {"mode": "hybrid", "expand": 1},
}


# -- 1. the question set ---------------------------------------------------------------------


def redocred_documents(folder: Path, first: int, last: int) -> list[dict[str, Any]]:
    """Write documents ``first..last-1`` of Re-DocRED dev as text files; return, per
    document, its file, sentence character spans and facts."""
    data = json.loads((DATA / "dev_revised.json").read_text(encoding="utf-8"))
    names = json.loads((DATA / "rel_info.json").read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for number in range(first, min(last, len(data))):
        doc = data[number]
        spans, parts, offset = [], [], 0
        for sentence in doc["sents"]:
            text = " ".join(sentence)
            spans.append((offset, offset + len(text)))
            parts.append(text)
            offset += len(text) + 1
        path = folder / f"redocred_{number:03d}.txt"
        path.write_text(" ".join(parts), encoding="utf-8")
        facts = []
        for label in doc["labels"]:
            if not label.get("evidence"):
                continue
            head = max((m["name"] for m in doc["vertexSet"][label["h"]]), key=len)
            tails = {m["name"].casefold() for m in doc["vertexSet"][label["t"]]}
            facts.append(
                {
                    "query": f"{head} {names[label['r']]}",
                    "evidence": [spans[i] for i in label["evidence"]],
                    "tails": sorted(tails),
                }
            )
        out.append({"path": path, "facts": facts})
    return out


def questions(docs: list[dict[str, Any]], store) -> list[dict[str, Any]]:
    """One question per distinct query of a document, with its target chunk ids."""
    rows = store.query(
        "MATCH (c:Chunk)-[:PART_OF]->(d:Document) "
        "RETURN c.id AS id, c.start AS start, c.end AS end, d.source AS source"
    )
    chunks: dict[str, list[dict]] = {}
    for r in rows:
        chunks.setdefault(r["source"], []).append(r)
    out: dict[tuple[str, str], dict] = {}
    for doc in docs:
        mine = chunks.get(doc["path"].resolve().as_uri(), [])
        for fact in doc["facts"]:
            targets = {
                c["id"]
                for c in mine
                for s, e in fact["evidence"]
                if c["start"] < e and s < c["end"]
            }
            if not targets:
                continue
            q = out.setdefault(
                (doc["path"].name, fact["query"]),
                {"query": fact["query"], "targets": set(), "tails": set()},
            )
            q["targets"] |= targets
            q["tails"] |= set(fact["tails"])
    return list(out.values())


def score_rankings(rankings: list[list[str]], targets: list[set[str]]) -> dict[str, float]:
    recall, rr = 0.0, 0.0
    for ranking, wanted in zip(rankings, targets, strict=True):
        hits = [i for i, node in enumerate(ranking[:10]) if node in wanted]
        recall += bool(hits and hits[0] < 5)
        rr += 1.0 / (hits[0] + 1) if hits else 0.0
    n = max(1, len(rankings))
    return {"recall@5": round(recall / n, 4), "mrr@10": round(rr / n, 4), "questions": n}


def quality(first: int, last: int, workdir: Path, rounds: int = 2) -> dict[str, Any]:
    from kgbuild.extract import load_extractor

    docs = redocred_documents(workdir / "redocred", first, last)
    extractor = load_extractor()
    extractor.extract(["Warm up."], ["person"], ["works for"])  # load before both runs
    t0 = time.perf_counter()
    exported_graph(model_dir(), int8=get_encoder().int8)  # once per machine, not per ingest
    export_seconds = round(time.perf_counter() - t0, 2)
    runs: dict[str, list[dict[str, Any]]] = {"without": [], "with": []}
    # Paired and alternated (without, with, with, without, ...): the machine is shared.
    order = [("without", False), ("with", True)]
    for round_ in range(rounds):
        for label, embed in order if round_ % 2 == 0 else order[::-1]:
            path = workdir / f"redocred_{label}_{round_}.json"
            builder = KnowledgeGraphBuilder(
                str(path), extractor=extractor, config=BuildConfig(embeddings=embed)
            )
            t0, c0 = time.perf_counter(), time.process_time()
            summary = builder.ingest([workdir / "redocred"])
            runs[label].append(
                {
                    "seconds": round(time.perf_counter() - t0, 2),
                    "cpu_seconds": round(time.process_time() - c0, 2),
                    "embed_seconds": round(summary.seconds.embed, 2),
                    "chunks": summary.chunks,
                    "entities": summary.graph.get("entities"),
                }
            )
            if embed:
                shutil.copy(path, workdir / "redocred_with.json")
    total = {k: sum(r["seconds"] for r in v) for k, v in runs.items()}
    cpu = {k: sum(r["cpu_seconds"] for r in v) for k, v in runs.items()}
    embed_total = sum(r["embed_seconds"] for r in runs["with"])
    cost: dict[str, Any] = {
        "rounds": rounds,
        "encoder": "int8" if get_encoder().int8 else "float32",
        "export_once_seconds": export_seconds,
        **runs,
        "ratio_with_to_without": round(total["with"] / total["without"], 3),
        # CPU seconds of the process (all its threads): the work added, less sensitive
        # than wall time to what else the shared machine runs.
        "cpu_ratio_with_to_without": round(cpu["with"] / cpu["without"], 3),
        "ratio_per_round": [
            round(w["seconds"] / o["seconds"], 3)
            for w, o in zip(runs["with"], runs["without"], strict=True)
        ],
        "embed_share_of_run": round(embed_total / total["with"], 3),
    }

    with open_store(workdir / "redocred_with.json") as store:
        qs = questions(docs, store)
        searcher = Searcher(store)
        table = {}
        for name, options in MODES.items():
            rankings = [
                [h.id for h in searcher.search(q["query"], 10, kinds=["chunk"], **options).results]
                for q in qs
            ]
            table[name] = score_rankings(rankings, [q["targets"] for q in qs])
        entity_table = entity_context_choice(store, qs)
    return {
        "documents": f"Re-DocRED dev {first}-{last - 1}",
        "questions": len(qs),
        "chunk_retrieval": table,
        "entity_context": entity_table,
        "ingest_cost": cost,
    }


def entity_context_choice(store, qs: list[dict[str, Any]]) -> dict[str, Any]:
    """Recall@5 / MRR of the tail entity by cosine: entity vectors encoded from
    ``name (type)`` plus the contexts of its 0-3 strongest mentions as a text of their own
    (:func:`~kgbuild.search.embeddings.entity_text`), and the default, the strongest
    mention read in its chunk's pass (:func:`~kgbuild.search.embeddings.entity_vectors`)."""
    access_module.CONTEXT_MENTIONS = 3
    reader = access_module.reader_for(store)
    ids = [r["id"] for r in reader.entities()]
    rows = reader.entity_inputs(ids)
    aliases = {r["id"]: {a.casefold() for a in r["aliases"]} for r in reader.entities()}
    encoder = get_encoder()
    queries = encoder.encode([q["query"] for q in qs])
    targets = [{i for i in ids if aliases[i] & q["tails"]} for q in qs]
    variants = {
        f"name (type) + {n} mention(s) as text": lambda n=n: encoder.encode(
            [entity_text(r, n) for r in rows]
        )
        for n in (0, 1, 2, 3)
    }
    variants["mention read in its chunk (default)"] = lambda: entity_vectors(encoder, rows)
    out = {}
    for name, make in variants.items():
        t0 = time.perf_counter()
        vectors = make()
        seconds = time.perf_counter() - t0
        rankings = []
        for qv in queries:
            order = np.argsort(-(vectors @ qv), kind="stable")[:10]
            rankings.append([rows[i]["id"] for i in order])
        out[name] = {**score_rankings(rankings, targets), "encode_seconds": round(seconds, 2)}
    access_module.CONTEXT_MENTIONS = 1
    return out


# -- 4. latency and size ---------------------------------------------------------------------


def build_big_graph(store, corpus: Path) -> dict[str, int]:
    from fake_extractor import FakeExtractor

    builder = KnowledgeGraphBuilder(
        store, extractor=FakeExtractor(window=256), config=BuildConfig(embeddings=False)
    )
    builder.ingest([corpus])
    rng = np.random.default_rng(29)
    for label in ("Chunk", "Entity"):
        ids = [r["id"] for r in store.query(f"MATCH (n:{label}) RETURN n.id AS id")]
        v = rng.standard_normal((len(ids), DIMENSIONS)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        values = np.round(v.astype(np.float64), 6).tolist()
        rows = {i: {"embedding": x} for i, x in zip(ids, values, strict=True)}
        store.set_node_properties(label, rows)
    return store.counts()


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


LATENCY_CHILD = """
import json, sys, time
t0 = time.perf_counter()
import kgbuild
from kgbuild.store import open_store
spec = json.loads(sys.argv[1])
with open_store(spec["store"], **spec.get("credentials", {})) as store:
    kgbuild.search(store, "chief executive of a Berlin company", k=10)
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


def latency(store_spec: dict[str, Any], store) -> dict[str, Any]:
    index_module._memory.clear()
    searcher = Searcher(store)
    searcher.encoder.encode(["warm"])
    t0 = time.perf_counter()
    searcher.search("chief executive of a Berlin company", 10)
    cold = time.perf_counter() - t0
    times = []
    for query in ("merger of two banks", "a new factory in Tokyo", "who leads the company"):
        t0 = time.perf_counter()
        searcher.search(query, 10)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    searcher.search("who leads the company", 10, expand=1)
    expand = time.perf_counter() - t0
    process = subprocess.run(
        [sys.executable, "-c", LATENCY_CHILD, json.dumps(store_spec)],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
    )
    index = searcher.index()
    from kgbuild.search.api import store_identity

    disk = _folder_bytes(index_module._cache_folder(store_identity(store)))
    return {
        "first_query_builds_index_s": round(cold, 3),
        "warm_query_s": round(float(np.median(times)), 4),
        "warm_query_expand1_s": round(expand, 4),
        "new_process_whole_s": round(json.loads(process.stdout)["seconds"], 3),
        "index_memory_mb": round(index.nbytes() / 2**20, 2),
        "index_disk_mb": round(disk / 2**20, 2),
    }


def exact_search_scaling() -> dict[str, float]:
    rng = np.random.default_rng(0)
    out = {}
    for n in (10_000, 100_000, 1_000_000):
        m = rng.standard_normal((n, DIMENSIONS), dtype=np.float32)
        q = m[0]
        t0 = time.perf_counter()
        for _ in range(5):
            scores = m @ q
            np.argpartition(-scores, 50)[:50]
        out[f"{n} vectors"] = round((time.perf_counter() - t0) / 5 * 1000, 2)
        del m
    return out


def latency_runs(sizes: list[int], bolt_sizes: list[int], workdir: Path) -> dict[str, Any]:
    from ingest_throughput import make_corpus

    out: dict[str, Any] = {"exact_search_ms": exact_search_scaling()}
    for size in sizes:
        corpus = workdir / f"corpus_{size}mb"
        make_corpus(corpus, size * 1_000_000)
        path = workdir / f"graph_{size}mb.json"
        with open_store(path) as store:
            counts = build_big_graph(store, corpus)
        with open_store(path) as store:
            row = {"graph": counts, "file_mb": round(path.stat().st_size / 2**20, 1)}
            row.update(latency({"store": str(path)}, store))
        out[f"networkx {size} MB"] = row
        if size in bolt_sizes and os.environ.get("KGBUILD_TEST_BOLT_URI"):
            credentials = {
                "user": os.environ.get("KGBUILD_TEST_BOLT_USER"),
                "password": os.environ.get("KGBUILD_TEST_BOLT_PASSWORD"),
                "database": os.environ.get("KGBUILD_TEST_BOLT_DATABASE"),
            }
            uri = os.environ["KGBUILD_TEST_BOLT_URI"]
            with open_store(uri, **credentials) as store:
                store.query("MATCH (n) RETURN count(n) AS n")
                _wipe(store)
                t0 = time.perf_counter()
                counts = build_big_graph(store, corpus)
                row = {"graph": counts, "build_s": round(time.perf_counter() - t0, 1)}
                row.update(latency({"store": uri, "credentials": credentials}, store))
                _wipe(store)
            out[f"bolt {size} MB"] = row
    return out


def _wipe(store) -> None:
    from neo4j import GraphDatabase

    with GraphDatabase.driver(store.uri, auth=(store.user, store._password)) as driver:
        while True:
            records, _, _ = driver.execute_query(
                "MATCH (n) WITH n LIMIT 5000 DETACH DELETE n RETURN count(*) AS n",
                database_=store.database,
            )
            if not records or records[0]["n"] == 0:
                return


# -- report ----------------------------------------------------------------------------------


def render(result: dict[str, Any]) -> str:
    lines = []
    q = result.get("quality")
    if q:
        lines += [
            f"Chunk retrieval, {q['documents']}, {q['questions']} questions "
            "(query: head + relation name; target: the chunk with the evidence)",
            f"  {'ranking':<18} {'recall@5':>9} {'MRR@10':>8}",
        ]
        for name, r in q["chunk_retrieval"].items():
            lines.append(f"  {name:<18} {r['recall@5']:>9.3f} {r['mrr@10']:>8.3f}")
        lines += ["", "Entity vectors: the tail entity by cosine (recall@5, MRR@10, encode s)"]
        for name, r in q["entity_context"].items():
            lines.append(
                f"  {name:<40} {r['recall@5']:>7.3f} {r['mrr@10']:>8.3f} "
                f"{r.get('encode_seconds', '')!s:>6}"
            )
        c = q["ingest_cost"]
        lines += [
            "",
            f"Ingest cost ({c.get('rounds', 1)} paired round(s), encoder "
            f"{c.get('encoder', 'float32')}; export once {c.get('export_once_seconds')} s):",
        ]
        for label in ("without", "with"):
            rows = c[label] if isinstance(c[label], list) else [c[label]]
            lines.append(
                f"  {label:<8} " + ", ".join(
                    f"{r['seconds']} s (cpu {r.get('cpu_seconds')} s, embed "
                    f"{r['embed_seconds']} s)" for r in rows)
            )  # fmt: skip
        lines.append(
            f"  ratio with/without {c['ratio_with_to_without']} "
            f"(per round {c.get('ratio_per_round')}), cpu ratio "
            f"{c.get('cpu_ratio_with_to_without')}, embed share {c['embed_share_of_run']}"
        )
    lat = result.get("latency")
    if lat:
        lines += ["", "Exact search (numpy matvec + top 50): " + ", ".join(
            f"{k}: {v} ms" for k, v in lat["exact_search_ms"].items())]  # fmt: skip
        lines.append(
            f"  {'store':<16} {'chunks':>7} {'entities':>8} {'first(s)':>9} {'warm(s)':>8} "
            f"{'expand(s)':>9} {'process(s)':>10} {'mem MB':>7} {'disk MB':>8}"
        )
        for name, r in lat.items():
            if name == "exact_search_ms":
                continue
            g = r["graph"]
            lines.append(
                f"  {name:<16} {g['chunks']:>7} {g['entities']:>8} "
                f"{r['first_query_builds_index_s']:>9} {r['warm_query_s']:>8} "
                f"{r['warm_query_expand1_s']:>9} {r['new_process_whole_s']:>10} "
                f"{r['index_memory_mb']:>7} {r['index_disk_mb']:>8}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", default="400:500")
    parser.add_argument("--sizes", default="1,4")
    parser.add_argument("--bolt-sizes", default="1")
    parser.add_argument("--rounds", type=int, default=2, help="paired ingest-cost rounds")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="search-quality-"))
    os.environ.setdefault("KGBUILD_CACHE_DIR", str(workdir / "cache"))
    result: dict[str, Any] = {}
    try:
        if not args.skip_quality:
            first, last = (int(x) for x in args.docs.split(":"))
            result["quality"] = quality(first, last, workdir, args.rounds)
            print(render(result), flush=True)
        if not args.skip_latency:
            sizes = [int(s) for s in args.sizes.split(",") if s]
            bolt = [int(s) for s in args.bolt_sizes.split(",") if s]
            result["latency"] = latency_runs(sizes, bolt, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(render(result))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
