"""The page itself: self-contained, data embedded safely, scripts pinned by the CSP."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from synthetic import HOSTILE_NAMES, hostile_graph
from test_view_data import write_store

import kgbuild
from kgbuild.viewer.render import VIS_NETWORK_VERSION, script_json

VENDOR = Path(kgbuild.__file__).parent / "viewer" / "vendor"


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of each <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in_script: dict[str, str | None] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = dict(attrs)
            self.scripts.append((self._in_script, ""))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None

    def handle_data(self, data):
        if self._in_script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)


@pytest.fixture(scope="module")
def hostile_page(tmp_path_factory) -> str:
    path = write_store(tmp_path_factory.mktemp("hostile") / "h.json", [hostile_graph()])
    return kgbuild.view(path).html


def parse(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


def test_the_page_is_self_contained(hostile_page):
    tags = parse(hostile_page)
    for tag, attrs in tags.tags:
        assert "src" not in attrs and "href" not in attrs, (tag, attrs)
    assert [t for t, _ in tags.tags if t in ("link", "iframe", "img", "object", "embed")] == []
    kinds = [attrs.get("type") for attrs, _ in tags.scripts]
    assert kinds == ["application/json", None, None]  # data, vis-network, the viewer
    assert f"vis-network {VIS_NETWORK_VERSION}" in hostile_page


def test_document_text_cannot_leave_the_data_element(hostile_page):
    tags = parse(hostile_page)
    data_attrs, data = tags.scripts[0]
    assert data_attrs == {"type": "application/json", "id": "kgbuild-data"}
    assert not re.search("[<>&]", data)  # escaped as \\u003c, \\u003e, \\u0026
    graph = json.loads(data)
    assert {e["name"] for e in graph["entities"]} == {name for name, _ in HOSTILE_NAMES}
    # the page holds no hostile markup anywhere outside the (escaped) data
    for name, _ in HOSTILE_NAMES:
        assert name not in hostile_page
    assert "onerror" not in hostile_page.replace(data, "")


def test_script_json_escapes_what_ends_a_script_element():
    text = "</script><!-- & \u2028"
    encoded = script_json({"t": text})
    assert encoded == '{"t":"\\u003c/script\\u003e\\u003c!-- \\u0026 \\u2028"}'
    assert json.loads(encoded) == {"t": text}


def test_the_csp_allows_exactly_the_inlined_scripts_and_no_network(hostile_page):
    tags = parse(hostile_page)
    (csp,) = [
        a["content"] for t, a in tags.tags if a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    hashes = set(re.findall(r"'sha256-([^']+)'", csp))
    executed = [text for attrs, text in tags.scripts if attrs.get("type") is None]
    assert hashes == {
        base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() for text in executed
    }


def test_the_vendored_library_is_the_recorded_release():
    code = (VENDOR / "vis-network.min.js").read_bytes()
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    assert hashlib.sha256(code).hexdigest() in readme
    assert f"@version {VIS_NETWORK_VERSION}".encode() in code[:1000]
    assert "MIT License" in (VENDOR / "vis-network.LICENSE-MIT").read_text(encoding="utf-8")


def test_save_and_the_notebook_view(tmp_path, hostile_page):
    path = write_store(tmp_path / "h.json", [hostile_graph()])
    page = kgbuild.view(path, title="A <b>title</b>")
    saved = page.save(tmp_path / "out" / "nested" / "graph.html")
    assert saved.read_text(encoding="utf-8") == page.html
    assert "<title>A &lt;b&gt;title&lt;/b&gt;</title>" in page.html
    frame = page._repr_html_()
    assert frame.startswith('<iframe sandbox="allow-scripts"')
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame).group(1)
    assert html.unescape(srcdoc) == page.html
    assert "GraphView" in repr(page) and "4 entities" in repr(page)
