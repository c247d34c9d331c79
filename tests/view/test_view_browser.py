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
#: slows both alike (measured here before the page opened large graphs on their first
#: 1,000 entities: 9 s vs 0.04 s idle; 255 s vs 1.45 s at load average 8 on 2 cores), so
#: the bound follows the machine, while an idle CI machine keeps ~60 s. Showing all 5,000
#: afterwards must keep within the same bound.
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
    # the hover tooltip shows names as text too
    for name, _ in HOSTILE_NAMES:
        entity_id = page.page.evaluate(
            "name => kgbuildView.nodes.get({ filter: n => n.label === name })[0].id", name
        )
        point = page.page.evaluate(CLICK_POINT, ["node", entity_id])
        page.page.mouse.move(point["x"], point["y"])
        page.page.wait_for_selector("#tooltip:not([hidden])", timeout=10_000)
        assert page.page.inner_text("#tooltip strong") == name
        page.page.mouse.move(1, 1)
        page.page.wait_for_selector("#tooltip[hidden]", state="attached", timeout=10_000)
    assert page.page.evaluate("document.querySelectorAll('main img, main svg').length") == 0
    assert page.page.evaluate("typeof window.__xss") == "undefined"
    assert_clean(page)


def test_a_graph_without_relations_shows_its_entities(new_page, tmp_path):
    from synthetic import graph_from_text

    graph = graph_from_text("alone.txt", "Ann and Bob.", [("Ann", "person"), ("Bob", "person")], [])
    view = kgbuild.view(write_store(tmp_path / "alone.json", [graph]))
    page = new_page()
    page.open(view.save(tmp_path / "alone.html"))
    assert shown_ids(page) == {e.id for e in view.graph.entities}
    assert page.page.is_checked("#show-unconnected")
    assert_clean(page)


#: How a node looks now: the alpha of its fill and its label's size on screen.
LOOKS = """
ids => {
  const net = kgbuildView.network, scale = net.getScale(), out = {};
  for (const id of ids) {
    const node = net.body.nodes[id], fill = node.options.color.background;
    const alpha = fill.startsWith("rgba(") ? +fill.slice(5, -1).split(",")[3] : 1;
    out[id] = { alpha, label_px: node.options.font.size * scale };
  }
  return out;
}
"""
CENTRED = """
id => {
  const net = kgbuildView.network, at = net.getPositions([id])[id], view = net.getViewPosition();
  return Math.hypot(at.x - view.x, at.y - view.y) < 1;
}
"""


def chain_page(tmp_path) -> tuple[Path, dict[str, str]]:
    """Ann - Bob - Cid - Dan in a chain, and Eve - Fay apart; returns the page and ids."""
    from synthetic import graph_from_text

    names = ["Ann", "Bob", "Cid", "Dan", "Eve", "Fay"]
    graph = graph_from_text(
        "chain.txt",
        "Ann knows Bob. Bob knows Cid. Cid knows Dan. Eve knows Fay.",
        [(n, "person") for n in names],
        [(0, "knows", 1), (1, "knows", 2), (2, "knows", 3), (4, "knows", 5)],
    )
    path = write_store(tmp_path / "chain.json", [graph])
    view = kgbuild.view(path)
    return view.save(tmp_path / "chain.html"), {e.name: e.id for e in view.graph.entities}


def test_selecting_an_entity_centres_it_and_fades_what_is_further(new_page, tmp_path):
    html_file, ids = chain_page(tmp_path)
    page = new_page()
    page.open(html_file)
    looks = page.page.evaluate(LOOKS, list(ids.values()))
    assert all(look["alpha"] == 1 and look["label_px"] >= 11 for look in looks.values())

    click(page, "node", ids["Bob"])  # a real click: centres Bob, fades beyond one hop
    page.page.wait_for_function(CENTRED, arg=ids["Bob"], timeout=10_000)
    assert page.page.get_attribute("body", "data-focus") == ids["Bob"]
    assert page.page.is_visible("#focus-bar")
    looks = page.page.evaluate(LOOKS, list(ids.values()))
    near = {n for n, i in ids.items() if looks[i]["alpha"] == 1 and looks[i]["label_px"] >= 11}
    faded = {n for n, i in ids.items() if looks[i]["alpha"] < 0.3 and looks[i]["label_px"] < 9}
    assert (near, faded) == ({"Ann", "Bob", "Cid"}, {"Dan", "Eve", "Fay"})

    page.page.select_option("#focus-hops", "2")
    page.page.wait_for_function(CENTRED, arg=ids["Bob"], timeout=10_000)
    looks = page.page.evaluate(LOOKS, list(ids.values()))
    faded = {n for n, i in ids.items() if looks[i]["alpha"] < 0.3}
    assert faded == {"Eve", "Fay"}
    edges = page.page.evaluate(
        """() => kgbuildView.edgeView.getIds().filter(
            id => kgbuildView.network.body.edges[id].options.color.color.startsWith('rgba'))"""
    )
    assert len(edges) == 1  # Eve - Fay, faded too

    page.page.click("#focus-clear")
    looks = page.page.evaluate(LOOKS, list(ids.values()))
    assert all(look["alpha"] == 1 for look in looks.values())
    assert page.page.get_attribute("body", "data-focus") is None
    assert not page.page.is_visible("#focus-bar")
    assert_clean(page)


