"""Cypher query latency on both stores, the embedded engine's mirror build, its memory.

Runs the query suite of tests/store/suite_queries.py (Cypher as people write it) on:

* the **example graph** (examples/docs with the fake extractor, plus the two synthetic
  sample documents) on the NetworkX store (embedded ArcadeDB engine), on the NetworkX
  store's grand-cypher engine (the baseline: how many of the suite it runs at all), and,
  with ``--bolt``, on the Bolt test server (a private ArcadeDB server this script starts
  and stops: ``scripts/test-server``);
* **synthetic corpora** of ``--sizes`` MB (the news-style generator of
  benchmarks/ingest_throughput.py, fake extractor, plus the samples) on the NetworkX
  store only.

Each graph is ingested into a store file and measured in its own process, so memory
figures do not mix. For the embedded engine: the **mirror build** (bulk-loading the
graph into the engine, reported by the engine itself), the first query's time (JVM
start, file digest, build, query), the median and p90 latency per suite query over
``--repeat`` warm runs, the RSS before and after the first query (the engine's share =
the difference, per MB of ingested text; the JVM takes heap lazily, so this is noisy),
the JVM heap in use after a full GC and the mirror's size on disk. Then a **second
process** opens the same unchanged file, starts the JVM (timed apart) and runs one
query: it reuses the mirror kept in the cache (``mirror_reused``), and that first query
(file digest, opening the mirror, the query: "reuse 1st q s") plus the JVM start is what
a later ``kgbuild query`` pays on top of loading the graph file. Mirrors go to a
temporary ``$KGBUILD_CACHE_DIR`` that is deleted at the end. A query whose warm-up run
takes over ``SLOW_SECONDS`` is timed once (``timed_once``), not repeated.

    python benchmarks/cypher_queries.py [--sizes 1,4] [--repeat 5] [--bolt]

Prints each graph's rows as soon as it is measured and rewrites
benchmarks/results/cypher_queries.json after each, so a partial run keeps its numbers.
Numbers are only meaningful on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "cypher_queries.json"
MB = 1_000_000

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "store"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _text_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def build(store: Any, folder: Path) -> None:
    """Ingest ``folder`` with the fake extractor, then the two sample documents."""
    from fake_extractor import FakeExtractor
    from sample_graphs import sample_graphs

    from kgbuild.pipeline import KnowledgeGraphBuilder

    store.setup_schema()
    KnowledgeGraphBuilder(store, extractor=FakeExtractor(), progress=False).ingest([folder])
    store.write_documents(sample_graphs())


#: A query whose warm-up takes longer than this is not repeated (its warm-up time counts):
#: at 4 MB "colleagues" returns millions of rows and would take the run's whole budget.
SLOW_SECONDS = 10.0


def time_suite(
    store: Any, repeat: int, skip: frozenset[str] = frozenset()
) -> dict[str, dict[str, Any]]:
    """Per query: median seconds over ``repeat`` warm runs, rows, or the error; the
    queries named in ``skip`` are not run (``{"skipped": true}``)."""
    from suite_queries import SUITE

    out: dict[str, dict[str, Any]] = {}
    for case in SUITE:
        if case.name in skip:
            out[case.name] = {"skipped": True}
            continue
        start = time.perf_counter()
        try:
            rows = store.query(case.query, case.parameters)  # warm-up
        except Exception as exc:  # noqa: BLE001 - the baseline fails on many queries
            out[case.name] = {"error": f"{type(exc).__name__}: {str(exc)[:120]}"}
            continue
        warm_up, count = time.perf_counter() - start, len(rows)
        del rows  # a large result should not stay in memory while the query repeats
        if warm_up > SLOW_SECONDS:
            out[case.name] = {"seconds": warm_up, "rows": count, "timed_once": True}
            continue
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            store.query(case.query, case.parameters)
            times.append(time.perf_counter() - start)
        out[case.name] = {"seconds": statistics.median(times), "rows": count}
    return out


def engine_memory(mirror: Path | None) -> dict[str, float]:
    """The embedded engine's JVM heap in use after a full GC, and its mirror's size on disk."""
    import jpype

    runtime = jpype.JClass("java.lang.Runtime").getRuntime()
    jpype.JClass("java.lang.System").gc()
    heap = (runtime.totalMemory() - runtime.freeMemory()) / 2**20
    disk = sum(p.stat().st_size for p in mirror.rglob("*") if p.is_file()) if mirror else 0
    return {"jvm_heap_used_mb": heap, "mirror_disk_mb": disk / 2**20}


COUNT = "MATCH (e:Entity) RETURN COUNT(e) AS n"  # runs on both NetworkX engines


def worker(
    folder: Path,
    repeat: int,
    engines: list[str],
    store_file: Path,
    skip: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Ingest ``folder`` into ``store_file`` and measure the suite on each engine."""
    from kgbuild.store import NetworkXStore

    result: dict[str, Any] = {"text_mb": _text_bytes(folder) / MB}
    start = time.perf_counter()
    store = NetworkXStore(store_file)
    build(store, folder)
    store.save()
    result["ingest_seconds"] = time.perf_counter() - start
    result["graph"] = store.counts()
    result["nodes"] = store.graph.number_of_nodes()
    result["edges"] = store.graph.number_of_edges()
    for engine in engines:
        store.cypher_engine = engine
        before = _rss_mb()
        start = time.perf_counter()
        store.query(COUNT)
        first = time.perf_counter() - start
        after = _rss_mb()
        run: dict[str, Any] = {
            "rss_before_mb": before,
            "rss_after_first_query_mb": after,
            "first_query_seconds": first,
        }
        if engine == "arcadedb":
            mirror = store._cypher
            run["mirror_build_seconds"] = mirror.build_seconds
            run["mirror_reused"] = mirror.reused
            run.update(engine_memory(mirror.mirror))
        run["queries"] = time_suite(store, repeat, skip)
        result[engine] = run
    store.close()
    return result


