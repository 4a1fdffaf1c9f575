// Benchmark (prints figures): Casefile's Rust service worker beside a Workbox 7
// worker serving the same build from the same real server, in one headless
// Chromium run: cold worker start to first response, precached-asset latency,
// replaying 1,000 queued writes, and a repeat visit with the server stopped
// and the worker cold until the case list is on screen. Each worker gets its own server (a copy
// of dist/ whose sw.js is that worker) and its own browser context; their
// runs alternate.
import { build } from "esbuild";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { ROOT, launchBrowser, startServer, waitForController } from "../tests/e2e/harness.mjs";

const COLD_RUNS = 25;
const LIST_RUNS = 9;
const ASSET_FETCHES = 1_000;
const QUEUED = 1_000;

const dist = path.join(ROOT, "dist");
const ourSw = readFileSync(path.join(dist, "sw.js"), "utf8");
const precache = JSON.parse(ourSw.match(/const PRECACHE = (\[.*?\]);/)[1]);
const version = ourSw.match(/const VERSION = "([^"]+)"/)[1];
const asset = precache.find((p) => p.endsWith(".css"));

async function workboxWorker() {
  const manifest = precache.map((url) =>
    url === "/index.html" ? { url: "/", revision: version } : { url, revision: null },
  );
  const out = await build({
    entryPoints: [path.join(ROOT, "bench/workbox/sw.js")],
    bundle: true,
    minify: true,
    format: "iife",
    write: false,
    define: { "process.env.NODE_ENV": '"production"' },
  });
  return out.outputFiles[0].text.replace("self.__WB_MANIFEST", JSON.stringify(manifest));
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** A server serving dist/ with `swText` as its worker, and a page under it. */
async function setup(name, swText, browser) {
  const folder = mkdtempSync(path.join(tmpdir(), `casefile-bench-${name}-`));
  cpSync(dist, folder, { recursive: true });
  writeFileSync(path.join(folder, "sw.js"), swText);
  // The replay benchmark sends 1,000 writes as fast as it can: no rate limit.
  const server = await startServer({ dist: folder, seed: 200, env: { CASEFILE_WRITE_RATE: "0" } });
  const context = await browser.newContext();
  // When the case list's first row is on screen, by the page's own clock:
  // the frame after the row entered the document (the rows last shown,
  // painted before the app has loaded, count: they are what a person
  // sees); and when the app's own list is. (The test driver sees them
  // later: it polls, and each poll is a round trip.)
  await context.addInitScript(() => {
    const when = (name) => requestAnimationFrame(() => setTimeout(() => (window[name] = performance.now())));
    const seen = new MutationObserver(() => {
      if (!window.__listSeen && document.querySelector("table.cases tbody tr")) {
        window.__listSeen = true;
        when("__listOnScreen");
      }
      if (document.querySelector("main#main table.cases tbody tr")) {
        seen.disconnect();
        when("__appListOnScreen");
      }
    });
    seen.observe(document, { childList: true, subtree: true });
  });
  const page = await context.newPage();
  await page.goto(server.url);
  await waitForController(page);
  // A page under the worker without the app running in it.
  await page.goto(`${server.url}/api/v1/health`);
  await waitForController(page);
  const cdp = await context.newCDPSession(page);
  await cdp.send("ServiceWorker.enable");
  const fetchTime = (url) =>
    page.evaluate(async (u) => {
      const t0 = performance.now();
      const r = await fetch(u);
      await r.arrayBuffer();
      return performance.now() - t0;
    }, url);
  let bytes = gzipSync(swText, { level: 9 }).length;
  if (name === "casefile") {
    for (const f of precache.filter((p) => p.includes("casefile-sw"))) {
      bytes += gzipSync(readFileSync(path.join(dist, f)), { level: 9 }).length;
    }
  }
  return {
    name,
    bytes,
    cold: [],
    warm: [],
    async coldOnce() {
      await cdp.send("ServiceWorker.stopAllWorkers");
      await new Promise((r) => setTimeout(r, 100));
      this.cold.push(await fetchTime(asset));
    },
    async warmBatch(n) {
      await fetchTime(asset);
      const times = await page.evaluate(
        async ({ u, n }) => {
          const out = [];
          for (let i = 0; i < n; i++) {
            const t0 = performance.now();
            const r = await fetch(u);
            await r.arrayBuffer();
            out.push(performance.now() - t0);
          }
          return out;
        },
        { u: asset, n },
      );
      this.warm.push(...times);
    },
    // A repeat visit offline: the app was used once online (its copy of
    // the cases is on the device); then, with the server stopped and the
    // worker stopped, the Cases page is opened until its rows are shown.
    async offlineList() {
      // The bench's own page (a new one would sign in again, to whichever
      // server started last); it goes back under the worker afterwards.
      const list = page;
      await list.goto(`${server.url}/cases`);
      await list.locator("table.cases tbody tr").first().waitFor({ timeout: 60_000 });
      await list.getByTestId("list-timing").waitFor({ timeout: 60_000 });
      await server.stop();
      this.list = [];
      this.listSeen = [];
      this.appList = [];
      for (let i = 0; i < LIST_RUNS; i++) {
        await cdp.send("ServiceWorker.stopAllWorkers");
        await new Promise((r) => setTimeout(r, 100));
        await list.goto(`${server.url}/cases`, { waitUntil: "commit" });
        await list.locator("table.cases tbody tr").first().waitFor({ timeout: 60_000 });
        // From the navigation's start, as the page's own clock counts it.
        this.listSeen.push(await list.evaluate(() => performance.now()));
        await list.waitForFunction(() => window.__appListOnScreen !== undefined);
        this.list.push(await list.evaluate(() => window.__listOnScreen));
        this.appList.push(await list.evaluate(() => window.__appListOnScreen));
      }
      await server.start();
      await page.goto(`${server.url}/api/v1/health`);
      await waitForController(page);
    },
    async replay() {
      // 1,000 writes while the server is down: each queued by the worker.
      await server.stop();
      const statuses = await page.evaluate(async (n) => {
        const seen = {};
        for (let i = 0; i < n; i++) {
          const r = await fetch("/api/v1/events", {
            method: "POST",
            headers: { "content-type": "application/json", "idempotency-key": `bench-${i}`, "x-casefile": "1" },
            body: JSON.stringify({ events: [] }),
          });
          seen[r.status] = (seen[r.status] || 0) + 1;
        }
        return seen;
      }, QUEUED);
      if (statuses[202] !== QUEUED) throw new Error(`${name}: not all writes were queued: ${JSON.stringify(statuses)}`);
      await server.start();
      this.replayMs = await page.evaluate(async (which) => {
        const sw = navigator.serviceWorker;
        const t0 = performance.now();
        await new Promise((resolve) => {
          sw.addEventListener("message", (e) => {
            let m = e.data;
            if (typeof m === "string") m = JSON.parse(m);
            if (m.type === "replayed") resolve();
            if (m.type === "stats" && m.stats.queued === 0 && !m.stats.replaying) resolve();
          });
          sw.controller.postMessage(which === "workbox" ? { type: "replay" } : '{"type":"replay_now"}');
        });
        return performance.now() - t0;
      }, name);
    },
    async close() {
      await context.close();
      await server.dispose();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

// Both workers side by side, their runs interleaved so drift on this
// machine hits both alike.
const browser = await launchBrowser();
const ours = await setup("casefile", ourSw, browser);
const theirs = await setup("workbox", await workboxWorker(), browser);
try {
  for (let i = 0; i < COLD_RUNS; i++) {
    await ours.coldOnce();
    await theirs.coldOnce();
  }
  for (let i = 0; i < 10; i++) {
    await ours.warmBatch(ASSET_FETCHES / 10);
    await theirs.warmBatch(ASSET_FETCHES / 10);
  }
  await ours.offlineList();
  await theirs.offlineList();
  await ours.replay();
  await theirs.replay();
} finally {
  await ours.close();
  await theirs.close();
  await browser.close();
}
const ms = (x) => `${x.toFixed(2)} ms`;
const row = (label, a, b, goal) =>
  console.log(`| ${label} | ${ms(a)} | ${ms(b)} | ${(a / b).toFixed(2)}× | ${goal} |`);
console.log(`Service workers, same build and server, headless Chromium (${COLD_RUNS} cold starts, ${ASSET_FETCHES} asset fetches, ${QUEUED} queued writes)\n`);
console.log("| figure | Casefile (Rust/wasm) | Workbox 7 | ours ÷ Workbox | goal |");
console.log("|---|---:|---:|---:|---|");
row("cold worker start → first response, p50", pct(ours.cold, 50), pct(theirs.cold, 50), "≤ 1.5×");
row("precached asset through the worker, p50", pct(ours.warm, 50), pct(theirs.warm, 50), "≤ 1.2×");
row("precached asset through the worker, p95", pct(ours.warm, 95), pct(theirs.warm, 95), "–");
row("repeat visit, server stopped, worker cold → case list on screen, p50", pct(ours.list, 50), pct(theirs.list, 50), "≤ 100 ms");
row("the same, as the test driver first sees the row (it polls), p50", pct(ours.listSeen, 50), pct(theirs.listSeen, 50), "–");
row("the same, until the app's own list (usable) is on screen, p50", pct(ours.appList, 50), pct(theirs.appList, 50), "–");
row(`replay ${QUEUED} queued writes against the server`, ours.replayMs, theirs.replayMs, "–");
console.log(
  `| worker transfer, gzip -9 | ${(ours.bytes / 1024).toFixed(1)} KB | ${(theirs.bytes / 1024).toFixed(1)} KB | ${(ours.bytes / theirs.bytes).toFixed(2)}× | ≤ 15 KB |`,
);
