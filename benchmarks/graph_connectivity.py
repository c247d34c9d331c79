"""How connected is the graph a user gets: ingest a folder, count what its relations reach.

    python benchmarks/graph_connectivity.py [--docs examples/docs] [--schema FILE]
        [--model DIR] [--sample 40] [--output F]

Ingests ``--docs`` into a fresh NetworkX graph with the default schema (or ``--schema``)
and reports the share of entities that take part in at least one relation, per entity
type (dates included), relations per type, and ``--sample`` relations drawn at random
(seed 0) with the sentence of their evidence, for reading against the text. Prints a
table and writes JSON (default benchmarks/results/graph_connectivity.json).
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def evidence_sentence(text: str, start: int, end: int) -> str:
    """The sentence of ``text`` around [start, end) (cut at . ! ? or a line break)."""
    left = max(text.rfind(c, 0, start) for c in ".!?\n") + 1
    rights = [i for i in (text.find(c, end) for c in ".!?\n") if i >= 0]
    right = min(rights) + 1 if rights else len(text)
    return " ".join(text[left:right].split())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", default=str(ROOT / "examples/docs"), help="folder to ingest")
    parser.add_argument("--schema", default=None, help="schema JSON file (default: built in)")
    parser.add_argument("--model", default=None, help="extractor folder (default: shipped)")
    parser.add_argument("--sample", type=int, default=40, help="relations to list for reading")
    parser.add_argument(
        "--output", default=str(ROOT / "benchmarks/results/graph_connectivity.json")
    )
    args = parser.parse_args()

    import kgbuild
    from kgbuild.schema import Schema

    schema = Schema.model_validate_json(Path(args.schema).read_text()) if args.schema else Schema()
    with tempfile.TemporaryDirectory() as tmp:
        graph_path = Path(tmp) / "graph.json"
        t0 = time.perf_counter()
        kgbuild.build(args.docs, store=str(graph_path), schema=schema, model_dir=args.model,
                      progress=False)  # fmt: skip
        seconds = time.perf_counter() - t0
        graph = json.loads(graph_path.read_text())
    nodes = {n["id"]: n for n in graph["nodes"]}
    entities = {k: n for k, n in nodes.items() if "Entity" in n.get("__labels__", [])}
    relations = [e for e in graph["edges"] if e["key"].startswith("rel:")]
    linked = {e["source"] for e in relations} | {e["target"] for e in relations}
    by_type: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for key, node in entities.items():
        by_type[node.get("type", "?")][0] += 1
        by_type[node.get("type", "?")][1] += key in linked
    chunks = {k: n for k, n in nodes.items() if "Chunk" in n.get("__labels__", [])}
    rng = random.Random(0)
    sample = rng.sample(relations, min(args.sample, len(relations)))
    listed = []
    for rel in sample:
        head, tail = entities[rel["source"]], entities[rel["target"]]
        mention = nodes[rel["head_mention_ids"][0]]
        chunk = chunks[mention["chunk_id"]]
        text, shift = chunk["text"], chunk["start"]
        listed.append({
            "head": head.get("name"), "relation": rel["type"], "tail": tail.get("name"),
            "head_type": head.get("type"), "tail_type": tail.get("type"),
            "score": rel.get("score"),
            "evidence": evidence_sentence(text, mention["start"] - shift, mention["end"] - shift),
        })  # fmt: skip
    result = {
        "docs": args.docs,
        "schema": schema.model_dump(),
        "seconds": round(seconds, 1),
        "entities": len(entities),
        "linked": len(linked & set(entities)),
        "linked_share": round(len(linked & set(entities)) / max(1, len(entities)), 3),
        "by_type": {t: {"entities": n, "linked": k} for t, (n, k) in sorted(by_type.items())},
        "relations": dict(collections.Counter(e["type"] for e in relations).most_common()),
        "sample": listed,
    }
    share = 100 * result["linked_share"]
    print(f"{result['linked']} of {result['entities']} entities in a relation ({share:.0f} %), "
          f"{len(relations)} relations, {seconds:.1f} s")  # fmt: skip
    print(f"{'type':16} {'entities':>8} {'linked':>7}")
    for t, v in result["by_type"].items():
        print(f"{t:16} {v['entities']:8} {v['linked']:7}")
    print("relations:", ", ".join(f"{k} {v}" for k, v in result["relations"].items()))
    for i, r in enumerate(listed, 1):
        print(f"{i:2}. {r['head']} -[{r['relation']}]-> {r['tail']}  | {r['evidence'][:160]}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
