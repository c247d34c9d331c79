"""Extraction speed against the number of labels (7+7, 20, 50, 100).

Users with an ontology name 50 to 100 types. Labels share the encoder window with
the text, so past a prompt budget they are split over several encoder passes. This
benchmark extracts the same pipeline-made chunks (the generated news corpus of
``ingest_throughput.py``, chunked as the pipeline does for each label set) with
growing label sets and reports tokens/s, label passes, and the ratio to the default
7 entity + 7 relation labels, measured in the same run.

    python benchmarks/label_scaling.py [--kb 200] [--counts 14,20,50,100] [--model DIR]
                                       [--backend auto|onnx|torch] [--repeats 3]
                                       [--modes hybrid,prompt]

Each label set is timed ``--repeats`` times, the sets taking turns (round robin), and
the median is reported: on a shared machine a slow spell then hits every set alike.
``--modes``: the relation-label layouts to time (default: the extractor's default); the
label sets that need more than one joint pass are timed in each of them, in the same
turns, so that their ratios to the first row come from one run.

Prints a table and writes benchmarks/results/label_scaling.json. Numbers only mean
something on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "label_scaling.json"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ingest_throughput import make_corpus, pipeline_chunks  # noqa: E402

from kgbuild.schema import DEFAULT_ENTITY_TYPES, DEFAULT_RELATION_TYPES  # noqa: E402

# Extra type names in the style of real ontologies (Re-DocRED-like relations).
MORE_ENTITIES = """city|country|company|university|government agency|political party|sports team
|ship|aircraft|disease|drug|chemical compound|gene|protein|species|mountain|river|lake
|building|airport|stadium|newspaper|television channel|film|book|song|album|award|language
|religion|currency|law|treaty|war|battle|election|festival|programming language|software
|algorithm|vehicle|weapon|food dish|musical instrument|profession|nationality|ethnic group
|court case""".replace("\n", "").split("|")
MORE_RELATIONS = """headquarters location|country of citizenship|place of birth|place of death
|spouse|child|parent|sibling|educated at|employer|position held|member of political party
|owned by|subsidiary|parent organization|chief executive officer|founded in|dissolved in
|capital of|contains administrative territorial entity|located in the administrative
territorial entity|shares border with|component of|has part|instance of|subclass of|author
|director|producer|performer|composer|screenwriter|publisher|record label|genre
|original language|country of origin|developer|manufacturer|product or material produced
|participant|participant of|winner|award received|nominated for|conflict|military branch
|head of government|head of state|legislative body|official language|religion|ethnic group
|sport|league|home venue|notable work|characters|series|follows|followed by|replaces
|replaced by|lyrics by|cast member|narrative location|filming location|platform|operator
|mouth of the watercourse|tributary|located on terrain feature|continent|residence
|date of birth|date of death|inception|publication date|start time|end time
|point in time""".replace("\n", "").split("|")


def label_sets(counts: list[int]) -> list[tuple[list[str], list[str]]]:
    """Half entity, half relation labels per total count; 14 is the default schema."""
    entities = list(dict.fromkeys([*DEFAULT_ENTITY_TYPES, *MORE_ENTITIES]))
    relations = list(dict.fromkeys([*DEFAULT_RELATION_TYPES, *MORE_RELATIONS]))
    out = []
    for n in counts:
        ne = n // 2
        nr = n - ne
        if ne > len(entities) or nr > len(relations):
            raise SystemExit(f"--counts: at most {2 * min(len(entities), len(relations))} labels")
        out.append((entities[:ne], relations[:nr]))
    return out


def layout_used(extractor, entity_labels: list[str], relation_labels: list[str]) -> str:
    """How ``extractor`` reads this schema: ``hybrid`` where it reads relation labels one
    way, else ``prompt``."""
    passes = extractor.label_passes(entity_labels, relation_labels)
    return "hybrid" if extractor.layout.one_way_labels(relation_labels, passes) else "prompt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=float, default=200, help="Corpus size in KB.")
    parser.add_argument("--counts", default="14,20,50,100", help="Total label counts.")
    parser.add_argument("--model", default=None, help="Extractor checkpoint folder.")
    parser.add_argument("--batch-size", type=int, default=16, help="Chunks per extract call.")
    parser.add_argument(
        "--backend", default=None, help="Inference backend: auto, onnx or torch (default: auto)."
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="Timings per label set, taken in turns (median)."
    )
    parser.add_argument(
        "--modes",
        default=None,
        help="Comma-separated relation-label modes to time (default: the extractor's).",
    )
    parser.add_argument("--output", default=str(RESULTS), help="Where to write the JSON.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    import torch

    from kgbuild.extract import load_extractor
    from kgbuild.pipeline import BuildConfig
    from kgbuild.pipeline.extraction import run_extractor
    from kgbuild.schema import Schema

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    modes = args.modes.split(",") if args.modes else [None]
    extractors = [
        load_extractor(args.model, backend=args.backend, relation_labels=mode) for mode in modes
    ]
    extractor = extractors[0]
    corpus = Path(tempfile.mkdtemp(prefix="kgbuild-labels-")) / "corpus"
    make_corpus(corpus, int(args.kb * 1000))
    for x in extractors:  # exports and session start-up out of the timing
        x.extract(["Warm up: Anna Weber works for Northwind Inc."], ["person"], ["works for"])

    rows = []
    runs = []  # (extractor, entity labels, relation labels, chunks, tokens)
    for ents, rels in label_sets([int(c) for c in args.counts.split(",")]):
        config = BuildConfig(schema=Schema(entity_types=ents, relation_types=rels))
        texts, tokens = pipeline_chunks(extractor, corpus, config)
        layouts = set()
        for x in extractors:
            layout = layout_used(x, ents, rels)
            if layout not in layouts:  # modes that read this schema alike: timed once
                layouts.add(layout)
                # chunked for this layout's prompt (the hybrid one holds relation labels)
                texts_x, tokens_x = (
                    (texts, tokens) if x is extractor else pipeline_chunks(x, corpus, config)
                )
                runs.append((x, ents, rels, texts_x, tokens_x))
    timings: list[list[float]] = [[] for _ in runs]
    for _ in range(max(1, args.repeats)):
        for i, (x, ents, rels, texts, _tokens) in enumerate(runs):
            t0 = time.perf_counter()
            run_extractor(x, texts, ents, rels, batch_size=args.batch_size)
            timings[i].append(time.perf_counter() - t0)
    for (x, ents, rels, texts, tokens), times in zip(runs, timings, strict=True):
        seconds = statistics.median(times)
        rows.append(
            {
                "entity_labels": len(ents),
                "relation_labels": len(rels),
                "layout_option": x.relation_labels,
                "label_passes": len(x.label_passes(ents, rels)),
                "relation_label_layout": layout_used(x, ents, rels),
                "chunks": len(texts),
                "tokens": tokens,
                "seconds": seconds,
                "all_seconds": [round(t, 3) for t in times],
                "tokens_per_second": tokens / seconds,
            }
        )
        layout = rows[-1]["relation_label_layout"]
        print(
            f"{len(ents)}+{len(rels)} labels, {layout}: {tokens / seconds:,.0f} tokens/s",
            flush=True,
        )
    base = rows[0]["tokens_per_second"]
    lines = [
        f"extractor: {extractor.model_id} on {extractor.backend}, {args.kb:g} KB corpus, "
        f"{extractor.workers} batch(es) side by side x {extractor.torch_threads} torch thread(s), "
        f"relation_label_mode {', '.join(x.relation_labels for x in extractors)}, "
        f"median of {args.repeats} timings taken in turns",
        "",
        "| labels | text passes | relation label layout | chunks | tokens/s | vs first row |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        r["ratio_to_first"] = r["tokens_per_second"] / base
        lines.append(
            f"| {r['entity_labels']}+{r['relation_labels']} | {r['label_passes']} | "
            f"{r['relation_label_layout']} | "
            f"{r['chunks']} | {r['tokens_per_second']:,.0f} | {r['ratio_to_first']:.2f} |"
        )
    report = "\n".join(lines)
    print()
    print(report)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {
                "benchmark": "label_scaling",
                "backend": extractor.backend,
                "relation_label_modes": [x.relation_labels for x in extractors],
                "runs": rows,
                "table": report,
            },
            indent=2,
        )
    )
    print(f"\nwrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
