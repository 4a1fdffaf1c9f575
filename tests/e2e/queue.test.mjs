// The service worker's write queue against the real server: offline writes
// answered 202 and replayed exactly once, the backoff schedule into the dead
// letter, a refusal dead-lettered at once, Retry and Discard, and a queue
// that outlives the page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { launchBrowser, startServer, setFaults, faultHits, waitForController, OUTPUT, until, serverCase, countRecords, createCase } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

async function eventsOf(server, id) {
  const log = await (await fetch(`${server.url}/api/v1/events?after=0&limit=1000`)).json();
  return log.events.filter((e) => e.event.aggregate_id === id);
}

/** A page under the worker, with the app started. */
async function controlledPage(context, server) {
  const page = await context.newPage();
  await page.goto(server.url);
  await waitForController(page);
  await page.reload();
  await page.locator("h1").first().waitFor();
  return page;
}

test("an offline write is queued by the worker (202) and reaches the server exactly once", async () => {
  const server = await startServer({ seed: 2 });
  const context = await browser.newContext();
  try {
    const page = await controlledPage(context, server);
    await server.stop();
    // The worker answers a failed write with 202 and its queue id.
    const answer = await page.evaluate(async () => {
      const r = await fetch("/api/v1/events", {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": "e2e-probe", "x-casefile": "1" },
        body: JSON.stringify({ events: [] }),
      });
      return { status: r.status, body: await r.json() };
    });
    assert.equal(answer.status, 202);
    assert.match(answer.body.queued, /^q\d+/);

    const id = await createCase(page, server, "Queued by the worker");
    await page.goto(`${server.url}/sync`);
    await until(async () => (await page.getByTestId("queued-write").count()) >= 2, "two queued writes");
    await page.screenshot({ path: path.join(OUTPUT, "sync-center-queued.png"), fullPage: true });

    await server.start();
    await until(async () => (await serverCase(server, id)) !== null, "the queued write on the server");
    await until(async () => (await page.getByTestId("queued-write").count()) === 0, "an empty queue", 30_000);
    const events = await eventsOf(server, id);
    assert.equal(events.length, 1, "applied exactly once");
    await page.getByTestId("pending-count").waitFor({ state: "detached", timeout: 20_000 });
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("server errors back off 5 s then 10 s into the dead letter; Retry delivers once the fault is gone", async () => {
  const server = await startServer({ seed: 2, faults: true });
  const context = await browser.newContext();
  try {
    const page = await controlledPage(context, server);
    await setFaults(server, [{ path: "/api/v1/events", method: "POST", status: 500 }]);
    const id = await createCase(page, server, "Hit by server errors");
    await page.goto(`${server.url}/sync`);
    const letter = page.getByTestId("dead-letter");
    await letter.waitFor({ timeout: 45_000 });
    const hits = (await faultHits(server)).filter((h) => h.path === "/api/v1/events");
    assert.equal(hits.length, 3, "the first try and two replays");
    const gaps = hits.slice(1).map((h, i) => h.at_ms - hits[i].at_ms);
    console.log(`queue: gaps between tries ${gaps.join(" ms, ")} ms (policy: 5 s, 10 s, +≤20 % jitter)`);
    assert.ok(gaps[0] >= 4_900 && gaps[0] < 7_500, `first gap ${gaps[0]}`);
    assert.ok(gaps[1] >= 9_900 && gaps[1] < 14_000, `second gap ${gaps[1]}`);
    await letter.getByText("case.created").waitFor();
    await page.screenshot({ path: path.join(OUTPUT, "sync-center-dead-letter.png"), fullPage: true });
    // Still shown on its case, waiting for a decision.
    assert.equal(await serverCase(server, id), null);

    await setFaults(server, []);
    await letter.getByRole("button", { name: "Retry" }).click();
    await until(async () => (await serverCase(server, id)) !== null, "the retried write on the server");
    await letter.waitFor({ state: "detached", timeout: 20_000 });
    assert.equal((await eventsOf(server, id)).length, 1);
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("a refused replay is dead-lettered at once, and Discard rolls the change back", async () => {
  const server = await startServer({ seed: 2, faults: true });
  const context = await browser.newContext();
  try {
    const page = await controlledPage(context, server);
    await server.stop();
    const id = await createCase(page, server, "Refused on replay");
    await page.locator(".case-badges .badge.pending").waitFor();
    await page.goto(`${server.url}/sync`);
    await until(async () => (await page.getByTestId("queued-write").count()) === 1, "the write in the queue");
    await server.start();
    await setFaults(server, [{ path: "/api/v1/events", method: "POST", status: 422 }]);
    await page.getByRole("button", { name: "Sync now" }).click();
    const letter = page.getByTestId("dead-letter");
    await letter.waitFor({ timeout: 30_000 });
    const hits = (await faultHits(server)).filter((h) => h.path === "/api/v1/events");
    assert.equal(hits.length, 1, "no retry after a refusal");
    await letter.getByText("422").first().waitFor();

    await letter.getByRole("button", { name: "Discard" }).click();
    await letter.waitFor({ state: "detached" });
    await page.goto(`${server.url}/cases/${id}`);
    await page.getByText("Case not found").waitFor();
    await page.goto(`${server.url}/sync`);
    await page.getByTestId("sync-problem").getByText("discarded by you").first().waitFor();
    assert.equal(await serverCase(server, id), null);
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("a queue left behind by a closed page drains when the app opens again", async () => {
  const server = await startServer({ seed: 2 });
  const context = await browser.newContext();
  try {
    const page = await controlledPage(context, server);
    await server.stop();
    const id = await createCase(page, server, "Left in the queue");
    await page.goto(`${server.url}/sync`);
    await until(async () => (await page.getByTestId("queued-write").count()) === 1, "one queued write");
    await page.close();
    await server.start();
    const again = await context.newPage();
    await again.goto(server.url);
    await until(async () => (await serverCase(server, id)) !== null, "the queue drained");
    assert.equal((await eventsOf(server, id)).length, 1);
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("a write over the server's rate limit gets 429, waits as told, and is delivered once", async () => {
  // One write a second per client (bursts of two); this test and the
  // browser share the loopback address, so the test can spend the budget.
  const server = await startServer({ seed: 1, env: { CASEFILE_WRITE_RATE: "1" } });
  const context = await browser.newContext();
  try {
    const page = await controlledPage(context, server);
    let spending = true;
    const retryAfter = [];
    const spend = (async () => {
      while (spending) {
        const r = await fetch(`${server.url}/api/v1/events`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: '{"events": []}',
        });
        if (r.status === 429) retryAfter.push(Number(r.headers.get("retry-after")));
        // Tight: a token the limiter refills is taken before the worker's
        // write can win it (at 50 ms it sometimes did, under load).
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    await new Promise((res) => setTimeout(res, 300));
    const id = await createCase(page, server, "Written at the rate limit");
    // The worker kept it, saying why.
    await page.goto(`${server.url}/sync`);
    await page.getByTestId("queued-write").filter({ hasText: "429" }).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: path.join(OUTPUT, "rate-limited.png"), fullPage: true });
    assert.equal(await serverCase(server, id), null, "not through while the budget is spent");
    spending = false;
    await spend;
    assert.ok(retryAfter.length > 0 && retryAfter.every((s) => s >= 1), `Retry-After ${retryAfter}`);
    await until(() => serverCase(server, id), "delivered after the wait", 60_000);
    assert.equal((await eventsOf(server, id)).length, 1, "exactly once");
  } finally {
    await context.close();
    await server.dispose();
  }
});

// Issue 20: a device's events of one case reach the server in the order it
// made them, whichever path each takes. Device B creates a case with the
// server stopped (the worker queues the push); the server comes back and
// the worker's first replay meets a 503, so the creation waits in the queue
// for its retry time; meanwhile B edits the case's title. On the old code the
// page pushed the edit at once, straight past the queued creation, and the
// server's "no case has id" stood as a final refusal: a lost edit.
test("an edit made while the case's creation waits in the worker's queue lands after it, never refused", async () => {
  const server = await startServer({ seed: 2, faults: true });
  const deviceA = await browser.newContext();
  const deviceB = await browser.newContext();
  try {
    const a = await controlledPage(deviceA, server);
    const b = await controlledPage(deviceB, server);
    await b.goto(`${server.url}/cases/new`);
    await b.getByLabel("Title").waitFor();
    await server.stop();
    await b.getByLabel("Title").fill("Made while the server was down");
    await b.getByRole("button", { name: "Create case" }).click();
    await b.waitForURL(/\/cases\/[0-9a-f-]{36}$/);
    const id = b.url().split("/").pop();
    await until(async () => (await countRecords(b, "casefile-queue", "queue")) === 1, "the creation in the worker's queue");

    await server.start();
    await setFaults(server, [{ path: "/api/v1/events", method: "POST", status: 503, times: 1 }]);
    await b.goto(`${server.url}/sync`);
    await b.getByTestId("sync-now").click();
    await until(async () => (await faultHits(server)).some((h) => h.path === "/api/v1/events"), "the replay meeting the 503");
    // The creation now waits ~5 s for its retry; the page has the edit.
    await b.goto(`${server.url}/cases/${id}/edit`);
    await b.getByLabel("Title").fill("Edited while it waited");
    await b.getByRole("button", { name: "Save changes" }).click();
    await b.locator("h1", { hasText: "Edited while it waited" }).waitFor();

    const onServer = await until(async () => {
      const c = await serverCase(server, id);
      return c?.title === "Edited while it waited" && c;
    }, "the edit on the server", 45_000);
    assert.equal(onServer.version, 2, "the creation, then the edit");
    const log = await eventsOf(server, id);
    assert.deepEqual(log.map((e) => e.event.event_type), ["case.created", "case.updated"]);
    // Nothing refused on B, and device A sees the edited title.
    await b.goto(`${server.url}/sync`);
    assert.equal(await b.getByText("no case has id").count(), 0, "no refusal in B's sync center");
    await a.goto(`${server.url}/cases/${id}`);
    await a.locator("h1", { hasText: "Edited while it waited" }).waitFor({ timeout: 20_000 });
    await b.screenshot({ path: path.join(OUTPUT, "order-edit-after-queued-creation.png"), fullPage: true });
  } finally {
    await deviceA.close();
    await deviceB.close();
    await server.dispose();
  }
});

// SPEC §10: a 401 is not a failure of the write. Workbox's background sync
// drops a replay that gets 401; here the worker holds it with no attempt
// spent, never dead-letters it, the header asks for sign-in, and it lands
// exactly once when the server takes it again.
test("a write answered 401 waits for sign-in with no attempt spent, then lands once", async () => {
  const server = await startServer({ seed: 2, faults: true });
  const context = await browser.newContext();
  try {
    const page = await controlledPage(context, server);
    await setFaults(server, [{ path: "/api/v1/events", method: "POST", status: 401 }]);
    const id = await createCase(page, server, "Written as the session ended");
    const banner = page.getByTestId("sign-in-banner");
    await banner.waitFor({ timeout: 20_000 });
    assert.match(await banner.innerText(), /Signed out — sign in to send 1 change/);
    await page.goto(`${server.url}/sync`);
    for (let i = 0; i < 3; i++) await page.getByTestId("sync-now").click();
    await until(async () => (await faultHits(server)).filter((h) => h.path === "/api/v1/events").length >= 2, "replays meeting the 401");
    const queued = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const req = indexedDB.open("casefile-queue");
          req.onsuccess = () => {
            const all = req.result.transaction("queue").objectStore("queue").getAll();
            all.onsuccess = () => resolve(all.result.map(({ entry: e }) => ({ attempts: e.attempts, last_status: e.last_status, headers: JSON.stringify(e.headers) })));
          };
        }),
    );
    assert.equal(queued.length, 1);
    assert.equal(queued[0].attempts, 0, "no attempt spent");
    assert.equal(queued[0].last_status, 401);
    assert.doesNotMatch(queued[0].headers, /cookie|authorization/i, "no credentials stored");
    assert.equal(await page.getByTestId("dead-letter").count(), 0, "never dead-lettered");
    await page.screenshot({ path: path.join(OUTPUT, "sign-in-banner.png") });

    await setFaults(server, []);
    await page.getByTestId("sync-now").click();
    await until(async () => (await serverCase(server, id)) !== null, "the held write on the server");
    await banner.waitFor({ state: "detached", timeout: 20_000 });
    assert.equal((await eventsOf(server, id)).length, 1, "exactly once");
  } finally {
    await context.close();
    await server.dispose();
  }
});
