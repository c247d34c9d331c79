"""Scale out on Ray: Ray's overhead, parallel workers, and the ceiling of the serial tail.

On one generated corpus (the news-style documents of ``ingest_throughput.py``, 4 MB by
default), each configuration runs ``kgbuild ingest`` as its own process into a fresh
NetworkX store, and the peak memory of its whole process tree (driver, Ray's own
processes, actors) is sampled from /proc:

* ``sequential``: the sequential engine, torch on all cores (the baseline);
* ``ray 1x2``: ``--engine ray --workers 1 --worker-threads 2``: one actor using both
  cores. Ray's overhead = its time / the baseline's - 1 (target: under 15 %);
* ``ray 1x1`` and ``ray 2x1``: one actor with one thread against two actors with one
  thread each: the speed-up of parallel workers (target: at least 1.8x);
* the serial tail alone: the sequential run records what the extractor returned for
  every chunk; a second ingest replays it (no model) and times merge + resolution +
  assembly + writes, into NetworkX and, when a Bolt server is given
  (``KGBUILD_TEST_BOLT_URI``/``_USER``/``_PASSWORD``/``_DATABASE``, e.g. after
  ``eval "$(scripts/test-server env)"``), into it. That is the most one writer takes.

Rates are document tokens per second of a run (``summary.seconds.total``: from the lock
to the summary, Ray's start included for the Ray rows); the process column adds Python
start-up and model loading. From the rates it fits the scaling model of docs/scale-out.md::

    T(N) = max(tokens / (N * e * r_worker), tokens / r_tail)

``r_worker``: the sequential engine's tokens/s on one machine; ``e``: the fraction of it
Ray keeps on one machine (best Ray row / sequential); ``r_tail``: the serial tail's
tokens/s. More machines stop helping at ``N* = r_tail / (e * r_worker)``.

    python benchmarks/scale_out.py [--size-mb 4] [--extractor fake] [--model DIR]

Prints a table and writes benchmarks/results/scale_out.json. Needs kgbuild[ray].
Measure on an idle machine: the rows run one after another and compete with anything
else running.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "scale_out.json"
FAKE = f"{ROOT / 'tests' / 'fake_extractor.py'}:FakeExtractor"
HERE = Path(__file__).resolve()
RECORD_ENV = "KGBUILD_BENCH_RECORD"
BOLT_ENV = "KGBUILD_TEST_BOLT_"
#: 100 GB of text, in tokens (about 4.7 characters per token in English prose).
TOKENS_100GB = 21e9


# -- extractors that record and replay what the model returned ------------------------------


def _inner() -> Any:
    spec = os.environ.get("KGBUILD_BENCH_INNER", "")
    if spec:
        from kgbuild.pipeline.api import _import_extractor

        return _import_extractor(spec)()
    from kgbuild.extract import load_extractor

    return load_extractor(os.environ.get("KGBUILD_BENCH_MODEL") or None, lazy=True)


class RecordingExtractor:
    """The real extractor, appending (text, extraction) pairs to $KGBUILD_BENCH_RECORD."""

    def __init__(self) -> None:
        self.inner = _inner()
        self.model_id = self.inner.model_id
        self._out = open(os.environ[RECORD_ENV], "ab")  # noqa: SIM115 - open for the run

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return self.inner.token_spans(text)

    def max_text_tokens(self, entity_types: list[str], relation_types: list[str]) -> int:
        return self.inner.max_text_tokens(entity_types, relation_types)

    def extract(self, texts, *args, **kwargs):
        out = self.inner.extract(texts, *args, **kwargs)
        pickle.dump(list(zip(texts, out, strict=True)), self._out)
        self._out.flush()
        return out


class ReplayExtractor(RecordingExtractor):
    """Answers from a recording (no model): what is left is the pipeline's own work."""

    def __init__(self) -> None:
        self.inner = _inner()
        self.model_id = self.inner.model_id
        self.answers: dict[str, Any] = {}
        with open(os.environ[RECORD_ENV], "rb") as fh:
            while True:
                try:
                    self.answers.update(pickle.load(fh))
                except EOFError:
                    break

    def extract(self, texts, *args, **kwargs):
        return [self.answers[t] for t in texts]


# -- running one configuration ----------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB."""
    tree, total, stack = _children(), 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * page
        except OSError:
            pass
        stack.extend(tree.get(p, []))
    return total / 2**20


