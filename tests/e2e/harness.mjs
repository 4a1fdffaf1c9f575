// Shared set-up for the e2e suite: the real server on a free loopback port with
// its own SQLite file, and Debian's Chromium driven by playwright-core.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const OUTPUT = path.join(ROOT, "tests/e2e/output");
mkdirSync(OUTPUT, { recursive: true });

const SERVER_BIN = process.env.CASEFILE_SERVER_BIN || path.join(ROOT, "target/debug/casefile-server");
export const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";

/** Starts casefile-server; `stop()` ends it, `start()` brings it back on the same port. */
// CASEFILE_E2E_DIST points the suites at another build (e.g. one being measured).
export async function startServer({ seed = 0, faults = false, dist = process.env.CASEFILE_E2E_DIST || path.join(ROOT, "dist"), env = {}, args: extra = [] } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), "casefile-e2e-"));
  const server = { url: null, dir, child: null, port: 0 };
  server.start = async () => {
    const addr = `127.0.0.1:${server.port}`;
    const args = [...(seed ? ["--seed", String(seed)] : []), ...extra];
    const child = spawn(SERVER_BIN, args, {
      env: {
        ...process.env,
        CASEFILE_ADDR: addr,
        DATABASE_URL: `sqlite:${path.join(dir, "casefile.db")}`,
        CASEFILE_DIST: dist,
        RUST_LOG: process.env.RUST_LOG || "warn",
        CASEFILE_FAULTS: faults ? "1" : "0",
        ...env,
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    server.child = child;
    server.url = await new Promise((resolve, reject) => {
      // Seeding runs before the server listens: allow 1 s per 1,000 cases.
      const limit = 15_000 + seed;
      const timer = setTimeout(() => reject(new Error(`server did not start in ${limit} ms`)), limit);
      let out = "";
      child.stdout.on("data", (chunk) => {
        out += chunk;
        const m = out.match(/listening on (http:\/\/[\d.:]+)/);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code} before listening: ${out}`));
      });
    });
    server.port = Number(new URL(server.url).port);
    return server.url;
  };
  server.stop = async () => {
    const child = server.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };
  server.dispose = async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  await server.start();
  return server;
}

export const CHROMIUM_ARGS = [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
];

/** Chromium with the flags this closed network needs (incognito contexts). */
export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/**
 * A persistent profile in a fresh folder, for what incognito cannot do
 * (installability). Close the returned context; the folder is removed.
 */
export async function launchProfile() {
  const dir = mkdtempSync(path.join(tmpdir(), "casefile-profile-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const close = context.close.bind(context);
  context.close = async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  };
  return context;
}

/**
 * Records everything a page says that a person would call a problem: CSP
 * violations, uncaught errors, console errors.
 */
export function watchProblems(page) {
  const problems = { csp: [], errors: [] };
  page.on("console", (msg) => {
    const text = msg.text();
    if (/Content Security Policy|Refused to/i.test(text)) problems.csp.push(text);
    else if (msg.type() === "error") problems.errors.push(text);
  });
  page.on("pageerror", (err) => problems.errors.push(String(err)));
  return problems;
}

/** Waits until a service worker is active and controls the page. */
export async function waitForController(page) {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((resolve) =>
        navigator.serviceWorker.addEventListener("controllerchange", resolve, { once: true }),
      );
    }
  });
}

/** The server's copy of case `id`, or null while it has none. */
export async function serverCase(server, id) {
  const r = await fetch(`${server.url}/api/v1/cases/${id}`);
  return r.status === 200 ? r.json() : null;
}

/** Replaces the server's fault rules (needs `startServer({ faults: true })`). */
export async function setFaults(server, rules) {
  const res = await fetch(`${server.url}/api/v1/_faults`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(rules),
  });
  if (res.status !== 204) throw new Error(`setting faults failed: ${res.status} ${await res.text()}`);
}

/** The requests the fault rules answered: `[{ path, at_ms }]`. */
export async function faultHits(server) {
  return (await (await fetch(`${server.url}/api/v1/_faults`)).json()).hits;
}

/** How many records `store` of IndexedDB database `db` holds in the page (0 when either is missing; never creates the database). */
export async function countRecords(page, db, store) {
  return page.evaluate(
    async ([name, storeName]) => {
      const dbs = await indexedDB.databases();
      if (!dbs.some((d) => d.name === name)) return 0;
      return new Promise((resolve) => {
        const open = indexedDB.open(name);
        open.onerror = () => resolve(0);
        open.onsuccess = () => {
          const conn = open.result;
          if (!conn.objectStoreNames.contains(storeName)) return resolve(0);
          const req = conn.transaction(storeName).objectStore(storeName).count();
          req.onsuccess = () => {
            conn.close();
            resolve(req.result);
          };
          req.onerror = () => resolve(0);
        };
      });
    },
    [db, store],
  );
}

/** Waits until the saved query cache in IndexedDB holds at least `n` entries. */
export async function waitForSavedQueries(page, n = 1, timeoutMs = 10_000) {
  const count = await until(async () => {
    const c = await countRecords(page, "casefile-query-cache", "entries");
    return c >= n && c;
  }, `${n} saved queries`, timeoutMs);
  return count;
}

/** Polls `fn` until it returns a truthy value, which it returns (Playwright's waitForFunction does not await promises). */
export async function until(fn, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
