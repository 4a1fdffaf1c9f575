// Benchmark (prints figures): the bytes one device holds for 10,000 cases of
// which its user may read 500 (SPEC §10, issue 17). The server seeds 10,000
// demo cases, every 20th in team north; Sam (supervisor of both teams) reads
// all of them, as every device did when the pull was not filtered; Casey
// (north) reads 500. Each signs in on a new browser profile and waits for
// her own copy; then an administrator takes Casey out of north and her
// device purges what she may no longer read. Bytes are the JSON length of
// every record in the user's IndexedDB databases, and the browser's own
// usage estimate for the origin (which also counts the precached app).
import { launchBrowser, startServer, signedOut, signIn, until, ADMIN_USER } from "../tests/e2e/harness.mjs";

const CASES = 10_000;
const NORTH_EVERY = 20;
const PASSWORD = "casefile-demo";

/** Every record of the user's databases, measured in the page. */
async function measure(page, user) {
  return page.evaluate(async (user) => {
    const out = { records: 0, bytes: 0, events: 0, cases: new Set() };
    for (const { name } of await indexedDB.databases()) {
      if (!name.endsWith(`:${user}`)) continue;
      const db = await new Promise((resolve, reject) => {
        const open = indexedDB.open(name);
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
      for (const store of db.objectStoreNames) {
        const all = await new Promise((resolve, reject) => {
          const req = db.transaction(store).objectStore(store).getAll();
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        });
        out.records += all.length;
        for (const r of all) out.bytes += JSON.stringify(r ?? null).length;
        if (name.startsWith("casefile-events:") && store === "events") {
          out.events = all.length;
          for (const r of all) out.cases.add(r.aggregate_id);
        }
      }
      db.close();
    }
    const { usage } = await navigator.storage.estimate();
    return { records: out.records, bytes: out.bytes, events: out.events, cases: out.cases.size, usage };
  }, user);
}

/** How many events the user's log holds (a count by the browser: cheap to
 * poll, unlike `measure`, whose reads would slow the copy it times). */
async function events(page, user) {
  return page.evaluate(async (user) => {
    for (const { name } of await indexedDB.databases()) {
      if (name !== `casefile-events:${user}`) continue;
      const db = await new Promise((resolve, reject) => {
        const open = indexedDB.open(name);
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
      const n = await new Promise((resolve, reject) => {
        const req = db.transaction("events").objectStore("events").count();
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      db.close();
      return n;
    }
    return 0;
  }, user);
}

/** The ceiling of a copy's store writes: plain IndexedDB putting the same
 * event records (read back from the user's log) into a new database with
 * the same indexes, a transaction per 1,000, as the first catch-up's pages
 * are. Resolves to seconds. */
async function plainCeiling(page, user) {
  return page.evaluate(async (user) => {
    const open = (name, upgrade) =>
      new Promise((resolve, reject) => {
        const req = indexedDB.open(name);
        if (upgrade) req.onupgradeneeded = () => upgrade(req.result);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    const done = (tx) =>
      new Promise((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
      });
    const log = await open(`casefile-events:${user}`);
    const records = await new Promise((resolve, reject) => {
      const req = log.transaction("events").objectStore("events").getAll();
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    log.close();
    const name = `plain-ceiling-${Date.now()}`;
    const db = await open(name, (db) => {
      const events = db.createObjectStore("events", { keyPath: "id" });
      for (const f of ["aggregate_id", "synced"]) events.createIndex(f, f);
      events.createIndex("aggregate_stamp", ["aggregate_id", "clock", "node_id"]);
    });
    const t0 = performance.now();
    for (let i = 0; i < records.length; i += 1_000) {
      const tx = db.transaction("events", "readwrite");
      for (const r of records.slice(i, i + 1_000)) tx.objectStore("events").put(r);
      await done(tx);
    }
    const seconds = (performance.now() - t0) / 1000;
    db.close();
    indexedDB.deleteDatabase(name);
    return seconds;
  }, user);
}

/** How many events the server's pull gives `context`'s user. */
async function readable(context, url) {
  // Both cursors move, as the app's pull moves them: `has_more` also
  // says that access changes remain past the access cursor.
  let after = 0;
  let accessAfter = 0;
  let n = 0;
  for (;;) {
    const query = `after=${after}&access_after=${accessAfter}&limit=1000`;
    const page = await (await context.request.get(`${url}/api/v1/events?${query}`, { timeout: 0 })).json();
    n += page.events.length;
    if (!page.has_more) return n;
    after = page.next_cursor;
    accessAfter = page.access_cursor;
  }
}

async function device(browser, server, name) {
  const context = signedOut(await browser.newContext());
  await signIn(context, { name, password: PASSWORD });
  // What the copy must hold, asked before the device starts (its pull
  // would otherwise run, untimed, while this counts).
  const asked = Date.now();
  const want = await readable(context, server.url);
  const pulled = (Date.now() - asked) / 1000;
  const page = await context.newPage();
  // Timed from the first page load: the app starts its copy at once, as a
  // person's first visit does (the worker installs meanwhile; no reload:
  // one cut the copy short and started it again).
  const started = Date.now();
  await page.goto(server.url);
  await page.getByTestId("user-menu").waitFor();
  await until(async () => (await events(page, name)) >= want, `${name}'s own copy (${want} events)`, 600_000);
  return { context, page, want, pulled, seconds: (Date.now() - started) / 1000 };
}

const kb = (n) => `${(n / 1024).toFixed(0)} KB`;
const row = (label, m) =>
  `${label.padEnd(44)} ${String(m.cases).padStart(6)} ${String(m.events).padStart(7)} ${kb(m.bytes).padStart(10)} ${kb(m.usage).padStart(12)}`;

const browser = await launchBrowser();
const server = await startServer({ seed: CASES, args: ["--seed-north-every", String(NORTH_EVERY)] });
try {
  console.log(`Device storage, ${CASES} cases, 1 in ${NORTH_EVERY} readable by a north caseworker`);
  console.log(`${"".padEnd(44)} ${"cases".padStart(6)} ${"events".padStart(7)} ${"records".padStart(10)} ${"usage est.".padStart(12)}`);
  const sam = await device(browser, server, "sam");
  console.log(row(`every case, ${sam.seconds.toFixed(1)} s (${Math.round(sam.want / sam.seconds)} ev/s)`, await measure(sam.page, "sam")));
  console.log(`  (the same pull from Node alone, no device: ${sam.pulled.toFixed(1)} s)`);
  const ceiling = await plainCeiling(sam.page, "sam");
  console.log(`  (plain IndexedDB putting the same ${sam.want.toLocaleString("en-US")} records, 1,000 a transaction: ${ceiling.toFixed(1)} s)`);
  await sam.context.close();
  const casey = await device(browser, server, "casey");
  console.log(row(`what Casey may read, ${casey.seconds.toFixed(1)} s`, await measure(casey.page, "casey")));
  // An administrator takes Casey out of north; her next pull purges.
  const admin = signedOut(await browser.newContext());
  await signIn(admin, ADMIN_USER);
  const r = await admin.request.delete(`${server.url}/api/v1/admin/teams/north/members/casey`, {
    headers: { origin: server.url, "x-casefile": "1", "content-type": "application/json" },
  });
  if (r.status() !== 204) throw new Error(`removing Casey from north: ${r.status()} ${await r.text()}`);
  await casey.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sync", exact: true }).click();
  await casey.page.getByTestId("sync-now").click();
  await until(async () => (await measure(casey.page, "casey")).cases === 0, "Casey's device purged", 120_000);
  console.log(row("Casey after leaving north (purged)", await measure(casey.page, "casey")));
  await casey.context.close();
  await admin.close();
} finally {
  await server.dispose();
  await browser.close();
}
