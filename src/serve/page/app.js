// meshsim teaching page: state, controls, the API calls and the URL.
// Every control edits one dotted scenario path (the same paths as `meshsim run --set`); the
// server describes the controls (GET /api/knobs), so this file knows no field by name except
// `faults` and `expect`, which the fault editor rewrites as a whole.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const state = {
    scenarios: [],
    knobs: [],
    detail: null,
    name: null,
    seed: null,
    set: {},
    compare: null, // the A settings ({set}) while comparing; B is `set`
    run: null,
    runA: null,
    runAKey: null,
    t: 0,
    proxy: null, // the proxy picked in the explain panel; null: the snapshot's first
    playing: false,
    controller: null,
    controllerA: null,
    explainController: null,
    debounce: null,
    explainTimer: null,
    trigger: null,
  };
  // Read by the browser tests and handy in the console.
  const probe = { redraws: 0, lastLatencyMs: null, latencies: [], timings: null, run: null, runA: null, explain: null, explainAt: null, errors: 0 };
  window.meshsim = probe;
  const canonical = (v) => JSON.stringify(v, (_, x) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x));
  // The overrides sent to the server: a knob's value goes to every path it edits (the block in
  // force for the clusters the routes reach: a subset's or a port's own block when it sets one,
  // `knobs[].edits`); the page's state, the link and the undo keep the knob's own path.
  const wire = (set) => {
    const out = {};
    for (const [path, value] of Object.entries(set)) {
      const k = state.detail && state.detail.knobs[path];
      for (const p of k && k.edits ? k.edits : [path]) out[p] = value;
    }
    return out;
  };
  // True when the charts show the current settings and nothing is in flight.
  probe.settled = () =>
    !!state.run && !document.body.classList.contains("busy") && canonical(state.run.set) === canonical(wire(state.set)) &&
    (!state.compare || (!!state.runA && canonical(state.runA.set) === canonical(wire(state.compare.set))));

  // ---- small helpers ------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
  const idFor = (path) => "knob-" + path.replace(/[^A-Za-z0-9]+/g, "-");

  function parseDur(text) {
    if (typeof text === "number") return text;
    if (typeof text !== "string") return NaN;
    if (text.trim() === "0") return 0;
    const re = /([0-9.]+)(h|ms|us|µs|ns|m|s)/g;
    let total = 0, seen = "", m;
    while ((m = re.exec(text)) !== null) {
      const unit = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, "µs": 1e-6, ns: 1e-9 }[m[2]];
      total += parseFloat(m[1]) * unit;
      seen += m[0];
    }
    return seen === text.trim() ? total : NaN;
  }
  function fmtDur(seconds) {
    const ms = Math.round(seconds * 1000);
    return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
  }
  function getPath(tree, path) {
    let cur = tree;
    for (const seg of path.replace(/\[(\d+)\]/g, ".$1").split(".")) {
      if (cur === null || cur === undefined) return undefined;
      cur = cur[/^\d+$/.test(seg) ? Number(seg) : seg];
    }
    return cur;
  }
  function setStatus(text) {
    $("status").textContent = text;
  }
  function showError(text) {
    const e = $("error");
    e.hidden = !text;
    e.textContent = text || "";
  }

  // ---- URL: the settings live in the hash, so a link reproduces the view ------------------
  function readHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    const parse = (k) => {
      try {
        return p.has(k) ? JSON.parse(p.get(k)) : null;
      } catch (_) {
        return null;
      }
    };
    return { scenario: p.get("scenario"), seed: p.has("seed") ? Number(p.get("seed")) : null, set: parse("set") || {}, a: parse("a"), t: p.has("t") ? Number(p.get("t")) : null, proxy: p.get("proxy") };
  }
  function writeHash() {
    const p = new URLSearchParams();
    p.set("scenario", state.name);
    p.set("seed", String(state.seed));
    if (Object.keys(state.set).length) p.set("set", JSON.stringify(state.set));
    if (state.compare) p.set("a", JSON.stringify(state.compare.set));
    if (state.t > 0) p.set("t", state.t.toFixed(1));
    if (state.proxy) p.set("proxy", state.proxy);
    history.replaceState(null, "", "#" + p.toString());
    $("download").href = "/api/download?" + new URLSearchParams({ scenario: state.name, seed: String(state.seed), set: JSON.stringify(wire(state.set)) }).toString();
    $("download").setAttribute("download", `${state.name}.toml`);
  }

  // ---- API ----------------------------------------------------------------------------
  async function getJSON(url, opts) {
    const r = await fetch(url, opts);
    const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
    if (!r.ok) {
      const err = new Error(body.error || `HTTP ${r.status}`);
      err.status = r.status;
      err.param = body.param; // the query parameter the error is about, if any
      throw err;
    }
    return body;
  }
  function runRequest(set, lane, signal) {
    return getJSON("/api/run", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ scenario: state.name, seed: state.seed, set: wire(set), lane }),
      signal,
    });
  }

  // ---- runs ---------------------------------------------------------------------------
  // A change schedules a run; a newer one aborts the older request (the server cancels its
  // run: same lane), so a dragged slider never queues work.
  function scheduleRun(delayMs) {
    clearTimeout(state.debounce);
    state.debounce = setTimeout(runNow, delayMs);
  }
  function markTrigger() {
    state.trigger = performance.now();
  }

  async function runNow() {
    clearTimeout(state.debounce);
    writeHash();
    if (state.controller) state.controller.abort();
    // A snapshot for the old settings would only compete with the new run for the CPU.
    clearTimeout(state.explainTimer);
    if (state.explainController) state.explainController.abort();
    const controller = (state.controller = new AbortController());
    const trigger = state.trigger;
    document.body.classList.add("busy");
    setStatus("running…");
    try {
      const jobs = [runRequest(state.set, "b", controller.signal)];
      const keyA = state.compare ? JSON.stringify([state.name, state.seed, state.compare.set]) : null;
      if (state.compare && state.runAKey !== keyA) {
        if (state.controllerA) state.controllerA.abort();
        state.controllerA = new AbortController();
        jobs.push(runRequest(state.compare.set, "a", state.controllerA.signal).then((r) => {
          state.runA = r;
          state.runAKey = keyA;
        }));
      }
      const [run] = await Promise.all(jobs);
      if (controller !== state.controller) return;
      const received = performance.now();
      state.run = run;
      showError("");
      document.body.classList.remove("stale");
      draw();
      const drawn = performance.now();
      requestAnimationFrame(() => {
        probe.redraws++;
        if (trigger !== null && trigger !== undefined) {
          probe.timings = { server_ms: run.elapsed_ms, response_ms: received - trigger, draw_ms: drawn - received, frame_ms: performance.now() - drawn };
        }
        if (trigger !== null && trigger !== undefined) {
          probe.lastLatencyMs = performance.now() - trigger;
          probe.latencies.push(probe.lastLatencyMs);
          state.trigger = null;
        }
        setStatus(`ran ${run.summary.requests} requests in ${run.elapsed_ms.toFixed(0)} ms on the server` + (probe.lastLatencyMs !== null ? `; last change to redraw ${probe.lastLatencyMs.toFixed(0)} ms` : ""));
      });
    } catch (e) {
      if (e.name === "AbortError" || e.status === 409) return;
      probe.errors++;
      showError(e.message);
      document.body.classList.add("stale");
      setStatus("the last change was not run: see the message");
    } finally {
      if (controller === state.controller) document.body.classList.remove("busy");
    }
  }

  // ---- drawing ------------------------------------------------------------------------
  function legend(container, items) {
    container.replaceChildren(...items.map(([label, colour, stroke]) => h("span", {}, h("span", { class: "sw", style: `background:${colour};border-color:${stroke || "#0003"}` }), label)));
  }

  function transitionText(tr) {
    if (tr.time_s === null || tr.time_s === undefined) return "did not complete";
    return `${tr.time_s.toFixed(1)} s`;
  }

  function drawStats() {
    const run = state.run, a = state.compare ? state.runA : null;
    const cards = [];
    run.summary.transitions.forEach((tr, i) => {
      const trA = a && a.summary.transitions[i];
      const label = tr.kind === "failover" ? "Failover" : "Fail-back";
      const done = tr.time_s !== null && tr.time_s !== undefined ? `done at ${(tr.at_s + tr.time_s).toFixed(1)} s` : "";
      cards.push(h("div", { class: "stat", "data-kind": tr.kind, "data-index": String(i) },
        h("div", { class: "k", text: `${label} after “${tr.fault}” (${tr.at_s.toFixed(0)} s)` }),
        h("div", { class: "v" }, h("span", { class: "value", text: transitionText(tr) }), trA ? h("span", { class: "b", text: `  A: ${transitionText(trA)}` }) : null),
        h("div", { class: "note", text: `${done}${done ? "; " : ""}${tr.errors} client errors on the way` })));
    });
    const recovery = run.faults.find((f) => f.restores && f.phase);
    if (recovery && !run.summary.transitions.some((tr) => tr.kind === "failback")) {
      cards.push(h("div", { class: "stat", "data-kind": "failback" },
        h("div", { class: "k", text: `Fail-back after “${recovery.name}” (${recovery.at_s.toFixed(0)} s)` }),
        h("div", { class: "v" }, h("span", { class: "value", text: "none" }), a ? h("span", { class: "b", text: `  A: ${(a.summary.transitions.find((t) => t.kind === "failback") || { time_s: undefined }).time_s === undefined ? "none" : transitionText(a.summary.transitions.find((t) => t.kind === "failback"))}` }) : null),
        h("div", { class: "note", text: "no failover completed before a recovery, so nothing fails back" })));
    }
    const s = run.summary;
    const causes = Object.entries(s.phases.reduce((acc, p) => {
      for (const [k, v] of Object.entries(p.errors_by_cause)) acc[k] = (acc[k] || 0) + v;
      return acc;
    }, {})).filter(([, v]) => v > 0).map(([k, v]) => `${k.replaceAll("_", " ")} ${v}`).join(", ");
    const pair = (key, fmt) => h("div", { class: "v" }, h("span", { class: "value", text: fmt(s[key]) }), a ? h("span", { class: "b", text: `  A: ${fmt(a.summary[key])}` }) : null);
    cards.push(h("div", { class: "stat", "data-kind": "errors" }, h("div", { class: "k", text: `Client errors of ${s.requests} requests` }), pair("errors", String), h("div", { class: "note", text: causes || "none" })));
    cards.push(h("div", { class: "stat", "data-kind": "ejections" }, h("div", { class: "k", text: "Ejections" }), pair("ejections", String), h("div", { class: "note", text: `${s.false_ejections} false, ${s.ejections_overflow} refused by maxEjectionPercent` })));
    if (a) cards.push(h("div", { class: "stat", "data-kind": "compare" }, h("div", { class: "k", text: "Compare" }), h("div", { class: "note", text: "Solid: B, the current settings. Dashed and “A:”: the settings when Compare was switched on." })));
    $("stats").replaceChildren(...cards);
  }

  function drawVerdicts() {
    const run = state.run;
    const items = run.verdicts.map((v) => h("li", { class: v.passed ? "pass" : "fail", text: `${v.name}: ${v.measured} (expected ${v.bound})` }));
    const lints = run.lints.map((l) => h("li", { class: "fail", text: `[${l.code}] ${l.reason} Fix: ${l.fix}` }));
    $("verdicts").replaceChildren(
      items.length ? h("ul", {}, ...items) : h("p", { class: "hint", text: "No expectations for these settings." }),
      lints.length ? h("ul", {}, ...lints) : h("p", { class: "hint", text: "No lint: none of the known traps applies." }));
  }

  function draw() {
    const run = state.run;
    probe.run = run;
    probe.runA = state.compare ? state.runA : null;
    const cmp = state.compare ? state.runA : null;
    const scrub = $("scrub");
    scrub.max = String(run.duration_s);
    if (state.t > run.duration_s) state.t = run.duration_s;
    drawStats();
    legend($("legend-share"), [...MeshCharts.share($("chart-share"), run, { compare: cmp }), ...(cmp ? [["A (dashed)", "#fff", "#000"]] : [])]);
    legend($("legend-errors"), MeshCharts.errors($("chart-errors"), run, { compare: cmp }));
    MeshCharts.ejections($("chart-ejections"), run);
    drawVerdicts();
    moveTo(state.t, true);
  }

  // ---- the moment: scrubber, topology, explain ------------------------------------------
  function moveTo(t, fromDraw) {
    state.t = t;
    $("scrub").value = String(t);
    $("scrub-value").textContent = `${t.toFixed(1)} s`;
    MeshCharts.setCursor(t);
    if (state.run) legend($("legend-topology"), MeshCharts.topology($("topology"), state.run, t));
    clearTimeout(state.explainTimer);
    // After a redraw the snapshot waits a little, so that a slider being dragged step by step
    // does not make the server simulate twice per step.
    state.explainTimer = setTimeout(fetchExplain, state.playing ? 250 : fromDraw ? 300 : 120);
  }

  async function fetchExplain() {
    if (!state.run) return;
    if (state.explainController) state.explainController.abort();
    const c = (state.explainController = new AbortController());
    const at = state.t;
    const q = new URLSearchParams({ scenario: state.name, seed: String(state.seed), set: JSON.stringify(wire(state.set)), at: at.toFixed(1), lane: "explain" });
    // The picked proxy goes to the server too, so that the snapshot's `text` is that proxy's
    // `meshsim explain --proxy` output.
    const proxy = state.proxy;
    if (proxy) q.set("proxy", proxy);
    try {
      const snap = await getJSON("/api/explain?" + q.toString(), { signal: c.signal });
      if (c !== state.explainController) return;
      probe.explain = snap;
      probe.explainAt = at;
      drawExplain(snap);
    } catch (e) {
      if (e.name === "AbortError" || e.status === 409) return;
      // A link naming a proxy this scenario (or these settings) does not have: show the first.
      if (e.status === 400 && proxy && proxy === state.proxy && e.param === "proxy") {
        state.proxy = null;
        writeHash();
        fetchExplain();
        return;
      }
      $("explain").replaceChildren(h("p", { class: "hint", text: e.message }));
    }
  }

  // One table per priority: its localities (weight, effective weight, health) and endpoints.
  function priorityTables(priorities) {
    const out = [];
    for (const pr of priorities) {
      const rows = [];
      for (const l of pr.localities) {
        rows.push(h("tr", { class: "loc-row" }, h("td", { colspan: "5" }, h("strong", { text: l.locality }), ` — weight ${l.weight}, effective ${l.effective_weight.toFixed(1)}, ${l.healthy} of ${l.hosts} hosts healthy`)));
        for (const e of l.endpoints) {
          const ejected = e.state === "ejected";
          rows.push(h("tr", { class: `endpoint ${ejected ? "ejected" : ""}`, "data-state": e.state, "data-endpoint": e.name },
            h("td", { text: e.name }),
            h("td", {}, ejected ? h("span", { class: "mark", text: "✕ " }) : null, ejected ? `ejected (${e.reason})` : e.state),
            h("td", { class: "num", text: e.multiplier ? `×${e.multiplier}` : "–" }),
            h("td", { class: "num", text: ejected ? `${e.since_s.toFixed(2)} s` : "–" }),
            h("td", { class: "num", text: ejected ? `${e.returns_after_s.toFixed(2)} s` : "–" })));
        }
      }
      out.push(h("table", {},
        h("caption", { class: pr.in_panic ? "panic" : "", text: `P${pr.index}: health ${pr.health}%, load ${pr.load}%, panic ${pr.in_panic ? "YES (ejected hosts are picked too)" : "no"}` }),
        h("thead", {}, h("tr", {}, h("th", { text: "endpoint" }), h("th", { text: "state" }), h("th", { class: "num", text: "multiplier" }), h("th", { class: "num", text: "ejected at" }), h("th", { class: "num", text: "returns after" }))),
        h("tbody", {}, ...rows)));
    }
    return out;
  }

  function drawExplain(snap) {
    const names = snap.proxies.map((p) => p.name);
    const wanted = names.includes(state.proxy) ? state.proxy : names[0];
    const picker = h("select", { id: "explain-proxy", "aria-label": "Proxy" }, ...names.map((n) => h("option", { value: n, selected: n === wanted }, n)));
    picker.addEventListener("change", () => {
      state.proxy = picker.value;
      writeHash();
      drawExplain(probe.explain);
    });
    const p = snap.proxies.find((x) => x.name === wanted);
    const parts = [h("div", { class: "proxy-head" }, h("label", { for: "explain-proxy", text: "Proxy " }), picker, ` at ${snap.at_s.toFixed(1)} s — ${p.kind} in ${p.cluster}` + (p.ejected ? `; ejected now ${p.ejected.now} of ${p.ejected.hosts} hosts` : "; no outlier detection"))];
    if (p.total_panic) parts.push(h("p", { class: "panic", text: "TOTAL PANIC: every priority is in panic; load is split by host counts." }));
    // Each Envoy cluster its routes reach has its own priority table (a subset's holds only its
    // pods): the first route's cluster first, then every other one, each under its name.
    if (p.other_clusters && p.other_clusters.length) parts.push(h("h4", { class: "cluster-head", text: `Cluster ${p.envoy_cluster} (its first route's first destination)` }));
    parts.push(...priorityTables(p.priorities));
    for (const c of p.other_clusters || []) {
      parts.push(h("h4", { class: "cluster-head", text: `Cluster ${c.name} (${c.reached_by.join(", ")})` + (c.ejected ? `; ejected now ${c.ejected.now} of ${c.ejected.hosts} hosts` : "; no outlier detection") }));
      if (c.total_panic) parts.push(h("p", { class: "panic", text: "TOTAL PANIC: every priority is in panic; load is split by host counts." }));
      parts.push(...priorityTables(c.priorities));
    }
    const settings = [...snap.settings, ...p.route];
    parts.push(h("details", {}, h("summary", { text: "Settings in force and where each comes from" }),
      h("table", {}, h("tbody", {}, ...settings.map((s) => h("tr", {}, h("td", { text: s.name }), h("td", { text: s.value }), h("td", { text: s.source })))))));
    $("explain").replaceChildren(...parts);
  }

  let lastFrame = null;
  function tick(now) {
    if (!state.playing) return;
    if (lastFrame !== null) {
      const speed = Number($("speed").value);
      let t = state.t + ((now - lastFrame) / 1000) * speed;
      if (t >= state.run.duration_s) {
        t = state.run.duration_s;
        setPlaying(false);
      }
      moveTo(t);
    }
    lastFrame = now;
    requestAnimationFrame(tick);
  }
  function setPlaying(on) {
    state.playing = on;
    $("play").textContent = on ? "Pause" : "Play";
    $("play").setAttribute("aria-pressed", String(on));
    lastFrame = null;
    if (on) {
      if (state.run && state.t >= state.run.duration_s) state.t = 0;
      requestAnimationFrame(tick);
    } else {
      writeHash();
    }
  }

  // ---- knobs --------------------------------------------------------------------------
  function currentValue(path) {
    if (Object.prototype.hasOwnProperty.call(state.set, path)) return state.set[path];
    const k = state.detail.knobs[path];
    return k ? k.value : null;
  }

  function setKnob(path, value, immediate) {
    const original = state.detail.knobs[path] ? state.detail.knobs[path].value : null;
    if (JSON.stringify(value) === JSON.stringify(original)) delete state.set[path];
    else state.set[path] = value;
    markChanged(path);
    if (immediate) {
      markTrigger();
      runNow();
    } else {
      scheduleRun(150);
    }
  }

  function markChanged(path) {
    const box = document.querySelector(`[data-path="${CSS.escape(path)}"]`);
    if (box) box.classList.toggle("changed", Object.prototype.hasOwnProperty.call(state.set, path));
  }

  function knobControl(k) {
    const info = state.detail.knobs[k.path] || { value: null, settable: false };
    const id = idFor(k.path);
    const value = currentValue(k.path);
    const unsetText = `unset: ${k.default}`;
    const out = h("output", { class: "val", for: id });
    let control;
    if (k.kind === "int" || k.kind === "float" || k.kind === "duration") {
      const toNum = (v) => (k.kind === "duration" ? parseDur(v) : Number(v));
      let num = value === null ? toNum(k.kind === "duration" ? k.default : parseFloat(k.default)) : toNum(value);
      let min = k.min, max = k.max;
      if (!Number.isFinite(num)) num = k.kind === "duration" ? min : max;
      min = Math.min(min, num);
      max = Math.max(max, num);
      control = h("input", { id, type: "range", min: String(min), max: String(max), step: String(k.step), value: String(num) });
      const encode = (n) => (k.kind === "duration" ? fmtDur(n) : k.kind === "int" ? Math.round(n) : n);
      const show = () => {
        const v = currentValue(k.path);
        out.textContent = v === null ? unsetText : String(v);
      };
      control.addEventListener("input", () => {
        setKnob(k.path, encode(Number(control.value)), false);
        show();
      });
      control.addEventListener("change", () => {
        setKnob(k.path, encode(Number(control.value)), true);
        show();
      });
      show();
    } else if (k.kind === "choice" || k.kind === "bool") {
      const options = k.kind === "bool" ? ["true", "false"] : [...k.options];
      const cur = value === null ? "" : String(value);
      if (cur && !options.includes(cur)) options.unshift(cur);
      control = h("select", { id }, h("option", { value: "", text: `(${unsetText})`, selected: cur === "" }), ...options.map((o) => h("option", { value: o, text: o, selected: o === cur })));
      control.addEventListener("change", () => {
        const v = control.value;
        if (v === "") {
          delete state.set[k.path];
          markChanged(k.path);
          markTrigger();
          runNow();
        } else {
          setKnob(k.path, k.kind === "bool" ? v === "true" : v, true);
        }
      });
    } else {
      control = h("textarea", { id, rows: "2", spellcheck: "false" });
      control.value = value === null ? "" : JSON.stringify(value);
      control.addEventListener("change", () => {
        const text = control.value.trim();
        if (text === "") {
          delete state.set[k.path];
          markChanged(k.path);
          markTrigger();
          runNow();
          return;
        }
        try {
          setKnob(k.path, JSON.parse(text), true);
        } catch (e) {
          showError(`${k.label}: not JSON: ${e.message}`);
        }
      });
    }
    if (!info.settable) control.disabled = true;
    const reset = h("button", { type: "button", class: "reset", "aria-label": `Reset ${k.label}`, title: "Back to the scenario's value", text: "↺" });
    reset.addEventListener("click", () => {
      delete state.set[k.path];
      rebuildKnob(k);
      markTrigger();
      runNow();
    });
    // A later layer of Istio's merge (a subset's or a port's own block) is in force instead of
    // the top-level block, for the groups the server names: the knob edits that block.
    const shadow = info.shadowed_by ? h("p", { class: "shadowed", text: `In force: ${info.shadowed_by}, so this knob edits that block (${(info.edits || []).join(", ")}).` }) : null;
    const box = h("div", { class: `knob${info.settable ? "" : " disabled"}${info.shadowed_by ? " shadowed" : ""}`, "data-path": k.path },
      h("div", { class: "head" }, h("label", { for: id, text: k.label }), out, reset),
      control,
      h("p", { class: "meaning" }, h("span", { class: "default", text: `Istio default: ${k.default}. ` }), k.meaning, info.settable ? "" : " (This scenario has no route to set it on.)"),
      shadow);
    if (Object.prototype.hasOwnProperty.call(state.set, k.path)) box.classList.add("changed");
    return box;
  }

  function rebuildKnob(k) {
    const old = document.querySelector(`[data-path="${CSS.escape(k.path)}"]`);
    if (old) old.replaceWith(knobControl(k));
  }

  function buildKnobs() {
    const groups = [];
    for (const k of state.knobs) {
      let g = groups.find((x) => x.name === k.group);
      if (!g) groups.push((g = { name: k.group, knobs: [] }));
      g.knobs.push(k);
    }
    $("knob-groups").replaceChildren(...groups.map((g) => h("fieldset", {}, h("legend", { text: g.name }), ...g.knobs.map(knobControl))));
  }

  // ---- the fault timeline ---------------------------------------------------------------
  const ACTION_FIELDS = { scale: { replicas: 0 }, "http-error": { status: 503 }, latency: { latency: "100ms" }, refuse: {}, blackhole: {}, recover: {} };
  const ALL_ACTION_KEYS = ["replicas", "status", "probability", "latency"];

  function faults() {
    return clone(state.set.faults !== undefined ? state.set.faults : (state.detail.tree.faults || []));
  }
  // Faults must be listed in time order: a moved fault takes its place (ties keep their order).
  function setFaults(list) {
    list = list.map((f, i) => [parseDur(f.at), i, f]).sort((x, y) => x[0] - y[0] || x[1] - y[1]).map((x) => x[2]);
    state.set.faults = list;
    state.set.expect = [];
    buildFaults();
    markTrigger();
    runNow();
  }

  function buildFaults() {
    const list = faults();
    const edited = state.set.faults !== undefined;
    // The rows are rebuilt after every edit. Removing a focused input fires its `change` (a
    // blur) while the list already holds the edit, so an event is acted on only if its row still
    // shows the fault it was built from.
    const rows = list.map((f, i) => {
      const built = JSON.stringify(f);
      const on = (node, type, fn) => node.addEventListener(type, () => {
        if (node.isConnected && JSON.stringify(faults()[i]) === built) fn();
      });
      const field = (label, input) => h("label", {}, label, input);
      const at = h("input", { type: "number", min: "0", step: "0.1", value: String(parseDur(f.at)), "aria-label": `Fault ${i + 1} time (s)` });
      on(at, "change", () => {
        const l = faults();
        l[i].at = fmtDur(Number(at.value));
        setFaults(l);
      });
      const action = h("select", { "aria-label": `Fault ${i + 1} action` }, ...Object.keys(ACTION_FIELDS).map((a) => h("option", { value: a, text: a, selected: a === f.action })));
      on(action, "change", () => {
        const l = faults();
        for (const k of ALL_ACTION_KEYS) delete l[i][k];
        Object.assign(l[i], ACTION_FIELDS[action.value]);
        l[i].action = action.value;
        setFaults(l);
      });
      const cluster = h("select", { "aria-label": `Fault ${i + 1} cluster` }, ...state.detail.clusters.map((c) => h("option", { value: c, text: c, selected: c === f.cluster })));
      on(cluster, "change", () => {
        const l = faults();
        l[i].cluster = cluster.value;
        setFaults(l);
      });
      const pods = h("input", { type: "text", value: Array.isArray(f.pods) ? f.pods.join(",") : "", placeholder: "all", "aria-label": `Fault ${i + 1} pods (ordinals, comma-separated; empty for all)` });
      on(pods, "change", () => {
        const l = faults();
        const text = pods.value.trim();
        if (text === "") delete l[i].pods;
        else l[i].pods = text.split(",").map((x) => Number(x.trim()));
        setFaults(l);
      });
      const name = h("input", { type: "text", value: f.name || "", "aria-label": `Fault ${i + 1} name` });
      on(name, "change", () => {
        const l = faults();
        if (name.value.trim()) l[i].name = name.value.trim();
        else delete l[i].name;
        setFaults(l);
      });
      const extra = [];
      for (const key of Object.keys(ACTION_FIELDS[f.action] || {}).concat(f.action === "http-error" ? ["probability"] : [])) {
        const isDur = key === "latency";
        const input = h("input", { type: isDur ? "text" : "number", value: f[key] === undefined ? (key === "probability" ? "1" : "") : String(f[key]), step: key === "probability" ? "0.01" : "1", min: "0", "aria-label": `Fault ${i + 1} ${key}` });
        on(input, "change", () => {
          const l = faults();
          l[i][key] = isDur ? input.value.trim() : Number(input.value);
          setFaults(l);
        });
        extra.push(field(key, input));
      }
      const remove = h("button", { type: "button", text: "Remove", "aria-label": `Remove fault ${i + 1}` });
      on(remove, "click", () => {
        const l = faults();
        l.splice(i, 1);
        setFaults(l);
      });
      return h("div", { class: "fault-row", "data-index": String(i) },
        field("at (s)", at), field("action", action), h("label", { class: "wide" }, "cluster", cluster),
        field("pods", pods), h("label", { class: "wide" }, "name", name), ...extra, remove);
    });
    const restore = h("button", { type: "button", text: "Restore the timeline", disabled: !edited });
    restore.addEventListener("click", () => {
      delete state.set.faults;
      delete state.set.expect;
      buildFaults();
      markTrigger();
      runNow();
    });
    $("fault-rows").replaceChildren(...rows, h("p", {}, restore));
  }

  // ---- scenario and start-up --------------------------------------------------------------
  async function loadScenario(name, fromHash) {
    state.detail = await getJSON("/api/scenario?" + new URLSearchParams({ name }));
    state.name = name;
    $("scenario").value = name;
    state.seed = fromHash && Number.isFinite(fromHash.seed) && fromHash.seed !== null ? fromHash.seed : state.detail.seed;
    $("seed").value = String(state.seed);
    state.set = fromHash ? fromHash.set : {};
    state.compare = fromHash && fromHash.a ? { set: fromHash.a } : null;
    $("compare").checked = !!state.compare;
    state.runA = null;
    state.runAKey = null;
    state.t = fromHash && Number.isFinite(fromHash.t) && fromHash.t !== null ? fromHash.t : 0;
    state.proxy = fromHash && fromHash.proxy ? fromHash.proxy : null;
    $("description").textContent = state.detail.description;
    $("question").textContent = state.detail.question || "—";
    $("lesson").textContent = state.detail.lesson || "—";
    buildKnobs();
    buildFaults();
    markTrigger();
    await runNow();
  }

  async function init() {
    try {
      [state.scenarios, state.knobs] = await Promise.all([getJSON("/api/scenarios"), getJSON("/api/knobs")]);
    } catch (e) {
      showError(`cannot reach meshsim serve: ${e.message}`);
      return;
    }
    $("scenario").replaceChildren(...state.scenarios.map((s) => h("option", { value: s.name, text: s.name, title: s.description })));
    const hash = readHash();
    const names = state.scenarios.map((s) => s.name);
    const name = names.includes(hash.scenario) ? hash.scenario : names.includes("seed-failover-503") ? "seed-failover-503" : names[0];
    await loadScenario(name, hash.scenario === name ? hash : null);

    $("scenario").addEventListener("change", () => loadScenario($("scenario").value, null));
    $("seed").addEventListener("change", () => {
      const v = Number($("seed").value);
      if (!Number.isInteger(v) || v < 0) {
        showError("seed: expected a whole number from 0");
        return;
      }
      state.seed = v;
      state.runAKey = null;
      markTrigger();
      runNow();
    });
    $("compare").addEventListener("change", () => {
      state.compare = $("compare").checked ? { set: clone(state.set) } : null;
      state.runA = null;
      state.runAKey = null;
      markTrigger();
      runNow();
    });
    $("reset").addEventListener("click", () => {
      state.set = {};
      buildKnobs();
      buildFaults();
      markTrigger();
      runNow();
    });
    $("copy-link").addEventListener("click", async () => {
      writeHash();
      try {
        await navigator.clipboard.writeText(location.href);
        setStatus("link copied: it reproduces this view");
      } catch (_) {
        setStatus(`link: ${location.href}`);
      }
    });
    $("scrub").addEventListener("input", () => moveTo(Number($("scrub").value)));
    $("scrub").addEventListener("change", () => writeHash());
    $("play").addEventListener("click", () => setPlaying(!state.playing));
    $("add-fault").addEventListener("click", () => {
      const l = faults();
      const at = state.run ? Math.round(state.run.duration_s / 2) : 60;
      l.push({ at: `${at}s`, action: "http-error", cluster: state.detail.clusters[0], status: 503, name: `fault ${l.length + 1}` });
      setFaults(l);
    });
    window.addEventListener("hashchange", () => {
      const hsh = readHash();
      if (hsh.scenario && names.includes(hsh.scenario)) loadScenario(hsh.scenario, hsh);
    });
  }

  init();
})();
