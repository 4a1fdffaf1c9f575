// The service worker as a person meets it: API reads answered from its cache
// (and said to be offline data) when the server is gone, and a new build
// that waits until the person chooses to reload.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { launchBrowser, startServer, setFaults, until, waitForController, ROOT, OUTPUT } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const dropQueryCache = (page) =>
  page.evaluate(
    () =>
      new Promise((resolve) => {
        const req = indexedDB.deleteDatabase("casefile-query-cache:sam");
        req.onsuccess = req.onerror = req.onblocked = () => resolve();
      }),
  );

test("with the server gone, API reads come from the worker's cache, marked as offline data", async () => {
  const server = await startServer({ seed: 12 });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(server.url);
    await waitForController(page);
    await page.goto(`${server.url}/cases`);
    await page.locator("table.cases tbody tr").first().waitFor();
    await page.getByTestId("online-indicator").filter({ hasText: "Online" }).waitFor();

    // The worker marks what it answers from its cache; the event log never is.
    const marked = await page.evaluate(async () => {
      const r = await fetch("/api/v1/cases?limit=100");
      return r.headers.get("x-casefile-offline");
    });
    assert.equal(marked, null, "a live answer is not marked");
    await server.stop();
    const offline = await page.evaluate(async () => {
      const r = await fetch("/api/v1/cases?limit=100");
      const body = await r.json();
      let log = "answered";
      try {
        await fetch("/api/v1/events?after=0");
      } catch {
        log = "network error";
      }
      return { marked: r.headers.get("x-casefile-offline"), items: body.items.length, log };
    });
    assert.ok(Number(offline.marked) > 0, "marked with when it was stored");
    assert.equal(offline.items, 12);
    assert.equal(offline.log, "network error");

    // The app, with no saved query cache, still shows the list and says why.
    await dropQueryCache(page);
    await page.reload();
    await page.locator("table.cases tbody tr").first().waitFor();
    assert.equal(await page.locator("table.cases tbody tr").count(), 12);
    await page.getByTestId("online-indicator").filter({ hasText: "Server unreachable · offline data" }).waitFor();
    await page.screenshot({ path: path.join(OUTPUT, "offline-data.png") });

    await server.start();
    await page.getByTestId("online-indicator").filter({ hasText: "Online" }).waitFor({ timeout: 30_000 });
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("a new build waits, the banner offers it, and Reload switches to it with the write queue intact", async () => {
  const dist = mkdtempSync(path.join(tmpdir(), "casefile-dist-"));
  cpSync(path.join(ROOT, "dist"), dist, { recursive: true });
  const server = await startServer({ seed: 3, dist, faults: true });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(server.url);
    await waitForController(page);
    await page.reload();
    await page.locator("h1").first().waitFor();
    const oldVersion = readFileSync(path.join(dist, "sw.js"), "utf8").match(/const VERSION = "([^"]+)"/)[1];
    // A write the server keeps failing: it waits in the worker's queue.
    await setFaults(server, [{ path: "/api/v1/events", method: "POST", status: 503 }]);
    await page.goto(`${server.url}/cases/new`);
    await page.getByLabel("Title").fill("Written before the update");
    await page.getByRole("button", { name: "Create case" }).click();
    await page.waitForURL(/\/cases\/[0-9a-f-]{36}$/);
    const id = page.url().split("/").pop();
    await page.goto(`${server.url}/sync`);
    await page.getByTestId("queued-write").waitFor({ timeout: 20_000 });

    // Deploy a "new build": the worker script changes, so the browser installs it.
    const sw = readFileSync(path.join(dist, "sw.js"), "utf8");
    writeFileSync(path.join(dist, "sw.js"), sw.replace(oldVersion, "e2e-next-build"));
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
    const banner = page.getByTestId("update-banner");
    await banner.waitFor({ timeout: 20_000 });
    // It waits: the page is still under the old worker.
    const before = await page.evaluate(async () => (await caches.keys()).filter((k) => k.startsWith("casefile-precache-")));
    assert.ok(before.includes(`casefile-precache-${oldVersion}`));
    await page.screenshot({ path: path.join(OUTPUT, "update-banner.png") });

    await Promise.all([page.waitForEvent("load"), banner.getByRole("button", { name: "Reload" }).click()]);
    const after = await until(() => page.evaluate(async () => {
      const keys = await caches.keys();
      const pre = keys.filter((k) => k.startsWith("casefile-precache-"));
      return pre.length === 1 && pre[0] === "casefile-precache-e2e-next-build" ? pre : null;
    }), "only the new build's precache");
    assert.deepEqual(after, ["casefile-precache-e2e-next-build"]);
    await page.getByTestId("update-banner").waitFor({ state: "detached" });
    // The new worker has the old worker's queue; once the server recovers, it drains.
    await page.locator("[data-testid=queued-write], [data-testid=dead-letter]").first().waitFor({ timeout: 20_000 });
    await setFaults(server, []);
    await page.getByRole("button", { name: "Sync now" }).click();
    const letter = page.getByTestId("dead-letter");
    if (await letter.count()) await letter.getByRole("button", { name: "Retry" }).click();
    const deadline = Date.now() + 40_000;
    for (;;) {
      const r = await fetch(`${server.url}/api/v1/cases/${id}`);
      if (r.status === 200) break;
      if (Date.now() > deadline) throw new Error("the queued write did not survive the update");
      await new Promise((r2) => setTimeout(r2, 300));
    }
  } finally {
    await context.close();
    await server.dispose();
    rmSync(dist, { recursive: true, force: true });
  }
});

