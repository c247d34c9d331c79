"""Ingestion throughput and memory: a 1 MB and a 4 MB corpus into a NetworkX store.

Generates two corpora of short news-style documents (seeded, so every run reads
the same text; full of people, organizations, places and dates), ingests each in
its own subprocess (so peak memory is measured independently), and reports:

* documents/s and text tokens/s overall and per stage (load, chunk, extract,
  resolve, write); the extract stage is the baseline the others are compared to;
* memory: the peak RSS of the ingesting process, its RSS once the model was
  loaded, and the Python heap of the resulting graph (loaded again in another
  process under ``tracemalloc``); peak - model - graph is the pipeline's own
  working memory.

The NetworkX store keeps the whole graph in memory by design, so what it retains
grows with the corpus; the pipeline streams, so its working memory above the
graph must not (compare the two rows).

    python benchmarks/ingest_throughput.py [--sizes 1,4] [--model DIR] [--extractor fake]

Prints a table and writes benchmarks/results/ingest_throughput.json. Without a
trained checkpoint (kgbuild/models/...) it falls back to the test extractor
(tests/fake_extractor.py) and says so in the table and the JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "ingest_throughput.json"
FAKE = f"{ROOT / 'tests' / 'fake_extractor.py'}:FakeExtractor"
MB = 1_000_000

ENTITY_TYPES = ["person", "organization", "location", "date"]
RELATION_TYPES = ["works for", "founded by", "located in", "born in"]

# -- corpus --------------------------------------------------------------------------------

FIRST = """Anna Björn Carlos Dmitri Elena Fatima Giulia Hiro Ingrid José Kwame Lena Mateo
Nadia Olga Pierre Qiu Rosa Søren Tomás Ulrike Viktor Wen Ximena Yusuf Zoë Amara Bruno Chloé
Dara""".split()
LAST = """Andersen Bauer Castillo Dubois Eriksen Fischer García Hoffmann Ito Jensen Kowalski Larsen
Moreau Nakamura Okafor Petrov Quinn Rossi Schmidt Tanaka Ueda Varga Weber Xu Yilmaz Zimmermann
Lindqvist Müller Novák Ødegaard""".split()
ORG_A = """Northwind Bluepeak Silverline Redwood Ironbridge Clearwater Brightstone Highfield Oakmont
Starling Riverside Goldcrest Summit Greenleaf Blackwell Lakeshore Eastgate Westbrook""".split()
ORG_B = """Analytics Robotics Foods Energy Logistics Pharma Motors Textiles Software Optics Bank
Airlines Insurance Media Materials Instruments""".split()
ORG_SUFFIX = ["Inc.", "Corp.", "Ltd.", "GmbH", "AG", "S.A.", "Group", "Holdings"]
CITIES = """Paris London Berlin Tokyo Zürich München Madrid Lisbon Oslo Helsinki Warsaw Prague
Vienna Milan Lyon Osaka Seoul Toronto Boston Chicago Austin Denver Sydney Auckland Nairobi
Lagos Cairo Mumbai Bangalore Singapore São_Paulo Montréal Kraków Göteborg""".split()
COUNTRIES = """France Germany Japan Switzerland Spain Portugal Norway Finland Poland Austria Italy
Canada Australia Kenya Nigeria Egypt India Singapore Brazil Sweden""".split()
MONTHS = """January February March April May June July August September October November
December""".split()

TEMPLATES = [
    "{p} works for {o} in {c}.",
    "{o} was founded by {p} in {y}.",
    "{o} is headquartered in {c}, {k}.",
    "{p} was born in {c} on {d}.",
    "On {d}, {o} announced that {p} would become its chief executive.",
    "{p}, who joined {o} in {y}, said the company would open a new office in {c}.",
    "Analysts at {o} expect demand in {k} to grow by {n} percent next year.",
    "{p} and {p2} founded {o} in {c} in {y}.",
    "The {c} plant of {o} employs about {n}00 people.",
    "Before moving to {c}, {p} worked for {o2} for {n} years.",
    "Shares of {o} rose {n} percent after the results were published on {d}.",
    "{o} agreed to acquire {o2}, which is based in {c}, for {n} million euros.",
]


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _org(rng: random.Random) -> str:
    return f"{rng.choice(ORG_A)} {rng.choice(ORG_B)} {rng.choice(ORG_SUFFIX)}"


def _document(rng: random.Random, index: int) -> str:
    """A ~3 KB news-style article: a headline and a few paragraphs."""
    paragraphs = []
    for _ in range(rng.randint(4, 7)):
        sentences = []
        for _ in range(rng.randint(3, 6)):
            sentences.append(
                rng.choice(TEMPLATES).format(
                    p=_person(rng),
                    p2=_person(rng),
                    o=_org(rng),
                    o2=_org(rng),
                    c=rng.choice(CITIES).replace("_", " "),
                    k=rng.choice(COUNTRIES),
                    y=rng.randint(1950, 2024),
                    d=f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {rng.randint(1990, 2024)}",
                    n=rng.randint(2, 40),
                )
            )
        paragraphs.append(" ".join(sentences))
    return f"Business report {index}\n\n" + "\n\n".join(paragraphs) + "\n"


def make_corpus(folder: Path, min_bytes: int, seed: int = 7) -> tuple[int, int]:
    """Write .txt documents into ``folder`` until ``min_bytes``; return (documents, bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    total = count = 0
    while total < min_bytes:
        text = _document(rng, count)
        path = folder / f"doc{count:05}.txt"
        path.write_text(text, encoding="utf-8")
        total += len(text.encode("utf-8"))
        count += 1
    return count, total


# -- one measured ingest (runs in its own process) ------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker(corpus: Path, store_path: Path, model: str | None, batch_size: int) -> dict:
    """Ingest ``corpus`` once, untraced (so stage timings are real), and report peak RSS."""
    import torch

    from kgbuild.pipeline import BuildConfig, KnowledgeGraphBuilder, load_pipeline_extractor
    from kgbuild.schema import Schema
    from kgbuild.store import NetworkXStore

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    t0 = time.perf_counter()
    extractor = load_pipeline_extractor(model)
    # Warm up (lazy initialisation, first-call costs) so they are not billed to the corpus.
    extractor.extract(
        ["Anna Weber works for Northwind Robotics Inc. in Paris."], ENTITY_TYPES, RELATION_TYPES
    )
    from kgbuild.ingest.chunker import split_sentences

    split_sentences("Warm up. The sentence splitter loads once.")
    load_model_s = time.perf_counter() - t0
    rss_ready = _rss_mb()

    config = BuildConfig(
        schema=Schema(entity_types=ENTITY_TYPES, relation_types=RELATION_TYPES),
        batch_size=batch_size,
    )
    # A store without a file: the ingest itself never saves, so the save (which serialises
    # the whole graph at once) is measured apart below.
    store = NetworkXStore(None)
    store.open()
    builder = KnowledgeGraphBuilder(store, extractor=extractor, config=config, progress=False)
    summary = builder.ingest([corpus])
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB
    t1 = time.perf_counter()
    store.save(store_path)
    save_s = time.perf_counter() - t1
    peak_rss_save = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "model_id": summary.model_id,
        "summary": summary.model_dump(mode="json"),
        "load_model_seconds": load_model_s,
        "save_seconds": save_s,
        "rss_after_model_mb": rss_ready,
        "peak_rss_mb": peak_rss,
        "peak_rss_with_save_mb": peak_rss_save,
        "graph_file_mb": store_path.stat().st_size / 2**20,
        "torch_threads": torch.get_num_threads(),
    }


