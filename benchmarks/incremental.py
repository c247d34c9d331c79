"""Incremental ingestion: re-ingesting an unchanged or slightly changed collection.

Generates a collection of small, varied documents (seeded: .txt, .md and .html in ten
folders, 2 to 8 sentences each, full of people, organizations, places and dates) and,
into a NetworkX store:

1. ingests it once: the baseline, measured in the same run;
2. ingests it again unchanged (median of ``--repeats`` runs): target under 5% of (1);
3. changes 1%, then 5%, then 10% of the documents (other documents each time) and
   ingests after each change: the time should grow in proportion to the change. A
   least-squares line through (0 changed, unchanged time) and these points gives the
   cost per changed document, compared with the first run's cost per document.

Every run is ``KnowledgeGraphBuilder.ingest`` with a store *path*, as ``kgbuild ingest``
and a scheduler would run it: each loads the graph file under the run lock, checks every
file's content hash against the store, extracts and writes what changed, and saves the
file if anything changed. The extractor is loaded once, before the first run (its load
time is reported apart: a new process pays it on every run, changed or not).

    nice -n 10 python benchmarks/incremental.py [--docs 1000] [--extractor auto|real|fake]

Prints a table and writes benchmarks/results/incremental.json. ``auto`` uses the trained
checkpoint (kgbuild.extract.load_extractor) if there is one, else the test extractor
(tests/fake_extractor.py), and says which in the table and the JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "incremental.json"

ENTITY_TYPES = ["person", "organization", "location", "date"]
RELATION_TYPES = ["works for", "founded by", "located in", "born in"]

# -- the collection -------------------------------------------------------------------------------

FIRST = (
    "Anna Björn Carlos Dmitri Elena Fatima Giulia Hiro Ingrid José Kwame Lena Mateo Nadia "
    "Oskar Priya Quentin Rosa Samir Tomasz Ursula Viktor Wen Ximena Yusuf Zoë"
).split()
LAST = (
    "Almeida Bauer Chen Dubois Eriksen Fischer García Haddad Ivanova Jensen Kowalski "
    "Larsen Moreau Nakamura Okafor Petrov Quispe Rossi Svensson Tanaka Umarov Varga "
    "Weber Xu Yilmaz Zhang"
).split()
ORGS = (
    "Acme Inc|Globex Corp|Initech Corp|Umbrella Corp|Hooli Inc|Stark Industries Ltd|"
    "Wayne Enterprises Inc|Tyrell Corp|Cyberdyne Ltd|Soylent Corp|Aperture Labs Inc|"
    "Massive Dynamic Corp|Oscorp Inc|Vandelay Industries Ltd|Wonka Company|Nordic University"
).split("|")
PLACES = [
    "Paris",
    "London",
    "Berlin",
    "Tokyo",
    "Zürich",
    "München",
    "New York",
    "Lisbon",
    "Nairobi",
    "Lima",
    "Seoul",
    "Toronto",
    "Oslo",
    "Madrid",
    "Cairo",
    "Sydney",
]
MONTHS = "January February March April May June July August September October November".split()

TEMPLATES = [
    "{p} works for {o} in {c}.",
    "{o} was founded by {p} in {year}.",
    "{p} was born in {c} on {month} {day}, {year}.",
    "the headquarters of {o} are located in {c}.",
    "in {year}, {p} joined {o} as head of research.",
    "according to {q}, {o} will open an office in {c} next {month}.",
    "{p} and {q} met in {c} to discuss a merger with {o}.",
    "shares of {o} rose after {p} announced results on {month} {day}.",
]


def sentence(rng: random.Random) -> str:
    def person() -> str:
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}"

    text = rng.choice(TEMPLATES).format(
        p=person(),
        q=person(),
        o=rng.choice(ORGS),
        c=rng.choice(PLACES),
        year=rng.randint(1950, 2024),
        month=rng.choice(MONTHS),
        day=rng.randint(1, 28),
    )
    return text[0].upper() + text[1:]


def render(i: int, sentences: list[str]) -> tuple[str, str]:
    """(file name, content) of document ``i``: .txt, .md or .html."""
    kind = ("txt", "txt", "txt", "md", "md", "html")[i % 6]
    if kind == "txt":
        return f"doc{i:04d}.txt", " ".join(sentences) + "\n"
    if kind == "md":
        items = "\n".join(f"- {s}" for s in sentences[1:])
        return f"doc{i:04d}.md", f"# Report {i}\n\n{sentences[0]}\n\n{items}\n"
    paragraphs = "".join(f"<p>{s}</p>" for s in sentences)
    return (
        f"doc{i:04d}.html",
        f"<html><head><title>Item {i}</title></head><body><h1>Item {i}</h1>"
        f"{paragraphs}</body></html>\n",
    )


def make_collection(folder: Path, n: int, seed: int = 7) -> list[Path]:
    rng = random.Random(seed)
    paths = []
    for i in range(n):
        name, content = render(i, [sentence(rng) for _ in range(rng.randint(2, 8))])
        path = folder / f"part{i % 10}" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        paths.append(path)
    return paths


def change(path: Path, rng: random.Random) -> None:
    """A real edit: one more sentence, inside the document's own format."""
    text = path.read_text(encoding="utf-8")
    added = sentence(rng)
    if path.suffix == ".html":
        text = text.replace("</body>", f"<p>{added}</p></body>")
    else:
        text = text.rstrip("\n") + ("\n- " if path.suffix == ".md" else " ") + added + "\n"
    path.write_text(text, encoding="utf-8")


# -- runs -----------------------------------------------------------------------------------------


