"""Ingestion throughput and memory: a 1 MB and a 4 MB corpus into a NetworkX store.

Beside the end-to-end ingest, each run measures on the very chunks the pipeline
produces (same chunker, same budget, the default schema):

* the bare encoder forward (the model's ``encode`` on the collated batches): the limit;
* extraction alone (``run_extractor`` over the chunk texts, batches as in the pipeline);
* the end-to-end ingest into the NetworkX store, and into a Bolt server when one is
  given (``KGBUILD_TEST_BOLT_URI``/``_USER``/``_PASSWORD``/``_DATABASE``, e.g. after
  ``eval "$(scripts/test-server env)"``);

as text tokens/s (document tokens, the same count for every row) and as ratios to
the encoder; and a cProfile breakdown of the real pipeline on the first documents
(encoder, span representations, entity scoring, pair scoring, tokenizing, chunking,
resolution, writing, ...). A separate line times ``kgbuild ingest examples/docs``
as a process: the first run, and an unchanged re-run (which must not load the model).

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
                                           [--backends torch,onnx] [--torch-sizes 1]
                                           [--profile-docs 40] [--no-cli]

``--backends`` runs each corpus once per inference backend (``$KGBUILD_BACKEND`` in the
worker: eager torch or ONNX Runtime); ``--torch-sizes`` limits the slower torch rows
to some sizes. The encoder row is always the bare *torch* encoder, the limit the
issue measures against.

Prints a table and writes benchmarks/results/ingest_throughput.json. Without a
trained checkpoint (kgbuild/models/...) it falls back to the test extractor
(tests/fake_extractor.py) and says so in the table and the JSON.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import random
import resource
import shutil
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

# The default schema (kgbuild.schema): what `kgbuild ingest` uses without options.
sys.path.insert(0, str(ROOT))
from kgbuild.schema import DEFAULT_ENTITY_TYPES, DEFAULT_RELATION_TYPES  # noqa: E402

ENTITY_TYPES = list(DEFAULT_ENTITY_TYPES)
RELATION_TYPES = list(DEFAULT_RELATION_TYPES)
BOLT_ENV = "KGBUILD_TEST_BOLT_"

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


def worker(
    corpus: Path, store_path: Path, model: str | None, batch_size: int, profile_docs: int
) -> dict:
    """Ingest ``corpus`` once, untraced (so stage timings are real), and report peak RSS;
    then the encoder / extraction / Bolt rows and the profile over the same chunks."""
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
        "torch_interop_threads": torch.get_num_interop_threads(),
        "stages_on_pipeline_chunks": pipeline_stages(extractor, corpus, config, batch_size),
        "bolt": bolt_ingest(extractor, corpus, config),
        "profile": profile_pipeline(extractor, corpus, config, profile_docs),
    }


def pipeline_chunks(extractor, corpus: Path, config) -> tuple[list[str], int]:
    """The chunk texts the pipeline makes of ``corpus``, and the documents' token count."""
    from kgbuild.ingest.chunker import chunk_document
    from kgbuild.ingest.loaders import iter_documents
    from kgbuild.pipeline.builder import chunk_budget
    from kgbuild.types import Document

    schema = config.schema
    budget, overlap = chunk_budget(
        config.chunker, extractor.max_text_tokens(schema.entity_types, schema.relation_types)
    )
    texts, tokens = [], 0
    for doc in iter_documents([corpus], config.load):
        if not isinstance(doc, Document):
            continue
        spans_of_doc = []

        def spans(text: str, doc=doc, out=spans_of_doc) -> list[tuple[int, int]]:
            found = extractor.token_spans(text)
            if text is doc.text:
                out.append(len(found))
            return found

        chunks = chunk_document(doc, spans, budget, overlap, config.chunker.sentence_splitter)
        texts += [c.text for c in chunks]
        tokens += spans_of_doc[0] if spans_of_doc else 0
    return texts, tokens