def reuse_worker(store_file: Path) -> dict[str, Any]:
    """A fresh process on the unchanged file: JVM start, then its first query (file
    digest, opening the kept mirror, the query)."""
    from kgbuild.store import NetworkXStore

    start = time.perf_counter()
    store = NetworkXStore(store_file)
    store.open()
    loaded = time.perf_counter() - start
    before = _rss_mb()
    start = time.perf_counter()
    from kgbuild.store.cypher_embedded import DEFAULT_HEAP, _start_engine

    _start_engine(os.environ.get("KGBUILD_CYPHER_HEAP") or DEFAULT_HEAP)
    jvm = time.perf_counter() - start
    start = time.perf_counter()
    store.query(COUNT)
    first = time.perf_counter() - start
    result = {
        "load_seconds": loaded,
        "jvm_start_seconds": jvm,
        "first_query_seconds": first,
        "mirror_reused": store._cypher.reused,
        "rss_before_mb": before,
        "rss_after_first_query_mb": _rss_mb(),
    }
    store.close()
    return result


def bolt_worker(folder: Path, repeat: int) -> dict[str, Any]:
    """The example graph on a private Bolt test server (started and stopped here)."""
    from kgbuild.store.neo4j_store import Neo4jStore

    state = Path(tempfile.mkdtemp(prefix="kgbuild-bench-bolt-"))
    script = ROOT / "scripts" / "test-server"
    subprocess.run([sys.executable, str(script), "start", "--state-dir", str(state)], check=True)
    try:
        env = {}
        for line in (state / "env").read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value.strip("'\"")
        uri = env["KGBUILD_TEST_BOLT_URI"]
        user, password = env["KGBUILD_TEST_BOLT_USER"], env["KGBUILD_TEST_BOLT_PASSWORD"]
        database = env.get("KGBUILD_TEST_BOLT_DATABASE") or None
        with Neo4jStore(uri, user, password, database) as store:
            start = time.perf_counter()
            build(store, folder)
            built = time.perf_counter() - start
            return {"build_seconds": built, "queries": time_suite(store, repeat)}
    finally:
        subprocess.run(
            [sys.executable, str(script), "stop", "--state-dir", str(state)], check=False
        )


