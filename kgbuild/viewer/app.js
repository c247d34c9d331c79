/* kgbuild view: draws the graph embedded in #kgbuild-data with vis-network.
 *
 * What a newcomer sees first: the connected entities, laid out in clusters (the
 * communities kgbuild.viewer.data computed) that settle once and then stay still, the
 * names of the most connected ones, and a switch for the entities without relations.
 * More names appear as one zooms in (each label has a size by rank, and vis-network
 * draws a label once it is big enough on screen); relation names appear on edges when
 * zoomed in. Clicking an entity (or a search result) centres it and fades everything
 * further than one or two relations away. A graph with more than LARGE connected
 * entities opens on the OPEN most connected ones, with buttons to show more.
 *
 * Everything that comes from documents or the store is put on the page with
 * textContent or setAttribute (never innerHTML), and vis-network draws labels on a
 * canvas (no vis tooltips, no "multi" font markup), so no document text is read as
 * markup. window.kgbuildView exposes the state for tests; body[data-ready] is set once
 * the first layout is done and still (kgbuildView.stillMs: when, after navigation start).
 */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("kgbuild-data").textContent);
  var timings = { parsed: performance.now() };
  var PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6", "#d37295", "#8cd17d"
  ];
  var page = data.page || {};
  var LARGE = page.large || 2000;  // more connected entities: open on the OPEN most connected
  var OPEN = page.open || 1000;
  var STEP = page.step || 1000;    // "show more" adds this many
  var BIG = 500;     // more nodes drawn than this: straight edges, edges hidden while moving
  var LABELS = page.labels === undefined ? 30 : page.labels;  // names readable at the first zoom
  var LABEL_PX = 11; // their size on screen then: LABEL_PX to LABEL_PX + 5 by rank
  var LABEL_MIN_PX = 10;   // a label is drawn from this size on screen (it fades in just below)
  var EDGE_LABEL_PX = 11;  // relation names on screen once zoomed in ...
  var EDGE_ZOOM = 1.6;     // ... by this factor from the first zoom
  var MAX_LABEL_PX = 18, MAX_EDGE_LABEL_PX = 13;  // however far one zooms in
  var SPACING = 34;  // world units per node in the first, seeded layout
  var GOLDEN = Math.PI * (3 - Math.sqrt(5));
  var FADED_NODE_ALPHA = 0.13, FADED_EDGE = "rgba(154,163,178,0.12)";
  var EDGE_COLOR = "#8791a5";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fmt(n) { return Number(n).toLocaleString("en-US"); }

  function plural(n, one, many) { return fmt(n) + " " + (n === 1 ? one : many); }

  function countBy(items, key) {
    var counts = {};
    items.forEach(function (item) { counts[item[key]] = (counts[item[key]] || 0) + 1; });
    return Object.keys(counts)
      .sort(function (a, b) { return counts[b] - counts[a] || (a < b ? -1 : a > b ? 1 : 0); })
      .map(function (k) { return [k, counts[k]]; });
  }

  function rgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function shortSource(source) {
    // "file:///x/docs/report.md" -> "report.md"; "file:///x/news.jsonl#item-3" -> "item-3"
    var hash = source.lastIndexOf("#");
    if (hash >= 0 && hash < source.length - 1) return source.slice(hash + 1);
    var cut = source.replace(/[?].*$/, "").split("/");
    return cut[cut.length - 1] || source;
  }

  // -- the data, indexed -------------------------------------------------------------------
  var entityById = new Map();
  data.entities.forEach(function (e) { entityById.set(e.id, e); });
  var relationById = new Map();
  var relationsOf = new Map();  // entity id -> relations it takes part in
  var neighbours = new Map();   // entity id -> Set of entity ids
  data.entities.forEach(function (e) { relationsOf.set(e.id, []); neighbours.set(e.id, new Set()); });
  data.relations.forEach(function (r) {
    relationById.set(r.id, r);
    if (!entityById.has(r.head) || !entityById.has(r.tail)) return;
    relationsOf.get(r.head).push(r);
    if (r.tail !== r.head) relationsOf.get(r.tail).push(r);
    neighbours.get(r.head).add(r.tail);
    neighbours.get(r.tail).add(r.head);
  });
  var byRank = data.entities.slice().sort(function (a, b) { return a.rank - b.rank; });
  var connectedByRank = byRank.filter(function (e) { return e.degree > 0; });
  var unconnectedCount = data.entities.length - connectedByRank.length;
  var documentById = new Map();
  (data.documents || []).forEach(function (d) { documentById.set(d.id, d); });

  var entityTypes = countBy(data.entities, "type");
  var relationTypes = countBy(data.relations, "type");
  var typeColor = {};
  entityTypes.forEach(function (t, i) { typeColor[t[0]] = PALETTE[i % PALETTE.length]; });

  // -- what is shown ---------------------------------------------------------------------
  var state = {
    // entities without relations are hidden at first, unless nothing else would be shown
    showUnconnected: connectedByRank.length === 0,
    cap: connectedByRank.length > LARGE ? OPEN : connectedByRank.length,
    revealed: new Set(),  // shown whatever the cap or the switch say (found by search)
    focus: null,
    hops: 1,
    near: null           // focus: entity id -> hops away
  };
  var hiddenTypes = new Set(), hiddenRelations = new Set(), hiddenDocuments = new Set();
  // The order in which a large graph is shown: the community of the best-ranked entity
  // (its members best first), then that of the next best-ranked entity not yet in, ...;
  // so the first OPEN are the most connected entities and the clusters around them.
  var openOrder = (function () {
    var groups = new Map(), order = [];
    connectedByRank.forEach(function (e) {
      if (!groups.has(e.community)) { groups.set(e.community, []); order.push(e.community); }
      groups.get(e.community).push(e);
    });
    return order.reduce(function (all, c) { return all.concat(groups.get(c)); }, []);
  })();
  var inCap = new Set();
  function updateCap() {
    inCap = new Set(openOrder.slice(0, state.cap).map(function (e) { return e.id; }));
  }
  updateCap();

  function inDocuments(docs) {
    if (!hiddenDocuments.size || !docs || !docs.length) return true;
    for (var i = 0; i < docs.length; i++) if (!hiddenDocuments.has(docs[i])) return true;
    return false;
  }
  function passesFilters(e) { return !hiddenTypes.has(e.type) && inDocuments(e.documents); }
  function wanted(e) {
    return (e.degree > 0 ? inCap.has(e.id) : state.showUnconnected) || state.revealed.has(e.id);
  }
  function shown(e) { return !!e && wanted(e) && passesFilters(e); }

  // -- positions: a seeded layout by community, then vis-network's physics once ----------
  var pos = new Map();  // entity id -> {x, y}, for every entity ever placed

  // Communities go on a spiral, each a sunflower of its members, the first (largest)
  // in the middle; communities shown later (a large graph, expanded) continue the
  // spiral outwards, at the density the physics gave the first ones (spiral.scale).
  var spiral = { placed: 0, count: 0, scale: 1 };
  function seedLayout(list) {
    var groups = new Map();
    list.forEach(function (e) {
      var k = e.community === undefined || e.community === null ? -1 : e.community;
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(e);
    });
    var keys = Array.from(groups.keys()).sort(function (a, b) { return a - b; });
    keys.forEach(function (k) {
      var members = groups.get(k), i = spiral.count++, unit = SPACING * spiral.scale;
      var r = unit * 1.15 * Math.sqrt(spiral.placed + members.length / 2);
      spiral.placed += members.length;
      var cx = r * Math.cos(i * GOLDEN), cy = r * Math.sin(i * GOLDEN);
      members.forEach(function (e, j) {
        var rr = unit * 0.7 * Math.sqrt(j);
        pos.set(e.id, { x: cx + rr * Math.cos(j * GOLDEN), y: cy + rr * Math.sin(j * GOLDEN) });
      });
    });
  }

  function spread(ids) {
    // root mean square distance from the origin of these entities' positions
    var sum = 0, n = 0;
    ids.forEach(function (id) { var p = pos.get(id); if (p) { sum += p.x * p.x + p.y * p.y; n++; } });
    return n ? Math.sqrt(sum / n) : 0;
  }

  function bounds() {
    var b = { minX: Infinity, maxX: -Infinity, minY: Infinity, maxY: -Infinity };
    pos.forEach(function (p) {
      b.minX = Math.min(b.minX, p.x); b.maxX = Math.max(b.maxX, p.x);
      b.minY = Math.min(b.minY, p.y); b.maxY = Math.max(b.maxY, p.y);
    });
    if (b.minX === Infinity) b = { minX: 0, maxX: 0, minY: 0, maxY: 0 };
    return b;
  }

  var parked = null;  // where the entities without relations go: a grid below the rest
  function place(list) {
    // Positions for entities shown for the first time: beside their placed neighbours,
    // else beside their community, else (no relations) in a grid below the graph.
    var b = bounds(), placedBefore = new Set(pos.keys());
    var centre = new Map();
    pos.forEach(function (p, id) {
      var c = entityById.get(id).community;
      if (c === undefined || c === null) return;
      var s = centre.get(c) || { x: 0, y: 0, n: 0 };
      s.x += p.x; s.y += p.y; s.n += 1;
      centre.set(c, s);
    });
    var crowd = new Map(), outer = 0;
    seedLayout(list.filter(function (e) {
      return !pos.has(e.id) && e.degree > 0 && !centre.has(e.community);
    }));
    list.forEach(function (e) {
      if (pos.has(e.id)) return;
      if (e.degree === 0) {
        if (!parked) {
          var width = Math.max(b.maxX - b.minX, SPACING * 12);
          parked = { x: b.minX, y: b.maxY + SPACING * 3, cols: Math.max(6, Math.round(width / (SPACING * 1.6))), n: 0 };
        }
        var k = parked.n++;
        pos.set(e.id, { x: parked.x + (k % parked.cols) * SPACING * 1.6, y: parked.y + Math.floor(k / parked.cols) * SPACING * 1.3 });
        return;
      }
      var sx = 0, sy = 0, n = 0;
      neighbours.get(e.id).forEach(function (m) {  // placed before, or just now
        if (pos.has(m)) { sx += pos.get(m).x; sy += pos.get(m).y; n++; }
      });
      var key;
      if (n) { key = "n" + Math.round(sx / n) + "," + Math.round(sy / n); sx /= n; sy /= n; }
      else if (centre.has(e.community)) {
        var c = centre.get(e.community);
        key = "c" + e.community; sx = c.x / c.n; sy = c.y / c.n;
      } else {
        var a = (outer++) * GOLDEN, r = Math.max(b.maxX - b.minX, b.maxY - b.minY) / 2 + SPACING * 3;
        sx = (b.minX + b.maxX) / 2 + r * Math.cos(a); sy = (b.minY + b.maxY) / 2 + r * Math.sin(a);
        key = "o" + outer;
      }
      var j = (crowd.get(key) || 0) + 1;
      crowd.set(key, j);
      var rr = SPACING * (1.6 + 0.6 * Math.sqrt(j));
      pos.set(e.id, { x: sx + rr * Math.cos(j * GOLDEN), y: sy + rr * Math.sin(j * GOLDEN) });
    });
    var updates = [];
    list.forEach(function (e) {
      if (!placedBefore.has(e.id)) updates.push({ id: e.id, x: pos.get(e.id).x, y: pos.get(e.id).y });
    });
    if (updates.length) nodes.update(updates);
  }

  // -- the network -----------------------------------------------------------------------
  var firstShown = byRank.filter(shown);
  seedLayout(firstShown);
  var big = firstShown.length > BIG;

  var pairCount = {};
  var nodes = new vis.DataSet(data.entities.map(function (e) {
    var color = typeColor[e.type];
    var node = {
      id: e.id, label: e.name, value: Math.max(1, e.mention_count), type: e.type,
      color: { background: color, border: "#33415c",
               highlight: { background: color, border: "#000" },
               hover: { background: color, border: "#000" } },
      font: { size: 1 }
    };
    var p = pos.get(e.id);
    if (p) { node.x = p.x; node.y = p.y; }
    return node;
  }));
  var edges = new vis.DataSet(data.relations.map(function (r) {
    var pair = r.head < r.tail ? r.head + "\u0000" + r.tail : r.tail + "\u0000" + r.head;
    var k = pairCount[pair] = (pairCount[pair] || 0) + 1;
    var edge = {
      id: r.id, from: r.head, to: r.tail, label: r.type, value: Math.max(1, r.evidence_count),
      relationType: r.type, font: { size: 1 }
    };
    if (!big && k > 1) edge.smooth = { type: k % 2 ? "curvedCW" : "curvedCCW", roundness: 0.12 * Math.ceil(k / 2) };
    return edge;
  }));
  function edgeShown(r) {
    return !!r && !hiddenRelations.has(r.type) && shown(entityById.get(r.head)) &&
      shown(entityById.get(r.tail)) && inDocuments(r.documents);
  }
  var nodeView = new vis.DataView(nodes, { filter: function (n) { return shown(entityById.get(n.id)); } });
  var edgeView = new vis.DataView(edges, { filter: function (e) { return edgeShown(relationById.get(e.id)); } });

  var iterations = Math.max(60, Math.min(300, Math.round(150000 / Math.max(1, firstShown.length))));
  var options = {
    autoResize: true,
    layout: { randomSeed: 7, improvedLayout: false },
    nodes: {
      shape: "dot",
      scaling: { min: 7, max: 34, label: { enabled: false, drawThreshold: LABEL_MIN_PX, maxVisible: 22 } },
      font: { size: 1, color: "#1d2330", strokeWidth: 3, strokeColor: "#ffffff" },
      borderWidth: 1
    },
    edges: {
      arrows: { to: { enabled: true, scaleFactor: 0.55 } },
      color: { color: EDGE_COLOR, highlight: "#4a5468", hover: "#4a5468" },
      scaling: { min: 1.6, max: 5, label: { enabled: false, drawThreshold: EDGE_LABEL_PX - 1, maxVisible: 16 } },
      font: { size: 1, color: "#3d4556", strokeWidth: 0, background: "rgba(255,255,255,0.9)", align: "top" },
      smooth: big ? false : { type: "continuous", roundness: 0.3 },
      selectionWidth: 1
    },
    physics: {
      solver: "forceAtlas2Based",
      forceAtlas2Based: { gravitationalConstant: -45, centralGravity: 0.012, springLength: 70,
                          springConstant: 0.08, damping: 0.55, avoidOverlap: 0.6 },
      minVelocity: 1,
      stabilization: { enabled: true, iterations: iterations, updateInterval: 50, fit: false }
    },
    interaction: { hover: true, hideEdgesOnDrag: big, hideEdgesOnZoom: big, tooltipDelay: 3600000,
                   keyboard: false, multiselect: false }
  };

  var container = document.getElementById("graph");
  timings.prepared = performance.now();
  var network = new vis.Network(container, { nodes: nodeView, edges: edgeView }, options);
  timings.created = performance.now();
  var ready = false, still = null, refScale = 1;

  function rememberPositions(ids) {
    // kept here and in the DataSet, so that an entity filtered out and back comes back
    // where it was (network.storePositions fails on a DataView that hides nodes)
    var at = network.getPositions(ids);
    nodes.update(Object.keys(at).map(function (id) {
      pos.set(id, at[id]);
      return { id: id, x: at[id].x, y: at[id].y };
    }));
  }

  function fitAll() {
    // Everything shown in view, names included: vis-network fits the nodes only, so the
    // box is widened by the labels the first zoom may draw (their size on screen does
    // not depend on the zoom, their size in the graph does: a few rounds settle it).
    network.fit({ animation: false });
    var list = byRank.filter(shown), W = container.clientWidth, H = container.clientHeight;
    if (!list.length || !W || !H) return;
    var named = list.slice(0, Math.max(1, LABELS) * 2), px = LABEL_PX + 5;
    var scale = network.getScale(), box = null;
    for (var round = 0; round < 4; round++) {
      box = { x0: Infinity, x1: -Infinity, y0: Infinity, y1: -Infinity };
      list.forEach(function (e) {
        var p = pos.get(e.id);
        if (!p) return;
        box.x0 = Math.min(box.x0, p.x - 12); box.x1 = Math.max(box.x1, p.x + 12);
        box.y0 = Math.min(box.y0, p.y - 12); box.y1 = Math.max(box.y1, p.y + 12);
      });
      named.forEach(function (e) {
        var p = pos.get(e.id);
        if (!p) return;
        var half = (textWidth(e.name) * px / 100 / 2 + 4) / scale;
        box.x0 = Math.min(box.x0, p.x - half); box.x1 = Math.max(box.x1, p.x + half);
        box.y1 = Math.max(box.y1, p.y + 12 + (px * 1.4) / scale);
        box.y0 = Math.min(box.y0, p.y - 12 - (px * 1.4) / scale);
      });
      scale = Math.min(W / (box.x1 - box.x0), H / (box.y1 - box.y0)) * 0.97;
      scale = Math.min(scale, 1.5);
    }
    network.moveTo({ position: { x: (box.x0 + box.x1) / 2, y: (box.y0 + box.y1) / 2 }, scale: scale, animation: false });
  }

  function markReady() {
    if (ready) return;
    ready = true;
    timings.stabilized = performance.now();
    network.setOptions({ physics: { enabled: false } });
    var ids = Array.from(pos.keys()), seeded = spread(ids);
    rememberPositions();
    if (seeded > 0) spiral.scale = Math.max(0.5, Math.min(3, spread(ids) / seeded));
    fitAll();
    refScale = Math.min(1.5, Math.max(0.02, network.getScale() || 1));
    restyle();
    document.getElementById("layout-status").hidden = true;
    network.once("afterDrawing", function () {
      still = performance.now();
      document.body.setAttribute("data-ready", "true");
    });
    network.redraw();
  }
  network.once("stabilizationIterationsDone", markReady);
  network.on("dragEnd", function (params) { if (params.nodes.length) rememberPositions(params.nodes); });
  var zoomed = null;
  network.on("zoom", function () {  // once the zooming stops: labels sized for the new zoom
    clearTimeout(zoomed);
    zoomed = setTimeout(function () { if (ready) restyle(); }, 120);
  });
  network.on("animationFinished", function () { if (ready) restyle(); });
  if (firstShown.length === 0) markReady();

  // -- labels, fading ----------------------------------------------------------------------
  var applied = new Map();  // id -> the style key last written, so only changes are sent

  var HIDDEN_PX = (LABEL_MIN_PX - 1) * 0.92;  // below the size vis-network draws
  var measure = document.createElement("canvas").getContext("2d");
  measure.font = "100px arial";  // vis-network's default label font
  function textWidth(text) { return measure.measureText(text).width; }
  function labelSizes(list, scale, limit, basePx, growPx) {
    // Label sizes (world units) for entities in order of importance: the first `limit`
    // whose labels do not overlap a more important one are readable at `scale` (basePx
    // to basePx + growPx on screen, the first biggest), each below its node or, where
    // that is taken, above it (shift: vadjust); the others are just too small to be drawn
    // at `scale` and come in as one zooms in, the more important first.
    var sizes = new Map(), shifts = new Map(), boxes = [], taken = 0, skipped = 0;
    var L = Math.max(1, Math.min(limit, 1000));
    function free(box) {
      return !boxes.some(function (b) {
        return b.x0 < box.x1 && box.x0 < b.x1 && b.y0 < box.y1 && box.y0 < b.y1;
      });
    }
    list.forEach(function (e, i) {
      var px = HIDDEN_PX * Math.sqrt(L / (L + skipped + Math.max(0, i - L)));
      var shift = 0;
      if (taken < limit) {
        var top = basePx + growPx * Math.sqrt(Math.max(0, 1 - taken / L));
        var p = pos.get(e.id), node = network.body.nodes[e.id];
        var r = node && node.options.size ? node.options.size : 10;
        var w = (textWidth(e.name) * top / 100 / 2 + 3) / scale, h = (top * 1.3) / scale;
        var below = { x0: p.x - w, x1: p.x + w, y0: p.y + r, y1: p.y + r + h };
        var above = { x0: p.x - w, x1: p.x + w, y0: p.y - r - h, y1: p.y - r };
        if (free(below)) { boxes.push(below); taken++; px = top; }
        else if (free(above)) { boxes.push(above); taken++; px = top; shift = -(2 * r + h * 0.85); }
        else skipped++;
      }
      sizes.set(e.id, px / scale);
      shifts.set(e.id, shift);
    });
    return { size: sizes, shift: shifts };
  }

  function restyle() {
    var nodeUpdates = [], edgeUpdates = [], focusScale = state.focusScale || refScale;
    // label sizes are in graph units, so zooming in makes them grow: cap them on screen
    var scale = network.getScale() || refScale;
    var nodeCap = MAX_LABEL_PX / scale, edgeCap = MAX_EDGE_LABEL_PX / scale;
    var list = byRank.filter(shown), labels;
    if (state.near) {
      var near = list.filter(function (e) { return state.near.has(e.id); });
      near.sort(function (a, b) { return state.near.get(a.id) - state.near.get(b.id) || a.rank - b.rank; });
      labels = labelSizes(near, focusScale, 200, 12, 3);
    } else {
      labels = labelSizes(list, refScale, LABELS, LABEL_PX, 5);
    }
    list.forEach(function (e) {
      var size = Math.min(labels.size.get(e.id) || 1, nodeCap), color = typeColor[e.type];
      var faded = !!state.near && !state.near.has(e.id);
      size = Math.round(size * 100) / 100;
      var vadjust = Math.round((labels.shift.get(e.id) || 0) * 100) / 100;
      var key = size + "/" + vadjust + (faded ? "f" : "");
      if (applied.get(e.id) === key) return;
      applied.set(e.id, key);
      var bg = faded ? rgba(color, FADED_NODE_ALPHA) : color;
      nodeUpdates.push({
        id: e.id,
        font: { size: size, color: "#1d2330", vadjust: vadjust },
        color: { background: bg, border: faded ? "rgba(51,65,92,0.15)" : "#33415c",
                 highlight: { background: color, border: "#000" },
                 hover: { background: color, border: "#000" } }
      });
    });
    data.relations.forEach(function (r) {
      if (!edgeShown(r)) return;
      var size = EDGE_LABEL_PX / (refScale * EDGE_ZOOM), faded = false;
      if (state.near) {
        var both = state.near.has(r.head) && state.near.has(r.tail);
        if (both) size = EDGE_LABEL_PX / focusScale; else { faded = true; size = 1; }
      }
      size = Math.round(Math.min(size, edgeCap) * 100) / 100;
      var key = size + (faded ? "f" : "");
      if (applied.get(r.id) === key) return;
      applied.set(r.id, key);
      edgeUpdates.push({ id: r.id, font: { size: size }, color: { color: faded ? FADED_EDGE : EDGE_COLOR } });
    });
    if (nodeUpdates.length) nodes.update(nodeUpdates);
    if (edgeUpdates.length) edges.update(edgeUpdates);
  }

  function within(id, hops) {
    var near = new Map([[id, 0]]), frontier = [id];
    for (var h = 1; h <= hops; h++) {
      var next = [];
      frontier.forEach(function (a) {
        relationsOf.get(a).forEach(function (r) {
          if (hiddenRelations.has(r.type)) return;
          var b = r.head === a ? r.tail : r.head;
          if (!near.has(b)) { near.set(b, h); next.push(b); }
        });
      });
      frontier = next;
    }
    return near;
  }

  // -- what is shown changes ----------------------------------------------------------------
  function refresh() {
    var list = byRank.filter(shown);
    place(list);
    nodeView.refresh();
    edgeView.refresh();
    if (state.focus) state.near = within(state.focus, state.hops);
    restyle();
    updateNotices();
  }

  var toggleBox = document.getElementById("show-unconnected");
  function updateNotices() {
    var toggle = document.getElementById("unconnected-toggle");
    toggle.hidden = unconnectedCount === 0;
    document.getElementById("unconnected-text").textContent =
      (state.showUnconnected ? "Showing " : "Show ") + plural(unconnectedCount, "entity", "entities") +
      " without relations" + (state.showUnconnected ? " (below the graph)" : " (hidden)");
    toggleBox.checked = state.showUnconnected;

    var notice = document.getElementById("large-notice");
    var total = connectedByRank.length;
    notice.hidden = state.cap >= total;
    if (!notice.hidden) {
      document.getElementById("large-text").textContent =
        "Large graph: showing the " + fmt(state.cap) + " most connected of " + fmt(total) +
        " connected entities (and their clusters), so that it opens quickly. Search finds " +
        "all of them.";
      var more = Math.min(STEP, total - state.cap);
      document.getElementById("show-more").textContent = "Show " + fmt(more) + " more";
      document.getElementById("show-all").textContent = "Show all " + fmt(total);
    }
    document.body.setAttribute("data-shown", String(nodeView.length));
  }

  toggleBox.addEventListener("change", function () {
    state.showUnconnected = toggleBox.checked;
    refresh();
    if (!state.focus) overview();
  });
  function settle(ids, done) {
    // A short run of the physics for entities just placed, with the others held still;
    // then everything is still again. body[data-ready] is "settling" meanwhile.
    var moving = new Set(ids);
    var held = nodeView.getIds().filter(function (id) { return !moving.has(id); });
    if (!ids.length) { done(); return; }
    document.body.setAttribute("data-ready", "settling");
    nodes.update(held.map(function (id) { return { id: id, fixed: true }; }));
    var steps = Math.max(20, Math.min(120, Math.round(80000 / Math.max(1, nodeView.length))));
    network.setOptions({ physics: { enabled: true, stabilization: { enabled: true, iterations: steps, updateInterval: 50, fit: false } } });
    network.once("stabilizationIterationsDone", function () {
      network.setOptions({ physics: { enabled: false } });
      nodes.update(held.map(function (id) { return { id: id, fixed: false }; }));
      rememberPositions(ids);
      applied.clear();
      restyle();
      done();
      network.once("afterDrawing", function () { document.body.setAttribute("data-ready", "true"); });
      network.redraw();
    });
    network.stabilize(steps);
  }

  function expand(count) {
    var before = new Set(nodeView.getIds());
    state.cap = Math.min(connectedByRank.length, state.cap + count);
    updateCap();
    refresh();
    var added = nodeView.getIds().filter(function (id) { return !before.has(id); });
    settle(added, function () { if (!state.focus) overview(); });
  }

  function overview() {
    // fit everything shown, and size the labels for this zoom
    fitAll();
    refScale = Math.min(1.5, Math.max(0.02, network.getScale() || 1));
    applied.clear();
    restyle();
  }
  document.getElementById("show-more").addEventListener("click", function () { expand(STEP); });
  document.getElementById("show-all").addEventListener("click", function () { expand(Infinity); });

  // -- summary -----------------------------------------------------------------------------
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

  // -- filters -----------------------------------------------------------------------------
  function filterList(listId, items, hidden, colors, names) {
    var list = document.getElementById(listId);
    var boxes = [];
    items.forEach(function (item) {
      var li = el("li");
      var label = el("label");
      var box = el("input");
      box.type = "checkbox";
      box.checked = true;
      box.setAttribute("data-value", item[0]);
      box.addEventListener("change", function () {
        if (box.checked) hidden.delete(item[0]); else hidden.add(item[0]);
        refresh();
      });
      boxes.push(box);
      label.appendChild(box);
      if (colors) {
        var swatch = el("span", "swatch");
        swatch.style.background = colors[item[0]];
        label.appendChild(swatch);
      }
      var name = names ? names(item[0]) : item[0] || "(no type)";
      var nameSpan = el("span", "name", name);
      if (names) nameSpan.setAttribute("title", documentById.get(item[0]).source);
      label.appendChild(nameSpan);
      label.appendChild(el("span", "count", fmt(item[1])));
      li.appendChild(label);
      list.appendChild(li);
    });
    return boxes;
  }
  filterList("entity-types", entityTypes, hiddenTypes, typeColor);
  filterList("relation-types", relationTypes, hiddenRelations, null);
  var documentItems = (data.documents || []).map(function (d) { return [d.id, d.entity_count]; });
  var documentBoxes = filterList("documents", documentItems, hiddenDocuments, null,
    function (id) { return shortSource(documentById.get(id).source); });
  document.getElementById("documents-section").hidden = documentItems.length < 2;
  function allDocuments(on) {
    documentBoxes.forEach(function (box) {
      box.checked = on;
      if (on) hiddenDocuments.delete(box.getAttribute("data-value"));
      else hiddenDocuments.add(box.getAttribute("data-value"));
    });
    refresh();
  }
  document.getElementById("documents-all").addEventListener("click", function () { allDocuments(true); });
  document.getElementById("documents-none").addEventListener("click", function () { allDocuments(false); });

  // -- details -----------------------------------------------------------------------------
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

  function entityButton(e) {
    var button = el("button");
    button.type = "button";
    button.setAttribute("data-id", e.id);
    var swatch = el("span", "swatch");
    swatch.style.background = typeColor[e.type];
    button.appendChild(swatch);
    button.appendChild(el("span", "name", e.name));
    button.addEventListener("click", function () { focusEntity(e.id); });
    return button;
  }

  function showStart() {
    details.replaceChildren();
    details.setAttribute("data-kind", "start");
    details.removeAttribute("data-id");
    details.appendChild(el("h2", null, "Start here"));
    details.appendChild(el("p", "hint",
      "Click an entity (a dot) or a relation (a line) to read the sentences it was found in. " +
      "Clicking an entity also centres it and fades what is not connected to it."));
    var top = byRank.filter(shown).slice(0, 10);
    if (top.length) {
      details.appendChild(el("h3", null, "Most connected"));
      var ul = el("ul", "start");
      top.forEach(function (e) { var li = el("li"); li.appendChild(entityButton(e)); ul.appendChild(li); });
      details.appendChild(ul);
    }
    if (unconnectedCount && !state.showUnconnected) {
      details.appendChild(el("p", "hint",
        plural(unconnectedCount, "entity has", "entities have") + " no relation yet and " +
        (unconnectedCount === 1 ? "is" : "are") + " hidden: the switch on the left shows them."));
    }
  }

  function relationList(e) {
    var rels = relationsOf.get(e.id).slice().sort(function (a, b) {
      return b.evidence_count - a.evidence_count || (a.id < b.id ? -1 : 1);
    });
    var ul = el("ul", "relations");
    rels.slice(0, 60).forEach(function (r) {
      var out = r.head === e.id, other = entityById.get(out ? r.tail : r.head);
      var li = el("li");
      var rel = el("button", "rel", (out ? "→ " : "← ") + r.type);
      rel.type = "button";
      rel.setAttribute("data-relation", r.id);
      rel.addEventListener("click", function () { network.selectEdges([r.id]); showRelation(r.id); });
      li.appendChild(rel);
      if (other) li.appendChild(entityButton(other));
      ul.appendChild(li);
    });
    return [ul, rels.length];
  }

  function showEntity(id) {
    var e = entityById.get(id);
    if (!e) return;
    details.replaceChildren();
    details.setAttribute("data-kind", "entity");
    details.setAttribute("data-id", e.id);
    details.appendChild(el("h2", null, e.name));
    var aliases = el("span", "aliases", e.aliases.join(" · "));
    var docs = (e.documents || []).map(function (d) {
      return documentById.has(d) ? shortSource(documentById.get(d).source) : d;
    }).join(" · ");
    details.appendChild(facts([["Type", tag(e.type)], ["Aliases", aliases], ["Mentions", fmt(e.mention_count)],
      ["Relations", fmt(e.degree)], ["Documents", docs], ["Id", e.id]]));
    var list = relationList(e);
    if (list[1]) {
      details.appendChild(el("h3", null, "Relations"));
      details.appendChild(list[0]);
    }
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

  // -- focus -------------------------------------------------------------------------------
  var focusBar = document.getElementById("focus-bar");
  var hopsSelect = document.getElementById("focus-hops");

  function centre(id) {
    // the entity in the middle, zoomed so that what is within state.hops fits around it
    var at = pos.get(id);
    if (!at) return;
    var far = SPACING * 2;
    state.near.forEach(function (h, other) {
      var p = pos.get(other);
      if (p && shown(entityById.get(other))) far = Math.max(far, Math.abs(p.x - at.x) * 1.3, Math.abs(p.y - at.y) * 2);
    });
    var box = container.getBoundingClientRect();
    var fits = (0.8 * Math.min(box.width, box.height)) / (2 * far);
    var scale = Math.max(refScale, Math.min(fits, 1.6));
    state.focusScale = scale;
    network.moveTo({ position: at, scale: scale, animation: { duration: 350, easingFunction: "easeInOutQuad" } });
  }

  function focusEntity(id) {
    var e = entityById.get(id);
    if (!e) return;
    if (passesFilters(e)) {
      if (!wanted(e)) state.revealed.add(id);
      neighbours.get(id).forEach(function (m) {
        var n = entityById.get(m);
        if (!wanted(n)) state.revealed.add(m);
      });
      state.focus = id;
      state.near = within(id, state.hops);
      refresh();  // places what was revealed, restyles
      network.selectNodes([id]);
      centre(id);
      restyle();
      focusBar.hidden = false;
      document.getElementById("focus-text").textContent = "Around " + e.name + ":";
      document.body.setAttribute("data-focus", id);
    }
    showEntity(id);
  }

  function clearFocus() {
    if (!state.focus) return;
    state.focus = null;
    state.near = null;
    state.focusScale = null;
    focusBar.hidden = true;
    document.body.removeAttribute("data-focus");
    network.unselectAll();
    restyle();
  }

  hopsSelect.addEventListener("change", function () {
    state.hops = Number(hopsSelect.value);
    if (state.focus) {
      state.near = within(state.focus, state.hops);
      centre(state.focus);
      restyle();
    }
  });
  document.getElementById("focus-clear").addEventListener("click", function () {
    clearFocus();
    overview();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && document.activeElement !== search) clearFocus();
  });

  network.on("click", function (params) {
    if (params.nodes.length) focusEntity(params.nodes[0]);
    else if (params.edges.length) showRelation(params.edges[0]);
    else clearFocus();
  });

  // -- hover: the name of any node -------------------------------------------------------
  var tooltip = document.getElementById("tooltip");
  network.on("hoverNode", function (params) {
    var e = entityById.get(params.node);
    if (!e) return;
    tooltip.replaceChildren(el("strong", null, e.name),
      el("span", "muted", " " + (e.type || "(no type)") + " · " + plural(e.mention_count, "mention", "mentions") +
        " · " + plural(e.degree, "relation", "relations")));
    var box = container.getBoundingClientRect();
    tooltip.style.left = Math.min(params.pointer.DOM.x + 14, box.width - 200) + "px";
    tooltip.style.top = (params.pointer.DOM.y + 16) + "px";
    tooltip.hidden = false;
  });
  network.on("blurNode", function () { tooltip.hidden = true; });
  network.on("dragStart", function () { tooltip.hidden = true; });
  container.addEventListener("mouseleave", function () { tooltip.hidden = true; });

  // -- "without relations" heading on the canvas -----------------------------------------
  network.on("beforeDrawing", function (ctx) {
    if (!parked || !state.showUnconnected) return;
    ctx.save();
    ctx.font = "600 " + Math.round(14 / network.getScale()) + "px system-ui, sans-serif";
    ctx.fillStyle = "#6b7385";
    ctx.fillText("Entities without relations", parked.x - SPACING / 2, parked.y - SPACING);
    ctx.restore();
  });

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

  updateNotices();
  showStart();

  window.kgbuildView = {
    network: network, nodes: nodes, edges: edges, nodeView: nodeView, edgeView: edgeView,
    state: state, showEntity: showEntity, showRelation: showRelation, focusEntity: focusEntity,
    clearFocus: clearFocus, expand: expand,
    isReady: function () { return ready; },
    stillMs: function () { return still; },
    timings: timings,
    isFaded: function (id) { return !!state.near && !state.near.has(id); },
    labelScreenSize: function (id) {
      var n = network.body.nodes[id];
      return n ? n.options.font.size * network.getScale() : 0;
    },
    limits: { LARGE: LARGE, OPEN: OPEN, STEP: STEP }
  };
})();
