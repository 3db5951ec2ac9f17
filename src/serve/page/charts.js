// meshsim teaching page: the charts and the topology diagram, drawn as plain SVG.
// Colours are Okabe–Ito (safe for the common colour-vision deficiencies); states also differ
// by shape or outline, never by colour alone.
"use strict";

const MeshCharts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const OKABE = {
    black: "#000000", orange: "#E69F00", sky: "#56B4E9", green: "#009E73",
    yellow: "#F0E442", blue: "#0072B2", vermillion: "#D55E00", purple: "#CC79A7",
  };
  const LOCALITY_COLOURS = [OKABE.blue, OKABE.orange, OKABE.green, OKABE.purple, OKABE.sky, OKABE.yellow, OKABE.vermillion];
  const CAUSES = [
    ["upstream_5xx", "upstream 5xx", OKABE.vermillion],
    ["connect_failure", "connect failure", OKABE.purple],
    ["no_healthy_upstream", "no healthy upstream", OKABE.black],
    ["overflow", "overflow (circuit breaker)", OKABE.orange],
    ["timeout", "timeout", OKABE.sky],
    ["fault_abort", "fault abort (injected)", OKABE.yellow],
    ["no_route", "no route (404)", OKABE.blue],
  ];
  const POD_STATES = {
    ready: { label: "healthy", fill: OKABE.green, stroke: "#00573f" },
    failing: { label: "failing (fault injected)", fill: OKABE.vermillion, stroke: "#6b2f00" },
    starting: { label: "starting (not ready)", fill: "#ffffff", stroke: "#777" },
    terminating: { label: "terminating", fill: "#bbbbbb", stroke: "#777" },
  };

  function el(tag, attrs, ...children) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return e;
  }

  function svgRoot(w, h, label) {
    return el("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": label, preserveAspectRatio: "xMinYMin meet" });
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function fmt(x, digits = 1) {
    return Number.isFinite(x) ? x.toFixed(digits) : "–";
  }

  // The frame shared by the time charts: x scale, time axis, phase bands, fault and transition
  // marks, and the cursor line the scrubber moves.
  function frame(svg, run, geo, opts) {
    const { w, h, left, right, top, bottom } = geo;
    const T = run.duration_s;
    const x = (t) => left + (Math.max(0, Math.min(T, t)) / T) * (w - left - right);
    const phases = run.summary.phases || [];
    phases.forEach((p, i) => {
      if (i % 2 === 1) {
        svg.appendChild(el("rect", { x: x(p.start_s), y: top, width: x(p.end_s) - x(p.start_s), height: h - top - bottom, fill: "#efefef" }));
      }
      if (opts.phaseLabels) {
        const label = el("text", { x: x(p.start_s) + 3, y: top - 6, class: "phase-label" }, p.name);
        svg.appendChild(label);
      }
    });
    for (const f of run.faults || []) {
      svg.appendChild(el("line", { x1: x(f.at_s), x2: x(f.at_s), y1: top, y2: h - bottom, stroke: "#444", "stroke-dasharray": "2 3" }));
    }
    const step = niceMax(T / 8);
    for (let t = 0; t <= T + 1e-9; t += step) {
      svg.appendChild(el("line", { x1: x(t), x2: x(t), y1: h - bottom, y2: h - bottom + 4, stroke: "#333" }));
      svg.appendChild(el("text", { x: x(t), y: h - bottom + 15, "text-anchor": "middle" }, `${Math.round(t)}`));
    }
    svg.appendChild(el("text", { x: w - right, y: h - 2, "text-anchor": "end" }, "time (s)"));
    svg.appendChild(el("line", { x1: left, x2: w - right, y1: h - bottom, y2: h - bottom, stroke: "#333" }));
    return x;
  }

  function transitionMarks(svg, run, x, geo, which) {
    const { h, top, bottom } = geo;
    for (const tr of run.summary.transitions || []) {
      if (tr.time_s === null || tr.time_s === undefined) continue;
      const t = tr.at_s + tr.time_s;
      const colour = tr.kind === "failover" ? OKABE.vermillion : OKABE.blue;
      const g = el("g", { class: `transition ${tr.kind}`, "data-kind": tr.kind, "data-time": fmt(t, 2) });
      g.appendChild(el("line", { x1: x(t), x2: x(t), y1: top, y2: h - bottom, stroke: colour, "stroke-width": 2 }));
      const label = `${which ? which + ": " : ""}${tr.kind === "failover" ? "failover" : "fail-back"} +${fmt(tr.time_s)} s`;
      const anchor = x(t) > geo.w * 0.8 ? "end" : "start";
      const dx = anchor === "end" ? -4 : 4;
      g.appendChild(el("text", { x: x(t) + dx, y: top + 12 + (which === "A" ? 14 : 0), "text-anchor": anchor, fill: colour, "font-weight": "600" }, label));
      svg.appendChild(g);
    }
  }

  // The scrubber's moment: a wide translucent band with a solid centre, unlike the dashed fault
  // lines and the coloured transition marks.
  function cursorLine(svg, x, geo) {
    for (const [width, opacity] of [[7, 0.18], [1.5, 1]]) {
      const line = el("line", { class: "cursor", x1: x(0), x2: x(0), y1: geo.top, y2: geo.h - geo.bottom, stroke: OKABE.black, "stroke-width": width, "stroke-opacity": opacity });
      line._x = x;
      svg.appendChild(line);
    }
  }

  // Share of upstream attempts per locality and bucket, as arrays indexed [locality][bucket].
  function shares(run) {
    const locs = run.topology.localities;
    const n = run.client.length;
    const out = locs.map(() => new Array(n).fill(0));
    const bucket = run.bucket_s;
    for (const r of run.timeseries) {
      const l = locs.indexOf(r.locality);
      const b = Math.round(r.time_s / bucket);
      if (l >= 0 && b < n) out[l][b] = r.share;
    }
    return out;
  }

  function share(container, run, opts = {}) {
    const geo = { w: 900, h: 250, left: 44, right: 14, top: 26, bottom: 26 };
    const svg = svgRoot(geo.w, geo.h, "Traffic share per locality over time");
    const x = frame(svg, run, geo, { phaseLabels: true });
    const y = (v) => geo.h - geo.bottom - v * (geo.h - geo.top - geo.bottom);
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      svg.appendChild(el("line", { x1: geo.left - 4, x2: geo.w - geo.right, y1: y(v), y2: y(v), stroke: v === 0 ? "#333" : "#ddd" }));
      svg.appendChild(el("text", { x: geo.left - 6, y: y(v) + 4, "text-anchor": "end" }, `${Math.round(v * 100)}%`));
    }
    const s = shares(run);
    const bucket = run.bucket_s;
    const n = run.client.length;
    const base = new Array(n).fill(0);
    s.forEach((series, l) => {
      let d = "";
      const topPts = [];
      for (let b = 0; b < n; b++) {
        const t0 = b * bucket, t1 = Math.min(run.duration_s, (b + 1) * bucket);
        topPts.push([x(t0), y(base[b] + series[b])], [x(t1), y(base[b] + series[b])]);
      }
      const botPts = [];
      for (let b = n - 1; b >= 0; b--) {
        const t0 = b * bucket, t1 = Math.min(run.duration_s, (b + 1) * bucket);
        botPts.push([x(t1), y(base[b])], [x(t0), y(base[b])]);
      }
      d = "M" + topPts.concat(botPts).map((p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`).join("L") + "Z";
      svg.appendChild(el("path", { d, fill: LOCALITY_COLOURS[l % LOCALITY_COLOURS.length], "fill-opacity": 0.85, class: "share-area", "data-locality": run.topology.localities[l] }));
      for (let b = 0; b < n; b++) base[b] += series[b];
    });
    if (opts.compare) {
      const a = shares(opts.compare);
      const acc = new Array(opts.compare.client.length).fill(0);
      a.slice(0, -1).forEach((series) => {
        const pts = [];
        for (let b = 0; b < series.length; b++) {
          acc[b] += series[b];
          pts.push([x(b * bucket), y(acc[b])], [x((b + 1) * bucket), y(acc[b])]);
        }
        svg.appendChild(el("path", { d: "M" + pts.map((p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`).join("L"), fill: "none", stroke: OKABE.black, "stroke-width": 2, "stroke-dasharray": "6 4", class: "compare-line" }));
      });
      transitionMarks(svg, opts.compare, x, geo, "A");
    }
    transitionMarks(svg, run, x, geo, opts.compare ? "B" : "");
    cursorLine(svg, x, geo);
    container.replaceChildren(svg);
    return run.topology.localities.map((l, i) => [l, LOCALITY_COLOURS[i % LOCALITY_COLOURS.length]]);
  }

  function errorsPerSecond(run) {
    return run.client.map((r) => CAUSES.map(([k]) => r[k] / run.bucket_s));
  }

  function errors(container, run, opts = {}) {
    const geo = { w: 900, h: 190, left: 44, right: 14, top: 10, bottom: 26 };
    const svg = svgRoot(geo.w, geo.h, "Client errors per second by cause");
    const x = frame(svg, run, geo, { phaseLabels: false });
    const per = errorsPerSecond(run);
    const totals = per.map((r) => r.reduce((a, b) => a + b, 0));
    let max = Math.max(1, ...totals);
    let aTotals = null;
    if (opts.compare) {
      aTotals = errorsPerSecond(opts.compare).map((r) => r.reduce((a, b) => a + b, 0));
      max = Math.max(max, ...aTotals);
    }
    max = niceMax(max);
    const y = (v) => geo.h - geo.bottom - (v / max) * (geo.h - geo.top - geo.bottom);
    for (const v of [0, max / 2, max]) {
      svg.appendChild(el("line", { x1: geo.left - 4, x2: geo.w - geo.right, y1: y(v), y2: y(v), stroke: v === 0 ? "#333" : "#ddd" }));
      svg.appendChild(el("text", { x: geo.left - 6, y: y(v) + 4, "text-anchor": "end" }, `${+v.toPrecision(3)}`));
    }
    const bucket = run.bucket_s;
    per.forEach((row, b) => {
      let acc = 0;
      row.forEach((v, c) => {
        if (v <= 0) return;
        const x0 = x(b * bucket), x1 = x((b + 1) * bucket);
        svg.appendChild(el("rect", { x: x0, y: y(acc + v), width: Math.max(1, x1 - x0 - 0.5), height: y(acc) - y(acc + v), fill: CAUSES[c][2], class: "error-bar" }));
        acc += v;
      });
    });
    if (aTotals) {
      const pts = [];
      aTotals.forEach((v, b) => pts.push([x(b * bucket), y(v)], [x((b + 1) * bucket), y(v)]));
      svg.appendChild(el("path", { d: "M" + pts.map((p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`).join("L"), fill: "none", stroke: OKABE.black, "stroke-width": 1.5, "stroke-dasharray": "6 4", class: "compare-line" }));
    }
    transitionMarks(svg, run, x, { ...geo, top: geo.top }, "");
    cursorLine(svg, x, geo);
    container.replaceChildren(svg);
    return CAUSES.map(([, label, colour]) => [label, colour]);
  }

  function ejections(container, run) {
    const recs = run.ejections;
    if (!recs.length) {
      const p = document.createElement("p");
      p.className = "hint";
      p.textContent = "No ejections in this run.";
      container.replaceChildren(p);
      return;
    }
    const keys = [];
    for (const r of recs) {
      const k = `${r.proxy} → ${r.endpoint}`;
      if (!keys.includes(k)) keys.push(k);
    }
    keys.sort();
    const MAX_ROWS = 48;
    const shown = keys.slice(0, MAX_ROWS);
    const rowH = 16;
    const geo = { w: 900, h: 36 + rowH * shown.length + (keys.length > MAX_ROWS ? 16 : 0), left: 170, right: 14, top: 8, bottom: 26 };
    const svg = svgRoot(geo.w, geo.h, "Ejection timeline: one row per proxy and endpoint");
    const x = frame(svg, run, geo, { phaseLabels: false });
    shown.forEach((k, i) => {
      const yy = geo.top + i * rowH;
      svg.appendChild(el("text", { x: geo.left - 6, y: yy + rowH - 4, "text-anchor": "end" }, k));
      if (i % 2 === 0) svg.insertBefore(el("rect", { x: geo.left, y: yy, width: geo.w - geo.left - geo.right, height: rowH, fill: "#f6f6f6" }), svg.firstChild);
    });
    for (const r of recs) {
      const i = shown.indexOf(`${r.proxy} → ${r.endpoint}`);
      if (i < 0) continue;
      const yy = geo.top + i * rowH + 2;
      const end = r.end_s === null ? run.duration_s : r.end_s;
      const x0 = x(r.start_s), x1 = Math.max(x(end), x0 + 2);
      const g = el("g", { class: "ejection" });
      g.appendChild(el("rect", { x: x0, y: yy, width: x1 - x0, height: rowH - 4, fill: OKABE.vermillion, "fill-opacity": 0.35 + Math.min(0.6, 0.15 * r.multiplier), stroke: "#6b2f00" }));
      if (x1 - x0 > 18) g.appendChild(el("text", { x: x0 + 3, y: yy + rowH - 6, fill: "#000" }, `×${r.multiplier}`));
      g.appendChild(el("title", {}, `${r.proxy} ejected ${r.endpoint} (${r.reason}) at ${fmt(r.start_s, 2)} s ×${r.multiplier}; back at ${r.end_s === null ? "—" : fmt(r.end_s, 2) + " s"} (${r.ended_by})`));
      svg.appendChild(g);
    }
    if (keys.length > MAX_ROWS) {
      svg.appendChild(el("text", { x: geo.left, y: geo.top + shown.length * rowH + 12 }, `… and ${keys.length - MAX_ROWS} more rows`));
    }
    cursorLine(svg, x, geo);
    container.replaceChildren(svg);
  }

  function setCursor(t) {
    for (const line of document.querySelectorAll("line.cursor")) {
      if (!line._x) continue;
      const xx = line._x(t);
      line.setAttribute("x1", xx);
      line.setAttribute("x2", xx);
    }
  }

  // The state of each pod at time t, and how many proxies eject it.
  function podStates(run, t) {
    const nProxies = Math.max(1, run.topology.proxies.length);
    return run.topology.pods.map((p) => {
      let state = null;
      for (const [at, s] of p.changes) if (at <= t) state = s;
      return { ...p, state, ejectedBy: ejectedCount(run, p.name, false, t), nProxies };
    });
  }

  // Proxies ejecting a host at t, each once however many of its clusters (subsets) eject it;
  // east-west gateway hosts are told apart by their flag.
  function ejectedCount(run, name, gateway, t) {
    const rows = run.ejections.filter((r) => r.endpoint === name && !!r.east_west_gateway === gateway && r.start_s <= t && (r.end_s === null || t < r.end_s));
    return new Set(rows.map((r) => r.proxy)).size;
  }

  function groupsCount(run) {
    const names = new Set(run.topology.proxies.filter((p) => p.kind !== "east-west gateway").map((p) => p.name.replace(/-\d+$/, "")));
    return names.size;
  }

  function topology(container, run, t) {
    const clusters = run.topology.clusters;
    const regions = [];
    for (const c of clusters) if (!regions.includes(c.region)) regions.push(c.region);
    const w = 440;
    const regionW = (w - 20) / regions.length;
    const clusterH = 96;
    const byRegion = regions.map((r) => clusters.filter((c) => c.region === r));
    const maxClusters = Math.max(...byRegion.map((l) => l.length));
    const top = 100 + Math.max(0, groupsCount(run) - 1) * 44;
    const h = top + 50 + maxClusters * (clusterH + 12) + 20;
    const svg = svgRoot(w, h, `Topology at ${fmt(t)} s: clusters, pods and traffic`);
    const defs = el("defs", {});
    defs.appendChild(el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 10, markerHeight: 10, markerUnits: "userSpaceOnUse", orient: "auto" }, el("path", { d: "M0,0L10,5L0,10z", fill: "#333" })));
    svg.appendChild(defs);
    const pods = podStates(run, t);
    const boxes = {};
    byRegion.forEach((list, ri) => {
      const rx = 10 + ri * regionW;
      svg.appendChild(el("rect", { x: rx + 4, y: top, width: regionW - 8, height: h - top - 10, rx: 10, fill: "#f4f8fb", stroke: "#7a9bb5" }));
      svg.appendChild(el("text", { x: rx + 12, y: top + 16, "font-weight": "600" }, `region ${regions[ri]}`));
      list.forEach((c, ci) => {
        const cx = rx + 12, cy = top + 26 + ci * (clusterH + 12), cw = regionW - 24;
        boxes[c.name] = { x: cx, y: cy, w: cw, h: clusterH, locality: c.locality };
        svg.appendChild(el("rect", { x: cx, y: cy, width: cw, height: clusterH, rx: 6, fill: "#fff", stroke: "#555" }));
        svg.appendChild(el("text", { x: cx + 6, y: cy + 15 }, c.name));
        svg.appendChild(el("text", { x: cx + 6, y: cy + 28, fill: "#555" }, c.zone || c.region));
        const mine = pods.filter((p) => p.cluster === c.name && p.state && p.state !== "gone");
        mine.forEach((p, i) => {
          const per = Math.max(1, Math.floor((cw - 20) / 30));
          const px = cx + 20 + (i % per) * 30, py = cy + 50 + Math.floor(i / per) * 30;
          const st = POD_STATES[p.state] || POD_STATES.ready;
          const g = el("g", { class: `pod pod-${p.state}${p.ejectedBy ? " pod-ejected" : ""}`, "data-pod": p.name });
          g.appendChild(el("circle", { cx: px, cy: py, r: 10, fill: st.fill, stroke: p.ejectedBy ? OKABE.black : st.stroke, "stroke-width": p.ejectedBy ? 4 : 1.5, "stroke-dasharray": p.ejectedBy ? "3 2" : null }));
          if (p.ejectedBy) g.appendChild(el("path", { d: `M${px - 5},${py - 5}L${px + 5},${py + 5}M${px + 5},${py - 5}L${px - 5},${py + 5}`, stroke: "#fff", "stroke-width": 2.5 }));
          g.appendChild(el("title", {}, `${p.name}: ${st.label}${p.ejectedBy ? `, ejected by ${p.ejectedBy} of ${p.nProxies} proxies` : ""}`));
          svg.appendChild(g);
        });
        // East-west gateway replicas: one host each for clients on other networks.
        (run.topology.east_west_gateways || []).filter((gw) => gw.cluster === c.name).forEach((gw, i) => {
          const gx = cx + cw - 30 - i * 28, gy = cy + 8;
          const n = ejectedCount(run, gw.name, true, t);
          const g = el("g", { class: `ew-gateway${n ? " pod-ejected" : ""}` });
          g.appendChild(el("rect", { x: gx, y: gy, width: 20, height: 20, rx: 3, fill: "#fff6db", stroke: n ? OKABE.black : "#8a6d00", "stroke-width": n ? 4 : 1.5, "stroke-dasharray": n ? "3 2" : null }));
          g.appendChild(el("text", { x: gx + 10, y: gy + 14, "text-anchor": "middle", "font-size": "9" }, "gw"));
          g.appendChild(el("title", {}, `${gw.proxy}: east-west gateway host ${gw.name}${n ? `, ejected by ${n} proxies` : ""}`));
          svg.appendChild(g);
        });
      });
    });
    // Client proxies (gateways, sidecar groups) sit above their cluster's region.
    const groups = [];
    for (const p of run.topology.proxies) {
      if (p.kind === "east-west gateway") continue;
      const name = p.name.replace(/-\d+$/, "");
      let g = groups.find((x) => x.name === name);
      if (!g) groups.push((g = { name, kind: p.kind, cluster: p.cluster, replicas: 0 }));
      g.replicas++;
    }
    const bucket = Math.min(run.client.length - 1, Math.max(0, Math.floor(t / run.bucket_s)));
    const s = shares(run).map((series) => series[bucket] || 0);
    const requests = run.client[bucket] ? run.client[bucket].requests / run.bucket_s : 0;
    groups.forEach((g, gi) => {
      const box = boxes[g.cluster];
      const gx = box ? box.x + box.w / 2 : w / 2;
      const gw = 170, gh = 36, gy = 10 + gi * 44;
      const left = Math.max(4, Math.min(w - gw - 4, gx - gw / 2));
      svg.appendChild(el("rect", { x: left, y: gy, width: gw, height: gh, rx: 6, fill: "#fff6db", stroke: "#8a6d00" }));
      svg.appendChild(el("text", { x: left + 8, y: gy + 14, "font-weight": "600" }, `${g.name} (${g.kind}${g.replicas > 1 ? ` ×${g.replicas}` : ""})`));
      svg.appendChild(el("text", { x: left + 8, y: gy + 28 }, `${Math.round(requests)} req/s`));
      run.topology.localities.forEach((loc, li) => {
        const targets = clusters.filter((c) => c.locality === loc);
        for (const c of targets) {
          const b = boxes[c.name];
          const frac = s[li] / targets.length;
          const x1 = left + gw / 2, y1 = gy + gh, x2 = b.x + b.w / 2, y2 = b.y - 2;
          const width = frac > 0 ? 1 + 14 * frac : 0;
          if (width > 0) {
            svg.appendChild(el("path", { d: `M${x1},${y1} C${x1},${(y1 + y2) / 2} ${x2},${(y1 + y2) / 2} ${x2},${y2}`, fill: "none", stroke: LOCALITY_COLOURS[li % LOCALITY_COLOURS.length], "stroke-width": width, "stroke-opacity": 0.8, "marker-end": "url(#arrow)", class: "traffic", "data-locality": loc }));
          }
          svg.appendChild(el("text", { x: b.x + 6, y: b.y + b.h - 8, "font-weight": "600", class: "traffic-label", "data-locality": loc }, `${Math.round(frac * 100)}% of attempts`));
        }
      });
    });
    container.replaceChildren(svg);
    return [
      ...Object.values(POD_STATES).map((s) => [s.label, s.fill, s.stroke]),
      ["ejected (dashed black ring, ×)", "#ffffff", OKABE.black],
    ];
  }

  return { share, errors, ejections, topology, setCursor, podStates, OKABE, CAUSES };
})();
