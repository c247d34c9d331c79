"""Start-up cost of a small incremental run: ``kgbuild ingest`` after one file changed.

A cron user pays the start-up on every run that finds a change: the process starts,
sees one changed document, loads the extractor, chunks, extracts and writes that one
document. This times the whole process (``python -m kgbuild.cli.main ingest``) on a copy
of examples/docs, with one line appended to one file before each run, and, beside it,
an unchanged re-run (nothing loads) and a bare ``import torch`` (the floor: the
extractor scores pairs in torch). With ``--baseline DIR`` (another kgbuild checkout,
e.g. a ``git worktree`` of an older commit) the same runs of that code go in turns with
this checkout's, so their ratio comes from one run of the machine.

    python benchmarks/start_up.py [--runs 7] [--baseline DIR]

Prints a table of medians (and min / max) and writes benchmarks/results/start_up.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "start_up.json"


def timed(command: list[str], cwd: Path, code: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1"}
    env.pop("KGBUILD_EXTRACTOR", None)
    t0 = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="Timed runs of each (median).")
    parser.add_argument("--baseline", default=None, help="Another kgbuild checkout to compare.")
    parser.add_argument("--output", default=str(RESULTS), help="Where to write the JSON.")
    args = parser.parse_args()
    codes = {"this checkout": ROOT}
    if args.baseline:
        codes["baseline"] = Path(args.baseline).resolve()
    python = sys.executable
    ingest = [python, "-m", "kgbuild.cli.main", "ingest", "docs", "--store", "graph.json", "-q"]
    work = Path(tempfile.mkdtemp(prefix="kgbuild-start-up-"))
    folders = {}
    for name, code in codes.items():
        folder = work / name.replace(" ", "-")
        shutil.copytree(ROOT / "examples" / "docs", folder / "docs")
        timed(ingest, folder, code)  # the first ingest (and any ONNX export) out of the timing
        folders[name] = folder
    cases = {
        "one changed file": lambda folder, code: (
            (folder / "docs" / "ada_lovelace.txt").open("a").write("She wrote notes.\n"),
            timed(ingest, folder, code),
        )[1],
        "nothing changed": lambda folder, code: timed(ingest, folder, code),
        "import torch (floor)": lambda folder, code: timed(
            [python, "-c", "import torch"], folder, code
        ),
    }
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.runs + 1):  # the first round warms the file cache, not counted
        for case, run in cases.items():
            for name, code in codes.items():
                times.setdefault((case, name), []).append(run(folders[name], code))
    rows = []
    for (case, name), values in times.items():
        values = values[1:]
        rows.append(
            {
                "case": case,
                "code": name,
                "median_s": round(statistics.median(values), 3),
                "min_s": round(min(values), 3),
                "max_s": round(max(values), 3),
                "runs": len(values),
            }
        )
    lines = [
        f"whole-process wall seconds, medians of {args.runs} runs taken in turns",
        "",
        "| case | code | median s | min s | max s |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['case']} | {r['code']} | {r['median_s']:.2f} | {r['min_s']:.2f} | {r['max_s']:.2f} |"
        for r in rows
    ]
    if args.baseline:
        medians = {(r["case"], r["code"]): r["median_s"] for r in rows}
        lines.append("")
        for case in cases:
            ratio = medians[(case, "this checkout")] / medians[(case, "baseline")]
            lines.append(f"{case}: this checkout / baseline = {ratio:.2f}")
    table = "\n".join(lines)
    print(table)
    Path(args.output).write_text(
        json.dumps({"benchmark": "start_up", "rows": rows, "table": table}, indent=2) + "\n"
    )
    print(f"\nwrote {args.output}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