def pipeline_stages(extractor, corpus: Path, config, batch_size: int) -> dict:
    """Bare encoder forward vs extraction alone, on the chunks the pipeline produces."""
    import torch

    from kgbuild.extract.inference.lazy import LazyExtractor
    from kgbuild.extract.model.collation import collate
    from kgbuild.extract.model.encoding import split_words
    from kgbuild.pipeline.extraction import run_extractor

    schema = config.schema
    texts, doc_tokens = pipeline_chunks(extractor, corpus, config)
    out: dict = {"chunks": len(texts), "document_tokens": doc_tokens}
    inner = extractor.load() if isinstance(extractor, LazyExtractor) else extractor
    if hasattr(inner, "model") and hasattr(inner, "label_passes"):
        passes = inner.label_passes(schema.entity_types, schema.relation_types)
        batches = []
        chunk_tokens = 0
        for begin in range(0, len(texts), batch_size):  # the pipeline's extractor calls
            part = texts[begin : begin + batch_size]
            tokens = inner.encoder.tokenize(part)
            chunk_tokens += sum(len(k) for k in tokens)
            for ents, rels in passes:
                encoded = [
                    inner.encoder.encode(t, split_words(t), ents, rels, tokens=k)
                    for t, k in zip(part, tokens, strict=True)
                ]
                batches += [collate([encoded[i] for i in ids]) for ids in inner._batches(encoded)]
        # the bare torch encoder on every core (an ONNX Runtime extractor sets torch to one
        # thread, as its batches run side by side)
        threads = torch.get_num_threads()
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        t0 = time.perf_counter()
        with torch.inference_mode():
            for batch in batches:
                inner.model.encode(batch)
        out["encoder_seconds"] = time.perf_counter() - t0
        torch.set_num_threads(threads)
        out["label_passes"] = len(passes)
        out["chunk_tokens"] = chunk_tokens
        out["padded_tokens"] = sum(int(b["input_ids"].numel()) for b in batches)
        out["real_tokens"] = sum(int(b["attention_mask"].sum()) for b in batches)
    recent = getattr(getattr(inner, "encoder", None), "_recent", None)
    if recent is not None:
        recent.clear()  # extraction alone tokenizes the chunks itself (a cold call)
    t0 = time.perf_counter()
    run_extractor(
        extractor, texts, schema.entity_types, schema.relation_types, batch_size=batch_size
    )
    out["extract_seconds"] = time.perf_counter() - t0
    return out


def bolt_ingest(extractor, corpus: Path, config) -> dict | None:
    """End-to-end ingest into the Bolt server named by KGBUILD_TEST_BOLT_* (None: none)."""
    uri = os.environ.get(BOLT_ENV + "URI")
    if not uri:
        return None
    from kgbuild.pipeline import KnowledgeGraphBuilder
    from kgbuild.store import open_store

    store = open_store(
        uri,
        user=os.environ.get(BOLT_ENV + "USER") or None,
        password=os.environ.get(BOLT_ENV + "PASSWORD") or None,
        database=os.environ.get(BOLT_ENV + "DATABASE") or None,
    )
    with store:
        store.delete_documents(list(store.document_states()))  # start from an empty graph
        summary = KnowledgeGraphBuilder(
            store, extractor=extractor, config=config, progress=False
        ).ingest([corpus])
    return {"summary": summary.model_dump(mode="json")}


