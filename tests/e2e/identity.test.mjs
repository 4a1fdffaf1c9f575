// Two people on one browser profile (SPEC §10, issue 17): each has their own
// local stores; a sign-out with unsent changes asks what to do with them;
// the next person never sees the previous one's cases or queued writes; the
// kept writes land once, as their author, when she is back; and after a
// sign-out, with the server stopped, nothing of anyone's data is readable
// from any IndexedDB database or Cache Storage entry.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { readFileSync } from "node:fs";
import { launchBrowser, startServer, signedOut, setFaults, waitForController, until, watchProblems, OUTPUT } from "./harness.mjs";

// One browser for the file; every test makes its own profile (context).
let browser;
before(async () => (browser = await launchBrowser()));
after(() => browser?.close());
const PASSWORD = "casefile-demo";

/** Signs in through the app's own form; the app starts again for that user. */
async function signInAs(page, server, name) {
  await page.goto(`${server.url}/sign-in`);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("user-menu").getByRole("button", { name: "Sign out" }).waitFor({ timeout: 15_000 });
}

/** A server of its own and a new profile, with its worker, signed in as Casey. */
async function caseyOnANewBrowser({ faults = false } = {}) {
  const server = await startServer({ seed: 0, faults });
  const context = signedOut(await browser.newContext());
  const page = await context.newPage();
  await page.goto(`${server.url}/`);
  await waitForController(page);
  await signInAs(page, server, "casey");
  return { server, context, page };
}

/** A link of the main navigation. */
const nav = (page, name) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });

async function newCase(page, title) {
  await nav(page, "New case").click();
  await page.locator("main h1", { hasText: "New case" }).waitFor();
  await page.getByLabel("Title").fill(title);
  await page.getByRole("button", { name: "Create case" }).click();
  await page.waitForURL(/\/cases\/[0-9a-f-]{36}$/);
  await page.locator("h1", { hasText: title }).waitFor();
  return page.url().split("/").pop();
}

/** The server's cases with this title (Node reads as the supervisor, who sees both teams). */
async function onServer(server, title) {
  const list = await (await fetch(`${server.url}/api/v1/cases?limit=500`)).json();
  return (list.items ?? list).filter((c) => c.title === title);
}

/** Every IndexedDB record, Cache Storage answer, local storage item and cookie the page can read, as text. */
async function everythingStored(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const { name } of await indexedDB.databases()) {
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
        out.push(`${name}/${store}: ${JSON.stringify(all)}`);
      }
      db.close();
    }
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      for (const request of await cache.keys()) {
        const response = await cache.match(request);
        const type = response.headers.get("content-type") || "";
        const body = /json|text\/plain/.test(type) ? await response.text() : `(${type})`;
        out.push(`cache ${name} ${request.url}: ${body}`);
      }
    }
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      out.push(`localStorage ${key}: ${localStorage.getItem(key)}`);
    }
    out.push(`cookies: ${document.cookie}`);
    return out.join("\n");
  });
}

