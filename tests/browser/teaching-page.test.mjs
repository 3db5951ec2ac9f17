// Browser tests of `meshsim serve`: Debian's Chromium driven by playwright-core.
//
// Run from the repository root after `cargo build --release`:
//   (cd tests/browser && npm ci && npm test)
// MESHSIM_BIN picks the binary (default target/release/meshsim, else target/debug/meshsim);
// CHROMIUM the browser (default /usr/bin/chromium). Screenshots go to output/browser/.
//
// No simulation number is written here: every expected value is asked from the API (or read
// from the run the page received), so the tests hold when the model's numbers change.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const RELEASE = path.join(ROOT, "target/release/meshsim");
const BIN = process.env.MESHSIM_BIN || (existsSync(RELEASE) ? RELEASE : path.join(ROOT, "target/debug/meshsim"));
const IS_RELEASE = BIN.includes(`${path.sep}release${path.sep}`);
const SHOTS = path.join(ROOT, "output/browser");
const OD = "policy.destination_rule.trafficPolicy.outlierDetection";
const LAB = "seed-failover-503";
// The budget: slider release to redrawn chart for the seed lab, with the release binary.
// The median of nine releases must meet it and a single release may take up to twice as long.
// On a machine busy with other work (a load average above its core count: CPU time is shared),
// both bounds grow with the load per core, at most threefold; the figures, the load and the
// split between the server's simulation and the page are printed and saved either way.
const LATENCY_BUDGET_MS = 150;
const LATENCY_SLACK = 2;
const MAX_LOAD_SCALE = 3;

let server, baseUrl, context, page, userDataDir;
const offsite = [];

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ["serve", "--port", "0"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const timer = setTimeout(() => reject(new Error(`meshsim serve printed no address: ${out}`)), 20000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[0] });
      }
    });
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => reject(new Error(`meshsim serve exited with ${code}: ${out}`)));
  });
}