def _open_order(graph) -> list[str]:
    """The entities a large page shows first: by community, communities in the order of
    their best-ranked member, members by rank (see app.js)."""
    groups: dict[int, list[str]] = {}
    for e in sorted((e for e in graph.entities if e.degree), key=lambda e: e.rank):
        groups.setdefault(e.community, []).append(e.id)
    return [i for members in groups.values() for i in members]


def test_a_large_graph_opens_on_its_most_connected_part_and_expands(new_page, tmp_path):
    from kgbuild.viewer import GraphView, PageOptions

    path = write_store(tmp_path / "large.json", synthetic_graphs(600))
    graph = kgbuild.view(path, limit=600).graph
    options = PageOptions(large=300, open=200, step=150)
    html_file = GraphView(graph, options=options).save(tmp_path / "large.html")
    order = _open_order(graph)
    page = new_page()
    page.open(html_file)

    assert shown_ids(page) == set(order[:200])
    best = min(graph.entities, key=lambda e: e.rank)
    assert best.id in shown_ids(page)
    notice = page.page.locator("#large-notice")
    assert notice.is_visible()
    assert "showing the 200 most connected of 600" in notice.inner_text()
    # whole clusters, not scattered entities: most shown entities have a shown neighbour
    shown = shown_ids(page)
    linked = {x for r in graph.relations if {r.head, r.tail} <= shown for x in (r.head, r.tail)}
    assert len(linked) > 0.8 * len(shown)

    page.page.click("#show-more")
    page.page.wait_for_selector("body[data-ready=true]", state="attached")
    assert shown_ids(page) == set(order[:350])
    assert "showing the 350 most connected" in notice.inner_text()
    still = page.page.evaluate("kgbuildView.network.getPositions()")
    page.page.wait_for_timeout(500)
    assert page.page.evaluate("kgbuildView.network.getPositions()") == still

    # search finds an entity the page does not show yet, and shows it with its neighbours
    last = graph.entities[[e.id for e in graph.entities].index(order[-1])]
    page.page.fill("#search", last.name)
    page.page.locator(f"#search-results button[data-id='{last.id}']").click()
    page.page.wait_for_function(CENTRED, arg=last.id, timeout=10_000)
    neighbours = {r.head for r in graph.relations if r.tail == last.id} | {
        r.tail for r in graph.relations if r.head == last.id
    }
    assert {last.id} | neighbours <= shown_ids(page)

    page.page.click("#show-all")
    page.page.wait_for_selector("body[data-ready=true]", state="attached")
    assert shown_ids(page) == {e.id for e in graph.entities}
    assert not notice.is_visible()
    assert_clean(page)


def _load_seconds(page, html_file: Path) -> float:
    start = time.perf_counter()
    page.open(html_file, timeout_ms=900_000)
    return time.perf_counter() - start


@pytest.mark.slow
def test_5000_nodes_load_within_a_bound_measured_beside_an_empty_page(new_page, tmp_path):
    from kgbuild.viewer import PageOptions

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
    still_s = page.page.evaluate("kgbuildView.stillMs()") / 1000
    print(
        f"\nempty page {empty_s:.3f} s, 5,000 nodes {big_s:.2f} s (bound {bound:.1f} s), "
        f"layout still after {still_s:.2f} s in the browser"
    )
    opened = PageOptions().open
    assert page.page.evaluate("kgbuildView.nodeView.length") == opened
    assert f"showing the {opened:,} most connected of 5,000" in page.page.inner_text(
        "#large-notice"
    )
    assert big_s < bound

    start = time.perf_counter()
    page.page.click("#show-all")
    page.page.wait_for_selector("body[data-ready=true]", state="attached", timeout=900_000)
    all_s = time.perf_counter() - start
    print(f"show all 5,000: still again after {all_s:.2f} s")
    assert page.page.evaluate("kgbuildView.nodeView.length") == 5000
    assert all_s < bound

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
