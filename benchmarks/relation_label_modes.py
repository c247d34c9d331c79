"""Quality and speed of the ways relation labels reach the model.

* ``prompt`` (GLiNER-Relex's joint layout): relation labels are read with each text, in
  several passes when they do not fit one window beside it.
* ``hybrid``: the joint layout's first pass (the entity labels and the first group of
  relation labels in the prompt), with the other relation labels appended after the
  text and read one way, in that same pass.
* ``oneway``: each text is read once with its entity labels, the relation labels
  appended after it; they read the text at every layer, the text does not read them.
* ``separate``: relation labels are embedded once per schema in passes of their own
  (the shipped checkpoint's relation-label adapter, LoRA update and label-to-text
  attention, trained by ``configs/extractor-relation-labels-context.json``).

``auto`` (the default) is hybrid where the joint layout needs several passes, else
prompt. Every mode is forced on every set:

* ``conll04``: CoNLL04 test (4 entity, 5 relation labels: one pass either way): what
  the layouts cost on labels the model trained on.
* ``webnlg-unseen``, ``re3d``: the zero-shot sets of ``benchmarks/zero_shot.py`` (30
  relation names never trained on, two joint passes; re3d's held-out sources).
* ``re-docred``: 100 Re-DocRED documents (``dev_revised.json`` 400-499; training used
  the first 400) with all 96 relation names (four joint passes); ``re-docred-440``: its
  last 60 (440-499), since the ``one_way`` stage picked its threshold on 400-439.

Extraction speed is in words per second.

    python benchmarks/relation_label_modes.py [--model DIR] [--limit N] [--only SETS]
                                              [--modes prompt,hybrid,oneway,separate]

Prints a table and writes benchmarks/results/relation_label_modes.json. Speeds only
mean something on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "benchmarks" / "results" / "relation_label_modes.json"
sys.path.insert(0, str(ROOT / "benchmarks"))

KEYS = ("ner_micro_f1", "rel_micro_f1", "rel_macro_f1")


def load_sets(limit: int | None) -> dict[str, list]:
    """Each set's examples."""
    from zero_shot import load_sets as zero_shot_sets

    from kgbuild.extract.training.config import TrainConfig
    from kgbuild.extract.training.datasets import read_dataset

    config = TrainConfig.model_validate_json((ROOT / "configs/extractor.json").read_text())
    zero_shot = zero_shot_sets(config)
    redocred = read_dataset(
        {
            "format": "docred",
            "path": "re-docred/dev_revised.json",
            "rel_info": "re-docred/rel_info.json",
            "skip": 400,
            "limit": 100,
        },
        DATA,
    )
    sets = {
        "conll04": zero_shot["conll04"][0],
        "webnlg-unseen": zero_shot["webnlg-unseen"][0],
        "re3d": zero_shot["re3d"][0],
        "re-docred": redocred,
        "re-docred-440": redocred[40:],
    }
    return {name: examples[:limit] for name, examples in sets.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="Extractor checkpoint folder.")
    parser.add_argument("--limit", type=int, default=None, help="First N examples per set.")
    parser.add_argument("--only", default=None, help="Comma-separated subset of the sets.")
    parser.add_argument(
        "--modes", default="prompt,hybrid", help="Comma-separated modes to compare."
    )
    parser.add_argument("--output", default=str(RESULTS), help="Where to write the JSON.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    import torch

    from kgbuild.extract.inference.extractor import JointExtractor
    from kgbuild.extract.training.evaluate import predict_examples, score_predictions

    torch.set_num_threads(os.cpu_count() or 1)
    modes = args.modes.split(",")
    extractors = {
        mode: JointExtractor.from_pretrained(args.model, relation_labels=mode) for mode in modes
    }
    for extractor in extractors.values():  # exports and session start-up out of the timing
        extractor.extract(["Warm up: Anna Weber works for Northwind Inc."], ["person"], ["x"])
    sets = load_sets(args.limit)
    names = args.only.split(",") if args.only else list(sets)
    rows = []
    for name in names:
        examples = sets[name]
        words = sum(len(ex.words) for ex in examples)
        for mode in modes:
            extractor = extractors[mode]
            ex0 = examples[0]
            passes = len(extractor.label_passes(ex0.entity_labels, ex0.relation_labels))
            t0 = time.perf_counter()
            predictions = predict_examples(extractor, examples)
            seconds = time.perf_counter() - t0
            scores = score_predictions(examples, predictions)
            rows.append(
                {
                    "set": name,
                    "mode": mode,
                    "examples": len(examples),
                    "relation_labels": len(ex0.relation_labels),
                    "text_passes": passes,
                    "seconds": round(seconds, 2),
                    "words_per_second": round(words / seconds, 1),
                    **{k: scores[k] for k in KEYS},
                }
            )
            print(
                f"{name} {mode}: NER {scores['ner_micro_f1']:.2f} RE+ {scores['rel_micro_f1']:.2f}"
                f" {words / seconds:,.0f} words/s",
                flush=True,
            )
    lines = [
        f"extractor: {extractors[modes[0]].model_id} on {extractors[modes[0]].backend}",
        "",
        "| set | mode | relation labels | text passes | NER micro | RE+ micro | RE+ macro "
        "| words/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['set']} | {r['mode']} | {r['relation_labels']} | {r['text_passes']} "
            f"| {r['ner_micro_f1']:.2f} | {r['rel_micro_f1']:.2f} | {r['rel_macro_f1']:.2f} "
            f"| {r['words_per_second']:,.0f} |"
        )
    table = "\n".join(lines)
    print("\n" + table)
    out = {"benchmark": "relation_label_modes", "rows": rows, "table": table}
    Path(args.output).write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
