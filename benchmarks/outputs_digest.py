"""Digest of the extractor's outputs: the guard of refactorings that must not change them.

Runs the shipped extractor (default options) on CoNLL04 test, WebNLG's 30 unseen
predicates, Re-DocRED dev documents 400-499 (96 relation names) and, forced to the
``prompt`` layout, on WebNLG unseen again; then ingests examples/docs into a NetworkX
file. Writes every prediction (entities and relations with their scores rounded to 4
digits, as the pipeline stores them) and the graph file's SHA-256, with the scores of
each set, so two commits compare with ``diff``.

    python benchmarks/outputs_digest.py --output /tmp/before.json [--limit N]

Prints one line per set (NER / RE+ micro F1 and the predictions' SHA-256).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"
sys.path.insert(0, str(ROOT / "benchmarks"))


def _import(*names: str):
    """The first module of ``names`` that imports (the package moved during the split)."""
    import importlib

    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError(names)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True, help="Where to write the digest JSON.")
    parser.add_argument("--limit", type=int, default=None, help="First N examples per set.")
    parser.add_argument("--skip-ingest", action="store_true", help="No examples/docs ingest.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from zero_shot import load_sets

    evaluate = _import("kgbuild.extract.training.evaluate", "kgbuild.extract.training.evaluate")
    train = _import("kgbuild.extract.training.config", "kgbuild.extract.train")
    from kgbuild.extract import load_extractor

    config = train.TrainConfig.model_validate_json((ROOT / "configs/extractor.json").read_text())
    zero_shot = load_sets(config)
    datasets = _import("kgbuild.extract.training.datasets", "kgbuild.extract.training.data")
    redocred = datasets.read_dataset(
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
        "re-docred-400": redocred,
    }
    default = load_extractor()
    try:
        prompt = load_extractor(relation_labels="prompt")
    except TypeError:  # before the extractor options object (kgbuild <= abf1e2a)
        prompt = load_extractor(relation_label_mode="prompt")
    runs = [(name, default, examples) for name, examples in sets.items()]
    runs.append(("webnlg-unseen/prompt", prompt, sets["webnlg-unseen"]))
    out: dict[str, dict] = {"model_id": default.model_id, "sets": {}}
    for name, extractor, examples in runs:
        examples = examples[: args.limit]
        predictions = evaluate.predict_examples(extractor, examples)
        scores = evaluate.score_predictions(examples, predictions)
        dump = json.dumps(_plain(predictions), sort_keys=True)
        digest = hashlib.sha256(dump.encode()).hexdigest()
        out["sets"][name] = {
            "examples": len(examples),
            "ner_micro_f1": scores["ner_micro_f1"],
            "rel_micro_f1": scores["rel_micro_f1"],
            "rel_macro_f1": scores["rel_macro_f1"],
            "sha256": digest,
            "predictions": json.loads(dump),
        }
        print(
            f"{name}: NER {scores['ner_micro_f1']:.2f} RE+ {scores['rel_micro_f1']:.2f} "
            f"(macro {scores['rel_macro_f1']:.2f}) sha256 {digest[:16]}",
            flush=True,
        )
    if not args.skip_ingest:
        with tempfile.TemporaryDirectory() as tmp:
            store = Path(tmp) / "graph.json"
            subprocess.run(
                [sys.executable, "-m", "kgbuild.cli.main", "ingest", str(ROOT / "examples/docs"),
                 "--store", str(store)],
                check=True, cwd=tmp, capture_output=True,
            )  # fmt: skip
            graph = json.loads(store.read_text())
            # the run's own time stamps differ from run to run: everything else must not
            text = json.dumps(_without_times(graph), sort_keys=True)
            out["ingest_examples_docs"] = {
                "nodes": len(graph["nodes"]),
                "sha256": hashlib.sha256(text.encode()).hexdigest(),
            }
            print(f"ingest examples/docs: sha256 {out['ingest_examples_docs']['sha256'][:16]}")
    Path(args.output).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.output}")
    return 0


def _plain(predictions) -> list:
    """Predictions as JSON-able lists, scores rounded as the pipeline stores them."""

    def conv(x):
        if hasattr(x, "__dataclass_fields__"):
            return {k: conv(getattr(x, k)) for k in x.__dataclass_fields__}
        if hasattr(x, "model_dump"):
            return conv(x.model_dump())
        if isinstance(x, dict):
            return {str(k): conv(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [conv(v) for v in x]
        if isinstance(x, float):
            return round(x, 4)
        return x

    return conv(predictions)


TIME_KEYS = ("ingested_at", "updated_at", "created_at", "extracted_at", "seen_at", "last_seen")


def _without_times(x):
    if isinstance(x, dict):
        return {
            k: _without_times(v)
            for k, v in x.items()
            if not k.endswith("_at") and k not in TIME_KEYS
        }
    if isinstance(x, list):
        return [_without_times(v) for v in x]
    return x


if __name__ == "__main__":
    sys.exit(main())