def load(choice: str, model: str | None):
    """(extractor, description, load seconds)."""
    t0 = time.perf_counter()
    if choice in ("auto", "real"):
        try:
            from kgbuild.extract import load_extractor

            extractor = load_extractor(model)
            return extractor, extractor.model_id, time.perf_counter() - t0
        except (FileNotFoundError, OSError, ValueError) as exc:
            if choice == "real":
                raise
            print(f"no trained extractor ({exc}); using the test extractor", file=sys.stderr)
    sys.path.insert(0, str(ROOT / "tests"))
    from fake_extractor import FakeExtractor

    return FakeExtractor(), "fake (tests/fake_extractor.py)", time.perf_counter() - t0


def run(store: Path, docs: Path, extractor) -> tuple[float, object]:
    from kgbuild.pipeline import BuildConfig, KnowledgeGraphBuilder

    builder = KnowledgeGraphBuilder(
        str(store),
        ENTITY_TYPES,
        RELATION_TYPES,
        extractor=extractor,
        config=BuildConfig(prune=True),
        progress=False,
    )
    t0 = time.perf_counter()
    summary = builder.ingest([docs])
    return time.perf_counter() - t0, summary


def fit(points: list[tuple[int, float]]) -> tuple[float, float, float]:
    """Least squares ``seconds = a + b * changed``: (a, b, r squared)."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True))
    return a, b, 1 - ss_res / ss_tot if ss_tot else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--extractor", choices=["auto", "real", "fake"], default="auto")
    parser.add_argument("--model", default=None, help="checkpoint folder (real extractor)")
    parser.add_argument("--repeats", type=int, default=3, help="unchanged re-runs (median)")
    parser.add_argument("--changes", default="1,5,10", help="percentages changed, in turn")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    extractor, described, load_seconds = load(args.extractor, args.model)
    rng = random.Random(11)
    with tempfile.TemporaryDirectory(prefix="kgbuild-incremental-") as tmp:
        docs, store = Path(tmp) / "docs", Path(tmp) / "graph.json"
        paths = make_collection(docs, args.docs)
        size = sum(p.stat().st_size for p in paths)
        rows = []

        seconds, summary = run(store, docs, extractor)
        assert summary.documents.new == args.docs and summary.ok, summary.render()
        first = seconds
        rows.append(
            {
                "run": "first ingest",
                "changed": args.docs,
                "extracted": summary.documents.written,
                "seconds": seconds,
                "stages": summary.seconds.model_dump(),
            }
        )
        graph = summary.graph
        graph_bytes = store.stat().st_size

        unchanged = []
        for _ in range(args.repeats):
            seconds, summary = run(store, docs, extractor)
            assert summary.documents.unchanged == args.docs and summary.documents.written == 0
            unchanged.append((seconds, summary))
        seconds, summary = sorted(unchanged, key=lambda r: r[0])[len(unchanged) // 2]
        rows.append(
            {
                "run": f"unchanged (median of {args.repeats})",
                "changed": 0,
                "extracted": 0,
                "seconds": seconds,
                "stages": summary.seconds.model_dump(),
            }
        )
        from kgbuild.store import NetworkXStore

        t0 = time.perf_counter()
        NetworkXStore(store).open()
        graph_load = time.perf_counter() - t0

        untouched = list(paths)
        rng.shuffle(untouched)
        for pct in (int(p) for p in args.changes.split(",")):
            k = max(1, round(args.docs * pct / 100))
            edited, untouched = untouched[:k], untouched[k:]
            for path in edited:
                change(path, rng)
            seconds, summary = run(store, docs, extractor)
            d = summary.documents
            assert (d.changed, d.unchanged) == (k, args.docs - k), summary.render()
            rows.append(
                {
                    "run": f"{pct}% changed",
                    "changed": k,
                    "extracted": d.written,
                    "seconds": seconds,
                    "stages": summary.seconds.model_dump(),
                }
            )

    a, b, r2 = fit([(row["changed"], row["seconds"]) for row in rows[1:]])
    per_doc_first = first / args.docs
    for row in rows:
        row["percent_of_first"] = 100 * row["seconds"] / first

    print(f"\nIncremental ingestion: {args.docs} documents ({size / 1000:.0f} KB), NetworkX store")
    print(f"extractor: {described} (loaded in {load_seconds:.2f} s, not counted below)")
    print(f"graph: {graph}; file {graph_bytes / 1e6:.1f} MB, loads in {graph_load:.2f} s\n")
    print(f"{'run':<26}{'changed':>8}{'extracted':>10}{'seconds':>10}{'% of first':>12}")
    for row in rows:
        print(
            f"{row['run']:<26}{row['changed']:>8}{row['extracted']:>10}"
            f"{row['seconds']:>10.2f}{row['percent_of_first']:>11.1f}%"
        )
    target_met = rows[1]["percent_of_first"] < 5
    print(
        f"\nunchanged re-ingest: {rows[1]['percent_of_first']:.1f}% of the first run "
        f"(target < 5%: {'met' if target_met else 'NOT met'})"
    )
    print(
        f"changed documents: seconds = {a:.2f} + {b:.4f} x changed (r^2 {r2:.3f}); "
        f"{b:.4f} s per changed document vs {per_doc_first:.4f} s per document in the "
        f"first run ({b / per_doc_first:.2f}x)"
    )

    result = {
        "benchmark": "incremental",
        "documents": args.docs,
        "collection_bytes": size,
        "extractor": described,
        "extractor_load_seconds": load_seconds,
        "graph": graph,
        "graph_file_bytes": graph_bytes,
        "graph_load_seconds": graph_load,
        "rows": rows,
        "unchanged_percent_of_first": rows[1]["percent_of_first"],
        "unchanged_target_met": target_met,
        "fit": {"intercept_seconds": a, "seconds_per_changed_document": b, "r_squared": r2},
        "first_run_seconds_per_document": per_doc_first,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
