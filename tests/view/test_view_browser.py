"""The page in a real browser (headless chromium through Playwright).

Skipped with the reason when chromium or Playwright is missing, failing under CI=true
(see conftest.py). Every test also checks that the page logged no error or warning.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import pytest
from synthetic import HOSTILE_NAMES, entity_name, hostile_graph, synthetic_graphs
from test_view_data import document_texts, write_store

import kgbuild

#: A 5,000-node page must load and lay out within LOAD_BOUND_S seconds plus LOAD_FACTOR
#: times what an empty page takes in the same browser, measured around it: a busy machine
#: slows both alike (measured here: 9 s vs 0.04 s idle; 255 s vs 1.45 s at load average 8
#: on 2 cores), so the bound follows the machine, while an idle CI machine keeps ~60 s.
LOAD_BOUND_S = float(os.environ.get("KGBUILD_VIEW_LOAD_BOUND_S", "60"))
LOAD_FACTOR = 400
#: Seconds one redraw of the 5,000-node graph may take once loaded (zoom, drag).
REDRAW_BOUND_S = 3.0

CLICK_POINT = """
([kind, id]) => {
  const net = kgbuildView.network;
  let at;
  if (kind === "node") {
    at = net.getPositions([id])[id];
  } else {
    const e = kgbuildView.edges.get(id), p = net.getPositions([e.from, e.to]);
    at = { x: (p[e.from].x + p[e.to].x) / 2, y: (p[e.from].y + p[e.to].y) / 2 };
  }
  net.moveTo({ position: at, scale: 1.5, animation: false });
  const box = document.getElementById("graph").getBoundingClientRect();
  for (let r = 0; r <= 60; r += 2) {
    for (let a = 0; a < 360; a += 15) {
      const p = { x: box.width / 2 + r * Math.cos(a * Math.PI / 180),
                  y: box.height / 2 + r * Math.sin(a * Math.PI / 180) };
      const node = net.getNodeAt(p);
      const hit = kind === "node" ? node === id : node === undefined && net.getEdgeAt(p) === id;
      if (hit) return { x: box.left + p.x, y: box.top + p.y };
    }
  }
  return null;
}
"""


def click(page, kind: str, item_id: str) -> None:
    """A real mouse click on a node or an edge of the drawn graph."""
    point = page.page.evaluate(CLICK_POINT, [kind, item_id])
    assert point is not None, f"{kind} {item_id} is not drawn where it can be clicked"
    page.page.mouse.click(point["x"], point["y"])
    page.page.wait_for_selector(f"#details[data-id='{item_id}']", timeout=10_000)


@pytest.fixture(scope="module")
def example_page(example_store, tmp_path_factory) -> Path:
    return kgbuild.view(example_store).save(tmp_path_factory.mktemp("page") / "example.html")


def assert_clean(page) -> None:
    assert page.errors == []
    assert page.dialogs == []
    assert all(url.startswith("file://") for url in page.requests), page.requests


def shown_ids(page) -> set[str]:
    return set(page.page.evaluate("kgbuildView.nodeView.getIds()"))


def test_example_graph_opens_on_connected_entities_with_a_switch_for_the_rest(
    new_page, example_store, example_page
):
    with kgbuild.open_store(example_store) as store:
        counts = store.counts()
    graph = kgbuild.view(example_store).graph
    connected = {e.id for e in graph.entities if e.degree}
    unconnected = counts["entities"] - len(connected)
    assert connected and unconnected  # the example has both
    page = new_page()
    page.open(example_page)
    assert shown_ids(page) == connected
    assert page.page.evaluate("kgbuildView.edgeView.length") == counts["relations"]
    toggle = page.page.locator("#unconnected-toggle")
    assert toggle.is_visible()
    assert f"Show {unconnected:,} entities without relations" in toggle.inner_text()
    toggle.locator("input").check()
    page.page.wait_for_function(f"kgbuildView.nodeView.length === {counts['entities']}")
    assert f"Showing {unconnected:,} entities without relations" in toggle.inner_text()
    # placed below the connected ones, not on top of them
    lowest = page.page.evaluate(
        """ids => { const p = kgbuildView.network.getPositions();
            return ids.map(id => p[id].y); }""",
        sorted(connected),
    )
    others = page.page.evaluate(
        """ids => { const p = kgbuildView.network.getPositions();
            return Object.keys(p).filter(id => !ids.includes(id)).map(id => p[id].y); }""",
        sorted(connected),
    )
    assert min(others) > max(lowest)
    toggle.locator("input").uncheck()
    page.page.wait_for_function(f"kgbuildView.nodeView.length === {len(connected)}")
    legend = page.page.locator("#entity-types label").all_inner_texts()
    assert len(legend) == 3 and all(
        text.split()[0] in {"person", "organization", "location"} for text in legend
    )
    assert_clean(page)


def test_the_layout_is_still_once_ready(new_page, example_page):
    page = new_page()
    page.open(example_page)
    before = page.page.evaluate("kgbuildView.network.getPositions()")
    page.page.wait_for_timeout(1000)
    after = page.page.evaluate("kgbuildView.network.getPositions()")
    assert after == before
    assert page.page.evaluate("kgbuildView.network.physics.physicsEnabled") is False
    assert page.page.evaluate("kgbuildView.stillMs()") > 0
    assert_clean(page)


#: For each node label drawn in full: its id, its box on the canvas and its size on screen
#: (vis-network draws a label from the threshold less 1 on, faded below the threshold).
DRAWN_LABELS = """
() => {
  const net = kgbuildView.network, scale = net.getScale(), out = [];
  for (const id of kgbuildView.nodeView.getIds()) {
    const node = net.body.nodes[id], label = node.labelModule;
    const threshold = node.options.scaling.label.drawThreshold;
    if (node.options.font.size * scale >= threshold) {
      const s = label.size, shift = node.options.font.vadjust || 0;  // drawn shifted
      out.push({ id, left: s.left, top: s.top + shift, right: s.left + s.width,
                 bottom: s.top + shift + s.height, px: node.options.font.size * scale });
    }
  }
  return out;
}
"""
EDGE_LABELS_DRAWN = """
() => {
  const net = kgbuildView.network, scale = net.getScale();
  return kgbuildView.edgeView.getIds().filter(id => {
    const edge = net.body.edges[id];
    return edge.options.font.size * scale >= edge.options.scaling.label.drawThreshold - 1;
  }).length;
}
"""


def test_names_of_the_most_connected_are_readable_more_when_zoomed_in(new_page, tmp_path):
    path = write_store(tmp_path / "s.json", synthetic_graphs(400))
    graph = kgbuild.view(path).graph
    page = new_page()
    page.open(kgbuild.view(path).save(tmp_path / "s.html"))
    drawn = page.page.evaluate(DRAWN_LABELS)
    best = min(graph.entities, key=lambda e: e.rank)
    assert best.id in {d["id"] for d in drawn}
    assert 10 <= len(drawn) <= 30
    assert all(d["px"] >= 11 for d in drawn)  # readable, not a faint smudge
    for i, a in enumerate(drawn):  # no two names on top of each other
        for b in drawn[i + 1 :]:
            overlap = min(a["right"], b["right"]) > max(a["left"], b["left"]) and min(
                a["bottom"], b["bottom"]
            ) > max(a["top"], b["top"])
            assert not overlap, (a, b)
    assert page.page.evaluate(EDGE_LABELS_DRAWN) == 0  # relation names only zoomed in

    page.page.evaluate(
        """() => { const net = kgbuildView.network;
            net.moveTo({ scale: net.getScale() * 3, animation: false }); }"""
    )
    page.page.evaluate("new Promise(done => requestAnimationFrame(() => done()))")
    zoomed = page.page.evaluate(DRAWN_LABELS)
    assert page.page.evaluate(EDGE_LABELS_DRAWN) > 0
    # in the part of the graph still in view, more names than at the first zoom
    in_view = set(
        page.page.evaluate(
            """() => { const net = kgbuildView.network, c = document.getElementById('graph');
                const a = net.DOMtoCanvas({x: 0, y: 0}),
                      b = net.DOMtoCanvas({x: c.clientWidth, y: c.clientHeight});
                const p = net.getPositions();
                return Object.keys(p).filter(id => a.x <= p[id].x && p[id].x <= b.x &&
                                                   a.y <= p[id].y && p[id].y <= b.y); }"""
        )
    )
    assert len(in_view) > 10
    before = [d for d in drawn if d["id"] in in_view]
    now = [d for d in zoomed if d["id"] in in_view]
    assert len(now) > len(before) + 5
    assert_clean(page)


def test_search_finds_an_alias(new_page, example_page):
    page = new_page()
    page.open(example_page)
    entities = page.page.evaluate(
        "JSON.parse(document.getElementById('kgbuild-data').textContent).entities"
    )
    entity, alias = next(
        (e, a) for e in entities for a in e["aliases"] if a.casefold() not in e["name"].casefold()
    )
    page.page.fill("#search", alias)
    button = page.page.locator(f"#search-results button[data-id='{entity['id']}']")
    assert alias in button.inner_text()
    button.click()
    page.page.wait_for_selector(f"#details[data-id='{entity['id']}']")
    assert page.page.eval_on_selector("#details h2", "h => h.textContent") == entity["name"]
    assert_clean(page)


def test_clicking_a_relation_shows_its_evidence_at_the_document_offsets(
    new_page, example_store, example_page
):
    texts = document_texts(example_store)
    relations = kgbuild.view(example_store).graph.relations
    relation = max(relations, key=lambda r: (r.evidence_count, r.id))
    assert relation.evidence_count >= 2
    page = new_page()
    page.open(example_page)
    click(page, "edge", relation.id)
    assert page.page.get_attribute("#details", "data-kind") == "relation"
    items = page.page.eval_on_selector_all(
        "#details ol.relation-evidence li",
        """items => items.map(li => ({
            document: li.querySelector('.where').getAttribute('data-document'),
            marks: [...li.querySelectorAll('mark')].map(m => [
                m.className, m.textContent,
                +m.getAttribute('data-start'), +m.getAttribute('data-end')])
        }))""",
    )
    assert len(items) == relation.evidence_count
    for item in items:
        text = texts[item["document"]]
        assert sorted(kind for kind, *_ in item["marks"]) == ["head", "tail"]
        for _, shown, start, end in item["marks"]:
            assert shown == text[start:end]
    assert_clean(page)


def test_clicking_an_entity_shows_its_mentions(new_page, example_store, example_page):
    texts = document_texts(example_store)
    entity = kgbuild.view(example_store).graph.entities[0]  # the most mentioned
    page = new_page()
    page.open(example_page)
    click(page, "node", entity.id)
    marks = page.page.eval_on_selector_all(
        "#details ol.mentions li",
        """items => items.map(li => {
            const m = li.querySelector('mark.mention');
            return [li.querySelector('.where').getAttribute('data-document'), m.textContent,
                    +m.getAttribute('data-start'), +m.getAttribute('data-end')];
        })""",
    )
    assert len(marks) == min(entity.mention_count, 50)
    for document, shown, start, end in marks:
        assert shown == texts[document][start:end]
    facts = page.page.inner_text("#details dl.facts")
    assert str(entity.mention_count) in facts and entity.type in facts
    assert_clean(page)


def test_type_filters_hide_and_show_entities(new_page, example_store, example_page):
    graph = kgbuild.view(example_store).graph
    persons = {e.id for e in graph.entities if e.type == "person" and e.degree}
    page = new_page()
    page.open(example_page)
    before = shown_ids(page)
    assert persons & before
    box = page.page.locator("#entity-types input[data-value='person']")
    box.uncheck()
    assert shown_ids(page) == before - persons
    box.check()
    assert shown_ids(page) == before
    assert_clean(page)


def test_document_filter_shows_the_entities_of_the_chosen_documents(
    new_page, example_store, example_page
):
    graph = kgbuild.view(example_store).graph
    document = max(graph.documents, key=lambda d: (d.entity_count, d.id))
    mentioned = {e.id for e in graph.entities if document.id in e.documents and e.degree}
    kept_relations = {
        r.id
        for r in graph.relations
        if document.id in r.documents and {r.head, r.tail} <= mentioned
    }
    page = new_page()
    page.open(example_page)
    everything = shown_ids(page)
    assert mentioned < everything
    page.page.click("#documents-none")
    assert shown_ids(page) == set()
    page.page.locator(f"#documents input[data-value='{document.id}']").check()
    assert shown_ids(page) == mentioned
    assert set(page.page.evaluate("kgbuildView.edgeView.getIds()")) == kept_relations
    page.page.click("#documents-all")
    assert shown_ids(page) == everything
    assert_clean(page)


def test_hostile_text_is_shown_literally_and_runs_nothing(new_page, tmp_path):
    graph = hostile_graph()
    html_file = kgbuild.view(write_store(tmp_path / "h.json", [graph])).save(tmp_path / "h.html")
    page = new_page()
    page.open(html_file)
    for name, _ in HOSTILE_NAMES:
        page.page.fill("#search", name[:12])
        button = page.page.locator("#search-results button").first
        button.click()
        page.page.wait_for_selector("#details[data-kind=entity]")
        assert page.page.eval_on_selector("#details h2", "h => h.textContent") == name
        mention = page.page.eval_on_selector("#details mark.mention", "m => m.textContent")
        assert mention == name
    sentence = page.page.eval_on_selector("#details .sentence", "p => p.textContent")
    assert '<a href="javascript:alert(4)">this</a>' in sentence
    assert sentence.strip("…") in graph.document.text
    where = page.page.eval_on_selector("#details .where", "p => p.textContent")
    assert where.startswith(graph.document.source)
    # nothing was parsed as markup, nothing ran
    injected = page.page.evaluate(
        "document.querySelectorAll('main img, main svg, main a, main b, script').length"
    )
    assert injected == 3  # the page's own: the data, vis-network and the viewer
    assert page.page.evaluate("typeof window.__xss") == "undefined"
    assert_clean(page)


def _load_seconds(page, html_file: Path) -> float:
    start = time.perf_counter()
    page.open(html_file, timeout_ms=900_000)
    return time.perf_counter() - start


@pytest.mark.slow
def test_5000_nodes_load_within_a_bound_measured_beside_an_empty_page(new_page, tmp_path):
    path = write_store(tmp_path / "big.json", synthetic_graphs(5000))
    big = kgbuild.view(path, limit=5000).save(tmp_path / "big.html")
    empty = tmp_path / "empty.html"
    empty.write_text('<!doctype html><title>empty</title><body data-ready="true">', "utf-8")

    page, beside = new_page(), new_page()
    empty_runs = [_load_seconds(beside, empty) for _ in range(3)]
    big_s = _load_seconds(page, big)
    empty_runs += [_load_seconds(beside, empty) for _ in range(2)]
    empty_s = statistics.median(empty_runs)
    bound = LOAD_BOUND_S + LOAD_FACTOR * empty_s
    print(f"\nempty page {empty_s:.3f} s, 5,000 nodes {big_s:.2f} s (bound {bound:.1f} s)")
    assert page.page.evaluate("kgbuildView.nodeView.length") == 5000
    assert big_s < bound

    # still usable: a redraw after zooming, and search -> details
    redraw_s = page.page.evaluate(
        """() => new Promise(done => {
            const net = kgbuildView.network, t = performance.now();
            net.once('afterDrawing', () => done((performance.now() - t) / 1000));
            net.moveTo({ scale: net.getScale() * 2, animation: false });
        })"""
    )
    print(f"redraw after zoom {redraw_s:.2f} s")
    assert redraw_s < REDRAW_BOUND_S
    last = entity_name(4999)
    page.page.fill("#search", last)
    page.page.locator("#search-results button").first.click()
    page.page.wait_for_selector("#details[data-kind=entity]", timeout=30_000)
    assert page.page.inner_text("#details h2") == last
    assert_clean(page)
