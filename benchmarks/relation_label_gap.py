"""Where relation labels embedded apart from the text lose: the text side or the labels?

On gold entity pairs of WebNLG's unseen relations (``benchmarks/zero_shot.py``'s
``webnlg-unseen``, its 30 names in two halves of 15, each text with the half that holds
its relations), how often the best-scoring relation name is the right one, with the
pair read from either text pass and the label vectors from either layout:

* A: joint text pass, joint label vectors (the default layout);
* B: text read apart (entity labels only), label vectors made apart (separate mode);
* C: joint text pass, label vectors made apart (reading the joint text);
* D: text read apart, joint label vectors;
* E: text read apart, label vectors read one way after it (the ``oneway`` layout).

    python benchmarks/relation_label_gap.py [--model DIR] [--per-half 150]

Prints a table and writes benchmarks/results/relation_label_gap.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "relation_label_gap.json"
sys.path.insert(0, str(ROOT / "benchmarks"))

VARIANTS = {
    "A": "joint text, joint label vectors",
    "B": "text apart, label vectors apart (separate mode)",
    "C": "joint text, label vectors apart",
    "D": "text apart, joint label vectors",
    "E": "text apart, label vectors read one way after it (oneway layout)",
}


def gold_pair_logits(model, width, hidden, spans, enc, mentions, pairs, vectors):
    """(P, L) relation logits of ``pairs`` (P, 2) of gold ``mentions`` (word spans
    (start, end), each its own entity) of one text, from its hidden states (1, T, H),
    span vectors (S, D) and relation-label vectors (L, D); ``enc`` its EncodedText."""
    import torch

    tokens = torch.tensor(
        [[enc.word_first_token[s], enc.word_last_token[e - 1]] for s, e in mentions]
    )
    index = torch.tensor([s * width + e - s - 1 for s, e in mentions])
    m = len(mentions)
    return model.pair_logits(hidden[0], spans[index], tokens, torch.arange(m), m, pairs, vectors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="Extractor checkpoint folder.")
    parser.add_argument("--per-half", type=int, default=150, help="Texts per half of the names.")
    parser.add_argument("--output", default=str(RESULTS), help="Where to write the JSON.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch
    from zero_shot import load_sets

    from kgbuild.extract.encoding import join_words
    from kgbuild.extract.extractor import JointExtractor
    from kgbuild.extract.model import collate, collate_one_way
    from kgbuild.extract.train import TrainConfig

    torch.set_num_threads(os.cpu_count() or 1)
    config = TrainConfig.model_validate_json((ROOT / "configs/extractor.json").read_text())
    examples, _ = load_sets(config)["webnlg-unseen"]
    extractor = JointExtractor.from_pretrained(args.model, backend="torch")
    model, encoder, width = extractor.model, extractor.encoder, extractor.config.max_width
    names = examples[0].relation_labels
    hits = dict.fromkeys(VARIANTS, 0)
    pairs = 0

    def best(hidden, spans, enc, mentions, vectors) -> int:
        pair = torch.tensor([[0, 1]])
        return int(
            gold_pair_logits(model, width, hidden, spans, enc, mentions, pair, vectors)[0].argmax()
        )

    with torch.no_grad():
        for half in (names[:15], names[15:]):
            texts = [
                ex for ex in examples if ex.relations and all(r in half for *_, r in ex.relations)
            ][: args.per_half]
            for ex in texts:
                text, spans = join_words(ex.words)
                joint_enc = encoder.encode(text, spans, ["entity"], half)
                apart_enc = encoder.encode(text, spans, ["entity"], [])
                label_enc = encoder.encode("", [], [], half)
                joint, apart, labels = (collate([e]) for e in (joint_enc, apart_enc, label_enc))
                joint_hidden = model.encode(joint)
                with model.separate_encoding():
                    apart_hidden = model.encode(apart)
                    label_hidden = model.encode(labels)
                joint_vectors = model.label_embeddings(
                    joint_hidden, joint["relation_markers"], model.relation_label_proj
                )[0]
                states = model.marker_states(label_hidden, labels["relation_markers"])
                block = encoder.relation_label_block(["entity"], [half])
                one_way = collate_one_way([apart_enc], block)
                with model.separate_encoding():
                    _, one_way_labels = model.encode_one_way(one_way)
                one_way_vectors = model.label_embeddings(
                    one_way_labels, one_way["relation_markers"], model.relation_label_proj
                )[0]

                joint_spans = model.span_embeddings(joint_hidden, joint)[0]
                apart_spans = model.span_embeddings(apart_hidden, apart)[0]
                for h, t, r in ex.relations:
                    mentions = [ex.entities[h][:2], ex.entities[t][:2]]
                    if any(e - s > width for s, e in mentions):
                        continue
                    gold = half.index(r)
                    pairs += 1
                    jv = joint_vectors

                    def av(hidden, batch, states=states):
                        return model.separate_relation_vectors(
                            states, hidden, batch["attention_mask"]
                        )[0]

                    hits["A"] += best(joint_hidden, joint_spans, joint_enc, mentions, jv) == gold
                    hits["B"] += (
                        best(apart_hidden, apart_spans, apart_enc, mentions,
                             av(apart_hidden, apart)) == gold
                    )  # fmt: skip
                    hits["C"] += (
                        best(joint_hidden, joint_spans, joint_enc, mentions,
                             av(joint_hidden, joint)) == gold
                    )  # fmt: skip
                    hits["D"] += best(apart_hidden, apart_spans, apart_enc, mentions, jv) == gold
                    hits["E"] += (
                        best(apart_hidden, apart_spans, apart_enc, mentions, one_way_vectors)
                        == gold
                    )
    rows = {k: round(100 * v / pairs, 1) for k, v in hits.items()}
    lines = [
        f"extractor: {extractor.model_id}; {pairs} gold pairs of WebNLG's unseen relations",
        "",
        "| variant | pair read from / label vectors | best name right (%) |",
        "|---|---|---|",
    ]
    lines += [f"| {k} | {VARIANTS[k]} | {rows[k]:.1f} |" for k in VARIANTS]
    table = "\n".join(lines)
    print(table)
    out = {"benchmark": "relation_label_gap", "pairs": pairs, "accuracy": rows, "table": table}
    Path(args.output).write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