test("two people on one browser: unsent work is kept for its author, never shown to the next person, lands once as her, and sign-out leaves nothing readable", async () => {
  const server = await startServer({ seed: 0 });
  const context = signedOut(await browser.newContext({ viewport: { width: 390, height: 820 } }));
  const page = await context.newPage();
  const problems = watchProblems(page);
  try {
    await page.goto(`${server.url}/`);
    await waitForController(page);
    // Signed out, every address is the sign-in form.
    await page.getByLabel("Password").waitFor();

    // Casey works, online then offline.
    await signInAs(page, server, "casey");
    await newCase(page, "Casey online case");
    await until(async () => (await onServer(server, "Casey online case")).length === 1, "Casey's first case on the server");
    await server.stop();
    await newCase(page, "Casey offline case");
    // Its push found no server (the worker keeps it): the header says so.
    await page.getByTestId("online-indicator").getByText("Server unreachable").waitFor({ timeout: 15_000 });
    // The Sync center says whether the browser keeps this storage, and
    // exports the unsent change as a readable file.
    await nav(page, "Sync").click();
    const persisted = await page.getByTestId("storage-persisted").innerText();
    assert.match(persisted, /persistent|does not say/);
    if (persisted.startsWith("not persistent")) {
      await page.getByTestId("storage-warning").getByText(/1 change waits on storage this browser may clear/).waitFor();
    }
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-unsent").click()]);
    assert.match(download.suggestedFilename(), /^casefile-unsent-casey-\d+\.json$/);
    const exported = JSON.parse(readFileSync(await download.path(), "utf8"));
    assert.equal(exported.user, "casey");
    const created = exported.changes.filter((c) => c.event.event_type === "case.created");
    assert.equal(created.length, 1);
    assert.match(JSON.stringify(created[0].event), /Casey offline case/);
    await page.screenshot({ path: path.join(OUTPUT, "sync-center-storage-phone.png"), fullPage: true });
    await page.getByTestId("user-menu").getByRole("button", { name: "Sign out" }).click();
    const dialog = page.getByTestId("sign-out-dialog");
    await dialog.getByText("1 change not on the server yet").waitFor();
    // The server cannot be reached: nothing to send with.
    assert.equal(await dialog.getByRole("button", { name: "Send now" }).isDisabled(), true);
    await page.screenshot({ path: path.join(OUTPUT, "sign-out-unsent-phone.png"), fullPage: true });
    await dialog.getByRole("button", { name: "Keep on this device for me" }).click();
    // Signing out works with the server stopped.
    await page.waitForURL(/\/sign-in$/);
    await page.getByLabel("Password").waitFor();

    // Kim, on the same browser: none of Casey's cases, none of her queued writes.
    await server.start();
    await signInAs(page, server, "kim");
    await nav(page, "Cases").click();
    await page.locator("table.cases, p.muted, .empty").first().waitFor();
    assert.equal(await page.getByText(/Casey (online|offline) case/).count(), 0, "Kim's list holds nothing of Casey's");
    await nav(page, "Sync").click();
    await page.locator("main").getByText(/Sync/).first().waitFor();
    const center = await page.locator("main").innerText();
    assert.doesNotMatch(center, /Casey offline case/, "Casey's queued write is not Kim's to see");
    const kims = await newCase(page, "Kim case");
    await until(async () => (await onServer(server, "Kim case")).length === 1, "Kim's case on the server");
    assert.deepEqual(await onServer(server, "Casey offline case"), [], "not sent under Kim's session");
    const storedForKim = await everythingStored(page);
    // Casey's kept log holds her unsent case and nothing the server has: not
    // even her own earlier case is readable by the next person.
    assert.doesNotMatch(storedForKim, /Casey online case/, "Casey's cases the server has are in no store on this device");
    assert.match(storedForKim.split("\n").filter((l) => l.startsWith("casefile-events:casey/")).join("\n"), /Casey offline case/, "her unsent case is kept for her");

    // Kim signs out with nothing unsent: no question.
    await page.getByTestId("user-menu").getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/sign-in$/);

    // Casey again: her kept change lands, once, as hers.
    await signInAs(page, server, "casey");
    await until(async () => (await onServer(server, "Casey offline case")).length === 1, "Casey's kept change on the server", 30_000);
    await page.getByTestId("user-menu").waitFor();
    await until(async () => !(await page.getByText(/\d+ pending/).count()), "nothing left to send");
    const [kept] = await onServer(server, "Casey offline case");
    const log = (await (await fetch(`${server.url}/api/v1/events?after=0&limit=500`)).json()).events;
    assert.equal(log.filter((e) => e.event.aggregate_id === kept.id && e.event.event_type === "case.created").length, 1, "created once, however often it was replayed");
    await nav(page, "Cases").click();
    await page.getByText("Casey offline case").first().waitFor();
    assert.equal(await page.getByText("Kim case").count(), 0, "Kim's case is not Casey's to see");
    assert.equal((await onServer(server, "Kim case"))[0].id, kims);

    // Casey has a second tab open. She signs out in the first with the
    // server stopped: both tabs show the sign-in form, and after a reload
    // nothing of hers or Kim's is readable anywhere.
    const second = await context.newPage();
    await second.goto(`${server.url}/cases`);
    await second.getByText("Casey offline case").first().waitFor();
    await server.stop();
    await page.getByTestId("user-menu").getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/sign-in$/);
    // The other tab heard it and started again, signed out.
    await second.getByLabel("Password").waitFor();
    await second.close();
    await page.reload();
    await page.getByLabel("Password").waitFor();
    const left = await everythingStored(page);
    for (const title of ["Casey online case", "Casey offline case", "Kim case"]) {
      assert.doesNotMatch(left, new RegExp(title), `${title} is readable after sign-out:\n${left.slice(0, 2000)}`);
    }
    await page.screenshot({ path: path.join(OUTPUT, "signed-out-offline.png"), fullPage: true });
    assert.deepEqual(problems.fatal, []);
    assert.deepEqual(problems.csp, []);
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("Send now at sign-out delivers the unsent change first, then signs out", async () => {
  const { server, context, page } = await caseyOnANewBrowser({ faults: true });
  try {
    // The server is slow to take pushes: the change is still unsent when
    // Casey signs out.
    await setFaults(server, [{ path: "/api/v1/events", method: "POST", status: 503, times: 2 }]);
    await newCase(page, "Sent before leaving");
    await page.getByTestId("user-menu").getByRole("button", { name: "Sign out" }).click();
    const dialog = page.getByTestId("sign-out-dialog");
    await dialog.getByText("1 change not on the server yet").waitFor();
    await setFaults(server, []);
    await dialog.getByRole("button", { name: "Send now" }).click();
    await page.waitForURL(/\/sign-in$/, { timeout: 30_000 });
    assert.equal((await onServer(server, "Sent before leaving")).length, 1, "delivered once before signing out");
    const session = await page.evaluate(async () => (await fetch("/api/v1/auth/session")).status);
    assert.equal(session, 401, "signed out on the server");
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("a log wiped behind the app's back is reported, not shown as an empty device", async () => {
  const { server, context, page } = await caseyOnANewBrowser();
  try {
    await newCase(page, "Before the wipe");
    await until(async () => (await onServer(server, "Before the wipe")).length === 1, "the case on the server");
    await nav(page, "Sync").click();
    assert.equal(await page.getByTestId("storage-lost").count(), 0, "nothing lost yet");
    // Something outside the app deletes the log and local storage with it
    // (as an eviction of the origin's storage would; cookies stay); the
    // page's connection to the log closes as the deletion asks.
    await page.evaluate(() => {
      localStorage.clear();
      void indexedDB.deleteDatabase("casefile-events:casey");
    });
    await page.reload();
    await page.getByTestId("user-menu").getByRole("button", { name: "Sign out" }).waitFor();
    await nav(page, "Sync").click();
    await page.getByTestId("storage-lost").getByText(/was cleared since you last opened Casefile here/).waitFor();
    // The server says what it has of the wiped log: the one change it sent.
    await page.getByTestId("storage-lost").getByText(/The server has the 1 change it received from it, on /).waitFor({ timeout: 15_000 });
    // The server's copy comes back.
    await nav(page, "Cases").click();
    await page.getByText("Before the wipe").first().waitFor({ timeout: 15_000 });
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("the stores every user of a device shared before each had their own are deleted at the next sign-in", async () => {
  const server = await startServer({ seed: 0 });
  const context = signedOut(await browser.newContext());
  try {
    const page = await context.newPage();
    await page.goto(`${server.url}/sign-in`);
    // What a device used before per-user stores holds: the shared log, as
    // schema 1 made it, with a team case the server has, and the shared
    // saved query cache.
    await page.evaluate(async () => {
      const open = (name, upgrade) =>
        new Promise((resolve, reject) => {
          const req = indexedDB.open(name, 1);
          req.onupgradeneeded = () => upgrade(req.result);
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        });
      const log = await open("casefile-events", (db) => {
        const events = db.createObjectStore("events", { keyPath: "id" });
        for (const f of ["aggregate_id", "synced", "event_type", "timestamp"]) events.createIndex(f, f);
        events.createIndex("stamp", ["clock", "node_id"]);
        db.createObjectStore("meta");
        db.createObjectStore("aggregates");
        db.createObjectStore("quarantine", { keyPath: "id" });
      });
      await new Promise((resolve, reject) => {
        const tx = log.transaction("events", "readwrite");
        tx.objectStore("events").put({ id: "e-old", aggregate_id: "c-old", event_type: "case.created", timestamp: 1, clock: 1, node_id: "old", synced: 1, event: "{}" });
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
      });
      log.close();
      (await open("casefile-query-cache", (db) => db.createObjectStore("entries"))).close();
    });
    await signInAs(page, server, "casey");
    const shared = () => page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name).filter((n) => n === "casefile-events" || n === "casefile-query-cache"));
    await until(async () => (await shared()).length === 0, "the shared stores deleted");
    assert.ok((await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name))).includes("casefile-events:casey"), "her own log is there");
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("a session that ends keeps the person's work: after a reload her cases are still there, a change waits, and signing in again sends it once", async () => {
  const { server, context, page } = await caseyOnANewBrowser({ faults: true });
  const problems = watchProblems(page);
  try {
    // Her device's first catch-up reaches the end of the server's log, which
    // is empty (it ends at cursor 0); every later pull fails, so her own
    // case, sent, is never pulled back and the cursor stays at 0.
    await nav(page, "Sync").click();
    await until(async () => (await page.getByTestId("sync-last-pull").innerText()) !== "not yet", "the first catch-up");
    await setFaults(server, [{ path: "/api/v1/events", method: "GET", status: 503 }]);
    await newCase(page, "Before the session ended");
    await until(async () => (await onServer(server, "Before the session ended")).length === 1, "the first case on the server");
    // Every session of Casey ends (as when she signs out everywhere from
    // another device, or at the idle timeout).
    const ended = await page.evaluate(async () => {
      const list = await (await fetch("/api/v1/auth/sessions")).json();
      for (const s of list) await fetch(`/api/v1/auth/sessions/${s.id}`, { method: "DELETE", headers: { "x-casefile": "1", "content-type": "application/json" } });
      return (await fetch("/api/v1/auth/session")).status;
    });
    assert.equal(ended, 401, "the session has ended on the server");
    // A new start (here the Sync center's, whose storage figures are the
    // first to read the page-wide storage signal) still opens her stores.
    await page.goto(`${server.url}/sync`);
    await page.getByTestId("session-ended").waitFor({ timeout: 15_000 });
    await nav(page, "Cases").click();
    await page.getByText("Before the session ended").first().waitFor({ timeout: 15_000 });
    // A change made now waits for her, spending nothing.
    await newCase(page, "While the session was over");
    await page.getByTestId("sign-in-banner").getByText("sign in to send 1 change").waitFor({ timeout: 15_000 });
    assert.equal((await onServer(server, "While the session was over")).length, 0, "nothing reaches the server without a session");
    await page.screenshot({ path: path.join(OUTPUT, "session-ended.png") });
    // Signing in again (the form knows who) sends it, once, as her.
    await setFaults(server, []);
    await page.getByTestId("session-ended").click();
    assert.equal(await page.getByLabel("Name").inputValue(), "casey", "the form offers the same person");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await until(async () => (await onServer(server, "While the session was over")).length === 1, "the waiting case on the server");
    await page.getByTestId("sign-in-banner").waitFor({ state: "detached", timeout: 15_000 });
    assert.equal(await page.getByTestId("session-ended").count(), 0, "signed in again");
    assert.deepEqual(problems.fatal, [], "the app never broke");
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("on devices an administrator says are shared, sign-out never offers to keep unsent changes", async () => {
  const { server, context, page } = await caseyOnANewBrowser({ faults: true });
  try {
    // The administrator signs in (from a script) and marks devices shared.
    const headers = { origin: server.url, "content-type": "application/json", "x-casefile": "1" };
    const login = await fetch(`${server.url}/api/v1/auth/login`, { method: "POST", headers, body: JSON.stringify({ name: "admin", password: PASSWORD }) });
    assert.equal(login.status, 200, await login.clone().text());
    const cookie = login.headers.get("set-cookie").split(";")[0];
    const put = await fetch(`${server.url}/api/v1/admin/settings`, { method: "PUT", headers: { ...headers, cookie }, body: JSON.stringify({ shared_devices: true }) });
    assert.equal(put.status, 200, await put.clone().text());
    // Casey's next start reads it with her session.
    await page.reload();
    await page.getByTestId("user-menu").getByRole("button", { name: "Sign out" }).waitFor();
    await setFaults(server, [{ path: "/api/v1/events", method: "POST", status: 503, times: 20 }]);
    await newCase(page, "Unsent on a shared tablet");
    await page.getByTestId("user-menu").getByRole("button", { name: "Sign out" }).click();
    const dialog = page.getByTestId("sign-out-dialog");
    await dialog.getByText("1 change not on the server yet").waitFor();
    assert.equal(await dialog.getByRole("button", { name: "Keep on this device for me" }).count(), 0, "no Keep on a shared device");
    await dialog.getByRole("button", { name: /Discard/ }).waitFor();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await setFaults(server, []);
  } finally {
    await context.close();
    await server.dispose();
  }
});
