// The app against a server that answers badly: HTML where JSON belongs,
// broken JSON, an empty 200, the wrong shape. Each read says clearly what
// happened and the app stays usable; a write whose answer is unreadable is
// kept and delivered exactly once when the server behaves again.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { launchBrowser, startServer, setFaults, until, waitForController, OUTPUT, serverCase } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

// name, body, content type, what the message must say
const BROKEN = [
  ["html", "<!doctype html><title>Bad gateway</title><h1>Bad gateway</h1>", "text/html", /a web page came instead of data/],
  ["malformed", '{"total": 3, "by_status": [', "application/json", /not valid JSON/],
  ["empty", "", "application/json", /the answer was empty/],
  ["wrong-shape", '{"hello": "world"}', "application/json", /missing field|invalid type|unknown field/],
];

test("a read answered with HTML, broken JSON, nothing or the wrong shape says so clearly", async () => {
  const server = await startServer({ seed: 4, faults: true });
  try {
    for (const [name, body, type, says] of BROKEN) {
      await setFaults(server, [{ path: "/api/v1/dashboard", status: 200, body, content_type: type }]);
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${server.url}/`);
      const alert = page.getByRole("alert").filter({ hasText: "Unexpected data from the server" });
      await alert.waitFor({ timeout: 20_000 });
      const text = await alert.innerText();
      assert.match(text, /cannot read .*request /s, `${name}: ${text}`);
      assert.match(text, says, `${name}: ${text}`);
      await page.screenshot({ path: path.join(OUTPUT, `bad-answer-${name}.png`) });
      // The rest of the app still works.
      await page.getByRole("link", { name: "Cases" }).click();
      await page.locator("table.cases tbody tr").first().waitFor();
      await context.close();
    }
  } finally {
    await server.dispose();
  }
});

test("a read that trickles in slower than the worker's 4 s timeout shows the last answer, marked offline data, and no error", async () => {
  const server = await startServer({ seed: 4, faults: true });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await waitForController(page);
    await page.reload();
    await page.locator("svg.chart").first().waitFor();
    await setFaults(server, [{ path: "/api/v1/dashboard", delay_ms: 9_000 }]);
    const started = Date.now();
    await page.reload();
    await page.getByTestId("online-indicator").filter({ hasText: "offline data" }).waitFor({ timeout: 15_000 });
    await page.locator("svg.chart").first().waitFor();
    const waited = Date.now() - started;
    console.log(`slow read: the worker answered from its cache after ${waited} ms (timeout 4 s, server 9 s)`);
    assert.ok(waited < 8_500, `served before the slow server answered (${waited} ms)`);
    assert.equal(await page.getByRole("alert").filter({ hasText: /Unexpected|could not/i }).count(), 0);
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("a write whose answer cannot be read is kept, and reaches the server once when it can", async () => {
  const server = await startServer({ seed: 2, faults: true });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${server.url}/cases/new`);
    await setFaults(server, [
      { path: "/api/v1/events", method: "POST", status: 200, body: '{"results": "nope"}' },
    ]);
    await page.getByLabel("Title").fill("Answered with nonsense");
    await page.getByRole("button", { name: "Create case" }).click();
    await page.waitForURL(/\/cases\/[0-9a-f-]{36}$/);
    const id = page.url().split("/").pop();
    await page.locator("h1", { hasText: "Answered with nonsense" }).waitFor();
    // Kept, visibly pending, with the reason in the sync center.
    await page.locator(".case-badges .badge.pending").waitFor();
    await page.goto(`${server.url}/sync`);
    await page.getByRole("alert").filter({ hasText: /cannot read|unexpected/i }).waitFor({ timeout: 20_000 });
    assert.equal((await fetch(`${server.url}/api/v1/cases/${id}`)).status, 404, "the fault kept it from the server");

    await setFaults(server, []);
    await page.getByTestId("sync-now").click();
    await until(async () => (await fetch(`${server.url}/api/v1/cases/${id}`)).status === 200, "delivered", 60_000);
    const log = await (await fetch(`${server.url}/api/v1/events?after=0&limit=1000`)).json();
    const mine = log.events.filter((e) => e.event.aggregate_id === id);
    assert.equal(mine.length, 1, "exactly once");
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("hostile and right-to-left titles render as text, everywhere they show", async () => {
  const server = await startServer({ seed: 1 });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.addInitScript(() => {
      window.__pwned = 0;
      window.__csp = [];
      document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective));
    });
    const titles = [
      "<script>window.__pwned++</script>",
      '"><img src=x onerror="window.__pwned++">',
      "שלום עולם — ملف القضية 📁🧾",
    ];
    const ids = [];
    for (const title of titles) {
      await page.goto(`${server.url}/cases/new`);
      await page.getByLabel("Title").fill(title);
      await page.getByRole("button", { name: "Create case" }).click();
      await page.waitForURL(/\/cases\/[0-9a-f-]{36}$/);
      // The heading holds exactly the typed text, as text.
      await page.locator("main h1").filter({ hasText: title }).waitFor();
      assert.equal(await page.locator("main h1").first().innerText(), title);
      ids.push(page.url().split("/").pop());
    }
    await page.goto(`${server.url}/cases`);
    for (const title of titles) {
      await page.locator("table.cases td.col-title a").filter({ hasText: title }).waitFor();
    }
    assert.equal(await page.locator("main img").count(), 0, "no element was injected");
    await page.goto(`${server.url}/`);
    await page.locator("main h1").first().waitFor();
    await page.screenshot({ path: path.join(OUTPUT, "hostile-titles.png"), fullPage: true });
    assert.equal(await page.evaluate(() => window.__pwned), 0, "no injected code ran");
    assert.deepEqual(await page.evaluate(() => window.__csp), []);
    // And the server stored them verbatim.
    for (const [i, id] of ids.entries()) {
      const c = await until(() => serverCase(server, id), "synced");
      assert.equal(c.title, titles[i]);
    }
  } finally {
    await context.close();
    await server.dispose();
  }
});
