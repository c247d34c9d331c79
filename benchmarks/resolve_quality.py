"""Entity-resolution quality on the gold mention clusters of Re-DocRED dev.

Within documents: every document's gold mentions (``vertexSet``) go through
``EntityResolver.resolve_document`` (a fresh in-run memory per document), and the
predicted entities are scored against the gold clusters with B³ and pairwise
precision/recall/F1, beside two baselines run on the same mentions:

* ``exact string``: mentions of the same type with identical text are one entity;
* ``exact normalized``: same type and the same normalized key (NFKC, casefold,
  punctuation, possessives, honorifics, corporate suffixes; kgbuild's normalizer).

Across documents: the 500 documents go through ONE resolver, in order, as the
pipeline would send them. Re-DocRED has no entity ids across documents, so the
gold is a proxy: two gold clusters of different documents are the same entity
when they have the same type and the same full name (their longest mention,
exact string). Scored on cluster pairs from different documents, beside
``exact full name`` (same type and normalized longest mention: nearly the proxy
itself) and ``any shared alias`` (clusters sharing any normalized mention text,
the naive alias index that merges Barack and Michelle through "Obama").
Links the proxy calls wrong include true ones ("U.S." ~ "United States"), so the
script prints a sample of them.

Across runs: the same 500 documents, the first half in one run and the second in a later
run (a new resolver) into one NetworkX store, every document written with its gold
relations before the next is resolved; scored like the one-run case, with and without
``store_short_forms`` (a short form finding the full names of earlier runs).

Mention text is the tokens ``sents[sent_id][pos[0]:pos[1]]`` joined by spaces, in a
document text made of all tokens joined by spaces; the type is the mention's own
type mapped PER->person, ORG->organization, LOC->location, TIME->date,
NUM->number, MISC->misc.

Usage::

    python benchmarks/resolve_quality.py [--data PATH] [--out PATH] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from kgbuild import ids
from kgbuild.resolve import EntityResolver, ResolverConfig
from kgbuild.resolve.normalize import LITERAL, OTHER, PERSON, Normalizer
from kgbuild.store.networkx_store import NetworkXStore
from kgbuild.types import (
    Chunk,
    Document,
    DocumentGraph,
    Mention,
    Relation,
    RelationEvidence,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "re-docred" / "dev_revised.json"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "resolve_quality.json"
TYPES = {
    "PER": "person",
    "ORG": "organization",
    "LOC": "location",
    "TIME": "date",
    "NUM": "number",
    "MISC": "misc",
}


# --------------------------------------------------------------------------- data
def load_documents(path: Path, limit: int | None = None) -> list[dict]:
    """Re-DocRED documents as {doc_id, mentions: [Mention], gold: [vertex index]}."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    docs = []
    for n, doc in enumerate(raw[:limit]):
        doc_id = ids.document_id(f"re-docred-dev#{n}")
        offsets: list[list[int]] = []  # character start of every token
        pos = 0
        for sent in doc["sents"]:
            starts = []
            for tok in sent:
                starts.append(pos)
                pos += len(tok) + 1
            offsets.append(starts)
        mentions, gold = [], []
        first: dict[int, int] = {}  # vertex -> index of its first mention
        for v, vertex in enumerate(doc["vertexSet"]):
            for m in vertex:
                first.setdefault(v, len(mentions))
                toks = doc["sents"][m["sent_id"]][m["pos"][0] : m["pos"][1]]
                text = " ".join(toks)
                start = offsets[m["sent_id"]][m["pos"][0]]
                label = TYPES[m["type"]]
                mentions.append(
                    Mention(
                        id=ids.mention_id(doc_id, start, start + len(text), label),
                        document_id=doc_id,
                        chunk_id=ids.chunk_id(doc_id, 0, pos),
                        start=start,
                        end=start + len(text),
                        text=text,
                        label=label,
                        score=1.0,
                    )
                )
                gold.append(v)
        # The gold relations, as the pipeline passes extracted ones: pairs of mentions that
        # make their entities neighbours (evidence for short forms across documents).
        related = sorted(
            {(first[r["h"]], first[r["t"]]) for r in doc.get("labels", []) if r["h"] != r["t"]}
        )
        docs.append(
            {
                "doc_id": doc_id,
                "title": doc["title"],
                "text": " ".join(t for sent in doc["sents"] for t in sent) + " ",
                "mentions": mentions,
                "gold": gold,
                "related": related,
            }
        )
    return docs


