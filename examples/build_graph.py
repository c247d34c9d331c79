"""Build a knowledge graph from the documents in examples/docs/ and query it.

Run from anywhere (it finds its own folder)::

    python examples/build_graph.py                      # graph in build/examples/graph.json
    python examples/build_graph.py --store /tmp/g.json --mermaid

It ingests eight short documents (Markdown, plain text with CRLF line ends,
HTML and JSONL) with the extractor shipped with kgbuild, saves the graph as a
NetworkX JSON file, and runs three queries from the library in cypher/: the
most mentioned entities, the relations of the most mentioned organization, and
the text behind that organization's strongest relation. ``--mermaid`` also
prints the strongest relations as a Mermaid diagram (as shown in the README).

Running it again is fast: the documents are unchanged, so nothing is extracted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import kgbuild
from kgbuild.store import open_store
from kgbuild.store.queries import load_query

HERE = Path(__file__).resolve().parent
DOCS = HERE / "docs"
DEFAULT_STORE = HERE.parent / "build" / "examples" / "graph.json"

ENTITY_TYPES = ["person", "organization", "location", "date"]
RELATION_TYPES = ["works for", "founded by", "located in", "born in"]


def print_table(title: str, rows: list[dict], columns: list[str]) -> None:
    """A plain-text table (no colours, so it reads the same in a log or a README)."""
    print(f"\n{title}")
    if not rows:
        print("  (no rows)")
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  " + "  ".join("-" * w for w in widths))
    for r in cells:
        print("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    text = "" if value is None else " ".join(str(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def evidence_snippet(row: dict) -> str:
    """The chunk text around a relation's head and tail mentions, both in [brackets]."""
    chunk, offset = row["chunk_text"], row["chunk_start"]
    spans = sorted(
        [
            (row["head_start"] - offset, row["head_end"] - offset),
            (row["tail_start"] - offset, row["tail_end"] - offset),
        ]
    )
    begin, end = max(0, spans[0][0] - 60), min(len(chunk), spans[1][1] + 60)
    out, pos = [], begin
    for start, stop in spans:
        if start < pos:  # overlapping mentions: mark only the first
            continue
        out += [chunk[pos:start], "[", chunk[start:stop], "]"]
        pos = stop
    out.append(chunk[pos:end])
    text = " ".join("".join(out).split())
    return ("..." if begin > 0 else "") + text + ("..." if end < len(chunk) else "")


def mermaid(rows: list[dict]) -> str:
    """A Mermaid flowchart of (head)-[relation]->(tail) rows."""
    ids: dict[str, str] = {}

    def node(name: str) -> str:
        if name not in ids:
            ids[name] = f"n{len(ids)}"
        safe = " ".join(name.split()).replace('"', "'")
        return f'{ids[name]}["{safe}"]'

    lines = ["flowchart LR"]
    for r in rows:
        lines.append(f"    {node(r['head'])} -- {r['relation']} --> {node(r['tail'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default=str(DEFAULT_STORE), help="Graph file to write (.json).")
    parser.add_argument("--docs", default=str(DOCS), help="Folder of documents to ingest.")
    parser.add_argument("--model", default=None, help="Extractor checkpoint folder.")
    parser.add_argument("--mermaid", action="store_true", help="Also print a Mermaid diagram.")
    args = parser.parse_args(argv)

    Path(args.store).parent.mkdir(parents=True, exist_ok=True)
    summary = kgbuild.build(
        args.docs,
        store=args.store,
        entity_types=ENTITY_TYPES,
        relation_types=RELATION_TYPES,
        model_dir=args.model,
    )
    print(f"Built {args.store} from {args.docs} with {summary.model_id}")
    print(summary.render())

    with open_store(args.store) as store:
        top = store.query(load_query("top_entities"), {"limit": 10})
        print_table(
            "Most mentioned entities (cypher/top_entities.cypher)",
            top,
            ["name", "type", "mentions"],
        )

        organization = next((r["name"] for r in top if r["type"] == "organization"), None)
        if organization is None and top:
            organization = top[0]["name"]
        neighbours = (
            store.query(load_query("entity_neighbours"), {"name": organization})
            if organization
            else []
        )
        print_table(
            f"Relations of {organization!r} (cypher/entity_neighbours.cypher)",
            neighbours,
            ["head", "relation", "tail", "score", "evidence"],
        )

        if neighbours:
            strongest = neighbours[0]
            evidence = store.query(
                load_query("relation_provenance"), {"relation_id": strongest["relation_id"]}
            )
            print(
                f"\nWhere '{strongest['head']} {strongest['relation']} {strongest['tail']}' "
                "comes from (cypher/relation_provenance.cypher):"
            )
            for row in evidence[:3]:
                row["chunk_start"] = chunk_start(store, row)
                print(f"  {row['source'].rsplit('/', 1)[-1]}: {evidence_snippet(row)}")

        if args.mermaid:
            strongest_relations = store.query(
                "MATCH (h:Entity)-[r]->(t:Entity) "
                "RETURN h.name AS head, type(r) AS relation, t.name AS tail, r.score AS score "
                "ORDER BY score DESC, head ASC, tail ASC LIMIT 12"
            )
            print("\n```mermaid\n" + mermaid(strongest_relations) + "\n```")
    return 0 if summary.ok else 1


def chunk_start(store, row: dict) -> int:
    """Offset of an evidence chunk in its document (the provenance row gives its index)."""
    found = store.query(
        "MATCH (c:Chunk) WHERE c.document_id = $doc AND c.index = $index RETURN c.start AS start",
        {"doc": row["document_id"], "index": row["chunk_index"]},
    )
    return found[0]["start"] if found else 0


if __name__ == "__main__":
    sys.exit(main())