def run_worker(args: list[str]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    cmd = [sys.executable, __file__, "--worker", "--result", str(out), *args]
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    data = json.loads(out.read_text())
    out.unlink()
    return data


def summary(queries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    queries = {name: q for name, q in queries.items() if not q.get("skipped")}
    ok = [q for q in queries.values() if "seconds" in q]
    times = sorted(q["seconds"] for q in ok)
    return {
        "ran": len(ok),
        "of": len(queries),
        "median_ms": 1000 * statistics.median(times) if times else None,
        "p90_ms": 1000 * times[int(0.9 * (len(times) - 1))] if times else None,
        "total_ms": 1000 * sum(times) if times else None,
    }


HEADER = (
    f"{'graph':<8} {'engine':<12} {'text MB':>7} {'nodes':>7} {'edges':>7} {'ran':>6} "
    f"{'median ms':>9} {'p90 ms':>7} {'suite ms':>8} {'build s':>7} {'1st q s':>7} "
    f"{'reuse 1st q s':>13} {'engine MB':>9} {'MB/MB text':>10} {'heap MB':>7} {'disk MB':>7}"
)


def rows(name: str, graph: dict[str, Any]) -> list[str]:
    """The table lines of one measured graph (one per engine)."""

    def f(value: float | None, digits: int = 1) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    lines = []
    for engine in ("arcadedb", "grand-cypher", "bolt"):
        if engine not in graph:
            continue
        run = graph[engine]
        s = summary(run["queries"])
        grown = per_mb = None
        if "rss_before_mb" in run:
            grown = run["rss_after_first_query_mb"] - run["rss_before_mb"]
            if engine == "arcadedb":
                per_mb = grown / graph["text_mb"]
        reuse = graph.get("reuse", {}).get("first_query_seconds") if engine == "arcadedb" else None
        lines.append(
            f"{name:<8} {engine:<12} {graph['text_mb']:>7.2f} {graph.get('nodes', 0):>7} "
            f"{graph.get('edges', 0):>7} {s['ran']:>3}/{s['of']:<2} {f(s['median_ms'], 2):>9} "
            f"{f(s['p90_ms'], 2):>7} {f(s['total_ms']):>8} "
            f"{f(run.get('mirror_build_seconds'), 2):>7} {f(run.get('first_query_seconds'), 2):>7} "
            f"{f(reuse, 2):>13} {f(grown):>9} {f(per_mb):>10} "
            f"{f(run.get('jvm_heap_used_mb')):>7} {f(run.get('mirror_disk_mb')):>7}"
        )
    return lines


def marginal(results: dict[str, Any]) -> float | None:
    """Engine heap after GC + mirror disk per additional MB of text, between the smallest
    and the largest corpus (the JVM's fixed share cancels out)."""
    sized = [
        (g["text_mb"], g["arcadedb"]["jvm_heap_used_mb"] + g["arcadedb"]["mirror_disk_mb"])
        for name, g in results["graphs"].items()
        if name != "example" and "arcadedb" in g
    ]
    if len(sized) < 2:
        return None
    (mb_a, used_a), (mb_b, used_b) = sized[0], sized[-1]
    return (used_b - used_a) / (mb_b - mb_a)


def save(results: dict[str, Any], output: Path) -> None:
    results["engine_mb_per_text_mb_marginal"] = marginal(results)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


def measure(name: str, args: list[str], store_file: Path, results: dict[str, Any]) -> None:
    """Measure one graph in a worker, its reuse in another, then print and save."""
    graph = run_worker([*args, "--store-file", str(store_file)])
    if "arcadedb" in graph:
        graph["reuse"] = run_worker(["--reuse", "--store-file", str(store_file)])
    results["graphs"][name] = graph
    for line in rows(name, graph):
        print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,4", help="Synthetic corpus sizes in MB.")
    parser.add_argument("--repeat", type=int, default=5, help="Warm runs per query.")
    parser.add_argument("--bolt", action="store_true", help="Also time the Bolt test server.")
    parser.add_argument("--output", default=str(RESULTS), help="Where to write the JSON.")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--reuse", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--store-file", help=argparse.SUPPRESS)
    parser.add_argument(
        "--skip-on-corpora",
        default="",
        help="Suite queries (comma-separated names) not run on the synthetic corpora, e.g. "
        "colleagues, whose result grows with the square of the people per organization.",
    )
    parser.add_argument("--skip", default="", help=argparse.SUPPRESS)
    parser.add_argument("--engines", default="arcadedb", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        if args.reuse:
            data = reuse_worker(Path(args.store_file))
        elif args.engines == "bolt":
            data = bolt_worker(Path(args.folder), args.repeat)
        else:
            engines = args.engines.split(",")
            skip = frozenset(n for n in args.skip.split(",") if n)
            data = worker(Path(args.folder), args.repeat, engines, Path(args.store_file), skip)
        Path(args.result).write_text(json.dumps(data))
        return 0

    from ingest_throughput import make_corpus

    output = Path(args.output)
    repeat = ["--repeat", str(args.repeat)]
    examples = ROOT / "examples" / "docs"
    results: dict[str, Any] = {"repeat": args.repeat, "graphs": {}}
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory(prefix="kgbuild-bench-cypher-") as tmp:
        # Mirrors are kept in a cache of this run only.
        os.environ["KGBUILD_CACHE_DIR"] = str(Path(tmp) / "cache")
        example = ["--folder", str(examples), "--engines", "arcadedb,grand-cypher", *repeat]
        measure("example", example, Path(tmp) / "example.json", results)
        if args.bolt:
            bolt = run_worker(["--folder", str(examples), "--engines", "bolt", *repeat])
            results["graphs"]["example"]["bolt"] = bolt
            example_graph = results["graphs"]["example"]
            only_bolt = {k: example_graph[k] for k in ("text_mb", "nodes", "edges")}
            for line in rows("example", {**only_bolt, "bolt": bolt}):
                print(line, flush=True)
        save(results, output)
        for size in [float(s) for s in args.sizes.split(",") if s.strip()]:
            name = f"{size:g} MB"
            folder = Path(tmp) / f"corpus-{size:g}mb"
            make_corpus(folder, int(size * MB))
            corpus = ["--folder", str(folder), "--engines", "arcadedb", *repeat]
            corpus += ["--skip", args.skip_on_corpora]
            measure(name, corpus, Path(tmp) / f"corpus-{size:g}mb.json", results)
            save(results, output)
    if results.get("engine_mb_per_text_mb_marginal") is not None:
        print(
            "embedded engine heap + disk per additional MB of text (slope between corpora): "
            f"{results['engine_mb_per_text_mb_marginal']:.0f} MB"
        )
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
