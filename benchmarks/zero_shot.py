"""Zero-shot quality: entity and relation types the model never trained on.

    python benchmarks/zero_shot.py [--model DIR] [--config configs/extractor-zeroshot.json]
        [--only scierc,re3d,webnlg-unseen,conll04] [--update-card]

* ``scierc``: SciERC test with its verbose type names (leave-one-dataset-out: the
  model in ``runs/extractor-zeroshot`` never saw SciERC, nor its names as distractors).
* ``re3d``: re3d's held-out test sources (BBC Online, Wikipedia), document windows.
* ``webnlg-unseen``: WebNLG test texts carrying one of the config's
  ``benchmark_relations`` (30 predicates drawn by scripts/draw_heldout_relations.py and
  held out of training), with only those 30 names as relation labels, "entity" as the
  one entity label and only their triplets as gold. RE+ micro F1 here is triplet F1: head
  span, tail span and relation name must match (RelationPrompt's measure; it reports
  24.61 on FewRel and 31.19 on Wiki-ZSL with 15 unseen relations).
* ``conll04``: CoNLL04 test (seen labels), for reference.
* ``conll04-lower``, ``scierc-lower``: the same texts written all in lower case, as
  search queries and chat are (and the everyday-domain NER benchmarks): how much of the
  model's entity finding rests on capitals.
* ``multiconer-dev``: MultiCoNER II English dev (lower-cased text, its 28 fine types as
  phrases): unseen types for a model not trained on MultiCoNER, in-domain for one that was.
Each set is also scored with relation type constraints where they are known
(CoNLL04: the types its guidelines give; SciERC and re3d: the head/tail type pairs
of each relation in its training split, as a user who knows their schema would write).
Prints a table and writes benchmarks/results/zero_shot[_<model>].json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"
RE3D_TEST_SOURCES = ["BBC Online", "Wikipedia"]

#: What CoNLL04's relations connect (its annotation guidelines).
CONLL04_CONSTRAINTS = {
    "work for": {"head": ["people"], "tail": ["organization"]},
    "kill": {"head": ["people"], "tail": ["people"]},
    "organization based in": {"head": ["organization"], "tail": ["location"]},
    "live in": {"head": ["people"], "tail": ["location"]},
    "located in": {"head": ["location"], "tail": ["location"]},
}

#: Published zero-shot triplet F1 of RelationPrompt (Chia et al., 2022), 15 unseen labels.
RELATION_PROMPT = {"FewRel": 24.61, "Wiki-ZSL": 31.19}


def constraints_from(examples) -> dict:
    """Head and tail types seen with each relation in training data."""
    heads, tails = defaultdict(set), defaultdict(set)
    for ex in examples:
        for h, t, r in ex.relations:
            heads[r].add(ex.entities[h][2])
            tails[r].add(ex.entities[t][2])
            if r in ex.symmetric:
                heads[r].add(ex.entities[t][2])
                tails[r].add(ex.entities[h][2])
    return {r: {"head": sorted(heads[r]), "tail": sorted(tails[r])} for r in heads}


def load_sets(config) -> dict:
    """name -> (examples, constraints or None)."""
    from kgbuild.extract.training.data import read_re3d, read_spert, read_webnlg

    sets = {}
    sets["scierc"] = (
        read_spert(DATA / "scierc/scierc_test.json", DATA / "scierc/scierc_types.json"),
        constraints_from(
            read_spert(DATA / "scierc/scierc_train.json", DATA / "scierc/scierc_types.json")
        ),
    )
    train_sources = [
        p.name for p in (DATA / "re3d").iterdir()
        if (p / "documents.json").is_file() and p.name not in RE3D_TEST_SOURCES
    ]  # fmt: skip
    sets["re3d"] = (
        read_re3d(DATA / "re3d", RE3D_TEST_SOURCES),
        constraints_from(read_re3d(DATA / "re3d", train_sources)),
    )
    unseen = list(config.benchmark_relations)
    webnlg = read_webnlg(DATA / "webnlg/en/test", only_predicates=set(unseen))
    for ex in webnlg:
        ex.relation_labels = sorted(unseen)  # every text is asked for all 30 names
    sets["webnlg-unseen"] = (webnlg, None)
    sets["conll04"] = (
        read_spert(DATA / "conll04/conll04_test.json", DATA / "conll04/conll04_types.json"),
        CONLL04_CONSTRAINTS,
    )
    for name in ("conll04", "scierc"):
        examples, constraints = sets[name]
        sets[f"{name}-lower"] = ([lower_cased(ex) for ex in examples], constraints)
    from kgbuild.extract.training.diversity_data import read_multiconer

    multiconer = read_multiconer(DATA / "multiconer2-en/en-dev.conll", parent_types=False)
    sets["multiconer-dev"] = (multiconer, None)
    return sets


def lower_cased(example):
    """A copy of ``example`` with every word in lower case (same spans and labels)."""
    return dataclasses.replace(example, words=[w.lower() for w in example.words])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument(
        "--config",
        default=str(ROOT / "configs/extractor-zeroshot.json"),
        help="training config whose benchmark_relations are the unseen WebNLG predicates",
    )
    parser.add_argument("--only", default=None, help="comma-separated subset of the sets")
    parser.add_argument("--limit", type=int, default=None, help="first N examples of each set")
    parser.add_argument("--no-constraints", action="store_true", help="skip constrained runs")
    parser.add_argument("--output", default=None, help="JSON output path")
    parser.add_argument(
        "--update-card", action="store_true", help="write the table into the model card"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from kgbuild.extract import default_model_dir
    from kgbuild.extract.inference.extractor import JointExtractor
    from kgbuild.extract.training.config import TrainConfig
    from kgbuild.extract.training.evaluate import predict_examples, score_predictions
    from kgbuild.schema import RelationConstraint

    torch.set_num_threads(os.cpu_count() or 1)
    config = TrainConfig.model_validate_json(Path(args.config).read_text())
    model_dir = Path(args.model) if args.model else default_model_dir()
    extractor = JointExtractor.from_pretrained(model_dir)
    sets = load_sets(config)
    names = args.only.split(",") if args.only else list(sets)
    keys = ("ner_micro_f1", "ner_macro_f1", "rel_micro_f1", "rel_macro_f1")
    results: dict = {}
    for name in names:
        examples, constraints = sets[name]
        examples = examples[: args.limit]
        variants = {"": None}
        if constraints and not args.no_constraints:
            variants["+constraints"] = {
                k: RelationConstraint.model_validate(v) for k, v in constraints.items()
            }
        for suffix, rules in variants.items():
            kw = {"relation_constraints": rules} if rules else {}
            preds = predict_examples(extractor, examples, **kw)
            s = score_predictions(examples, preds)
            results[name + suffix] = {k: s[k] for k in keys} | {
                "examples": len(examples),
                "reversed_relations": s["reversed_relations"],
                "predicted_relations": s["predicted_relations"],
            }
            print(f"{name + suffix}: NER {s['ner_micro_f1']:.2f} RE+ {s['rel_micro_f1']:.2f}",
                  flush=True)  # fmt: skip

    print(f"\nmodel: {extractor.model_id} ({model_dir})")
    print(
        f"{'data':26} {'NER micro':>9} {'NER macro':>9} {'RE+ micro':>9} {'RE+ macro':>9} "
        f"{'reversed':>13}"
    )
    for name, r in results.items():
        print(
            f"{name:26} {r['ner_micro_f1']:9.2f} {r['ner_macro_f1']:9.2f} "
            f"{r['rel_micro_f1']:9.2f} {r['rel_macro_f1']:9.2f} "
            f"{r['reversed_relations']:6} of {r['predicted_relations']:<5}"
        )
    print(
        "RelationPrompt, published zero-shot triplet F1 (15 unseen): "
        + ", ".join(f"{k} {v}" for k, v in RELATION_PROMPT.items())
    )
    out = Path(args.output or ROOT / f"benchmarks/results/zero_shot_{model_dir.name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": extractor.model_id,
        "model_dir": str(model_dir),
        "benchmark_relations": config.benchmark_relations,
        "results": results,
        "relation_prompt_published": RELATION_PROMPT,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")
    if args.update_card:
        scores_path = model_dir / "scores.json"
        scores = json.loads(scores_path.read_text()) if scores_path.is_file() else {}
        scores["zero-shot"] = results
        scores_path.write_text(json.dumps(scores, indent=2) + "\n")
        from kgbuild.extract.training.model_card import write_model_card

        summary = json.loads((model_dir / "training.json").read_text())
        write_model_card(model_dir, summary, scores)
        print(f"updated {model_dir / 'README.md'}")


if __name__ == "__main__":
    main()