def graph_heap_mb(store_path: Path) -> float:
    """Python heap held by the saved graph once loaded (tracemalloc, in this process)."""
    from kgbuild.store import NetworkXStore

    gc.collect()
    tracemalloc.start()
    store = NetworkXStore(store_path)
    store.open()
    gc.collect()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del store
    return held / 2**20


# -- driver --------------------------------------------------------------------------------


def measure(size_mb: float, workdir: Path, args: argparse.Namespace, env: dict) -> dict:
    corpus = workdir / f"corpus_{size_mb:g}mb"
    docs, nbytes = make_corpus(corpus, int(size_mb * MB))
    result_file = workdir / f"result_{size_mb:g}mb.json"
    command = [
        sys.executable, __file__, "--worker",
        "--corpus", str(corpus),
        "--store", str(workdir / f"graph_{size_mb:g}mb.json"),
        "--result", str(result_file),
        "--batch-size", str(args.batch_size),
    ]  # fmt: skip
    if args.model:
        command += ["--model", args.model]
    print(f"ingesting {size_mb:g} MB ({docs} documents, {nbytes:,} bytes) ...", flush=True)
    subprocess.run(command, check=True, env=env)
    out = json.loads(result_file.read_text())
    # The graph's own size, measured apart (tracemalloc would slow the ingest ~10x).
    sized = subprocess.run(
        [sys.executable, __file__, "--graph-heap", str(workdir / f"graph_{size_mb:g}mb.json")],
        check=True, env=env, capture_output=True, text=True,
    )  # fmt: skip
    out["graph_heap_mb"] = float(sized.stdout.strip().splitlines()[-1])
    out["working_mb"] = out["peak_rss_mb"] - out["rss_after_model_mb"] - out["graph_heap_mb"]
    out.update(corpus_mb=size_mb, corpus_bytes=nbytes, corpus_documents=docs)
    s = out["summary"]
    sec, tokens = s["seconds"], s["tokens"]
    out["documents_per_second"] = s["documents"]["new"] / sec["total"]
    out["tokens_per_second"] = {
        stage: (tokens / sec[stage] if sec[stage] > 0 else None)
        for stage in ("load", "chunk", "extract", "resolve", "write", "total")
    }
    out["extract_share"] = sec["extract"] / sec["total"]
    return out


