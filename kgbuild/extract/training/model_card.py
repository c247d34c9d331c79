"""The README.md of a trained model folder: what it is, how it was trained, its scores."""

from __future__ import annotations

import json
from pathlib import Path


def write_model_card(directory: Path, summary: dict, scores: dict | None = None) -> None:
    """README.md of a model folder: what it is, how it was trained, what it scores."""
    cfg = summary["config"]
    history = summary["history"]
    # the one_way stage logs distillation where the joint stage logs entities
    first_part, second_part = (
        ("distillation", "gold")
        if history and "distillation_loss" in history[0]
        else ("entity", "relation")
    )
    lines = [
        f"# {cfg['name']}",
        "",
        "A GLiNER-Relex-style joint entity and relation extractor trained by `kgbuild train`.",
        f"Base encoder: `{cfg['encoder']}` (word embeddings frozen and loaded from it; this folder",
        "holds the rest of the weights in fp16). Labels are read as text, so entity and relation",
        "types are chosen at call time.",
        "",
        "## Training",
        f"- training time: {summary['train_seconds'] / 60:.1f} min on this machine",
        f"- thresholds picked on dev: entity {summary['entity_threshold']}, "
        f"relation {summary['relation_threshold']}",
        "",
        f"| epoch | loss | {first_part} loss | {second_part} loss | seconds | dev |",
        "|---|---|---|---|---|---|",
    ]
    for h in summary["history"]:
        lines.append(
            f"| {h['epoch']} | {h['loss']} | {h[f'{first_part}_loss']} | "
            f"{h[f'{second_part}_loss']} | "
            f"{h['seconds']} | {json.dumps(h.get('dev', {}))} |"
        )
    for variant, table in (scores or {}).items():
        lines += [
            "",
            f"## Scores: {variant} (strict, `kgbuild eval`)",
            "",
            "| data | NER micro | NER macro | RE+ micro | RE+ macro |",
            "|---|---|---|---|---|",
        ]
        for name, sc in table.items():
            lines.append(
                f"| {name} | {sc['ner_micro_f1']} | {sc['ner_macro_f1']} | "
                f"{sc['rel_micro_f1']} | {sc['rel_macro_f1']} |"
            )
    train = (summary.get("train_config") or {}).get("train")
    if train:
        from kgbuild.extract.training.licences import licence_table

        lines += ["", "## Training data of the last stage, and licences", "", *licence_table(train)]
    notes = directory / "NOTES.md"
    if notes.is_file():
        lines += ["", notes.read_text().strip()]
    (directory / "README.md").write_text("\n".join(lines) + "\n")
