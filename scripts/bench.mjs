// Serves bench/web, the wasm package and node_modules on loopback, opens the
// page in headless Chromium, and prints ours vs the JS peer side by side.
import http from "node:http";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ROUTES = [
  ["/bench/", path.join(ROOT, "bench/web")],
  ["/pkg/", path.join(ROOT, "target/bench-pkg")],
  ["/node_modules/", path.join(ROOT, "node_modules")],
];
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json", ".wasm": "application/wasm" };

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://x");
  const route = ROUTES.find(([prefix]) => url.pathname.startsWith(prefix));
  if (!route) return res.writeHead(404).end();
  const file = path.join(route[1], path.normalize(url.pathname.slice(route[0].length)));
  try {
    const body = await readFile(file);
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] || "application/octet-stream" }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const { port } = server.address();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fmt = (n) => Math.round(n).toLocaleString("en-US");
const ms = (n) => (n < 10 ? n.toFixed(2) : n.toFixed(0));
try {
  // BENCH_STORE_ONLY=catch-up (a comma list: append, catch-up, replay,
  // scan) runs just those store workloads and skips the query cache's.
  const storeOnly = process.env.BENCH_STORE_ONLY;
  if (!storeOnly) {
    const page = await browser.newPage();
    page.on("pageerror", (e) => console.error("page error:", e));
    await page.goto(`http://127.0.0.1:${port}/bench/index.html`);
    const results = await page.waitForFunction(() => window.__results, null, { timeout: 300_000 }).then((h) => h.jsonValue());
    console.log(`Chromium ${browser.version()}, median of 7 rounds; ops/s (higher is better)\n`);
    console.log("| workload | casefile-core (wasm) | @tanstack/query-core | ratio |");
    console.log("|---|---:|---:|---:|");
    for (const r of results) {
      const ours = r.ops / (r.oursMs / 1000);
      const theirs = r.ops / (r.theirsMs / 1000);
      console.log(`| ${r.name} | ${fmt(ours)} | ${fmt(theirs)} | ${(ours / theirs).toFixed(2)}× |`);
    }
  }

  const store = await browser.newPage();
  store.on("pageerror", (e) => console.error("page error:", e));
  store.on("console", (m) => m.type() === "error" && console.error("page:", m.text()));
  await store.goto(`http://127.0.0.1:${port}/bench/store.html${storeOnly ? `?only=${storeOnly}` : ""}`);
  const storeResults = await store
    .waitForFunction(() => window.__store_results, null, { timeout: 900_000, polling: 1000 })
    .then((h) => h.jsonValue());
  console.log(`\nEvent store on IndexedDB, Chromium ${browser.version()}, median of 3 runs (15 for the replay and the scan); time (lower is better)\n`);
  console.log("| workload | casefile EventStore (wasm) | plain IndexedDB from JS | ours ÷ plain |");
  console.log("|---|---:|---:|---:|");
  for (const r of storeResults) {
    const plain = r.plainMs === null ? "–" : `${ms(r.plainMs)} ms`;
    const ratio = r.plainMs === null ? "–" : `${(r.oursMs / r.plainMs).toFixed(2)}×`;
    console.log(`| ${r.name} | ${ms(r.oursMs)} ms (${fmt(r.ops / (r.oursMs / 1000))}/s) | ${plain} | ${ratio} |`);
  }
} finally {
  await browser.close();
  server.close();
}
