/* kgbuild view: draws the graph embedded in #kgbuild-data with vis-network.
 *
 * Everything that comes from documents or the store is put on the page with
 * textContent or setAttribute (never innerHTML), and vis-network draws labels on a
 * canvas (no tooltips, no "multi" font markup), so no document text is read as markup.
 * window.kgbuildView exposes the state for tests; body[data-ready] is set once the
 * first layout is done.
 */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("kgbuild-data").textContent);
  var PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6", "#d37295", "#8cd17d"
  ];
  var BIG = 500; // above this many nodes: no physics after the first layout, straight edges

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fmt(n) { return Number(n).toLocaleString("en-US"); }

  function countBy(items, key) {
    var counts = {};
    items.forEach(function (item) { counts[item[key]] = (counts[item[key]] || 0) + 1; });
    return Object.keys(counts)
      .sort(function (a, b) { return counts[b] - counts[a] || (a < b ? -1 : a > b ? 1 : 0); })
      .map(function (k) { return [k, counts[k]]; });
  }

  var entityById = new Map();
  data.entities.forEach(function (e) { entityById.set(e.id, e); });
  var relationById = new Map();
  data.relations.forEach(function (r) { relationById.set(r.id, r); });

  var entityTypes = countBy(data.entities, "type");
  var relationTypes = countBy(data.relations, "type");
  var typeColor = {};
  entityTypes.forEach(function (t, i) { typeColor[t[0]] = PALETTE[i % PALETTE.length]; });
  var hiddenTypes = new Set();
  var hiddenRelations = new Set();
  var big = data.entities.length > BIG;

  // -- summary ---------------------------------------------------------------------------
  (function summary() {
    var p = document.getElementById("summary");
    p.appendChild(document.createTextNode(
      fmt(data.entities.length) + " entities, " + fmt(data.relations.length) + " relations · " +
      data.selection + " · " + data.store));
    if (data.entities_left_out || data.relations_left_out) {
      var span = el("span", "left-out",
        " · left out by the limit: " + fmt(data.entities_left_out) + " entities, " +
        fmt(data.relations_left_out) + " relations");
      span.id = "left-out";
      p.appendChild(span);
    }
  })();

  // -- the network -----------------------------------------------------------------------
  var pairCount = {};
  var nodes = new vis.DataSet(data.entities.map(function (e) {
    var color = typeColor[e.type];
    return {
      id: e.id, label: e.name, value: Math.max(1, e.mention_count), type: e.type,
      color: { background: color, border: "#33415c",
               highlight: { background: color, border: "#000" },
               hover: { background: color, border: "#000" } }
    };
  }));
  var edges = new vis.DataSet(data.relations.map(function (r) {
    var pair = r.head < r.tail ? r.head + "\u0000" + r.tail : r.tail + "\u0000" + r.head;
    var k = pairCount[pair] = (pairCount[pair] || 0) + 1;
    var edge = {
      id: r.id, from: r.head, to: r.tail, label: r.type, value: Math.max(1, r.evidence_count),
      relationType: r.type
    };
    if (!big && k > 1) edge.smooth = { type: k % 2 ? "curvedCW" : "curvedCCW", roundness: 0.12 * Math.ceil(k / 2) };
    return edge;
  }));
  var nodeView = new vis.DataView(nodes, { filter: function (n) { return !hiddenTypes.has(n.type); } });
  var edgeView = new vis.DataView(edges, {
    filter: function (e) {
      if (hiddenRelations.has(e.relationType)) return false;
      var a = nodes.get(e.from), b = nodes.get(e.to);
      return !!a && !!b && !hiddenTypes.has(a.type) && !hiddenTypes.has(b.type);
    }
  });

  var options = {
    autoResize: true,
    layout: { randomSeed: 7, improvedLayout: data.entities.length <= 100 },
    nodes: {
      shape: "dot",
      scaling: { min: 8, max: 40, label: { enabled: true, min: 12, max: 22, drawThreshold: 7 } },
      font: { size: 13, color: "#1d2330", strokeWidth: 3, strokeColor: "#ffffff" },
      borderWidth: 1
    },
    edges: {
      arrows: { to: { enabled: true, scaleFactor: 0.5 } },
      color: { color: "#9aa3b2", highlight: "#33415c", hover: "#33415c" },
      scaling: { min: 1, max: 7, label: { enabled: false } },
      font: { size: 10, color: "#4d5566", strokeWidth: 3, strokeColor: "#ffffff", align: "middle" },
      smooth: big ? false : { type: "continuous", roundness: 0.3 },
      selectionWidth: 2
    },
    physics: {
      solver: "forceAtlas2Based",
      forceAtlas2Based: { gravitationalConstant: -60, springLength: 110, avoidOverlap: 0.3 },
      // fewer layout steps for large graphs (each step costs time in proportion to the size)
      stabilization: { enabled: true, iterations: Math.max(50, Math.min(400, Math.round(300000 / Math.max(1, data.entities.length)))), updateInterval: 100 }
    },
    interaction: { hover: true, hideEdgesOnDrag: big, hideEdgesOnZoom: big, tooltipDelay: 3600000, keyboard: false }
  };

  var container = document.getElementById("graph");
  var network = new vis.Network(container, { nodes: nodeView, edges: edgeView }, options);
  var ready = false;
  function markReady() {
    if (ready) return;
    ready = true;
    if (big) network.setOptions({ physics: { enabled: false } });
    network.fit({ animation: false });
    document.body.setAttribute("data-ready", "true");
  }
  network.once("stabilizationIterationsDone", markReady);
  if (data.entities.length === 0) markReady();

  // -- filters ---------------------------------------------------------------------------
  function filterList(listId, items, hidden, colors, view) {
    var list = document.getElementById(listId);
    items.forEach(function (item) {
      var li = el("li");
      var label = el("label");
      var box = el("input");
      box.type = "checkbox";
      box.checked = true;
      box.setAttribute("data-value", item[0]);
      box.addEventListener("change", function () {
        if (box.checked) hidden.delete(item[0]); else hidden.add(item[0]);
        nodeView.refresh();
        edgeView.refresh();
      });
      label.appendChild(box);
      if (colors) {
        var swatch = el("span", "swatch");
        swatch.style.background = colors[item[0]];
        label.appendChild(swatch);
      }
      label.appendChild(el("span", "name", item[0] || "(no type)"));
      label.appendChild(el("span", "count", fmt(item[1])));
      li.appendChild(label);
      list.appendChild(li);
    });
  }
  filterList("entity-types", entityTypes, hiddenTypes, typeColor);
  filterList("relation-types", relationTypes, hiddenRelations, null);

  // -- details ---------------------------------------------------------------------------
  var details = document.getElementById("details");

  function facts(rows) {
    var dl = el("dl", "facts");
    rows.forEach(function (row) {
      dl.appendChild(el("dt", null, row[0]));
      var dd = el("dd");
      if (row[1] instanceof Node) dd.appendChild(row[1]); else dd.textContent = String(row[1]);
      dl.appendChild(dd);
    });
    return dl;
  }

  function tag(type) {
    var span = el("span", "tag", type || "(no type)");
    span.style.background = typeColor[type] || "#6b7385";
    return span;
  }

  function sentence(pieces, spans) {
    // spans: mark -> [start, end] offsets in the document, recorded on the <mark>
    var p = el("p", "sentence");
    pieces.forEach(function (piece) {
      if (piece.mark) {
        var mark = el("mark", piece.mark, piece.text);
        var at = spans[piece.mark];
        mark.setAttribute("data-start", at[0]);
        mark.setAttribute("data-end", at[1]);
        p.appendChild(mark);
      } else {
        p.appendChild(document.createTextNode(piece.text));
      }
    });
    return p;
  }

  function where(item, parts) {
    var chunk = item.chunk_index === undefined || item.chunk_index === null ? "?" : item.chunk_index;
    var p = el("p", "where", [item.source, "chunk " + chunk].concat(parts).join(" · "));
    p.setAttribute("data-document", item.document_id);
    return p;
  }

  function more(n, what) {
    return el("p", "muted", "… and " + fmt(n) + " more " + what + " not shown (see --max-evidence)");
  }

  function showEntity(id) {
    var e = entityById.get(id);
    if (!e) return;
    details.replaceChildren();
    details.setAttribute("data-kind", "entity");
    details.setAttribute("data-id", e.id);
    details.appendChild(el("h2", null, e.name));
    var aliases = el("span", "aliases", e.aliases.join(" · "));
    details.appendChild(facts([["Type", tag(e.type)], ["Aliases", aliases], ["Mentions", fmt(e.mention_count)], ["Id", e.id]]));
    details.appendChild(el("h3", null, "Mentions"));
    var ol = el("ol", "evidence mentions");
    e.mentions.forEach(function (m) {
      var li = el("li");
      li.appendChild(sentence(m.pieces, { mention: [m.start, m.end] }));
      li.appendChild(where(m, ["characters " + m.start + "–" + m.end]));
      ol.appendChild(li);
    });
    details.appendChild(ol);
    if (e.mentions_left_out) details.appendChild(more(e.mentions_left_out, "mentions"));
  }

  function showRelation(id) {
    var r = relationById.get(id);
    if (!r) return;
    var head = entityById.get(r.head), tail = entityById.get(r.tail);
    details.replaceChildren();
    details.setAttribute("data-kind", "relation");
    details.setAttribute("data-id", r.id);
    var h2 = el("h2");
    h2.appendChild(el("mark", "head", head ? head.name : r.head));
    h2.appendChild(document.createTextNode(" — " + r.type + " → "));
    h2.appendChild(el("mark", "tail", tail ? tail.name : r.tail));
    details.appendChild(h2);
    details.appendChild(facts([["Type", r.type], ["Score", r.score.toFixed(3)], ["Evidence", fmt(r.evidence_count)], ["Id", r.id]]));
    details.appendChild(el("h3", null, "Evidence"));
    var ol = el("ol", "evidence relation-evidence");
    r.evidence.forEach(function (ev) {
      var li = el("li");
      li.appendChild(sentence(ev.pieces, { head: [ev.head_start, ev.head_end], tail: [ev.tail_start, ev.tail_end] }));
      li.appendChild(where(ev, [
        "head " + ev.head_start + "–" + ev.head_end, "tail " + ev.tail_start + "–" + ev.tail_end,
        "score " + ev.score.toFixed(2)]));
      ol.appendChild(li);
    });
    details.appendChild(ol);
    if (r.evidence_left_out) details.appendChild(more(r.evidence_left_out, "pieces of evidence"));
  }

  network.on("click", function (params) {
    if (params.nodes.length) showEntity(params.nodes[0]);
    else if (params.edges.length) showRelation(params.edges[0]);
  });

  function focusEntity(id) {
    if (nodeView.get(id)) {
      network.selectNodes([id]);
      network.focus(id, { scale: Math.max(network.getScale(), 1.0), animation: false });
    }
    showEntity(id);
  }

  // -- search ----------------------------------------------------------------------------
  var search = document.getElementById("search");
  var results = document.getElementById("search-results");
  function runSearch() {
    var q = search.value.trim().toLocaleLowerCase();
    results.replaceChildren();
    if (!q) return;
    var found = [];
    data.entities.forEach(function (e) {
      var names = [e.name].concat(e.aliases);
      for (var i = 0; i < names.length; i++) {
        var at = names[i].toLocaleLowerCase().indexOf(q);
        if (at >= 0) { found.push([at === 0 ? 0 : 1, -e.mention_count, e, names[i]]); return; }
      }
    });
    found.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    found.slice(0, 20).forEach(function (f) {
      var e = f[2], li = el("li"), button = el("button");
      button.type = "button";
      button.setAttribute("data-id", e.id);
      button.appendChild(el("span", "name", e.name));
      if (f[3] !== e.name) button.appendChild(el("span", "alias", " (" + f[3] + ")"));
      button.addEventListener("click", function () { focusEntity(e.id); });
      li.appendChild(button);
      results.appendChild(li);
    });
    if (!found.length) results.appendChild(el("li", "muted", "no entity matches"));
    else if (found.length > 20) results.appendChild(el("li", "muted", fmt(found.length - 20) + " more…"));
  }
  search.addEventListener("input", runSearch);
  search.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      var first = results.querySelector("button");
      if (first) first.click();
    }
  });

  window.kgbuildView = {
    network: network, nodes: nodes, edges: edges, nodeView: nodeView, edgeView: edgeView,
    showEntity: showEntity, showRelation: showRelation, focusEntity: focusEntity,
    isReady: function () { return ready; }
  };
})();