#: cProfile categories: (label, functions whose cumulative time it is). Nested categories
#: overlap (the encoder runs inside extraction); the table says which contain which.
PROFILE_CATEGORIES = [
    ("extraction (all)", [("pipeline/extraction.py", "run_extractor")]),
    ("  encoder forward (torch)", [("extract/model.py", "encode")]),
    ("  ONNX Runtime graph (encoder, spans, entity scores)",
     [("extract/onnx_backend.py", "__call__")]),
    ("  span representations (torch)", [("extract/model.py", "span_hidden")]),
    ("  entity scores (torch)", [("extract/model.py", "entity_logits_from_hidden")]),
    ("  entity decoding", [("extract/extractor.py", "_decode_entities")]),
    ("  pair scoring", [("extract/extractor.py", "_score_relations")]),
    ("  model inputs (encode, collate)", [("extract/encoding.py", "encode"),
                                           ("extract/model.py", "collate")]),
    ("  tokenizing for extraction", [("extract/encoding.py", "tokenize")]),
    ("chunking (all)", [("pipeline/stages.py", "chunk")]),
    ("  tokenizing for chunking", [("extract/encoding.py", "token_spans")]),
    ("  sentence splitting", [("ingest/chunker.py", "split_sentences"),
                              ("ingest/chunker.py", "_spacy_sentences"),
                              ("ingest/chunker.py", "_regex_sentences")]),
    ("resolution and assembly", [("pipeline/assemble.py", "run")]),
    ("writing", [("store/networkx_store.py", "write_documents")]),
    ("loading", [("ingest/loaders.py", "iter_documents")]),
]  # fmt: skip


def profile_pipeline(extractor, corpus: Path, config, documents: int) -> dict:
    """cProfile of a real ingest of the first ``documents`` files into a NetworkX store."""
    from kgbuild.pipeline import KnowledgeGraphBuilder
    from kgbuild.store import NetworkXStore

    files = sorted(corpus.glob("*.txt"))[:documents]
    store = NetworkXStore(None)
    store.open()
    builder = KnowledgeGraphBuilder(store, extractor=extractor, config=config, progress=False)
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    summary = builder.ingest(files)
    profiler.disable()
    total = time.perf_counter() - t0
    stats = pstats.Stats(profiler)
    rows = []
    for label, functions in PROFILE_CATEGORIES:
        seconds = 0.0
        for (filename, _, name), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
            if any(filename.endswith(f) and name == n for f, n in functions):
                seconds += cumulative
        rows.append({"stage": label, "seconds": seconds, "share": seconds / total})
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(20)
    return {
        "documents": len(files),
        "tokens": summary.tokens,
        "seconds": total,
        "categories": rows,
        "top_tottime": text.getvalue()[-6000:],
    }


def cli_runs(env: dict, model: str | None, workdir: Path) -> dict:
    """``kgbuild ingest examples/docs --store kg.json`` as a process: first run, then unchanged."""
    docs = workdir / "cli_docs"
    shutil.copytree(ROOT / "examples" / "docs", docs)
    store = workdir / "cli_kg.json"
    command = [sys.executable, "-m", "kgbuild.cli.main", "ingest", str(docs), "--store",
               str(store), "--json"]  # fmt: skip
    if model:
        command += ["--model", model]
    out = {}
    for run in ("first_run", "unchanged_rerun"):
        t0 = time.perf_counter()
        proc = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        out[run] = {"wall_seconds": wall, "documents": summary["documents"]}
    return out


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


