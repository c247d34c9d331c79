"""Prototype measurement of a relation-label layout not yet in the extractor: "hybrid".

The joint layout's first pass (the entity labels and the first group of relation labels
in the prompt, read with the text both ways) with the other groups of relation labels
appended one way in that same pass (as ``oneway`` appends all of them), instead of
reading the text again per group. Where the entity labels fit in the first pass's half
of the prompt, its entities and first-group relations are exactly the joint layout's
(the text never reads the appended labels); only the other groups are read one way.
Where they do not (50 entity labels), the prompt holds all entity labels and as many
relation labels as still fit. Run on torch, with the shipped checkpoint's one-way update
(``one_way_lora``) on the appended labels and its one-way relation threshold for them.

* quality: strict micro F1 on WebNLG's 30 unseen relations (two joint passes) and 100
  Re-DocRED documents with 96 relations (four), prompt against hybrid, words/s (best of
  two timings each, in turns);
* speed: ``benchmarks/label_scaling.py``'s 7 + 7 and 50 + 50 label sets on 100 KB of
  its corpus, prompt / hybrid / oneway, tokens/s (medians of 3 timings taken in turns).

    python benchmarks/relation_label_hybrid.py [--model DIR] [--only quality,speed]

Prints tables and writes benchmarks/results/relation_label_hybrid.json. Speeds only
mean something on an idle machine.
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
RESULTS = ROOT / "benchmarks" / "results" / "relation_label_hybrid.json"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def hybrid_groups(extractor, entity_labels: list[str], relation_labels: list[str]):
    """(entity labels, relation labels in the prompt, groups appended one way)."""
    budget = extractor._prompt_budget()
    cost = sum(1 + len(extractor.encoder.label_ids(e)) for e in entity_labels)
    if cost > budget:
        raise ValueError("the prototype needs every entity label in one prompt")
    room = budget // 2 if cost <= budget // 2 else budget - cost
    first = extractor._label_groups(relation_labels, room)[0]
    if sum(1 + len(extractor.encoder.label_ids(r)) for r in first) > room:
        first = []
    rest = relation_labels[len(first) :]
    groups = extractor._label_groups(rest, budget // 2) if rest else []
    return entity_labels, first, groups


def hybrid_predict(extractor, texts, word_spans, entity_labels, relation_labels, symmetric):
    """Word-level (entities, relations) per text, as ``JointExtractor.predict`` returns."""
    import torch

    from kgbuild.extract.model import collate, collate_one_way

    x, model = extractor, extractor.model
    ents, first, groups = hybrid_groups(x, entity_labels, relation_labels)
    rest = [r for g in groups for r in g]
    block = x.encoder.relation_label_block(ents, groups) if groups else None
    tokens = x.encoder.tokenize(texts)
    encoded = [
        x.encoder.encode(t, s, ents, first, tokens=k)
        for t, s, k in zip(texts, word_spans, tokens, strict=True)
    ]
    one_way_threshold = x.config.one_way_relation_threshold or x.config.relation_threshold
    width = x.config.max_width
    out: list = [None] * len(texts)
    extra = len(block.input_ids) if block else 0
    for batch_ids in x._batches(encoded, extra):
        items = [encoded[i] for i in batch_ids]
        with torch.inference_mode():
            if block is None:
                batch = collate(items)
                hidden, label_hidden = model.encode(batch), None
            else:
                batch = collate_one_way(items, block)
                # every row: the prompt's relation markers are read too
                batch["final_text_rows"] = torch.arange(batch["input_ids"].size(1))
                batch["final_label_rows"] = torch.arange(len(block.input_ids))
                hidden, label_hidden = model.encode_one_way(batch)
            start, end, width_part = model.span_parts(hidden)
            spans = model.span_hidden(hidden, batch, (start, end, width_part))
            entity_vectors = model.label_embeddings(
                hidden, batch["entity_markers"], model.entity_label_proj
            )
            probs = torch.sigmoid(model.entity_logits_from_hidden(spans, entity_vectors))
            probs = probs.masked_fill(~model.span_mask(batch).unsqueeze(-1), 0.0)
            prompt_vectors = model.label_embeddings(
                hidden, collate(items)["relation_markers"], model.relation_label_proj
            )
            block_vectors = None
            if block is not None:
                block_vectors = model.label_embeddings(
                    label_hidden, batch["relation_markers"], model.relation_label_proj
                )
            for j, i in enumerate(batch_ids):
                enc = items[j]
                p = probs[j, :, : len(ents)].numpy()
                p = p.reshape(-1, width, len(ents))[: len(enc.word_spans)].reshape(-1, len(ents))
                found = x._decode_entities(p, ents, x.config.entity_threshold)
                relations = []
                if len(found) >= 2 and first:
                    relations += x._score_relations(
                        hidden[j], start[j], end[j], enc, found,
                        prompt_vectors[j, : len(first)], first,
                        x.config.relation_threshold, symmetric,
                    )  # fmt: skip
                if len(found) >= 2 and rest:
                    relations += x._score_relations(
                        hidden[j], start[j], end[j], enc, found,
                        block_vectors[j, : len(rest)], rest, one_way_threshold, symmetric,
                    )  # fmt: skip
                out[i] = (found, relations)
    return out


def quality(extractor) -> list[dict]:
    from relation_label_modes import load_sets

    from kgbuild.extract.encoding import join_words
    from kgbuild.extract.evaluate import score_predictions

    sets = load_sets(None)
    rows = []
    for name in ("webnlg-unseen", "re-docred", "re-docred-440"):
        examples = sets[name]
        ents, rels = examples[0].entity_labels, examples[0].relation_labels
        if any(e.entity_labels != ents or e.relation_labels != rels for e in examples):
            raise SystemExit(f"{name}: one label set per set expected")
        symmetric = set(examples[0].symmetric)
        joined = [join_words(e.words) for e in examples]
        texts, spans = [t for t, _ in joined], [s for _, s in joined]
        words = sum(len(e.words) for e in examples)
        times: dict[str, list[float]] = {"prompt": [], "hybrid": []}
        preds = {}
        for _ in range(2):
            t0 = time.perf_counter()
            preds["prompt"] = extractor.predict(
                texts, spans, ents, rels, symmetric_relations=sorted(symmetric)
            )
            times["prompt"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            preds["hybrid"] = hybrid_predict(extractor, texts, spans, ents, rels, symmetric)
            times["hybrid"].append(time.perf_counter() - t0)
        same = sum(
            sorted((e.start, e.end, e.label) for e in a[0])
            == sorted((e.start, e.end, e.label) for e in b[0])
            for a, b in zip(preds["prompt"], preds["hybrid"], strict=True)
        )
        for mode in ("prompt", "hybrid"):
            s = score_predictions(examples, preds[mode])
            rows.append(
                {
                    "set": name,
                    "layout": mode,
                    "relation_labels": len(rels),
                    "ner_micro_f1": s["ner_micro_f1"],
                    "rel_micro_f1": s["rel_micro_f1"],
                    "rel_macro_f1": s["rel_macro_f1"],
                    "words_per_second": words / min(times[mode]),
                    "texts_with_the_prompt_layouts_entities": same,
                    "texts": len(examples),
                }
            )
    return rows


def speed(extractor, model_dir) -> list[dict]:
    from ingest_throughput import make_corpus, pipeline_chunks
    from label_scaling import label_sets

    from kgbuild.extract.encoding import split_words
    from kgbuild.extract.extractor import JointExtractor
    from kgbuild.pipeline import BuildConfig
    from kgbuild.schema import Schema

    corpus = Path(tempfile.mkdtemp(prefix="kgbuild-hybrid-")) / "corpus"
    make_corpus(corpus, 100_000)
    one_way = JointExtractor.from_pretrained(
        model_dir, backend="torch", relation_label_mode="oneway"
    )
    runs = []
    for ents, rels in label_sets([14, 100]):
        config = BuildConfig(schema=Schema(entity_types=ents, relation_types=rels))
        texts, tokens = pipeline_chunks(extractor, corpus, config)
        spans = [split_words(t) for t in texts]
        for mode in ["prompt"] if len(ents) == 7 else ["prompt", "hybrid", "oneway"]:
            runs.append({"ents": ents, "rels": rels, "texts": texts, "spans": spans,
                         "tokens": tokens, "layout": mode, "times": []})  # fmt: skip

    def run(r: dict) -> None:
        for i in range(0, len(r["texts"]), 16):
            texts, spans = r["texts"][i : i + 16], r["spans"][i : i + 16]
            if r["layout"] == "hybrid":
                hybrid_predict(extractor, texts, spans, r["ents"], r["rels"], set())
            else:
                x = one_way if r["layout"] == "oneway" else extractor
                x.predict(texts, spans, r["ents"], r["rels"])

    for _ in range(3):
        for r in runs:
            t0 = time.perf_counter()
            run(r)
            r["times"].append(time.perf_counter() - t0)
    base = runs[0]["tokens"] / statistics.median(runs[0]["times"])
    out = []
    for r in runs:
        tps = r["tokens"] / statistics.median(r["times"])
        out.append(
            {
                "labels": f"{len(r['ents'])}+{len(r['rels'])}",
                "layout": r["layout"],
                "chunks": len(r["texts"]),
                "tokens": r["tokens"],
                "all_seconds": [round(t, 3) for t in r["times"]],
                "tokens_per_second": tps,
                "ratio_to_first": tps / base,
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="Extractor checkpoint folder.")
    parser.add_argument("--only", default="quality,speed", help="quality, speed or both.")
    parser.add_argument("--output", default=str(RESULTS), help="Where to write the JSON.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from kgbuild.extract.extractor import JointExtractor

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    extractor = JointExtractor.from_pretrained(
        args.model, backend="torch", relation_label_mode="prompt"
    )
    parts = set(args.only.split(","))
    result: dict = {"benchmark": "relation_label_hybrid", "model": extractor.model_id}
    lines = [f"extractor: {extractor.model_id} on torch"]
    if "quality" in parts:
        result["quality"] = rows = quality(extractor)
        lines += [
            "",
            "| set | layout | relation labels | NER micro | RE+ micro | RE+ macro | words/s "
            "| texts with the prompt layout's entities |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['set']} | {r['layout']} | {r['relation_labels']} | "
                f"{r['ner_micro_f1']:.2f} | {r['rel_micro_f1']:.2f} | {r['rel_macro_f1']:.2f} | "
                f"{r['words_per_second']:,.0f} | "
                f"{r['texts_with_the_prompt_layouts_entities']} of {r['texts']} |"
            )
    if "speed" in parts:
        result["speed"] = rows = speed(extractor, args.model)
        lines += ["", "| labels | layout | chunks | tokens/s | vs 7+7 |", "|---|---|---|---|---|"]
        for r in rows:
            lines.append(
                f"| {r['labels']} | {r['layout']} | {r['chunks']} | "
                f"{r['tokens_per_second']:,.0f} | {r['ratio_to_first']:.2f} |"
            )
    result["table"] = table = "\n".join(lines)
    print(table)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
