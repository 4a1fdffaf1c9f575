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
  const server = { url: null, dir, child: null, port: 0, token: null };
  servers.set(dir, server);
  // `more`: environment for this start only (e.g. a moved clock).
  server.start = async (more = {}) => {
    const addr = `127.0.0.1:${server.port}`;
    const args = [...(seed ? ["--seed", String(seed)] : []), "--demo-users", ...extra.filter((a) => a !== "--demo-users")];
    const child = spawn(SERVER_BIN, args, {
      env: {
        ...process.env,
        CASEFILE_ADDR: addr,
        DATABASE_URL: `sqlite:${path.join(dir, "casefile.db")}`,
        CASEFILE_DIST: dist,
        RUST_LOG: process.env.RUST_LOG || "warn",
        CASEFILE_FAULTS: faults ? "1" : "0",
        ...env,
        ...more,
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    server.child = child;
    server.url = await new Promise((resolve, reject) => {
      // Seeding runs before the server listens: allow 6 s per 1,000 cases
      // (a debug build seeds 10,000 in 22 s on 2 cores, and took over 45 s once
      // in a full test run; a bound, not a measurement).
      const limit = 15_000 + 6 * seed;
      // A server that is too slow to start is killed, not left running:
      // its open pipes would keep this test process alive for ever.
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`server did not start in ${limit} ms`));
      }, limit);
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
    if (!server.token) server.token = await issueToken(server.url);
    if (!server.adminToken) server.adminToken = await issueToken(server.url, ADMIN_USER);
    current = server;
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
    servers.delete(dir);
    if (current === server) current = null;
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
/**
 * Every API call is made as someone (SPEC §10). Tests act as the demo
 * supervisor `sam` (teams north and south, where the demo seed puts its
 * cases): Node's own requests to a test server carry sam's API token, and
 * every browser context signs in as sam before its first page opens (see
 * `signedOut` for one that must not).
 */
export const TEST_USER = { name: "sam", password: "casefile-demo" };
/** The demo administrator (metrics, CSP reports, users). */
export const ADMIN_USER = { name: "admin", password: "casefile-demo" };

/** The server started last: contexts sign in to it. */
let current = null;

/** Headers of a write from the app's own page (the server's CSRF checks). */
export function sameOrigin(url) {
  return { origin: url, "x-casefile": "1", "content-type": "application/json" };
}

/** Signs in as `user` from Node and returns a new API token for them. */
async function issueToken(url, user = TEST_USER) {
  const login = await plainFetch(`${url}/api/v1/auth/login`, {
    method: "POST",
    headers: sameOrigin(url),
    body: JSON.stringify(user),
  });
  if (login.status !== 200) throw new Error(`test sign-in failed: ${login.status} ${await login.text()}`);
  const cookie = login.headers.get("set-cookie").split(";")[0];
  const r = await plainFetch(`${url}/api/v1/auth/tokens`, {
    method: "POST",
    headers: { ...sameOrigin(url), cookie },
    body: JSON.stringify({ label: "e2e", days: 1 }),
  });
  if (r.status !== 201) throw new Error(`test token failed: ${r.status} ${await r.text()}`);
  return (await r.json()).token;
}

const plainFetch = globalThis.fetch.bind(globalThis);
const servers = new Map();
// Node-side requests to a test server go as TEST_USER unless they bring
// their own credentials (or `x-anonymous: 1`, which is dropped).
globalThis.fetch = (input, init = {}) => {
  const url = typeof input === "string" ? input : input.url;
  const server = [...servers.values()].find((s) => s.url && url.startsWith(s.url));
  if (!server?.token) return plainFetch(input, init);
  const headers = new Headers(init.headers || {});
  if (headers.get("x-anonymous")) headers.delete("x-anonymous");
  else if (!headers.has("authorization") && !headers.has("cookie")) headers.set("authorization", `Bearer ${server.token}`);
  return plainFetch(input, { ...init, headers });
};

/** Marks a context to stay signed out (sign-in tests). */
export function signedOut(context) {
  context.__signedOut = true;
  return context;
}

/** Signs `context` in as `user` to the current server, once per server. */
export async function signIn(context, user = TEST_USER) {
  if (!current || context.__signedInto === current.url) return;
  const r = await context.request.post(`${current.url}/api/v1/auth/login`, {
    data: user,
    headers: { origin: current.url, "x-casefile": "1" },
  });
  if (!r.ok()) throw new Error(`signing the browser in failed: ${r.status()} ${await r.text()}`);
  context.__signedInto = current.url;
}

function signingIn(context) {
  const newPage = context.newPage.bind(context);
  context.newPage = async () => {
    if (!context.__signedOut) await signIn(context);
    return newPage();
  };
  return context;
}

export async function launchBrowser() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => signingIn(await newContext(options));
  return browser;
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
  signingIn(context);
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
  // `fatal`: an uncaught exception or a Rust panic / wasm trap: the app
  // broke, whatever the network did (a failed request's console line is
  // only an error).
  const problems = { csp: [], errors: [], fatal: [] };
  page.on("console", (msg) => {
    const text = msg.text();
    if (/Content Security Policy|Refused to/i.test(text)) problems.csp.push(text);
    else if (msg.type() === "error") {
      problems.errors.push(text);
      if (/panicked at|RuntimeError|unreachable executed/.test(text)) problems.fatal.push(text);
    }
  });
  page.on("pageerror", (err) => {
    problems.errors.push(String(err));
    problems.fatal.push(String(err));
  });
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
    const c = await countRecords(page, "casefile-query-cache:sam", "entries");
    return c >= n && c;
  }, `${n} saved queries`, timeoutMs);
  return count;
}

/** Creates a case with `title` through the New case form; returns its id. */
export async function createCase(page, server, title) {
  await page.goto(`${server.url}/cases/new`);
  await page.getByLabel("Title").fill(title);
  await page.getByRole("button", { name: "Create case" }).click();
  await page.waitForURL(/\/cases\/[0-9a-f-]{36}$/);
  await page.locator("h1", { hasText: title }).waitFor();
  return page.url().split("/").pop();
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