def table(rows: list[dict], extractor_note: str) -> str:
    lines = [
        f"extractor: {extractor_note}",
        "",
        "| corpus | docs | tokens | docs/s | tok/s total | tok/s load | tok/s chunk | "
        "tok/s extract | tok/s resolve | tok/s write | extract share | RSS after model MB | "
        "peak RSS MB | graph heap MB | working MB | save s | peak RSS with save MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:,.0f}"

    for r in rows:
        t = r["tokens_per_second"]
        lines.append(
            f"| {r['corpus_mb']:g} MB | {r['corpus_documents']} | {r['summary']['tokens']:,} | "
            f"{r['documents_per_second']:.2f} | {f(t['total'])} | {f(t['load'])} | "
            f"{f(t['chunk'])} | {f(t['extract'])} | {f(t['resolve'])} | {f(t['write'])} | "
            f"{r['extract_share']:.0%} | {r['rss_after_model_mb']:.0f} | {r['peak_rss_mb']:.0f} | "
            f"{r['graph_heap_mb']:.0f} | {r['working_mb']:.0f} | {r['save_seconds']:.1f} | "
            f"{r['peak_rss_with_save_mb']:.0f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,4", help="Corpus sizes in MB, comma-separated.")
    parser.add_argument("--model", default=None, help="Extractor checkpoint folder.")
    parser.add_argument(
        "--extractor",
        choices=["auto", "model", "fake"],
        default="auto",
        help="auto: the shipped model if present, else the test extractor.",
    )
    parser.add_argument("--batch-size", type=int, default=16, help="Chunks per extractor call.")
    parser.add_argument("--output", default=str(RESULTS), help="Where to write the JSON.")
    parser.add_argument("--keep", action="store_true", help="Keep the corpora and graphs.")
    # Internal: one measured ingest.
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--graph-heap", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.graph_heap:
        print(f"{graph_heap_mb(Path(args.graph_heap)):.3f}")
        return 0
    if args.worker:
        out = worker(Path(args.corpus), Path(args.store), args.model, args.batch_size)
        Path(args.result).write_text(json.dumps(out))
        return 0

    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}  # fmt: skip
    env.pop("KGBUILD_EXTRACTOR", None)
    from kgbuild.extract import default_model_dir

    has_model = args.model is not None or (default_model_dir() / "config.json").is_file()
    use_fake = args.extractor == "fake" or (args.extractor == "auto" and not has_model)
    if args.extractor == "model" and not has_model:
        parser.error(f"no checkpoint in {default_model_dir()}; pass --model DIR")
    if use_fake:
        env["KGBUILD_EXTRACTOR"] = FAKE
        args.model = None
        note = (
            "tests/fake_extractor.py (regex, no model): NO trained checkpoint was available, so "
            "extract-stage numbers say nothing about the real model"
        )
    else:
        note = f"the trained model ({args.model or default_model_dir()})"

    sizes = [float(s) for s in args.sizes.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="kgbuild-ingest-bench-"))
    rows = [measure(size, workdir, args, env) for size in sizes]
    if not use_fake:
        note = f"{rows[0]['model_id']} ({args.model or default_model_dir()})"
    report = table(rows, note)
    print()
    print(report)
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        print(
            f"\nworking memory {a['working_mb']:.1f} MB at {a['corpus_mb']:g} MB vs "
            f"{b['working_mb']:.1f} MB at {b['corpus_mb']:g} MB of text; the NetworkX graph "
            f"itself holds {a['graph_heap_mb']:.0f} MB vs {b['graph_heap_mb']:.0f} MB"
        )
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {
                "benchmark": "ingest_throughput",
                "extractor": note,
                "fake_extractor": use_fake,
                "cpu_count": os.cpu_count(),
                "entity_types": ENTITY_TYPES,
                "relation_types": RELATION_TYPES,
                "batch_size": args.batch_size,
                "memory_note": "peak_rss_mb: peak RSS of the ingesting process (model included) "
                "until the graph is built; peak_rss_with_save_mb: also while saving it as JSON; "
                "rss_after_model_mb: its RSS once the model is loaded and warmed up; "
                "graph_heap_mb: Python heap of the resulting NetworkX graph, loaded in a separate "
                "process under tracemalloc; working_mb = peak - after model - graph heap: what "
                "the streaming pipeline itself needs",
                "runs": rows,
                "table": report,
            },
            indent=2,
        )
    )
    print(f"\nwrote {output}")
    if not args.keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"corpora and graphs kept in {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
