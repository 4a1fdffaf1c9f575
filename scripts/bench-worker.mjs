// Benchmark (prints figures): Casefile's Rust service worker beside a Workbox 7
// worker serving the same build from the same real server, in one headless
// Chromium run: cold worker start to first response, precached-asset latency,
// and replaying 1,000 queued writes. Each worker gets its own server (a copy
// of dist/ whose sw.js is that worker) and its own browser context.
import { build } from "esbuild";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { ROOT, launchBrowser, startServer, waitForController } from "../tests/e2e/harness.mjs";

const COLD_RUNS = 25;
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

async function measure(name, swText) {
  const folder = mkdtempSync(path.join(tmpdir(), `casefile-bench-${name}-`));
  cpSync(dist, folder, { recursive: true });
  writeFileSync(path.join(folder, "sw.js"), swText);
  const server = await startServer({ dist: folder });
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext();
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
    const cold = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      await cdp.send("ServiceWorker.stopAllWorkers");
      await new Promise((r) => setTimeout(r, 100));
      cold.push(await fetchTime(asset));
    }
    await fetchTime(asset);
    const warm = await page.evaluate(
      async ({ u, n }) => {
        const times = [];
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          const r = await fetch(u);
          await r.arrayBuffer();
          times.push(performance.now() - t0);
        }
        return times;
      },
      { u: asset, n: ASSET_FETCHES },
    );

    // 1,000 writes while the server is down: each queued by the worker.
    await server.stop();
    const statuses = await page.evaluate(async (n) => {
      const seen = {};
      for (let i = 0; i < n; i++) {
        const r = await fetch("/api/v1/events", {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": `bench-${i}` },
          body: JSON.stringify({ events: [] }),
        });
        seen[r.status] = (seen[r.status] || 0) + 1;
      }
      return seen;
    }, QUEUED);
    if (statuses[202] !== QUEUED) throw new Error(`${name}: not all writes were queued: ${JSON.stringify(statuses)}`);
    await server.start();
    const replayMs = await page.evaluate(async (which) => {
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
    const sizes = { sw: gzipSync(swText, { level: 9 }).length };
    if (name === "casefile") {
      for (const f of precache.filter((p) => p.includes("casefile-sw"))) {
        sizes.sw += gzipSync(readFileSync(path.join(dist, f)), { level: 9 }).length;
      }
    }
    await context.close();
    return { name, cold, warm, replayMs, bytes: sizes.sw };
  } finally {
    await browser.close();
    await server.dispose();
    rmSync(folder, { recursive: true, force: true });
  }
}

const ours = await measure("casefile", ourSw);
const theirs = await measure("workbox", await workboxWorker());
const ms = (x) => `${x.toFixed(2)} ms`;
const row = (label, a, b, goal) =>
  console.log(`| ${label} | ${ms(a)} | ${ms(b)} | ${(a / b).toFixed(2)}× | ${goal} |`);
console.log(`Service workers, same build and server, headless Chromium (${COLD_RUNS} cold starts, ${ASSET_FETCHES} asset fetches, ${QUEUED} queued writes)\n`);
console.log("| figure | Casefile (Rust/wasm) | Workbox 7 | ours ÷ Workbox | goal |");
console.log("|---|---:|---:|---:|---|");
row("cold worker start → first response, p50", pct(ours.cold, 50), pct(theirs.cold, 50), "≤ 1.5×");
row("precached asset through the worker, p50", pct(ours.warm, 50), pct(theirs.warm, 50), "≤ 1.2×");
row("precached asset through the worker, p95", pct(ours.warm, 95), pct(theirs.warm, 95), "–");
row(`replay ${QUEUED} queued writes against the server`, ours.replayMs, theirs.replayMs, "–");
console.log(
  `| worker transfer, gzip -9 | ${(ours.bytes / 1024).toFixed(1)} KB | ${(theirs.bytes / 1024).toFixed(1)} KB | ${(ours.bytes / theirs.bytes).toFixed(2)}× | ≤ 15 KB |`,
);
