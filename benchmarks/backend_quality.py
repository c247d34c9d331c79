"""Extraction quality per inference backend: CoNLL04 test F1 on torch and ONNX Runtime.

The ONNX Runtime graph (kgbuild/extract/inference/onnx_backend.py) must score like torch (entity
and relation F1 within 0.3); int8 (per-channel, opt-in) is shown beside it. This
evaluates the shipped checkpoint (or ``--model``) on CoNLL04 test with each backend,
fp32 and dynamic int8, in one run.

    python benchmarks/backend_quality.py [--model DIR] [--limit N]

Prints a table and writes benchmarks/results/backend_quality.json. The seconds column
only means something on an idle machine (the extraction speed benchmarks measure speed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "backend_quality.json"
DATA = ROOT.parent / "shared" / "datasets" / "conll04"
sys.path.insert(0, str(ROOT))

VARIANTS = [
    ("torch", {"backend": "torch", "int8": False}),
    ("onnx (default)", {"backend": "onnx", "int8": False}),
    ("onnx int8", {"backend": "onnx", "int8": True}),
    ("torch int8", {"backend": "torch", "int8": True}),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="Extractor checkpoint folder.")
    parser.add_argument("--data", default=str(DATA / "conll04_test.json"), help="SpERT file.")
    parser.add_argument("--types", default=str(DATA / "conll04_types.json"), help="Types file.")
    parser.add_argument("--limit", type=int, default=None, help="First N examples only.")
    parser.add_argument("--output", default=str(RESULTS), help="Where to write the JSON.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    from kgbuild.extract.inference.extractor import JointExtractor
    from kgbuild.extract.training.evaluate import evaluate

    rows = []
    for name, kwargs in VARIANTS:
        extractor = JointExtractor.from_pretrained(args.model, **kwargs)
        scores = evaluate(args.data, args.types, extractor=extractor, limit=args.limit)
        row = {"variant": name, "model": extractor.model_id, "backend": extractor.backend}
        row.update({k: scores[k] for k in ("ner_micro_f1", "rel_micro_f1", "seconds")})
        rows.append(row)
        print(f"{name}: NER {row['ner_micro_f1']:.2f}, RE {row['rel_micro_f1']:.2f}", flush=True)
    base = rows[0]
    lines = [
        f"CoNLL04 test ({Path(args.data).name}), {rows[0]['model']}",
        "",
        "| variant | NER F1 | RE F1 | NER vs torch | RE vs torch | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        r["ner_delta"] = round(r["ner_micro_f1"] - base["ner_micro_f1"], 2)
        r["rel_delta"] = round(r["rel_micro_f1"] - base["rel_micro_f1"], 2)
        lines.append(
            f"| {r['variant']} | {r['ner_micro_f1']:.2f} | {r['rel_micro_f1']:.2f} | "
            f"{r['ner_delta']:+.2f} | {r['rel_delta']:+.2f} | {r['seconds']:.1f} |"
        )
    report = "\n".join(lines)
    print()
    print(report)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps({"benchmark": "backend_quality", "runs": rows, "table": report}, indent=2)
    )
    print(f"\nwrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
