"""Would entity embeddings be good evidence for a short form across documents?

An experiment that did not ship. On Re-DocRED dev (all 500 documents through one
resolver, gold relations as neighbours, as in ``resolve_quality.py``) every cross-document
short-form candidate ("Harvard" -> "Harvard University", "Blake" -> "Penelope Blake") is
listed with whether the shipped evidence rules (a shared neighbour or shared context) kept
it, and the cosine of two vectors of kgbuild.search's sentence encoder: the short form's
contexts in its document and the candidate's contexts in the earlier documents, written
as search writes an entity ("name: context | context", :func:`mention_context`). Each pair
is judged by hand in ``JUDGED`` (the proxy gold cannot say: it calls every link between
different names wrong). A threshold is useful evidence only if it admits right links and
no wrong ones.

Usage::

    python benchmarks/resolve_embedding_evidence.py [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
from resolve_quality import DEFAULT_DATA, load_documents

from kgbuild.resolve import EntityResolver, ResolverConfig, match
from kgbuild.search.embeddings import mention_context
from kgbuild.search.encoder import get_encoder

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "resolve_embedding_evidence.json"

#: (short form, candidate) -> the same thing? Read from the two documents' sentences.
JUDGED = {
    ("Association", "Association to Advance Collegiate Schools of Business"): False,
    ("Eastern", "Eastern Orthodox"): True,
    ("Independent", "Independent Film and Media"): False,
    ("Harvard", "Harvard University"): True,
    ("Conservative", "Conservative Party"): False,  # Bolivia's, Norway's
    ("TFF", "TFF First League"): False,
    ("Taylor", "Cecil Taylor"): False,  # Taylor v. Illinois
    ("Blake", "Penelope Blake"): False,  # another TV character
    ("Han", "Philippe - Louis du Han"): False,
    ("State", "State Department"): False,
    ("Coalition", "Coalition Government"): False,  # Australia's, the UK's
    ("Thomas", "Joe Thomas"): False,
    ("Nelson", "Willie Nelson"): False,  # Nelson Rockefeller
    ("Procter", "Procter & Gamble"): False,  # a proctor, the legal office
}


def candidates(docs: list[dict]) -> tuple[list[tuple], list]:
    """Every cross-document short-form candidate: (document index, short form, entity id,
    entity name, kept by the rules), and the resolved documents."""
    resolver = EntityResolver(ResolverConfig())
    engine = resolver._engine
    found: list[tuple] = []
    in_context = engine._in_context

    def recording(choices, clusters, neighbours, store=None):
        kept = in_context(choices, clusters, neighbours, store)
        chosen = {(c[1], c[2]) for c in kept}
        for _, i, slot, rule, _, _ in choices:
            if rule == match.RULE_SHORT_FORM:
                found.append(
                    (
                        engine.doc_no - 1,
                        clusters[i].surface,
                        engine.e_id[slot],
                        engine.e_display[slot],
                        (i, slot) in chosen,
                    )
                )
        return kept

    engine._in_context = recording  # the benchmark's window on the decisions
    results = [resolver.resolve_document(d["mentions"], related=d["related"]) for d in docs]
    return found, results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"Re-DocRED dev not found at {args.data}", file=sys.stderr)
        return 2
    docs = load_documents(args.data)
    found, results = candidates(docs)

    def contexts(d: int, keep) -> list[str]:
        out: list[str] = []
        for m in results[d].mentions:
            c = mention_context(docs[d]["text"], m.start, m.end)
            if keep(m) and c not in out:
                out.append(c)
        return out[:3]

    texts = []
    for d, surface, eid, name, _ in found:
        mine = contexts(d, lambda m, s=surface: m.text == s)
        theirs = [c for e in range(d) for c in contexts(e, lambda m, i=eid: m.entity_id == i)]
        texts += [f"{surface}: {' | '.join(mine)}", f"{name}: {' | '.join(theirs[:3])}"]
    vectors = get_encoder().encode(texts)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = []
    print(f"{'cosine':>6}  {'rules':<5}  {'right':<5}  short form -> candidate")
    for k, (_, surface, _, name, kept) in enumerate(found):
        cosine = float(vectors[2 * k] @ vectors[2 * k + 1])
        right = JUDGED.get((surface, name))
        rows.append(
            {
                "short": surface,
                "candidate": name,
                "cosine": round(cosine, 3),
                "rules_kept": kept,
                "right": right,
            }  # fmt: skip
        )
        print(f"{cosine:6.3f}  {'kept' if kept else '-':<5}  {str(right):<5}  {surface} -> {name}")
    print("\nthreshold  right links admitted  wrong links admitted  (among those the rules drop)")
    dropped = [r for r in rows if not r["rules_kept"]]
    for t in (0.3, 0.4, 0.45, 0.5, 0.6):
        ok = sum(r["right"] is True and r["cosine"] >= t for r in dropped)
        bad = sum(r["right"] is False and r["cosine"] >= t for r in dropped)
        print(f"{t:9.2f}  {ok:20d}  {bad:20d}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "resolve_embedding_evidence",
        "dataset": args.data.name,
        "candidates": rows,
        "python": platform.python_version(),
    }
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
