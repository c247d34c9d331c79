"""Strict scores of an extractor checkpoint on every benchmark test split.

    python benchmarks/extractor_quality.py [--model DIR] [--int8] [--update-card]
        [--only conll04-test,scierc-test]

Evaluates with the same code as ``kgbuild eval`` (each type's verbose name as
its label phrase), prints a table beside SpERT's published figures, writes
benchmarks/results/extractor_quality[_<model>].json and, with --update-card,
puts the scores into the model folder's README.md.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"

#: name -> (data file, types file, format, SpERT's NER / RE+ micro F1 where published)
TEST_SETS = {
    "conll04-test": (
        "conll04/conll04_test.json",
        "conll04/conll04_types.json",
        "spert",
        (88.94, 71.47),
    ),
    "scierc-test": ("scierc/scierc_test.json", "scierc/scierc_types.json", "spert", (70.33, 50.84)),
    "crossre-news-test": ("crossre/crossre_data/news-test.json", None, "crossre", None),
    "crossre-ai-test": ("crossre/crossre_data/ai-test.json", None, "crossre", None),
    "crossre-science-test": ("crossre/crossre_data/science-test.json", None, "crossre", None),
    "crossre-music-test": ("crossre/crossre_data/music-test.json", None, "crossre", None),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--int8", action="store_true", help="evaluate the int8-quantized model")
    parser.add_argument(
        "--only", default=None, help="comma-separated subset of: " + ", ".join(TEST_SETS)
    )
    parser.add_argument(
        "--update-card", action="store_true", help="write the scores into the model card"
    )
    parser.add_argument("--output", default=None, help="JSON output path")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from kgbuild.extract import default_model_dir
    from kgbuild.extract.inference.extractor import JointExtractor
    from kgbuild.extract.training.evaluate import evaluate

    torch.set_num_threads(os.cpu_count() or 1)
    model_dir = Path(args.model) if args.model else default_model_dir()
    extractor = JointExtractor.from_pretrained(model_dir, int8=args.int8)
    names = args.only.split(",") if args.only else list(TEST_SETS)
    results = {}
    for name in names:
        path, types, fmt, _ = TEST_SETS[name]
        r = evaluate(
            DATA / path, DATA / types if types else None, data_format=fmt, extractor=extractor
        )
        results[name] = r
        print(
            f"{name}: NER {r['ner_micro_f1']:.2f} RE+ {r['rel_micro_f1']:.2f} ({r['seconds']} s)",
            flush=True,
        )

    print(f"\nmodel: {extractor.model_id} ({model_dir})")
    print(
        f"{'data':22} {'NER micro':>9} {'NER macro':>9} {'RE+ micro':>9} {'RE+ macro':>9}"
        "  SpERT NER/RE+"
    )
    for name, r in results.items():
        ref = TEST_SETS[name][3]
        ref_s = f"{ref[0]} / {ref[1]}" if ref else "-"
        print(
            f"{name:22} {r['ner_micro_f1']:9.2f} {r['ner_macro_f1']:9.2f} {r['rel_micro_f1']:9.2f} "
            f"{r['rel_macro_f1']:9.2f}  {ref_s}"
        )
    suffix = f"_{model_dir.name}" + ("_int8" if args.int8 else "")
    out = Path(args.output or ROOT / f"benchmarks/results/extractor_quality{suffix}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")

    if args.update_card:
        from kgbuild.extract.training.model_card import write_model_card

        summary = json.loads((model_dir / "training.json").read_text())
        scores_path = model_dir / "scores.json"
        scores = json.loads(scores_path.read_text()) if scores_path.is_file() else {}
        key = "int8" if args.int8 else "fp32"
        scores[key] = {
            name: {
                k: r[k] for k in ("ner_micro_f1", "ner_macro_f1", "rel_micro_f1", "rel_macro_f1")
            }
            for name, r in results.items()
        }
        scores_path.write_text(json.dumps(scores, indent=2) + "\n")
        write_model_card(model_dir, summary, scores)
        print(f"updated {model_dir / 'README.md'}")


if __name__ == "__main__":
    main()
