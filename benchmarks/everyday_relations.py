"""Relations a user names in plain words, on everyday sentences: does the graph get edges?

    python benchmarks/everyday_relations.py [--model DIR] [--relation-labels hybrid|prompt]
        [--output F]

benchmarks/data/everyday_relations.jsonl holds 20 sentences from 20 domains (business,
cooking, sports, music, film, software, law, energy, ...), each with the entity and
relation types a user would write for it and the gold entities and (head, relation,
tail) triples, written by the kgbuild developers for this benchmark (none of it is
training data). Scored as a user sees it: an entity is right when its text and type
match, a relation when head text, relation name and tail text match; a relation that is
right but for its direction is counted as reversed. Besides the checkpoint's own
thresholds, relation F1 is listed over a range of relation thresholds, which shows how
well the model's scores for names it never saw are calibrated. Prints a table and writes
JSON (default benchmarks/results/everyday_relations[_<model>].json).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks/data/everyday_relations.jsonl"
SYMMETRIC = {"spouse of", "connects"}


def f1(tp: int, pred: int, gold: int) -> dict:
    p = tp / pred if pred else 0.0
    r = tp / gold if gold else 0.0
    return {"p": round(100 * p, 2), "r": round(100 * r, 2),
            "f1": round(200 * p * r / (p + r), 2) if p + r else 0.0}  # fmt: skip


def score(items: list[dict], outputs: list) -> dict:
    """Entity and relation P/R/F1 of ``outputs`` (:class:`kgbuild.TextExtraction` per item)."""
    counts = {"ent": [0, 0, 0], "rel": [0, 0, 0]}
    reversed_count = 0
    for item, out in zip(items, outputs, strict=True):
        gold_e = {(t, label) for t, label in item["entities"]}
        pred_e = {(e.text, e.label) for e in out.entities}
        gold_r = {tuple(r) for r in item["relations"]}
        pred_r = set()
        for h, rel, t in out.triplets():
            key = (h, rel, t)
            if rel in SYMMETRIC and (t, rel, h) in gold_r:
                key = (t, rel, h)
            pred_r.add(key)
        reversed_count += sum((t, r, h) in gold_r for h, r, t in pred_r - gold_r)
        for name, gold, pred in (("ent", gold_e, pred_e), ("rel", gold_r, pred_r)):
            counts[name][0] += len(gold & pred)
            counts[name][1] += len(pred)
            counts[name][2] += len(gold)
    return {
        "entities": f1(*counts["ent"]),
        "relations": f1(*counts["rel"]),
        "reversed": reversed_count,
        "predicted_relations": counts["rel"][1],
        "gold_relations": counts["rel"][2],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=None, help="checkpoint folder (default: shipped)")
    parser.add_argument("--relation-labels", default=None, help="layout: hybrid or prompt")
    parser.add_argument("--output", default=None, help="JSON output path")
    parser.add_argument(
        "--data",
        default=str(DATA),
        help="sentences (default: the benchmark set; the dev set "
        "is benchmarks/data/everyday_relations_dev.jsonl)",
    )
    args = parser.parse_args()

    import kgbuild
    from kgbuild.extract import ExtractorOptions, default_model_dir
    from kgbuild.pipeline.extractor_source import load_pipeline_extractor

    model_dir = Path(args.model) if args.model else default_model_dir()
    options = ExtractorOptions(model=str(model_dir), relation_labels=args.relation_labels)
    extractor = load_pipeline_extractor(options)
    data = Path(args.data)
    items = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]

    def run(relation_threshold: float | None) -> dict:
        outputs = [
            kgbuild.extract_text(
                item["text"],
                item["entity_types"],
                item["relation_types"],
                relation_threshold=relation_threshold,
                extractor=extractor,
            )  # fmt: skip
            for item in items
        ]
        return score(items, outputs)

    default = run(None)
    sweep = {str(t): run(t)["relations"] for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)}
    print(f"model: {extractor.model_id} ({model_dir}), {len(items)} sentences")
    e, r = default["entities"], default["relations"]
    print(f"entities  P {e['p']:6.2f} R {e['r']:6.2f} F1 {e['f1']:6.2f}")
    print(f"relations P {r['p']:6.2f} R {r['r']:6.2f} F1 {r['f1']:6.2f}  "
          f"({default['predicted_relations']} predicted, {default['gold_relations']} gold, "
          f"{default['reversed']} reversed)")  # fmt: skip
    print("relation F1 by relation threshold: "
          + ", ".join(f"{t}: {v['f1']:.1f}" for t, v in sweep.items()))  # fmt: skip
    out = Path(args.output or ROOT / f"benchmarks/results/everyday_relations_{model_dir.name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"model": extractor.model_id, "default": default, "relation_threshold_sweep": sweep}
    out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
