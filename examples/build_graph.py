"""Build a knowledge graph from the documents in examples/docs/ and query it.

Run from anywhere (it finds its own folder)::

    python examples/build_graph.py                      # graph in build/examples/graph.json
    python examples/build_graph.py --store /tmp/g.json --mermaid
    python examples/build_graph.py --html build/examples/graph.html   # also the interactive page

It ingests eight short documents (Markdown, plain text with CRLF line ends,
HTML and JSONL) with the extractor shipped with kgbuild, saves the graph as a
NetworkX JSON file, and runs three queries from the library in cypher/: the
most mentioned entities, the relations of the most mentioned organization, and
the evidence of its strongest relation, shown as the text it came from. ``--mermaid`` also
prints the strongest relations as a Mermaid diagram (as shown in the README); ``--html``
also writes the graph as an interactive page (``kgbuild view``) and prints its path.

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
#: Each relation with the entity types it connects: the model's relations between other
#: types ("Nokia born in Fredrik Idestam") are dropped.
RELATION_TYPES = {
    "works for": {"head": ["person"], "tail": ["organization"]},
    "founded by": {"head": ["organization"], "tail": ["person"]},
    "located in": {"head": ["organization", "location"], "tail": ["location"]},
    "born in": {"head": ["person"], "tail": ["location", "date"]},
}


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


def evidence_snippet(text: str, spans: list[tuple[int, int]], context: int = 50) -> str:
    """``text`` around the given character spans, each span in [brackets].

    A long stretch between two spans is shortened to " ... ", so the snippet stays short.
    """
    spans = sorted(spans)
    out, pos = [], max(0, spans[0][0] - context)
    prefix = "..." if pos > 0 else ""
    for start, stop in spans:
        if start < pos:  # overlapping mentions: mark only the first
            continue
        gap = text[pos:start]
        if len(gap) > 2 * context and out:
            gap = gap[:context] + " ... " + gap[-context:]
        out += [gap, "[", text[start:stop], "]"]
        pos = stop
    end = min(len(text), pos + context)
    out.append(text[pos:end])
    return prefix + " ".join("".join(out).split()) + ("..." if end < len(text) else "")


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
    parser.add_argument("--html", default=None, help="Also write the interactive graph page here.")
    args = parser.parse_args(argv)

    Path(args.store).parent.mkdir(parents=True, exist_ok=True)
    try:
        summary = kgbuild.build(
            args.docs,
            store=args.store,
            schema={"entity_types": ENTITY_TYPES, "relation_types": RELATION_TYPES},
            model_dir=args.model,
        )
    except FileNotFoundError as exc:  # no model checkpoint: say so in one line
        print(f"error: {exc}", file=sys.stderr)
        return 1
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
                load_query("relation_evidence"), {"relation_id": strongest["relation_id"]}
            )[0]
            print(
                f"\nWhere '{strongest['head']} {strongest['relation']} {strongest['tail']}' "
                "comes from (cypher/relation_evidence.cypher):"
            )
            pieces = zip(
                evidence["document_ids"],
                evidence["head_mention_ids"],
                evidence["tail_mention_ids"],
                evidence["evidence_scores"],
                strict=True,
            )
            for doc_id, head_id, tail_id, score in list(pieces)[:3]:
                doc = store.query(
                    "MATCH (d:Document) WHERE d.id = $id RETURN d.text AS text, d.source AS source",
                    {"id": doc_id},
                )[0]
                spans = [mention_span(store, head_id), mention_span(store, tail_id)]
                name = doc["source"].rsplit("/", 1)[-1]
                print(f"  {name} ({score:.2f}): {evidence_snippet(doc['text'], spans)}")

        if args.mermaid:
            strongest_relations = store.query(
                "MATCH (h:Entity)-[r]->(t:Entity) "
                "RETURN h.name AS head, type(r) AS relation, t.name AS tail, r.score AS score "
                "ORDER BY score DESC, head ASC, tail ASC LIMIT 12"
            )
            print("\n```mermaid\n" + mermaid(strongest_relations) + "\n```")

        if args.html:
            page = kgbuild.view(store)
            path = page.save(args.html)
            print(
                f"\nInteractive graph ({len(page.graph.entities)} entities, "
                f"{len(page.graph.relations)} relations; kgbuild view): {path.resolve()}"
            )
    return 0 if summary.ok else 1


def mention_span(store, mention_id: str) -> tuple[int, int]:
    """Character offsets of a mention in its document's text."""
    row = store.query(
        "MATCH (m:Mention) WHERE m.id = $id RETURN m.start AS start, m.end AS end",
        {"id": mention_id},
    )[0]
    return row["start"], row["end"]


if __name__ == "__main__":
    sys.exit(main())
