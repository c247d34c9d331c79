"""Entity-resolution speed and memory against n, beside naive all-pairs comparison.

Generates synthetic mentions with realistic variation (deterministic, seeded):
people share surnames (Zipf-distributed), appear with initials, middle initials,
honorifics, reordered tokens and typos, and by surname alone after the first
mention in a document; organizations appear with and without legal suffixes
("Inc.", "GmbH"), with a leading "The", as acronyms, and with typos. Documents hold
about 20 mentions of 6-10 entities, entities drawn by Zipf popularity.

For each n (default 10k, 100k, 1M) a fresh subprocess generates the data and runs
:func:`kgbuild.resolve.cluster_mentions` on it, reporting wall time, peak resident
memory (``resource.getrusage``: the whole process, input lists included) and the
memory the input alone took, plus B³ and pairwise precision/recall/F1 against the
generator's truth. The baseline compares all pairs of mentions of the same type
with the same rapidfuzz scorer (``process.cdist``, in C, in row blocks) and joins
pairs at or above the same threshold: it runs for growing n until one step takes
longer than ``--naive-budget`` seconds.

Usage (the machine is shared with a training job: run it niced)::

    nice -n 10 python benchmarks/resolve_scale.py [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "resolve_scale.json"

_ONSETS = "b br c ch d dr f g gr h j k kl l m n p pr r s st t tr v w z".split()
_VOWELS = "a e i o u ai ea io ou".split()
_CODAS = ["", "", "n", "r", "s", "l", "m", "nd", "rt", "sk", "x", "th"]
_ORG_WORDS = (
    "National Global United First General Pacific Atlantic Northern Southern Royal "
    "Bank Systems Group Holdings Energy Motors Airlines Insurance Capital Partners "
    "Media Foods Pharma Software Networks Logistics Steel Chemicals Trust Labs"
).split()
_ORG_SUFFIXES = ["", "", "Inc.", "Corp.", "Ltd.", "GmbH", "LLC", "Co.", "AG", "plc"]
_HONORIFICS = ["Mr.", "Mrs.", "Dr.", "Prof.", "Sen."]


# --------------------------------------------------------------------------- data
def _word(rng: random.Random, syllables: int) -> str:
    w = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables))
    return (w + rng.choice(_CODAS)).capitalize()


def _typo(rng: random.Random, text: str) -> str:
    """One edit inside a word of 4+ letters: swap, drop, double or replace a letter."""
    words = text.split()
    long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long:
        return text
    i = rng.choice(long)
    w = words[i]
    j = rng.randrange(1, len(w) - 2)
    op = rng.randrange(4)
    if op == 0:
        w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    elif op == 1:
        w = w[:j] + w[j + 1 :]
    elif op == 2:
        w = w[:j] + w[j] + w[j:]
    else:
        w = w[:j] + rng.choice("aeiourstnl") + w[j + 1 :]
    words[i] = w
    return " ".join(words)


class Generator:
    """Synthetic entities and their mentions; ``truth`` is the entity of each mention."""

    def __init__(self, n_entities: int, seed: int = 13) -> None:
        rng = self.rng = random.Random(seed)
        n_surnames = max(50, n_entities // 6)
        self.surnames = list(
            dict.fromkeys(_word(rng, rng.choice((2, 2, 3))) for _ in range(n_surnames))
        )
        self.firsts = list(dict.fromkeys(_word(rng, 2) for _ in range(max(50, n_entities // 40))))
        self.org_words = list(
            dict.fromkeys(_word(rng, rng.choice((2, 3))) for _ in range(max(100, n_entities // 4)))
        )
        # Zipf-like surname popularity: a few surnames are shared by many people.
        self.surname_weights = [1 / (r + 1) ** 0.9 for r in range(len(self.surnames))]
        self.entities: list[tuple[str, tuple]] = []  # (type, parts)
        seen: set = set()
        while len(self.entities) < n_entities:
            roll = rng.random()
            if roll < 0.55:
                first = rng.choice(self.firsts)
                middle = rng.choice("ABCDEFGHJKLMNPRSTW") if rng.random() < 0.3 else ""
                last = rng.choices(self.surnames, self.surname_weights)[0]
                ent = ("person", (first, middle, last))
                key = ("person", first, last)
            elif roll < 0.9:
                k = rng.choice((1, 2, 2, 3, 3, 4))
                words = [rng.choice(self.org_words)] + [
                    rng.choice(_ORG_WORDS if rng.random() < 0.5 else self.org_words)
                    for _ in range(k - 1)
                ]
                ent = ("organization", (tuple(words), rng.choice(_ORG_SUFFIXES)))
                key = ("organization", tuple(words))
            else:
                words = tuple(_word(rng, rng.choice((2, 3))) for _ in range(rng.choice((1, 1, 2))))
                ent = ("location", (words,))
                key = ("location", words)
            if key not in seen:  # every entity has its own full name
                seen.add(key)
                self.entities.append(ent)
        self.popularity = [1 / (r + 1) ** 0.8 for r in range(n_entities)]

    def full(self, e: int) -> str:
        kind, parts = self.entities[e]
        rng = self.rng
        if kind == "person":
            first, middle, last = parts
            r = rng.random()
            if r < 0.08:
                name = f"{first[0]}. {last}"
            elif r < 0.12:
                name = f"{last} {first}"  # reordered
            elif middle and r < 0.6:
                name = f"{first} {middle}. {last}"
            else:
                name = f"{first} {last}"
            if rng.random() < 0.06:
                name = f"{rng.choice(_HONORIFICS)} {name}"
        elif kind == "organization":
            words, suffix = parts
            name = " ".join(words)
            r = rng.random()
            if len(words) >= 3 and r < 0.1:
                return "".join(w[0] for w in words).upper()  # acronym
            if r < 0.5 and suffix:
                name = f"{name} {suffix}"
            elif r < 0.55:
                name = f"{name} {rng.choice(_ORG_SUFFIXES[2:])}"  # another legal form
            if rng.random() < 0.04:
                name = f"The {name}"
        else:
            name = " ".join(parts[0])
        if rng.random() < 0.04:
            name = _typo(rng, name)
        if rng.random() < 0.01:
            name = name.upper()
        return name

    def short(self, e: int) -> str:
        kind, parts = self.entities[e]
        if kind == "person":
            return parts[2] if self.rng.random() < 0.8 else self.full(e)
        if kind == "organization" and len(parts[0]) >= 3 and self.rng.random() < 0.4:
            return "".join(w[0] for w in parts[0]).upper()
        return self.full(e)

    def mentions(self, n: int) -> tuple[list[str], list[str], list[str], list[int]]:
        rng = self.rng
        names: list[str] = []
        types: list[str] = []
        docs: list[str] = []
        truth: list[int] = []
        d = 0
        n_entities = len(self.entities)
        while len(names) < n:
            picked = set(rng.choices(range(n_entities), self.popularity, k=rng.randint(6, 10)))
            doc = f"doc{d}"
            for e in sorted(picked, key=lambda _: rng.random()):
                k = rng.choice((1, 1, 2, 2, 3, 4))
                for j in range(k):
                    names.append(self.full(e) if j == 0 else self.short(e))
                    types.append(self.entities[e][0])
                    docs.append(doc)
                    truth.append(e)
            d += 1
        return names[:n], types[:n], docs[:n], truth[:n]


def generate(n: int, seed: int = 13):
    return Generator(max(100, n // 10), seed).mentions(n)


# --------------------------------------------------------------------------- quality
def scores(pred: list[int], gold: list[int]) -> dict:
    """B³ and pairwise precision/recall/F1 of a clustering of all mentions."""
    cells = Counter(zip(pred, gold, strict=True))
    psize, gsize = Counter(pred), Counter(gold)
    n = len(pred)
    b_p = sum(c * c / psize[p] for (p, _), c in cells.items()) / n
    b_r = sum(c * c / gsize[g] for (_, g), c in cells.items()) / n

    def pairs(counter: Counter) -> int:
        return sum(c * (c - 1) // 2 for c in counter.values())

    tp, pp, gp = pairs(cells), pairs(psize), pairs(gsize)
    p_p, p_r = (tp / pp if pp else 1.0), (tp / gp if gp else 1.0)

    def f1(p: float, r: float) -> float:
        return round(2 * p * r / (p + r), 4) if p + r else 0.0

    return {
        "b3": {"precision": round(b_p, 4), "recall": round(b_r, 4), "f1": f1(b_p, b_r)},
        "pairwise": {"precision": round(p_p, 4), "recall": round(p_r, 4), "f1": f1(p_p, p_r)},
    }


# --------------------------------------------------------------------------- runs
def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_kgbuild(n: int) -> dict:
    """In this process: generate n mentions and cluster them."""
    from kgbuild.resolve import cluster_mentions

    names, types, docs, truth = generate(n)
    input_mb = _rss_mb()
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    labels = cluster_mentions(names, types, docs)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "n": n,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "load_average_at_start": round(load, 2),
        "mentions_per_second": round(n / seconds),
        "peak_rss_mb": round(peak_mb, 1),
        "input_rss_mb": round(input_mb, 1),
        "documents": len(set(docs)),
        "true_entities": len(set(truth)),
        "predicted_entities": len(set(labels)),
        **scores(labels, truth),
    }


def run_naive(n: int, threshold: float) -> dict:
    """All pairs of same-type mentions through rapidfuzz cdist; pairs >= threshold join."""
    import numpy as np
    from rapidfuzz import fuzz, process

    names, types, docs, truth = generate(n)
    t0, c0 = time.perf_counter(), time.process_time()
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    by_type: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(types):
        by_type[t].append(i)
    pairs = 0
    for idx in by_type.values():
        texts = [names[i].casefold() for i in idx]
        for start in range(0, len(idx), 1000):
            block = process.cdist(
                texts[start : start + 1000],
                texts,
                scorer=fuzz.ratio,
                score_cutoff=threshold,
                dtype=np.uint8,
                workers=2,
            )
            pairs += block.shape[0] * block.shape[1]
            for a, b in zip(*np.nonzero(block), strict=True):
                ra, rb = find(idx[start + a]), find(idx[b])
                if ra != rb:
                    parent[rb] = ra
    labels = [find(i) for i in range(n)]
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "n": n,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "comparisons": pairs,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        **scores(labels, truth),
    }


def _subprocess(kind: str, n: int, threshold: float) -> dict:
    """Each measurement in a fresh interpreter, so peak memory is its own."""
    cmd = [sys.executable, __file__, "--worker", kind, "--n", str(n), "--threshold", str(threshold)]
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument(
        "--naive-sizes",
        type=int,
        nargs="+",
        default=[1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000],
    )
    ap.add_argument("--naive-budget", type=float, default=60.0, help="stop after a step this slow")
    ap.add_argument("--threshold", type=float, default=90.0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--worker", choices=["kgbuild", "naive"], help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:  # one measurement, printed as JSON for the parent
        if args.worker == "kgbuild":
            print(json.dumps(run_kgbuild(args.n)))
        else:
            print(json.dumps(run_naive(args.n, args.threshold)))
        return 0

    results: dict = {"kgbuild": [], "naive_all_pairs": []}
    print(
        f"{'system':<16} {'n':>9} {'wall s':>7} {'cpu s':>7} {'peak MB':>8} "
        f"{'B3 P':>6} {'B3 R':>6} {'B3 F1':>6} {'pair P':>6} {'pair R':>6} {'pair F1':>7}"
    )

    def show(system: str, r: dict) -> None:
        b, p = r["b3"], r["pairwise"]
        print(
            f"{system:<16} {r['n']:>9} {r['seconds']:>7.2f} {r['cpu_seconds']:>7.2f} "
            f"{r['peak_rss_mb']:>8.0f} {b['precision']:>6.3f} {b['recall']:>6.3f} "
            f"{b['f1']:>6.3f} {p['precision']:>6.3f} {p['recall']:>6.3f} {p['f1']:>7.3f}",
            flush=True,
        )

    for n in args.naive_sizes:
        r = _subprocess("naive", n, args.threshold)
        results["naive_all_pairs"].append(r)
        show("naive all-pairs", r)
        if r["seconds"] > args.naive_budget:
            break
    for n in sorted(set(args.sizes) | {r["n"] for r in results["naive_all_pairs"]}):
        r = _subprocess("kgbuild", n, args.threshold)
        results["kgbuild"].append(r)
        show("kgbuild", r)

    ours = [r for r in results["kgbuild"] if r["n"] >= 10_000 and r["cpu_seconds"] > 0]
    if len(ours) >= 2:  # slope of log(time) against log(n): 1 is linear, 2 quadratic
        a, b = ours[0], ours[-1]
        for what in ("cpu_seconds", "seconds"):
            exponent = math.log(b[what] / a[what]) / math.log(b["n"] / a["n"])
            results[f"kgbuild_{what}_exponent"] = round(exponent, 3)
            print(f"kgbuild {what} ~ n^{exponent:.2f} from n={a['n']:,} to n={b['n']:,}")
    naive = results["naive_all_pairs"]
    if naive:
        # Per CPU-second, from process time: wall time on a shared machine says more about
        # the neighbours than about the work.
        last = naive[-1]
        rate = last["comparisons"] / last["cpu_seconds"]
        big_n = max((r["n"] for r in results["kgbuild"]), default=1_000_000)
        pairs = last["comparisons"] / last["n"] ** 2 * big_n**2  # same share of same-type pairs
        hours = pairs / rate / 3600 / 2  # on both cores
        results["naive_comparisons_per_cpu_second"] = round(rate)
        results["naive_extrapolated_hours_at_max_n_on_2_cores"] = round(hours, 2)
        print(
            f"naive all-pairs: {rate:,.0f} comparisons per CPU-second (rapidfuzz cdist); "
            f"n={big_n:,} needs {pairs:.2e} comparisons: ~{hours:,.1f} h on 2 cores"
        )

    results.update(
        benchmark="resolve_scale",
        threshold=args.threshold,
        cpus=os.cpu_count(),
        niceness=os.nice(0),
        python=platform.python_version(),
        load_average_at_end=round(os.getloadavg()[0], 2),
        note="The 2-core machine was shared with a model training job and other test runs "
        "(see load averages); this ran under nice -n 10, so wall time (seconds) is inflated "
        "and cpu_seconds (process time of the resolving process) is the cost of the work.",
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
