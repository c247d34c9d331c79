"""Extraction speed on CPU, against the physical limit measured in the same run.

Runs ``JointExtractor.extract`` over at least 200 KB of real sentences (CoNLL04,
SciERC and CrossRE test splits, grouped into chunks the size the pipeline uses)
with 6 entity and 6 relation labels, and the bare encoder forward pass over the
very same token batches. Reports text tokens/s for both and their ratio; with
``--int8`` also the dynamically quantized model.

    python benchmarks/extract_speed.py [--model DIR] [--threads 2] [--int8]

Prints a table and writes benchmarks/results/extract_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"
ENTITY_LABELS = ["person", "organization", "location", "date", "product", "event"]
RELATION_LABELS = ["works for", "located in", "founded by", "part of", "born in", "member of"]


def corpus(min_bytes: int) -> list[str]:
    """Real sentences, detokenized by spaces, until ``min_bytes`` of text."""
    from kgbuild.extract.training.data import read_crossre, read_spert

    sentences = []
    for name in ("conll04", "scierc"):
        for split in ("test", "dev", "train"):
            sentences += [
                " ".join(ex.words)
                for ex in read_spert(
                    DATA / name / f"{name}_{split}.json", DATA / name / f"{name}_types.json"
                )
            ]
    for path in sorted((DATA / "crossre" / "crossre_data").glob("*-test.json")):
        sentences += [" ".join(ex.words) for ex in read_crossre(path)]
    out, size = [], 0
    for s in sentences:
        out.append(s)
        size += len(s.encode()) + 1
        if size >= min_bytes:
            break
    return out


def chunks(sentences: list[str], extractor, budget: int) -> list[str]:
    """Group sentences into chunks of at most ``budget`` tokens, as the chunker does."""
    out, current, used = [], [], 0
    for s in sentences:
        n = len(extractor.token_spans(s))
        if current and used + n > budget:
            out.append(" ".join(current))
            current, used = [], 0
        current.append(s)
        used += n
    if current:
        out.append(" ".join(current))
    return out


def bare_encoder_seconds(extractor, texts: list[str]) -> float:
    """Time of the encoder forward alone over the same batches extract() builds."""
    from kgbuild.extract.model.collation import collate
    from kgbuild.extract.model.encoding import split_words

    encoded = [
        extractor.encoder.encode(t, split_words(t), ENTITY_LABELS, RELATION_LABELS) for t in texts
    ]
    batches = [collate([encoded[i] for i in b]) for b in extractor._batches(encoded)]
    extractor.model.materialize_encoder()  # on ONNX Runtime the torch encoder is not loaded
    encoder = extractor.model.encoder
    start = time.perf_counter()
    with torch.inference_mode():
        for batch in batches:
            encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    return time.perf_counter() - start


def run(model: str | None, threads: int, int8: bool, min_bytes: int) -> dict:
    from kgbuild.extract.inference.extractor import JointExtractor

    torch.set_num_threads(threads)
    results = {
        "threads": threads,
        "entity_labels": ENTITY_LABELS,
        "relation_labels": RELATION_LABELS,
    }
    variants = [("fp32", False)] + ([("int8", True)] if int8 else [])
    for name, quantize in variants:
        ex = JointExtractor.from_pretrained(model, int8=quantize)
        budget = ex.max_text_tokens(ENTITY_LABELS, RELATION_LABELS)
        texts = chunks(corpus(min_bytes), ex, budget)
        tokens = sum(len(ex.token_spans(t)) for t in texts)
        ex.extract(texts[:8], ENTITY_LABELS, RELATION_LABELS)  # warm-up
        start = time.perf_counter()
        out = ex.extract(texts, ENTITY_LABELS, RELATION_LABELS)
        extract_s = time.perf_counter() - start
        encoder_s = bare_encoder_seconds(ex, texts)
        results[name] = {
            "bytes": sum(len(t.encode()) for t in texts),
            "chunks": len(texts),
            "text_tokens": tokens,
            "extract_seconds": round(extract_s, 2),
            "encoder_seconds": round(encoder_s, 2),
            "extract_tokens_per_s": round(tokens / extract_s),
            "encoder_tokens_per_s": round(tokens / encoder_s),
            "ratio": round(encoder_s / extract_s, 3),
            "entities": sum(len(o.entities) for o in out),
            "relations": sum(len(o.relations) for o in out),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument(
        "--int8", action="store_true", help="also measure dynamic int8 quantization"
    )
    parser.add_argument(
        "--min-bytes", type=int, default=200_000, help="text to process (default 200 KB)"
    )
    parser.add_argument("--output", default=str(ROOT / "benchmarks/results/extract_speed.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results = run(args.model, args.threads, args.int8, args.min_bytes)
    print(
        f"{'variant':8} {'KB':>6} {'tokens':>8} {'extract tok/s':>14} "
        f"{'encoder tok/s':>14} {'ratio':>6}"
    )
    for name in ("fp32", "int8"):
        if name in results:
            r = results[name]
            print(
                f"{name:8} {r['bytes'] / 1000:6.0f} {r['text_tokens']:8d} "
                f"{r['extract_tokens_per_s']:14d} "
                f"{r['encoder_tokens_per_s']:14d} {r['ratio']:6.2f}"
            )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