# --------------------------------------------------------------------------- metrics
def b_cubed(pred: list, gold: list) -> tuple[float, float, int]:
    """Sums of per-mention B³ precision and recall, and the number of mentions."""
    pred_sets: dict = defaultdict(set)
    gold_sets: dict = defaultdict(set)
    for i, (p, g) in enumerate(zip(pred, gold, strict=True)):
        pred_sets[p].add(i)
        gold_sets[g].add(i)
    p_sum = r_sum = 0.0
    for p, g in zip(pred, gold, strict=True):
        overlap = len(pred_sets[p] & gold_sets[g])
        p_sum += overlap / len(pred_sets[p])
        r_sum += overlap / len(gold_sets[g])
    return p_sum, r_sum, len(pred)


def pair_counts(pred: list, gold: list, group: list | None = None) -> tuple[int, int, int]:
    """(correct, predicted, gold) pair counts; with ``group``, only pairs across groups."""

    def pairs(counter: Counter) -> int:
        return sum(n * (n - 1) // 2 for n in counter.values())

    def across(keys: list) -> int:
        if group is None:
            return pairs(Counter(keys))
        return pairs(Counter(keys)) - pairs(Counter(zip(keys, group, strict=True)))

    both = list(zip(pred, gold, strict=True))
    return across(both), across(list(pred)), across(list(gold))


def prf(correct: float, predicted: float, gold: float) -> dict[str, float]:
    p = correct / predicted if predicted else 1.0
    r = correct / gold if gold else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


class Scorer:
    """Accumulates B³ and pairwise counts over documents (micro-averaged)."""

    def __init__(self) -> None:
        self.b = [0.0, 0.0, 0]
        self.pairs = [0, 0, 0]

    def add(self, pred: list, gold: list) -> None:
        p, r, n = b_cubed(pred, gold)
        self.b[0] += p
        self.b[1] += r
        self.b[2] += n
        c, pp, gg = pair_counts(pred, gold)
        self.pairs[0] += c
        self.pairs[1] += pp
        self.pairs[2] += gg

    def result(self) -> dict:
        p, r, n = self.b
        bp, br = p / n, r / n
        return {
            "b3": {
                "precision": round(bp, 6),
                "recall": round(br, 4),
                "f1": round(2 * bp * br / (bp + br), 4),
            },
            "pairwise": prf(*self.pairs),
            "mentions": n,
        }


# --------------------------------------------------------------------------- systems
def kind_of(label: str) -> str:
    return PERSON if label == "person" else LITERAL if label in ("date", "number") else OTHER


def within_documents(docs: list[dict], config: ResolverConfig) -> tuple[dict, dict, list]:
    norm = Normalizer(config)
    scorers = {"exact string": Scorer(), "exact normalized": Scorer(), "kgbuild": Scorer()}
    rules: Counter = Counter()
    errors: list = []
    resolver = EntityResolver(config)
    seconds = 0.0
    for doc in docs:
        mentions, gold = doc["mentions"], doc["gold"]
        scorers["exact string"].add([(m.label, m.text) for m in mentions], gold)
        keyed = [(m.label, norm.analyze(m.text, kind_of(m.label)).key) for m in mentions]
        scorers["exact normalized"].add(keyed, gold)
        resolver.reset()
        t0 = time.perf_counter()
        result = resolver.resolve_document(mentions)
        seconds += time.perf_counter() - t0
        pred = [m.entity_id for m in result.mentions]
        scorers["kgbuild"].add(pred, gold)
        rules.update(d.rule for d in result.explain)
        errors.extend(_errors(doc, pred))
    out = {name: s.result() for name, s in scorers.items()}
    out["kgbuild"]["seconds"] = round(seconds, 3)
    return out, dict(rules), errors


def _errors(doc: dict, pred: list) -> list[dict]:
    """Wrong merges (two gold entities in one predicted) and misses, by surface."""
    mentions, gold = doc["mentions"], doc["gold"]
    out = []
    by_pred: dict = defaultdict(set)
    by_gold: dict = defaultdict(set)
    for m, p, g in zip(mentions, pred, gold, strict=True):
        by_pred[p].add((g, m.text, m.label))
        by_gold[g].add((p, m.text, m.label))
    for members in by_pred.values():
        if len({g for g, _, _ in members}) > 1:
            out.append({"kind": "wrong merge", "doc": doc["title"], "mentions": sorted(members)})
    for members in by_gold.values():
        if len({p for p, _, _ in members}) > 1:
            groups = defaultdict(set)
            for p, t, _ in members:
                groups[p].add(t)
            found = sorted(map(sorted, groups.values()))
            out.append({"kind": "missed", "doc": doc["title"], "mentions": found})
    return out


def across_documents(
    docs: list[dict], config: ResolverConfig, baseline: ResolverConfig | None = None
) -> tuple[dict, list]:
    """Cluster-level linking across documents against the same-full-name proxy gold.

    ``baseline``: a second kgbuild configuration scored in the same run (before/after).
    """
    norm = Normalizer(config)
    resolver = EntityResolver(config)
    vertices = []  # (doc index, gold name key, pred entity, exact-name key, aliases)
    rules: Counter = Counter()
    t0 = time.perf_counter()
    for d, doc in enumerate(docs):
        result = resolver.resolve_document(doc["mentions"], related=doc["related"])
        rules.update(x.rule for x in result.explain if x.rule.startswith(("linked", "short")))
        by_vertex: dict[int, list] = defaultdict(list)
        for m, g in zip(result.mentions, doc["gold"], strict=True):
            by_vertex[g].append(m)
        for ms in by_vertex.values():
            label = ms[0].label
            full = max((m.text for m in ms), key=lambda t: (len(t), t))
            pred = Counter(m.entity_id for m in ms).most_common(1)[0][0]
            kind = kind_of(label)
            keys = {(label, norm.analyze(m.text, kind).key) for m in ms}
            exact = (label, norm.analyze(full, kind).key)
            vertices.append((d, (label, full), pred, exact, keys))
    seconds = time.perf_counter() - t0

    group = [v[0] for v in vertices]
    gold = [v[1] for v in vertices]
    systems = {
        "exact full name": [v[3] for v in vertices],
        "any shared alias": _shared_alias_clusters([v[4] for v in vertices]),
        "kgbuild": [v[2] for v in vertices],
    }
    if baseline is not None:
        before = EntityResolver(baseline)
        systems["kgbuild before"] = _vertex_preds(
            docs, [before.resolve_document(doc["mentions"]) for doc in docs]
        )
    out = {}
    for name, pred in systems.items():
        p, r, n = b_cubed(pred, gold)
        bp, br = p / n, r / n
        out[name] = {
            "cross_doc_pairs": prf(*pair_counts(pred, gold, group)),
            "b3": {
                "precision": round(bp, 6),
                "recall": round(br, 4),
                "f1": round(2 * bp * br / (bp + br), 4),
            },
            "linked_pairs": pair_counts(pred, gold, group)[1],
        }
    out["kgbuild"]["seconds"] = round(seconds, 3)
    out["kgbuild"]["link_rules"] = dict(rules)
    out["gold_pairs"] = pair_counts(gold, gold, group)[2]
    out["clusters"] = len(vertices)
    # Links the proxy calls wrong: pairs of gold names that share a predicted entity.
    names_by_pred: dict = defaultdict(set)
    for v in vertices:
        names_by_pred[v[2]].add(v[1])
    disputed = [sorted(n) for n in names_by_pred.values() if len(n) > 1]
    return out, disputed


def _vertex_preds(docs: list[dict], results: list) -> list[str]:
    """Each gold cluster's predicted entity (its mentions' most common), in the order of
    :func:`across_documents`."""
    return [
        Counter(
            m.entity_id for m, g in zip(result.mentions, doc["gold"], strict=True) if g == v
        ).most_common(1)[0][0]
        for doc, result in zip(docs, results, strict=True)
        for v in dict.fromkeys(doc["gold"])
    ]


def _document_graph(doc: dict, result) -> DocumentGraph:
    """What the pipeline would write for a resolved document, its gold relations included."""
    doc_id, text = doc["doc_id"], doc["text"]
    chunk = Chunk(id=ids.chunk_id(doc_id, 0, len(text)), document_id=doc_id, index=0,
                  start=0, end=len(text), text=text)  # fmt: skip
    # The gold has a few spans in two clusters (one mention id): the first is written.
    mentions = list({m.id: m for m in reversed(result.mentions)}.values())[::-1]
    kept = {m.id: m for m in mentions}
    entities = {e.id: e for e in result.entities if any(m.entity_id == e.id for m in mentions)}
    relations: dict[str, Relation] = {}
    for a, b in doc["related"]:
        head, tail = kept[result.mentions[a].id], kept[result.mentions[b].id]
        if head.entity_id == tail.entity_id:
            continue
        rid = ids.relation_id(head.entity_id, "related to", tail.entity_id)
        relation = relations.setdefault(
            rid,
            Relation(
                id=rid, head_id=head.entity_id, tail_id=tail.entity_id, type="related to", score=1.0
            ),  # fmt: skip
        )
        relation.evidence.append(
            RelationEvidence(
                document_id=doc_id,
                chunk_id=chunk.id,
                head_mention_id=head.id,
                tail_mention_id=tail.id,
                score=1.0,
            )  # fmt: skip
        )
    document = Document(id=doc_id, source=f"re-docred:{doc['title']}", text=text,
                        content_hash=ids.content_hash(text))  # fmt: skip
    return DocumentGraph(
        document=document,
        chunks=[chunk],
        mentions=mentions,
        entities=list(entities.values()),
        relations=list(relations.values()),
    )


def across_runs(docs: list[dict], config: ResolverConfig, split: int) -> dict:
    """The documents in two runs into one store (NetworkX, in memory): the first ``split``
    documents, then the rest with a new resolver (an empty in-run memory, as a later
    ``kgbuild ingest`` starts), each document written before the next is resolved.
    Scored like :func:`across_documents`, with and without ``store_short_forms``."""
    gold_of = []
    for doc in docs:
        for v in dict.fromkeys(doc["gold"]):
            ms = [m for m, g in zip(doc["mentions"], doc["gold"], strict=True) if g == v]
            gold_of.append((ms[0].label, max((m.text for m in ms), key=lambda t: (len(t), t))))
    group = [d for d, doc in enumerate(docs) for _ in dict.fromkeys(doc["gold"])]
    out = {}
    for name, cfg in (
        ("two runs, no store short forms", config.model_copy(update={"store_short_forms": False})),
        ("two runs", config),
    ):
        store = NetworkXStore(None)
        results = []
        for part in (docs[:split], docs[split:]):
            resolver = EntityResolver(cfg)
            for doc in part:
                result = resolver.resolve_document(doc["mentions"], store, doc["related"])
                store.write_documents([_document_graph(doc, result)])
                results.append(result)
        pred = _vertex_preds(docs, results)
        p, r, n = b_cubed(pred, gold_of)
        bp, br = p / n, r / n
        out[name] = {
            "cross_doc_pairs": prf(*pair_counts(pred, gold_of, group)),
            "b3": {
                "precision": round(bp, 6),
                "recall": round(br, 4),
                "f1": round(2 * bp * br / (bp + br), 4),
            },
            "linked_pairs": pair_counts(pred, gold_of, group)[1],
            "short_form_links": sum(
                x.rule == "linked_short_form" for res in results[split:] for x in res.explain
            ),
        }
    return out


def _shared_alias_clusters(key_sets: list[set]) -> list[int]:
    parent = list(range(len(key_sets)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner: dict = {}
    for i, keys in enumerate(key_sets):
        for k in keys:
            if k in owner:
                parent[find(i)] = find(owner[k])
            else:
                owner[k] = i
    return [find(i) for i in range(len(key_sets))]


# --------------------------------------------------------------------------- report
def _row(name: str, r: dict, key: str) -> str:
    b, p = r["b3"], r[key]
    return (
        f"{name:<18} {b['precision']:>7.4f} {b['recall']:>7.4f} {b['f1']:>7.4f}   "
        f"{p['precision']:>7.4f} {p['recall']:>7.4f} {p['f1']:>7.4f}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--limit", type=int, default=None, help="first N documents only")
    ap.add_argument("--show-errors", type=int, default=0, help="print N sampled errors")
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"Re-DocRED dev not found at {args.data}", file=sys.stderr)
        return 2

    config = ResolverConfig()
    docs = load_documents(args.data, args.limit)
    n_mentions = sum(len(d["mentions"]) for d in docs)
    n_gold = sum(len(set(d["gold"])) for d in docs)
    within, rules, errors = within_documents(docs, config)
    # Before/after in one run: without the document's subject for ambiguous surnames.
    within["kgbuild before"] = within_documents(
        docs, config.model_copy(update={"last_name_subject": None})
    )[0]["kgbuild"]
    # Before/after in one run: the same resolver without the shared-neighbour evidence
    # (and, as "before" passes no relations, without relations at all).
    before = config.model_copy(update={"short_form_neighbours": False})
    across, disputed = across_documents(docs, config, before)
    runs = across_runs(docs, config, len(docs) // 2)

    print(f"Re-DocRED dev: {len(docs)} documents, {n_mentions} mentions, {n_gold} gold entities")
    print("\nWithin documents (micro over mentions / mention pairs)")
    print(
        f"{'system':<18} {'B3 P':>7} {'B3 R':>7} {'B3 F1':>7}   {'pair P':>7} {'pair R':>7} "
        f"{'pair F1':>7}"
    )
    for name in ("exact string", "exact normalized", "kgbuild before", "kgbuild"):
        print(_row(name, within[name], "pairwise"))
    print("('kgbuild before': the same resolver with last_name_subject=None)")
    print(f"kgbuild time: {within['kgbuild']['seconds']:.2f} s; merge rules used: {rules}")
    print(
        f"\nAcross documents ({across['clusters']} gold clusters, {across['gold_pairs']} "
        "same-name pairs in different documents)"
    )
    print(
        f"{'system':<18} {'B3 P':>7} {'B3 R':>7} {'B3 F1':>7}   {'pair P':>7} {'pair R':>7} "
        f"{'pair F1':>7}   linked pairs"
    )
    for name in ("exact full name", "any shared alias", "kgbuild before", "kgbuild"):
        r = across[name]
        print(_row(name, r, "cross_doc_pairs") + f"   {r['linked_pairs']}")
    print(
        "('kgbuild before': the same resolver without relations (short_form_neighbours=False); "
        "'kgbuild' is given the gold relations as neighbours)"
    )
    print(f"cross-document links by rule: {across['kgbuild']['link_rules']}")
    print(
        f"\nAcross runs: the first {len(docs) // 2} documents in one run, the rest in a "
        "later run into the same store"
    )
    print(
        f"{'system':<18} {'B3 P':>7} {'B3 R':>7} {'B3 F1':>7}   {'pair P':>7} {'pair R':>7} "
        f"{'pair F1':>7}   linked pairs   short-form links (run 2)"
    )
    print(
        _row("one run", across["kgbuild"], "cross_doc_pairs")
        + f"   {across['kgbuild']['linked_pairs']}"
    )
    for name, r in runs.items():
        print(
            _row(name[:18], r, "cross_doc_pairs")
            + f"   {r['linked_pairs']:<14} {r['short_form_links']}"
        )
    print("('two runs, no store short forms': store_short_forms=False)")
    print(f"entities linked under two or more gold names: {len(disputed)}")
    rng = random.Random(0)
    for names in rng.sample(disputed, min(15, len(disputed))):
        print("   ", " | ".join(f"{t}:{n}" for t, n in names))
    if args.show_errors:
        for e in rng.sample(errors, min(args.show_errors, len(errors))):
            print(e["kind"], e["doc"], e["mentions"])

    result = {
        "benchmark": "resolve_quality",
        "dataset": str(args.data.name),
        "documents": len(docs),
        "mentions": n_mentions,
        "gold_entities": n_gold,
        "within_documents": within,
        "merge_rules": rules,
        "across_documents": across,
        "across_runs": runs,
        "disputed_links_sample": disputed[:50],
        "config": config.model_dump(mode="json"),
        "python": platform.python_version(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
