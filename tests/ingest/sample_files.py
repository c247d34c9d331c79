"""Real PDF, Word and web-page files for the loader tests and benchmarks, made on the spot.

PDFs are written with fpdf2 and Word files with python-docx (both in ``kgbuild[formats]``'s
test set-up), so every test reads files a real library produced. The text on each page
is known, so tests can assert what the loader gives back.
"""

from __future__ import annotations

from pathlib import Path

#: A Unicode TrueType font for fpdf2 (its built-in fonts only cover Latin-1).
FONT_CANDIDATES = [
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
]


def unicode_font() -> Path | None:
    """A Unicode TTF font on this machine, or None."""
    try:
        import matplotlib

        FONT_CANDIDATES.append(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf")
    except ImportError:
        pass
    return next((p for p in FONT_CANDIDATES if p.is_file()), None)


HEADER = "Northwind Traders — Annual Report 2024"

#: Lines of the left and right column of each page; "-" at a line end is a hyphenation.
PAGE_COLUMNS = [
    (
        [
            "Marie Dubois works for Northwind",
            "Traders in Paris. The company was",
            "founded in 1998 and its develop-",
            "ment team moved to London.",
        ],
        [
            "Kenji Tanaka joined Northwind",
            "Traders in Tokyo. He leads the",
            "logistics division.",
        ],
    ),
    (
        [
            "Zoë Łukasiewicz works for Acme",
            "Inc in Berlin. Acme Inc signed",
            "a contract with Northwind Traders",
            "for the distri-",
            "bution of spare parts.",
        ],
        [
            "The board met in Zürich on",
            "Monday to approve the budget.",
        ],
    ),
    (
        [
            "Søren Kierkegaard works for Globex",
            "Corp in London. Globex Corp is",
            "a long-standing partner of",
            "Northwind Traders.",
        ],
        [
            "Prices rose by 4 % in the",
            "third quarter.",
        ],
    ),
    (
        [
            "Ana María Núñez works for Initech",
            "Ltd in New York. She wrote the",
            "final chapter of this report.",
        ],
        [
            "Questions go to the investor",
            "relations office.",
        ],
    ),
]


def page_text(index: int) -> str:
    """What the loader should give for page ``index`` (0-based): columns in order,
    hyphenated words joined, header and footer gone."""
    left, right = PAGE_COLUMNS[index]
    text = "\n".join(left + right)
    return text.replace("-\n", "")


def _pdf(font: Path | None):
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    if font is not None:
        pdf.add_font("Body", fname=str(font))
        pdf.set_font("Body", size=11)
    else:
        pdf.set_font("Helvetica", size=11)
    return pdf


def make_report_pdf(path: Path, pages: int = 4, font: Path | None = None) -> Path:
    """A multi-page, two-column report with a running header and a page-number footer.

    Without a Unicode ``font``, non-Latin-1 characters are replaced (fpdf2 core fonts).
    """
    pdf = _pdf(font)
    for n in range(pages):
        left, right = PAGE_COLUMNS[n % len(PAGE_COLUMNS)]
        if font is None:
            left = [_latin1(s) for s in left]
            right = [_latin1(s) for s in right]
        pdf.add_page()
        pdf.set_xy(15, 12)
        pdf.cell(0, 6, HEADER if font is not None else _latin1(HEADER))
        for x, lines in ((15, left), (110, right)):
            y = 35
            for line in lines:
                pdf.set_xy(x, y)
                pdf.cell(85, 6, line)
                y += 6
        pdf.set_xy(15, 282)
        pdf.cell(0, 6, f"Page {n + 1} of {pages}")
    pdf.output(str(path))
    return path


def _latin1(s: str) -> str:
    return s.replace("—", "-").encode("latin-1", "replace").decode("latin-1")


def make_long_pdf(path: Path, pages: int, font: Path | None = None) -> Path:
    """A PDF of ``pages`` pages of running text (for benchmarks)."""
    pdf = _pdf(font)
    line = "Northwind Traders opened a new warehouse in Lyon to serve customers in France."
    for n in range(pages):
        pdf.add_page()
        pdf.set_xy(15, 12)
        pdf.cell(0, 6, "Northwind Traders - Internal Memo")
        for i in range(40):
            pdf.set_xy(15, 25 + 6 * i)
            pdf.cell(180, 6, f"{i + 1}. {line}")
        pdf.set_xy(15, 282)
        pdf.cell(0, 6, f"Page {n + 1}")
    pdf.output(str(path))
    return path


def make_image_only_pdf(path: Path, pages: int = 2) -> Path:
    """A "scanned" PDF: each page is one picture of text, no text layer."""
    from PIL import Image, ImageDraw

    pdf = _pdf(None)
    for n in range(pages):
        image = Image.new("RGB", (600, 800), "white")
        ImageDraw.Draw(image).text((40, 40), f"Scanned page {n + 1}: Marie Dubois", fill="black")
        pdf.add_page()
        pdf.image(image, x=0, y=0, w=210)
    pdf.output(str(path))
    return path


def make_encrypted_pdf(path: Path) -> Path:
    """A PDF that needs the user password "secret" to open."""
    pdf = _pdf(None)
    pdf.set_encryption(owner_password="owner-pw", user_password="secret")
    pdf.add_page()
    pdf.set_xy(15, 20)
    pdf.cell(0, 6, "Confidential: Marie Dubois works for Northwind Traders.")
    pdf.output(str(path))
    return path


def make_truncated_pdf(path: Path, font: Path | None = None) -> Path:
    """The first third of a real PDF: the download broke off."""
    whole = make_report_pdf(path, pages=2, font=font).read_bytes()
    path.write_bytes(whole[: len(whole) // 3])
    return path


def make_report_docx(path: Path) -> Path:
    """A Word report: title, nested headings, paragraphs and a table."""
    import docx

    word = docx.Document()
    word.core_properties.title = "Northwind Traders Annual Report"
    word.add_paragraph("Northwind Traders Annual Report", style="Title")
    word.add_paragraph("Prepared by the board of Northwind Traders.")
    word.add_heading("People", level=1)
    word.add_paragraph("Marie Dubois works for Northwind Traders in Paris.")
    word.add_heading("New hires", level=2)
    word.add_paragraph("Kenji Tanaka joined Northwind Traders in Tokyo.")
    word.add_paragraph("")  # empty paragraphs are skipped
    word.add_heading("Partners", level=1)
    table = word.add_table(rows=3, cols=3)
    for r, row in enumerate(
        [
            ("Partner", "City", "Since"),
            ("Acme Inc", "Berlin", "2001"),
            ("Globex Corp", "London", "2015"),
        ]
    ):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    word.add_paragraph("Zoë Łukasiewicz works for Acme Inc in Berlin.")
    word.save(str(path))
    return path


#: The text make_report_docx's file should load as.
DOCX_TEXT = (
    "Northwind Traders Annual Report\n\n"
    "Prepared by the board of Northwind Traders.\n\n"
    "People\n\n"
    "Marie Dubois works for Northwind Traders in Paris.\n\n"
    "New hires\n\n"
    "Kenji Tanaka joined Northwind Traders in Tokyo.\n\n"
    "Partners\n\n"
    "Partner\tCity\tSince\nAcme Inc\tBerlin\t2001\nGlobex Corp\tLondon\t2015\n\n"
    "Zoë Łukasiewicz works for Acme Inc in Berlin."
)

NEWS_ARTICLE = [
    "Marie Dubois, the chief executive of Northwind Traders, announced on Monday that the "
    "company will open a new distribution centre in Lyon next spring.",
    "The centre will employ about 300 people and serve customers across France, Belgium and "
    "Switzerland, Dubois told reporters at the company's headquarters in Paris.",
    "Analysts at Globex Corp said the move would cut delivery times in the region by half. "
    "Construction is expected to start in March.",
]


def news_page_html() -> str:
    """A saved news page: navigation, cookie banner, the article, related links, footer."""
    paragraphs = "\n".join(f"      <p>{p}</p>" for p in NEWS_ARTICLE)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Northwind Traders to open Lyon distribution centre | The Daily Ledger</title>
  <meta property="og:title" content="Northwind Traders to open Lyon distribution centre">
  <script>window.analytics = {{track: function() {{}}}};</script>
  <style>nav {{ display: flex; }}</style>
</head>
<body>
  <div class="cookie-banner">We use cookies to improve your experience. Accept all cookies</div>
  <header>
    <nav>
      <ul>
        <li><a href="/">Home</a></li><li><a href="/world">World</a></li>
        <li><a href="/business">Business</a></li><li><a href="/sport">Sport</a></li>
        <li><a href="/subscribe">Subscribe now for 1 euro</a></li>
      </ul>
    </nav>
  </header>
  <main>
    <article>
      <h1>Northwind Traders to open Lyon distribution centre</h1>
      <p class="byline">By Jean Martin, 3 March 2025</p>
{paragraphs}
    </article>
    <aside class="related">
      <h2>Related stories</h2>
      <ul><li><a href="/a">Ten cheap flights to Lisbon</a></li>
      <li><a href="/b">Celebrity chef opens bakery</a></li></ul>
    </aside>
  </main>
  <footer>
    <p>© 2025 The Daily Ledger. All rights reserved.</p>
    <ul><li><a href="/privacy">Privacy policy</a></li>
    <li><a href="/terms">Terms of use</a></li></ul>
  </footer>
</body>
</html>
"""
