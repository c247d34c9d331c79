"""Cypher query latency on both stores, and the embedded engine's memory per MB of text.

Runs the query suite of tests/store/suite_queries.py (Cypher as people write it) on:

* the **example graph** (examples/docs with the fake extractor, plus the two synthetic
  sample documents) on the NetworkX store (embedded ArcadeDB engine), on the NetworkX
  store's grand-cypher engine (the baseline: how many of the suite it runs at all), and,
  with ``--bolt``, on the Bolt test server (a private ArcadeDB server this script starts
  and stops: ``scripts/test-server``);
* **synthetic corpora** of ``--sizes`` MB (the news-style generator of
  benchmarks/ingest_throughput.py, fake extractor, plus the samples) on the NetworkX
  store only.

Each graph is measured in its own process, so memory figures do not mix: the RSS before
the first query, the first query's time (JVM start and copying the graph into the
engine), the RSS after it (the engine's share = the difference; the JVM takes heap up
to its -Xmx lazily, so this is noisy), the JVM heap in use after a full GC and the
copy's size on disk (the steadier figures), and per query the
median latency over ``--repeat`` runs once warm. The engine's memory per MB of text is
(RSS after - RSS before) / MB, and, free of the JVM's fixed share, the slope of heap
after GC plus disk between the smallest and the largest corpus.

    python benchmarks/cypher_queries.py [--sizes 1,4] [--repeat 5] [--bolt]

Prints a table and writes benchmarks/results/cypher_queries.json. Numbers are only
meaningful on an otherwise idle machine.
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


def time_suite(store: Any, repeat: int) -> dict[str, dict[str, Any]]:
    """Per query: median seconds over ``repeat`` warm runs, rows, or the error."""
    from suite_queries import SUITE

    out: dict[str, dict[str, Any]] = {}
    for case in SUITE:
        try:
            rows = store.query(case.query, case.parameters)  # warm-up
        except Exception as exc:  # noqa: BLE001 - the baseline fails on many queries
            out[case.name] = {"error": f"{type(exc).__name__}: {str(exc)[:120]}"}
            continue
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            store.query(case.query, case.parameters)
            times.append(time.perf_counter() - start)
        out[case.name] = {"seconds": statistics.median(times), "rows": len(rows)}
    return out


def engine_memory(store: Any) -> dict[str, float]:
    """The embedded engine's JVM heap in use after a full GC, and its copy's size on disk."""
    import jpype

    runtime = jpype.JClass("java.lang.Runtime").getRuntime()
    jpype.JClass("java.lang.System").gc()
    heap = (runtime.totalMemory() - runtime.freeMemory()) / 2**20
    folder = store._cypher._dir
    disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
    return {"jvm_heap_used_mb": heap, "mirror_disk_mb": disk}


def worker(folder: Path, repeat: int, engines: list[str]) -> dict[str, Any]:
    """Build the graph of ``folder`` in memory and measure the suite on each engine."""
    from kgbuild.store import NetworkXStore

    result: dict[str, Any] = {"text_mb": _text_bytes(folder) / MB}
    start = time.perf_counter()
    store = NetworkXStore(None)
    build(store, folder)
    result["build_seconds"] = time.perf_counter() - start
    result["graph"] = store.counts()
    result["nodes"] = store.graph.number_of_nodes()
    result["edges"] = store.graph.number_of_edges()
    for engine in engines:
        store.cypher_engine = engine
        before = _rss_mb()
        start = time.perf_counter()
        store.query("MATCH (e:Entity) RETURN COUNT(e) AS n")  # runs on both engines
        first = time.perf_counter() - start
        after = _rss_mb()
        result[engine] = {
            "rss_before_mb": before,
            "rss_after_first_query_mb": after,
            "first_query_seconds": first,
            **(engine_memory(store) if engine == "arcadedb" else {}),
            "queries": time_suite(store, repeat),
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
    ok = [q for q in queries.values() if "seconds" in q]
    times = sorted(q["seconds"] for q in ok)
    return {
        "ran": len(ok),
        "of": len(queries),
        "median_ms": 1000 * statistics.median(times) if times else None,
        "p90_ms": 1000 * times[int(0.9 * (len(times) - 1))] if times else None,
        "total_ms": 1000 * sum(times) if times else None,
    }


def table(results: dict[str, Any]) -> str:
    def f(value: float | None, digits: int = 1) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    lines = [
        f"{'graph':<10} {'engine':<13} {'text MB':>7} {'nodes':>7} {'ran':>6} "
        f"{'median ms':>9} {'p90 ms':>7} {'suite ms':>8} {'1st query s':>11} {'engine MB':>9} "
        f"{'MB/MB text':>10} {'heap MB':>7} {'disk MB':>7}"
    ]
    for name, graph in results["graphs"].items():
        for engine in ("arcadedb", "grand-cypher", "bolt"):
            if engine not in graph:
                continue
            run = graph[engine]
            s = summary(run["queries"])
            grown = (
                run["rss_after_first_query_mb"] - run["rss_before_mb"]
                if "rss_before_mb" in run
                else None
            )
            per_mb = None
            if grown is not None and engine == "arcadedb":
                per_mb = grown / graph["text_mb"]
            lines.append(
                f"{name:<10} {engine:<13} {graph['text_mb']:>7.2f} {graph.get('nodes', 0):>7} "
                f"{s['ran']:>3}/{s['of']:<2} {f(s['median_ms'], 2):>9} {f(s['p90_ms'], 2):>7} "
                f"{f(s['total_ms']):>8} {f(run.get('first_query_seconds'), 2):>11} "
                f"{f(grown):>9} {f(per_mb):>10} {f(run.get('jvm_heap_used_mb')):>7} "
                f"{f(run.get('mirror_disk_mb')):>7}"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,4", help="Synthetic corpus sizes in MB.")
    parser.add_argument("--repeat", type=int, default=5, help="Warm runs per query.")
    parser.add_argument("--bolt", action="store_true", help="Also time the Bolt test server.")
    parser.add_argument("--output", default=str(RESULTS), help="Where to write the JSON.")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--engines", default="arcadedb", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        folder = Path(args.folder)
        if args.engines == "bolt":
            data = bolt_worker(folder, args.repeat)
        else:
            data = worker(folder, args.repeat, args.engines.split(","))
        Path(args.result).write_text(json.dumps(data))
        return 0

    from ingest_throughput import make_corpus

    repeat = ["--repeat", str(args.repeat)]
    examples = ROOT / "examples" / "docs"
    results: dict[str, Any] = {"repeat": args.repeat, "graphs": {}}
    example = run_worker(["--folder", str(examples), "--engines", "arcadedb,grand-cypher", *repeat])
    if args.bolt:
        bolt = run_worker(["--folder", str(examples), "--engines", "bolt", *repeat])
        example["bolt"] = bolt
    results["graphs"]["example"] = example
    with tempfile.TemporaryDirectory(prefix="kgbuild-bench-cypher-") as tmp:
        for size in [float(s) for s in args.sizes.split(",") if s.strip()]:
            folder = Path(tmp) / f"corpus-{size:g}mb"
            make_corpus(folder, int(size * MB))
            results["graphs"][f"{size:g} MB"] = run_worker(
                ["--folder", str(folder), "--engines", "arcadedb", *repeat]
            )
    # The JVM's fixed share cancels out in the slope between two corpus sizes; RSS is
    # noisy (the heap grows lazily), so the slope uses the heap after GC plus the disk.
    sized = [
        (g["text_mb"], g["arcadedb"]["jvm_heap_used_mb"] + g["arcadedb"]["mirror_disk_mb"])
        for name, g in results["graphs"].items()
        if name != "example"
    ]
    if len(sized) >= 2:
        (mb_a, used_a), (mb_b, used_b) = sized[0], sized[-1]
        results["engine_mb_per_text_mb_marginal"] = (used_b - used_a) / (mb_b - mb_a)
    text = table(results)
    if "engine_mb_per_text_mb_marginal" in results:
        text += (
            "\nembedded engine heap + disk per additional MB of text (slope between corpora): "
            f"{results['engine_mb_per_text_mb_marginal']:.0f} MB"
        )
    print(text)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
