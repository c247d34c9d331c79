"""Where the one-way layout loses relation F1: the text's states or the label vectors?

On the gold entities of WebNLG's 30 unseen relations (``benchmarks/zero_shot.py``'s
``webnlg-unseen``), every ordered pair of a text's entities is scored against every
relation name, in the joint layout's groups, four ways:

* ``joint``: text states and label vectors from the joint layout (each group of relation
  names read with the text, as ``prompt`` does);
* ``text apart + joint vectors``: the text read without relation labels (as ``oneway``
  and ``separate`` read it), scored with the joint layout's label vectors;
* ``one way``: the text read without relation labels, with the label vectors of the
  ``oneway`` layout (what ``--relation-labels oneway`` scores);
* ``joint text + one-way vectors``: the other mix.

Each gets strict relation F1 at each threshold (a triple counts when its head, tail and
relation match the gold), and the best over thresholds, so calibration does not hide the
comparison; plus how close the one-way label vectors are to the joint ones (mean cosine
and squared error relative to the joint vectors' squared norm). Then, end to end (the
extractor finds the entities, ``prompt`` against ``oneway``): entities found, and how
many gold triples have both their spans among them, which bounds relation recall.

    python benchmarks/relation_label_vectors.py [--model DIR] [--limit N]

Prints a table and writes benchmarks/results/relation_label_vectors.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "relation_label_vectors.json"
sys.path.insert(0, str(ROOT / "benchmarks"))

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
WAYS = {
    "joint": "joint",
    "apart_text_joint_vectors": "text apart + joint vectors",
    "one_way": "one way",
    "joint_text_one_way_vectors": "joint text + one-way vectors",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="Extractor checkpoint folder.")
    parser.add_argument("--limit", type=int, default=None, help="First N texts.")
    parser.add_argument("--threads", type=int, default=2, help="Torch threads.")
    parser.add_argument("--output", default=str(RESULTS), help="Where to write the JSON.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch
    from relation_label_gap import gold_pair_logits
    from zero_shot import load_sets

    from kgbuild.extract.encoding import join_words
    from kgbuild.extract.extractor import JointExtractor
    from kgbuild.extract.model import collate, collate_one_way
    from kgbuild.extract.train import TrainConfig

    torch.set_num_threads(args.threads)
    config = TrainConfig.model_validate_json((ROOT / "configs/extractor.json").read_text())
    examples = load_sets(config)["webnlg-unseen"][0][: args.limit]
    extractor = JointExtractor.from_pretrained(
        args.model, backend="torch", relation_label_mode="prompt"
    )
    model, encoder, width = extractor.model, extractor.encoder, extractor.config.max_width
    names = examples[0].relation_labels
    entity_labels = examples[0].entity_labels
    groups = [rel for _, rel in extractor.label_passes(entity_labels, names)]
    order = [name for group in groups for name in group]
    block = extractor.relation_label_block(entity_labels, names)
    proj = model.relation_label_proj

    def pair_scores(hidden, spans, enc, mentions, vectors):
        m = len(mentions)
        pairs = torch.tensor([[i, j] for i in range(m) for j in range(m) if i != j])
        return pairs, gold_pair_logits(model, width, hidden, spans, enc, mentions, pairs, vectors)

    scores: dict[str, list[torch.Tensor]] = {k: [] for k in WAYS}
    gold_flags: list[torch.Tensor] = []
    cosines: list[torch.Tensor] = []
    errors: list[torch.Tensor] = []
    texts = 0
    with torch.no_grad():
        for ex in examples:
            mentions = [e[:2] for e in ex.entities]
            if len(mentions) < 2 or any(e - s > width for s, e in mentions):
                continue
            texts += 1
            text, spans = join_words(ex.words)
            apart_enc = encoder.encode(text, spans, entity_labels, [])
            apart = collate([apart_enc])
            with model.separate_encoding():
                apart_hidden = model.encode(apart)
            apart_spans = model.span_embeddings(apart_hidden, apart)[0]
            batch = collate_one_way([apart_enc], block)
            with model.separate_encoding():
                text_hidden, label_hidden = model.encode_one_way(batch)
            one_way_vectors = model.label_embeddings(label_hidden, batch["relation_markers"], proj)[
                0
            ]
            one_way_spans = model.span_embeddings(text_hidden, batch)[0]
            parts: dict[str, list[torch.Tensor]] = {k: [] for k in WAYS}
            start = 0
            for group in groups:
                joint_enc = encoder.encode(text, spans, entity_labels, group)
                joint = collate([joint_enc])
                joint_hidden = model.encode(joint)
                joint_vectors = model.label_embeddings(
                    joint_hidden, joint["relation_markers"], proj
                )[0]
                joint_spans = model.span_embeddings(joint_hidden, joint)[0]
                mine = one_way_vectors[start : start + len(group)]
                start += len(group)
                pairs, logits = pair_scores(
                    joint_hidden, joint_spans, joint_enc, mentions, joint_vectors
                )
                parts["joint"].append(logits)
                parts["apart_text_joint_vectors"].append(
                    pair_scores(apart_hidden, apart_spans, apart_enc, mentions, joint_vectors)[1]
                )
                parts["one_way"].append(
                    pair_scores(text_hidden, one_way_spans, apart_enc, mentions, mine)[1]
                )
                parts["joint_text_one_way_vectors"].append(
                    pair_scores(joint_hidden, joint_spans, joint_enc, mentions, mine)[1]
                )
                cosines.append(torch.nn.functional.cosine_similarity(mine, joint_vectors, -1))
                errors.append((mine - joint_vectors).pow(2).sum(-1) / joint_vectors.pow(2).sum(-1))
            for way, logits in parts.items():
                scores[way].append(torch.cat(logits, 1).sigmoid().flatten())
            gold = set(ex.relations)
            flags = torch.tensor(
                [[(i, j, name) in gold for name in order] for i, j in pairs.tolist()]
            )
            gold_flags.append(flags.flatten())

    truth = torch.cat(gold_flags)
    n_gold = int(truth.sum())
    rows = {}
    for way in WAYS:
        probs = torch.cat(scores[way])
        f1 = {}
        for threshold in THRESHOLDS:
            predicted = probs >= threshold
            tp = int((predicted & truth).sum())
            f1[str(threshold)] = round(200 * tp / (int(predicted.sum()) + n_gold), 2)
        rows[way] = {"f1_by_threshold": f1, "best_f1": max(f1.values())}
    cosine = torch.cat(cosines).mean().item()
    error = torch.cat(errors).mean().item()

    header = "| scored with | " + " | ".join(f"F1 @{t}" for t in THRESHOLDS) + " | best |"
    lines = [
        f"extractor: {extractor.model_id}; WebNLG unseen relations, {texts} texts, "
        f"{n_gold} gold triples, {len(names)} relation names in {len(groups)} groups; "
        f"one-way label vectors: cosine {cosine:.4f}, relative squared error {error:.4f} "
        "to the joint ones",
        "",
        header,
        "|---|" + "---|" * (len(THRESHOLDS) + 1),
    ]
    for way, label in WAYS.items():
        f1 = rows[way]["f1_by_threshold"]
        cells = " | ".join(f"{f1[str(t)]:.1f}" for t in THRESHOLDS)
        lines.append(f"| {label} | {cells} | {rows[way]['best_f1']:.1f} |")
    coverage = entity_coverage(args.model, examples)
    lines += [
        "",
        "| end to end | entities found | gold triples with both spans found |",
        "|---|---|---|",
    ]
    for mode, row in coverage.items():
        lines.append(
            f"| {mode} | {row['entities']:,} | {row['covered']} of {row['gold_triples']} |"
        )
    table = "\n".join(lines)
    print(table)
    out = {
        "benchmark": "relation_label_vectors",
        "model": extractor.model_id,
        "texts": texts,
        "gold_triples": n_gold,
        "relation_names": len(names),
        "groups": [len(g) for g in groups],
        "vector_cosine": round(cosine, 4),
        "vector_relative_error": round(error, 4),
        "ways": rows,
        "end_to_end": coverage,
        "table": table,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1) + "\n")
    print(f"\nwrote {args.output}")


def entity_coverage(model: str | None, examples: list) -> dict[str, dict[str, int]]:
    """Per layout (``prompt``, ``oneway``), run end to end: the entities found and the
    gold triples whose head and tail spans are both among them."""
    from kgbuild.extract.evaluate import predict_examples
    from kgbuild.extract.extractor import JointExtractor

    out = {}
    for mode in ("prompt", "oneway"):
        extractor = JointExtractor.from_pretrained(model, backend="torch", relation_label_mode=mode)
        found = covered = gold = 0
        for ex, (entities, _) in zip(examples, predict_examples(extractor, examples), strict=True):
            spans = {(e.start, e.end) for e in entities}
            found += len(entities)
            for h, t, _ in ex.relations:
                gold += 1
                covered += tuple(ex.entities[h][:2]) in spans and tuple(ex.entities[t][:2]) in spans
        out[mode] = {"entities": found, "covered": covered, "gold_triples": gold}
    return out


if __name__ == "__main__":
    main()