async function shot(name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function redraws() {
  return page.evaluate(() => window.meshsim.redraws);
}

/** Waits for a redraw after `before` redraws, then until the page shows its latest settings. */
async function waitRedraw(before, p = page) {
  await p.waitForFunction((n) => window.meshsim.redraws > n, before, { timeout: 30000 });
  await p.waitForFunction(() => window.meshsim.settled(), null, { timeout: 30000 });
}

/** Presses `key` on a control and waits for the page to redraw with a new run. */
async function press(locator, key) {
  const n = await redraws();
  await locator.focus();
  await page.keyboard.press(key);
  await waitRedraw(n);
}

/** The page's current settings, read from its URL. */
async function pageSettings() {
  const hash = new URL(page.url()).hash.slice(1);
  const p = new URLSearchParams(hash);
  return { scenario: p.get("scenario"), seed: Number(p.get("seed")), set: p.has("set") ? JSON.parse(p.get("set")) : {} };
}

async function apiRun(settings) {
  const r = await fetch(new URL("/api/run", baseUrl), { method: "POST", body: JSON.stringify(settings) });
  assert.equal(r.status, 200);
  return r.json();
}

function transition(run, kind) {
  return run.summary.transitions.find((t) => t.kind === kind);
}

function statedTime(tr) {
  return tr.time_s === null ? "did not complete" : `${tr.time_s.toFixed(1)} s`;
}

/** What the page states as the fail-back of a run: its time, or "none" without a failover. */
function statedFailbackOf(run) {
  const tr = transition(run, "failback");
  return tr ? statedTime(tr) : "none";
}

async function statedFailback() {
  return page.locator('.stat[data-kind="failback"] .value').first().textContent();
}

async function shareChart() {
  return page.locator("#chart-share svg").innerHTML();
}

const knob = (field) => page.getByLabel(field, { exact: true });

describe("meshsim serve in Chromium", () => {
  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    ({ child: server, url: baseUrl } = await startServer());
    userDataDir = mkdtempSync(path.join(tmpdir(), "meshsim-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      headless: true,
      acceptDownloads: true,
      viewport: { width: 1400, height: 1000 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    page = context.pages()[0] || (await context.newPage());
    context.on("request", (r) => {
      if (!r.url().startsWith(baseUrl) && !r.url().startsWith("data:") && !r.url().startsWith("blob:")) offsite.push(r.url());
    });
    page.on("pageerror", (e) => console.error("page error:", e.message));
  });

  after(async () => {
    if (context) await context.close();
    if (server) server.kill();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  test("the page loads the seed lab, draws its charts and asks nothing of the network", async () => {
    await page.goto(baseUrl);
    await waitRedraw(0);
    assert.equal(await page.locator("#scenario").inputValue(), LAB);
    const run = await apiRun({ scenario: LAB });
    assert.equal(await statedFailback(), statedTime(transition(run, "failback")));
    assert.ok((await page.locator("#chart-share svg path.share-area").count()) >= 2);
    assert.ok((await page.locator("#chart-ejections svg g.ejection").count()) === run.ejections.length);
    assert.match(await page.locator("#question").textContent(), /cluster A does not vanish/);
    assert.deepEqual(offsite, []);
    await shot("01-loaded");
  });

  test("baseEjectionTime and consecutive5xxErrors change the chart and the stated fail-back", async () => {
    const before = { text: await statedFailback(), chart: await shareChart() };
    // Five steps of 1 s on the keyboard: 30 s -> 25 s.
    const base = knob("baseEjectionTime");
    for (let i = 0; i < 5; i++) await press(base, "ArrowLeft");
    assert.equal(await base.inputValue(), "25");
    const shorter = await apiRun(await pageSettings());
    assert.equal(shorter.set[`${OD}.baseEjectionTime`], "25s");
    const afterBase = { text: await statedFailback(), chart: await shareChart() };
    assert.equal(afterBase.text, statedTime(transition(shorter, "failback")));
    assert.notEqual(afterBase.text, before.text, "the stated fail-back moved");
    assert.notEqual(afterBase.chart, before.chart, "the share chart was redrawn with new data");
    await shot("02-base-ejection-25s");

    // consecutive5xxErrors 1 -> 5: more 503s before each ejection; then 0, which turns the
    // detector off: nothing is ejected, traffic never leaves A, so nothing fails back.
    const c5 = knob("consecutive5xxErrors");
    const errorsText = () => page.locator('.stat[data-kind="errors"] .value').textContent();
    for (let i = 0; i < 4; i++) await press(c5, "ArrowRight");
    assert.equal(await c5.inputValue(), "5");
    const five = await apiRun(await pageSettings());
    assert.equal(await errorsText(), String(five.summary.errors));
    assert.equal(await statedFailback(), statedTime(transition(five, "failback")));
    await press(c5, "Home");
    assert.equal(await c5.inputValue(), "0");
    const off = await apiRun(await pageSettings());
    assert.equal(off.set[`${OD}.consecutive5xxErrors`], 0);
    assert.equal(off.ejections.length, 0);
    const afterC5 = { text: await statedFailback(), chart: await shareChart() };
    assert.equal(afterC5.text, statedFailbackOf(off));
    assert.notEqual(afterC5.text, afterBase.text);
    assert.notEqual(afterC5.chart, afterBase.chart);
    assert.equal(await page.locator("#chart-ejections").textContent(), "No ejections in this run.");
    await shot("03-consecutive5xx-off");

    const n = await redraws();
    await page.getByRole("button", { name: "Reset settings" }).click();
    await waitRedraw(n);
    assert.equal(await statedFailback(), before.text);
  });

  test("scrubbing to the middle of the failover shows the ejections in the endpoint table", async () => {
    const run = await page.evaluate(() => window.meshsim.run);
    const failover = transition(run, "failover");
    const recovery = transition(run, "failback");
    assert.ok(failover.time_s !== null && recovery);
    const mid = Math.round(((failover.at_s + failover.time_s + recovery.at_s) / 2) * 10) / 10;
    await page.locator("#scrub").fill(String(mid));
    await page.waitForFunction((t) => window.meshsim.explainAt !== null && Math.abs(window.meshsim.explainAt - t) < 0.05, mid);
    const proxy = await page.locator("#explain-proxy").inputValue();
    const expected = run.ejections
      .filter((e) => e.proxy === proxy && e.start_s <= mid && (e.end_s === null || mid < e.end_s))
      .map((e) => e.endpoint)
      .sort();
    assert.ok(expected.length > 0, "the run has ejections in force at the middle of the failover");
    const shown = (await page.locator("#explain tr.endpoint[data-state=ejected]").evaluateAll((rows) => rows.map((r) => r.dataset.endpoint))).sort();
    assert.deepEqual(shown, expected);
    assert.equal(await page.locator("#topology g.pod-ejected").count(), expected.length);
    assert.match(await page.locator("#scrub-value").textContent(), new RegExp(`^${mid.toFixed(1)} s$`));
    await shot("04-scrubbed-mid-failover");
    await page.locator("#scrubber-card").screenshot({ path: path.join(SHOTS, "04b-moment.png") });
  });

  test("play moves the time forward and pause stops it", async () => {
    await page.locator("#scrub").fill("10");
    await page.getByRole("button", { name: "Play" }).click();
    await page.waitForFunction(() => Number(document.getElementById("scrub").value) > 12, null, { timeout: 10000 });
    await page.getByRole("button", { name: "Pause" }).click();
    const t = Number(await page.locator("#scrub").inputValue());
    await page.waitForTimeout(300);
    assert.equal(Number(await page.locator("#scrub").inputValue()), t);
  });

  test("compare overlays the settings before and after a change", async () => {
    const n = await redraws();
    await page.getByLabel("Compare").check();
    await waitRedraw(n);
    // maxEjectionPercent 100 -> 10 (Istio's default) with the keyboard.
    const mep = knob("maxEjectionPercent");
    await mep.focus();
    for (let i = 0; i < 9; i++) await page.keyboard.press("PageDown");
    await press(mep, "ArrowLeft");
    const b = await apiRun(await pageSettings());
    const a = await page.evaluate(() => window.meshsim.runA);
    assert.equal(a.set[`${OD}.maxEjectionPercent`], undefined, "A keeps the scenario's value");
    assert.equal(b.set[`${OD}.maxEjectionPercent`], Number(await mep.inputValue()));
    assert.ok((await page.locator("#chart-share .compare-line").count()) > 0);
    const text = await page.locator('.stat[data-kind="failback"] .v').first().textContent();
    assert.equal(text, `${statedFailbackOf(b)}  A: ${statedFailbackOf(a)}`);
    await shot("05-compare");
  });

  test("a permalink reproduces the view", async () => {
    await page.locator("#scrub").fill("45");
    await page.locator("#scrub").dispatchEvent("change");
    const url = page.url();
    assert.match(url, /#scenario=/);
    const stats = await page.locator("#stats").textContent();
    const second = await context.newPage();
    await second.goto(url);
    await second.waitForFunction(() => window.meshsim && window.meshsim.redraws > 0 && window.meshsim.settled());
    await second.waitForFunction(() => window.meshsim.explainAt === 45);
    assert.equal(await second.locator("#stats").textContent(), stats);
    assert.equal(await second.getByLabel("maxEjectionPercent", { exact: true }).inputValue(), await knob("maxEjectionPercent").inputValue());
    assert.equal(await second.locator("#compare").isChecked(), true);
    assert.equal(await second.locator("#scrub").inputValue(), "45");
    assert.equal(second.url(), url);
    await second.screenshot({ path: path.join(SHOTS, "06-permalink.png"), fullPage: true });
    await second.close();
  });

  test("a permalink keeps the proxy picked in the explain panel", async () => {
    // The four gateway replicas of gateway-replicas: pick the third, follow the link.
    const first = await context.newPage();
    await first.goto(`${baseUrl}#scenario=gateway-replicas&seed=1&t=40.0`);
    await first.waitForFunction(() => window.meshsim && window.meshsim.redraws > 0 && window.meshsim.settled());
    await first.waitForFunction(() => window.meshsim.explainAt === 40);
    const picker = first.locator("#explain-proxy");
    assert.equal(await picker.inputValue(), "ingress-0");
    assert.equal(new URLSearchParams(new URL(first.url()).hash.slice(1)).get("proxy"), null);
    await picker.selectOption("ingress-2");
    assert.match(await first.locator(".proxy-head").textContent(), /at 40\.0 s — gateway in /);
    const url = first.url();
    assert.equal(new URLSearchParams(new URL(url).hash.slice(1)).get("proxy"), "ingress-2");
    await first.close();

    const second = await context.newPage();
    const asked = [];
    second.on("request", (r) => {
      if (r.url().includes("/api/explain?")) asked.push(new URL(r.url()).searchParams.get("proxy"));
    });
    await second.goto(url);
    await second.waitForFunction(() => window.meshsim && window.meshsim.redraws > 0 && window.meshsim.settled());
    await second.waitForFunction(() => window.meshsim.explainAt === 40);
    assert.equal(await second.locator("#explain-proxy").inputValue(), "ingress-2");
    assert.ok(asked.includes("ingress-2"), `the snapshot was asked for ingress-2: ${asked}`);
    assert.equal(await second.evaluate(() => window.meshsim.explain.text.includes("Proxy ingress-2 (")), true);
    assert.equal(second.url(), url);
    await second.close();

    // A link naming a proxy the scenario does not have shows the first one, and drops the name.
    const third = await context.newPage();
    await third.goto(url.replace("proxy=ingress-2", "proxy=nobody"));
    await third.waitForFunction(() => window.meshsim && window.meshsim.redraws > 0 && window.meshsim.settled());
    await third.waitForFunction(() => window.meshsim.explainAt === 40 && document.getElementById("explain-proxy"));
    assert.equal(await third.locator("#explain-proxy").inputValue(), "ingress-0");
    assert.equal(new URLSearchParams(new URL(third.url()).hash.slice(1)).get("proxy"), null);
    await third.close();
  });

  test("the downloaded scenario runs and checks with the CLI and reproduces the page", async () => {
    const settings = await pageSettings();
    const dl = page.waitForEvent("download");
    await page.getByRole("link", { name: "Download scenario.toml" }).click();
    const download = await dl;
    const dir = mkdtempSync(path.join(tmpdir(), "meshsim-download-"));
    try {
      const file = path.join(dir, download.suggestedFilename());
      await download.saveAs(file);
      assert.equal(path.basename(file), `${LAB}.toml`);
      const run = spawnSync(BIN, ["run", file, "--out", path.join(dir, "out"), "--quiet"], { encoding: "utf8" });
      assert.equal(run.status, 0, run.stderr);
      const check = spawnSync(BIN, ["check", file], { encoding: "utf8" });
      assert.equal(check.status, 0, check.stdout + check.stderr);
      assert.match(check.stdout, /\d+ passed, 0 failed/);
      const summary = JSON.parse(readFileSync(path.join(dir, "out/summary.json"), "utf8"));
      const page_run = await apiRun(settings);
      assert.deepEqual(summary.transitions, page_run.summary.transitions);
      assert.equal(await statedFailback(), statedFailbackOf({ summary }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the fault timeline can be edited: add, move and remove a fault", async () => {
    await page.getByLabel("Compare").uncheck();
    let n = await redraws();
    await page.getByRole("button", { name: "Reset settings" }).click();
    await waitRedraw(n);
    const rows = page.locator("#fault-rows .fault-row");
    const count = await rows.count();
    const original = (await page.evaluate(() => window.meshsim.run)).faults.map((f) => [f.name, f.at_s]);
    n = await redraws();
    await page.getByRole("button", { name: "Add a fault" }).click();
    await waitRedraw(n);
    assert.equal(await rows.count(), count + 1);
    const name = `fault ${count + 1}`;
    const row = () => page.locator("#fault-rows .fault-row", { has: page.locator(`input[value="${name}"]`) });
    const at = row().getByLabel(/time \(s\)/);
    n = await redraws();
    await at.fill("120");
    await at.dispatchEvent("change");
    await waitRedraw(n);
    assert.equal(await page.locator("#error").isVisible(), false, await page.locator("#error").textContent());
    const run = await page.evaluate(() => window.meshsim.run);
    assert.deepEqual(run.faults.filter((f) => f.name === name).map((f) => f.at_s), [120]);
    // Moving one fault leaves the others where they were (a stale row once moved its neighbour).
    assert.deepEqual(run.faults.filter((f) => f.name !== name).map((f) => [f.name, f.at_s]), original);
    assert.deepEqual(run.faults.map((f) => f.at_s), [...run.faults.map((f) => f.at_s)].sort((x, y) => x - y));
    await shot("07-fault-added");
    n = await redraws();
    await row().getByRole("button", { name: /Remove fault/ }).click();
    await waitRedraw(n);
    assert.equal(await rows.count(), count);
    assert.equal((await page.evaluate(() => window.meshsim.run)).faults.length, count);
  });

  test("a bad setting shows the CLI's message and keeps the last chart", async () => {
    const chart = await shareChart();
    const box = knob("failover");
    await box.fill('[{"from": 5}]');
    await box.dispatchEvent("change");
    await page.locator("#error").waitFor({ state: "visible" });
    const r = await fetch(new URL("/api/run", baseUrl), { method: "POST", body: JSON.stringify({ ...(await pageSettings()), set: { "policy.destination_rule.trafficPolicy.loadBalancer.localityLbSetting.failover": [{ from: 5 }] } }) });
    const body = await r.json();
    assert.equal(r.status, 400);
    assert.equal(await page.locator("#error").textContent(), body.error);
    assert.equal(await shareChart(), chart);
    await shot("08-bad-setting");
    const n = await redraws();
    await page.getByRole("button", { name: "Reset settings" }).click();
    await waitRedraw(n);
    assert.equal(await page.locator("#error").isVisible(), false);
  });

  test("every control has a label and the keyboard reaches it", async () => {
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll("input, select, textarea, button, a[href]")]
        .filter((e) => !e.labels?.length && !e.getAttribute("aria-label") && !e.textContent.trim())
        .map((e) => e.outerHTML.slice(0, 80)));
    assert.deepEqual(unlabelled, []);
    await page.locator("#scenario").focus();
    const reached = new Set();
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press("Tab");
      reached.add(await page.evaluate(() => document.activeElement.id || document.activeElement.textContent.trim()));
    }
    for (const id of ["seed", "compare", "copy-link", "download", "reset"]) assert.ok(reached.has(id), `${id} is reached by Tab: ${[...reached]}`);
  });

  test("slider release to redrawn chart stays within the budget for the seed lab", async () => {
    const base = knob("baseEjectionTime");
    const samples = [];
    const parts = [];
    const loadBefore = loadavg()[0];
    // Nine new values (31 s .. 39 s): each release is a fresh simulation.
    for (let i = 0; i < 9; i++) {
      await press(base, "ArrowRight");
      samples.push(await page.evaluate(() => window.meshsim.lastLatencyMs));
      parts.push(await page.evaluate(() => window.meshsim.timings));
    }
    const med = (k) => [...parts.map((p) => p[k])].sort((x, y) => x - y)[Math.floor(parts.length / 2)].toFixed(1);
    const sorted = [...samples].sort((x, y) => x - y);
    const median = sorted[Math.floor(sorted.length / 2)];
    const max = sorted[sorted.length - 1];
    const loadPerCore = Math.max(loadBefore, loadavg()[0]) / cpus().length;
    const scale = Math.min(MAX_LOAD_SCALE, Math.max(1, loadPerCore));
    const line = `slider release to redraw, ${LAB}, ${IS_RELEASE ? "release" : "debug"} binary, load ${loadPerCore.toFixed(2)} per core (budget ${(LATENCY_BUDGET_MS * scale).toFixed(0)} ms): median ${median.toFixed(1)} ms, max ${max.toFixed(1)} ms over ${samples.length} releases (${samples.map((s) => s.toFixed(0)).join(", ")}); medians: simulation on the server ${med("server_ms")} ms, release to response ${med("response_ms")} ms, drawing ${med("draw_ms")} ms, to the next frame ${med("frame_ms")} ms`;
    console.log(line);
    writeFileSync(path.join(SHOTS, "latency.txt"), line + "\n");
    if (IS_RELEASE) {
      assert.ok(median <= LATENCY_BUDGET_MS * scale, line);
      assert.ok(max <= LATENCY_BUDGET_MS * LATENCY_SLACK * scale, line);
    }
  });
});