def measure(
    size_mb: float, workdir: Path, args: argparse.Namespace, env: dict, backend: str
) -> dict:
    corpus = workdir / f"corpus_{size_mb:g}mb"
    if not corpus.exists():
        make_corpus(corpus, int(size_mb * MB))
    docs = len(list(corpus.iterdir()))
    nbytes = sum(f.stat().st_size for f in corpus.iterdir())
    result_file = workdir / f"result_{size_mb:g}mb_{backend}.json"
    graph_file = workdir / f"graph_{size_mb:g}mb_{backend}.json"
    env = {**env, "KGBUILD_BACKEND": backend}
    command = [
        sys.executable, __file__, "--worker",
        "--corpus", str(corpus),
        "--store", str(graph_file),
        "--result", str(result_file),
        "--batch-size", str(args.batch_size),
        "--profile-docs", str(args.profile_docs),
    ]  # fmt: skip
    if args.model:
        command += ["--model", args.model]
    print(
        f"ingesting {size_mb:g} MB ({docs} documents, {nbytes:,} bytes) on {backend} ...",
        flush=True,
    )
    subprocess.run(command, check=True, env=env)
    out = json.loads(result_file.read_text())
    out["backend"] = backend
    # The graph's own size, measured apart (tracemalloc would slow the ingest ~10x).
    sized = subprocess.run(
        [sys.executable, __file__, "--graph-heap", str(graph_file)],
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
    # Against the bare encoder, over the same chunks and the same token count.
    st = out["stages_on_pipeline_chunks"]
    ntok = st["document_tokens"]
    enc_s = st.get("encoder_seconds")
    rows = {"encoder": enc_s, "extract": st["extract_seconds"], "networkx": sec["total"]}
    if out.get("bolt"):
        rows["bolt"] = out["bolt"]["summary"]["seconds"]["total"]
    out["versus_encoder"] = {
        name: {
            "seconds": seconds,
            "tokens_per_second": ntok / seconds if seconds else None,
            "ratio_to_encoder": (enc_s / seconds) if enc_s and seconds else None,
        }
        for name, seconds in rows.items()
        if seconds is not None
    }
    print(
        f"  {size_mb:g} MB on {backend}: {tokens / sec['total']:,.0f} tokens/s end to end, "
        f"peak RSS {out['peak_rss_mb']:,.0f} MB",
        flush=True,
    )
    return out


def table(rows: list[dict], extractor_note: str) -> str:
    lines = [
        f"extractor: {extractor_note}",
        "",
        "| corpus | backend | docs | tokens | docs/s | tok/s total | tok/s load | tok/s chunk | "
        "tok/s extract | tok/s resolve | tok/s write | extract share | RSS after model MB | "
        "peak RSS MB | graph heap MB | working MB | save s | peak RSS with save MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:,.0f}"

    for r in rows:
        t = r["tokens_per_second"]
        lines.append(
            f"| {r['corpus_mb']:g} MB | {r['backend']} | {r['corpus_documents']} | "
            f"{r['summary']['tokens']:,} | "
            f"{r['documents_per_second']:.2f} | {f(t['total'])} | {f(t['load'])} | "
            f"{f(t['chunk'])} | {f(t['extract'])} | {f(t['resolve'])} | {f(t['write'])} | "
            f"{r['extract_share']:.0%} | {r['rss_after_model_mb']:.0f} | {r['peak_rss_mb']:.0f} | "
            f"{r['graph_heap_mb']:.0f} | {r['working_mb']:.0f} | {r['save_seconds']:.1f} | "
            f"{r['peak_rss_with_save_mb']:.0f} |"
        )
    lines += [
        "",
        "On the pipeline's own chunks (document tokens/s; ratio = bare torch encoder time / "
        "this time):",
        "",
        "| corpus | backend | chunks | passes | padding | torch encoder tok/s | extract tok/s | "
        "ratio | NetworkX e2e tok/s | ratio | Bolt e2e tok/s | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        v, st = r["versus_encoder"], r["stages_on_pipeline_chunks"]

        def cell(name: str, v=v) -> str:
            if name not in v:
                return "- | -"
            x = v[name]
            ratio = "-" if x["ratio_to_encoder"] is None else f"{x['ratio_to_encoder']:.2f}"
            return f"{f(x['tokens_per_second'])} | {ratio}"

        pad = f"{st['padded_tokens'] / st['real_tokens'] - 1:.1%}" if st.get("real_tokens") else "-"
        enc = f(v["encoder"]["tokens_per_second"]) if "encoder" in v else "-"
        lines.append(
            f"| {r['corpus_mb']:g} MB | {r['backend']} | {st['chunks']} | "
            f"{st.get('label_passes', '-')} | {pad} | "
            f"{enc} | {cell('extract')} | {cell('networkx')} | {cell('bolt')} |"
        )
    for r in rows:
        p = r["profile"]
        lines += [
            "",
            f"cProfile of the pipeline ({r['backend']}), {r['corpus_mb']:g} MB corpus, first "
            f"{p['documents']} "
            f"documents ({p['tokens']:,} tokens, {p['seconds']:.1f} s under the profiler):",
            "",
            "| stage | seconds | share |",
            "|---|---|---|",
        ]
        lines += [
            f"| {c['stage']} | {c['seconds']:.2f} | {c['share']:.0%} |" for c in p["categories"]
        ]
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
    parser.add_argument(
        "--backends",
        default="torch,onnx",
        help="Inference backends to compare, comma-separated (torch, onnx).",
    )
    parser.add_argument(
        "--torch-sizes",
        default=None,
        help="Sizes (MB) to run on torch (default: all of --sizes); the others only on the "
        "other backends.",
    )
    parser.add_argument("--batch-size", type=int, default=16, help="Chunks per extractor call.")
    parser.add_argument("--output", default=str(RESULTS), help="Where to write the JSON.")
    parser.add_argument("--keep", action="store_true", help="Keep the corpora and graphs.")
    parser.add_argument(
        "--profile-docs", type=int, default=40, help="Documents in the cProfile run."
    )
    parser.add_argument(
        "--no-cli", action="store_true", help="Skip timing `kgbuild ingest examples/docs`."
    )
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
        out = worker(
            Path(args.corpus), Path(args.store), args.model, args.batch_size, args.profile_docs
        )
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
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    torch_sizes = (
        sizes if args.torch_sizes is None else [float(s) for s in args.torch_sizes.split(",")]
    )
    rows = [
        measure(size, workdir, args, env, backend)
        for size in sizes
        for backend in backends
        if backend != "torch" or size in torch_sizes
    ]
    if not use_fake:
        note = f"{rows[0]['model_id']} ({args.model or default_model_dir()})"
    report = table(rows, note)
    cli = None if args.no_cli else cli_runs(env, args.model, workdir)
    if cli:
        report += (
            f"\n\n`kgbuild ingest examples/docs --store kg.json` as a process: first run "
            f"{cli['first_run']['wall_seconds']:.1f} s, unchanged re-run "
            f"{cli['unchanged_rerun']['wall_seconds']:.2f} s (target < 1.5 s)"
        )
    print()
    print(report)
    by_size: dict[float, dict[str, dict]] = {}
    for r in rows:
        by_size.setdefault(r["corpus_mb"], {})[r["backend"]] = r
    for size, pair in by_size.items():
        if "torch" in pair and "onnx" in pair:
            t, o = pair["torch"]["tokens_per_second"], pair["onnx"]["tokens_per_second"]
            print(
                f"\n{size:g} MB, same run: onnx/torch end to end {o['total'] / t['total']:.2f}x, "
                f"extract {o['extract'] / t['extract']:.2f}x, peak RSS "
                f"{pair['onnx']['peak_rss_mb']:,.0f} vs {pair['torch']['peak_rss_mb']:,.0f} MB"
            )
    same_backend = [r for r in rows if r["backend"] == rows[-1]["backend"]]
    if len(same_backend) >= 2:
        a, b = same_backend[0], same_backend[-1]
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
                "backends": backends,
                "memory_note": "peak_rss_mb: peak RSS of the ingesting process (model included) "
                "until the graph is built; peak_rss_with_save_mb: also while saving it as JSON; "
                "rss_after_model_mb: its RSS once the model is loaded and warmed up; "
                "graph_heap_mb: Python heap of the resulting NetworkX graph, loaded in a separate "
                "process under tracemalloc; working_mb = peak - after model - graph heap: what "
                "the streaming pipeline itself needs",
                "runs": rows,
                "cli_examples_docs": cli,
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