def run_ingest(
    name: str, corpus: Path, store: str, args: list[str], env: dict[str, str]
) -> dict[str, Any]:
    """``kgbuild ingest`` in a process of its own; its summary, wall time and peak RSS."""
    cmd = [sys.executable, "-m", "kgbuild.cli.main", "ingest", str(corpus), "--store", store]
    cmd += ["--json", *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = [0.0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{name}: kgbuild ingest failed ({proc.returncode}):\n{err[-3000:]}")
    summary = json.loads(out)
    seconds, tokens = summary["seconds"], summary["tokens"]
    tail = seconds["resolve"] + seconds["write"]
    row = {
        "name": name,
        "args": args,
        "documents": summary["documents"]["new"],
        "tokens": tokens,
        "run_s": round(seconds["total"], 2),
        "process_s": round(wall, 2),
        "tokens_per_s": round(tokens / seconds["total"], 1),
        "tail_s": round(tail, 3),
        "tail_tokens_per_s": round(tokens / tail, 1) if tail else None,
        "peak_rss_mb": round(peak[0], 1),
        "graph": summary["graph"],
    }
    print(
        f"  {name}: {row['run_s']} s, {row['tokens_per_s']} tokens/s, peak {row['peak_rss_mb']} MB",
        flush=True,
    )
    return row


def bolt_env() -> dict[str, str] | None:
    """NEO4J_* variables for the Bolt server named by KGBUILD_TEST_BOLT_*, or None."""
    uri = os.environ.get(BOLT_ENV + "URI")
    if not uri:
        return None
    env = {"NEO4J_PASSWORD": os.environ.get(BOLT_ENV + "PASSWORD", "")}
    env["NEO4J_USERNAME"] = os.environ.get(BOLT_ENV + "USER") or "neo4j"
    if os.environ.get(BOLT_ENV + "DATABASE"):
        env["NEO4J_DATABASE"] = os.environ[BOLT_ENV + "DATABASE"]
    return {"uri": uri, **env}


def wipe_bolt(bolt: dict[str, str]) -> None:
    from neo4j import GraphDatabase

    auth = (bolt["NEO4J_USERNAME"], bolt["NEO4J_PASSWORD"])
    with GraphDatabase.driver(bolt["uri"], auth=auth) as driver:
        while True:
            records, _, _ = driver.execute_query(
                "MATCH (n) WITH n LIMIT 2000 DETACH DELETE n RETURN count(*) AS n",
                database_=bolt.get("NEO4J_DATABASE"),
            )
            if not records or records[0]["n"] == 0:
                return


# -- the model ----------------------------------------------------------------------------------


def scaling_model(rows: dict[str, dict], tail_rate: float) -> dict[str, Any]:
    """r_worker, e, r_tail, N* and T(N) for 100 GB (see the module docstring)."""
    r_worker = rows["sequential"]["tokens_per_s"]
    best = max(rows[k]["tokens_per_s"] for k in ("ray 1x2", "ray 2x1"))
    e = best / r_worker
    n_star = tail_rate / (e * r_worker)

    def t_of(n: float) -> float:
        return max(TOKENS_100GB / (n * e * r_worker), TOKENS_100GB / tail_rate)

    return {
        "r_worker_tokens_per_s": r_worker,
        "e": round(e, 3),
        "r_tail_tokens_per_s": tail_rate,
        "n_star": round(n_star, 1),
        "tokens_100gb": TOKENS_100GB,
        "t_100gb_days": {str(n): round(t_of(n) / 86400, 2) for n in (1, 10, 100, 1000)},
        "t_100gb_days_at_n_star": round(t_of(max(n_star, 1)) / 86400, 2),
    }


def table(rows: list[dict], derived: dict[str, Any], note: str) -> str:
    lines = [
        f"scale out on Ray ({note})",
        f"{'configuration':<26}{'run s':>8}{'process s':>11}{'tokens/s':>10}"
        f"{'tail tok/s':>12}{'peak MB':>9}",
    ]
    for r in rows:
        tail = r["tail_tokens_per_s"]
        lines.append(
            f"{r['name']:<26}{r['run_s']:>8.1f}{r['process_s']:>11.1f}{r['tokens_per_s']:>10.0f}"
            f"{(f'{tail:.0f}' if tail else '-'):>12}{r['peak_rss_mb']:>9.0f}"
        )
    lines.append(
        f"Ray overhead (1 actor x 2 threads vs sequential): {derived['ray_overhead_pct']:+.1f} % "
        "(target < 15 %)"
    )
    lines.append(f"2 actors x 1 thread vs 1 x 1: {derived['speedup_2x1']:.2f}x (target >= 1.8x)")
    m = derived["model"]
    lines.append(
        f"T(N) = max(tokens / (N * {m['e']} * {m['r_worker_tokens_per_s']:.0f}), "
        f"tokens / {m['r_tail_tokens_per_s']:.0f}); N* = {m['n_star']}; 100 GB: "
        + ", ".join(f"N={n}: {d} days" for n, d in m["t_100gb_days"].items())
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=4.0, help="Corpus size in MB.")
    parser.add_argument("--model", default=None, help="Extractor checkpoint folder.")
    parser.add_argument(
        "--extractor",
        choices=["model", "fake"],
        default="model",
        help="fake: the test extractor (checks the benchmark itself in seconds).",
    )
    parser.add_argument("--output", default=str(RESULTS), help="Where to write the JSON.")
    parser.add_argument("--keep", action="store_true", help="Keep the corpus and graphs.")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from ingest_throughput import make_corpus

    work = Path(tempfile.mkdtemp(prefix="kgbuild-scale-"))
    corpus = work / "corpus"
    docs, size = make_corpus(corpus, int(args.size_mb * 1_000_000))
    record = work / "extractions.pkl"
    cores = os.cpu_count() or 1
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KGBUILD_", "NEO4J_", "RAY_"))}
    base |= {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    if args.extractor == "fake":
        base["KGBUILD_BENCH_INNER"] = FAKE
    if args.model:
        base["KGBUILD_BENCH_MODEL"] = args.model
    spec = f"{HERE}:RecordingExtractor"
    note = f"{docs} documents, {size / 1e6:.1f} MB, {cores} cores, extractor: {args.extractor}"
    print(f"corpus: {note}", flush=True)

    configs = [
        ("sequential", [], {"OMP_NUM_THREADS": str(cores), RECORD_ENV: str(record)}),
        ("ray 1x2", ["--engine", "ray", "--workers", "1", "--worker-threads", str(cores)], {}),
        ("ray 1x1", ["--engine", "ray", "--workers", "1", "--worker-threads", "1"], {}),
        ("ray 2x1", ["--engine", "ray", "--workers", "2", "--worker-threads", "1"], {}),
    ]
    rows: list[dict] = []
    try:
        for name, extra, env in configs:
            env = {**base, "OMP_NUM_THREADS": "1", **env}
            if name != "sequential":  # Ray rows: the plain extractor, no recording
                env["KGBUILD_EXTRACTOR"] = base.get("KGBUILD_BENCH_INNER", "")
                if not env["KGBUILD_EXTRACTOR"]:
                    del env["KGBUILD_EXTRACTOR"]
                if args.model:
                    extra = [*extra, "--model", args.model]
            else:
                env["KGBUILD_EXTRACTOR"] = spec
            store = str(work / f"{name.replace(' ', '_')}.json")
            rows.append(run_ingest(name, corpus, store, extra, env))

        replay = {**base, RECORD_ENV: str(record), "KGBUILD_EXTRACTOR": f"{HERE}:ReplayExtractor"}
        rows.append(run_ingest("tail only: NetworkX", corpus, str(work / "tail.json"), [], replay))
        bolt = bolt_env()
        if bolt is not None:
            wipe_bolt(bolt)
            bolt_store = bolt.pop("uri")
            rows.append(
                run_ingest("tail only: Bolt server", corpus, bolt_store, [], {**replay, **bolt})
            )
            wipe_bolt({"uri": bolt_store, **bolt})
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    by_name = {r["name"]: r for r in rows}
    graphs = {json.dumps(r["graph"], sort_keys=True) for r in rows}
    if len(graphs) != 1:
        print("WARNING: the configurations built different graphs:", graphs, file=sys.stderr)
    tail_nx = by_name["tail only: NetworkX"]["tail_tokens_per_s"]
    tail_bolt = by_name.get("tail only: Bolt server", {}).get("tail_tokens_per_s")
    derived = {
        "ray_overhead_pct": round(
            (by_name["ray 1x2"]["run_s"] / by_name["sequential"]["run_s"] - 1) * 100, 1
        ),
        "speedup_2x1": round(
            by_name["ray 2x1"]["tokens_per_s"] / by_name["ray 1x1"]["tokens_per_s"], 2
        ),
        "same_graph": len(graphs) == 1,
        "model": scaling_model(by_name, tail_bolt or tail_nx),
        "model_networkx": scaling_model(by_name, tail_nx),
    }
    print(table(rows, derived, note))
    result = {
        "benchmark": "scale_out",
        "corpus": {"documents": docs, "bytes": size},
        "extractor": args.extractor,
        "machine": {"cores": cores, "python": platform.python_version()},
        "note": "measure on an idle machine; each row is a separate process",
        "rows": rows,
        **derived,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
