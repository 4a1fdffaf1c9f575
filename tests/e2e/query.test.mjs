// The query cache against the real server: saved data on an offline cold
// start, the retry schedule for server errors, and no retry for a 404.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import {
  launchBrowser, startServer, setFaults, faultHits, waitForController, waitForSavedQueries, until, OUTPUT,
} from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

async function session(options, fn) {
  const server = await startServer(options);
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  try {
    await fn(server, context, await context.newPage());
  } finally {
    await context.close();
    await server.dispose();
  }
}

test("an offline cold start shows the last data at once", async () => {
  await session({ seed: 25 }, async (server, context, page) => {
    await page.goto(`${server.url}/cases`);
    await page.locator("table.cases tbody tr").first().waitFor();
    await waitForController(page);
    await waitForSavedQueries(page);

    await server.stop();
    const fresh = await context.newPage();
    await page.close();
    await fresh.goto(`${server.url}/cases`);
    // The app's own list (a screenful of the rows last shown may be painted
    // before it, see app.test.mjs), whole from its first render.
    const rows = fresh.locator("main#main table.cases tbody tr");
    await rows.first().waitFor({ timeout: 3_000 });
    assert.equal(await rows.count(), 25);
    await fresh.screenshot({ path: path.join(OUTPUT, "offline-cold-start.png") });

    // A page never visited has nothing saved: it says so, after retrying.
    await fresh.goto(`${server.url}/`);
    await fresh.getByText(/trying again \(attempt \d\)/).waitFor();
    await fresh.getByRole("alert").getByText("Can't reach the Casefile server").waitFor({ timeout: 15_000 });
  });
});

test("a server error is retried three times after 1, 2 and 4 s, then shown", async () => {
  await session({ seed: 3, faults: true }, async (server, _context, page) => {
    await setFaults(server, [{ path: "/api/v1/dashboard", status: 500 }]);
    // The page's clock moves only when the test says (paused, not
    // ticking along with real time): the gaps are exact.
    const start = Date.now();
    await page.clock.install({ time: start });
    await page.clock.pauseAt(start + 1000);
    await page.goto(`${server.url}/`);
    const hits = async () => (await faultHits(server)).filter((h) => h.path === "/api/v1/dashboard").length;
    for (const [i, gap] of [1000, 2000, 4000].entries()) {
      // Failure i + 1 is in the page (its retry timer set) before time moves.
      await page.getByText(`trying again (attempt ${i + 2})`).waitFor();
      await page.clock.runFor(gap - 1);
      assert.equal(await hits(), i + 1, `no retry ${i + 1} before ${gap} ms`);
      await page.clock.runFor(1);
      await until(async () => (await hits()) === i + 2, `retry ${i + 1} after ${gap} ms`);
    }
    const alert = page.getByRole("alert");
    await alert.waitFor();
    assert.match(await alert.innerText(), /500/);
    await page.clock.runFor(10 * 60_000);
    assert.equal(await hits(), 4, "one request and three retries, no more");
    // "Try again" starts over and succeeds once the fault is gone.
    await setFaults(server, []);
    await alert.getByRole("button", { name: "Try again" }).click();
    await page.locator("svg.chart").first().waitFor();
  });
});

test("a 404 is shown at once, without retrying", async () => {
  await session({ seed: 3, faults: true }, async (server, _context, page) => {
    await setFaults(server, [{ path: "/api/v1/dashboard", status: 404 }]);
    await page.clock.install();
    await page.goto(`${server.url}/`);
    // Shown with no time passing in the page: no retry delay came first.
    await page.getByRole("alert").waitFor();
    await page.clock.runFor(10 * 60_000);
    const hits = (await faultHits(server)).filter((h) => h.path === "/api/v1/dashboard");
    assert.equal(hits.length, 1, "never retried");
  });
});

test("the Performance page shows live cache figures, slow fetches and entries", async () => {
  await session({ seed: 5, faults: true }, async (server, _context, page) => {
    await setFaults(server, [{ path: "/api/v1/dashboard", delay_ms: 1200, times: 1 }]);
    await page.goto(`${server.url}/`);
    await page.locator("svg.chart").first().waitFor();
    await page.getByRole("link", { name: "Cases", exact: true }).click();
    await page.locator("table.cases tbody tr").first().waitFor();
    await page.getByRole("link", { name: "Performance" }).click();

    const entries = page.getByTestId("cache-entries").locator("tbody tr");
    await entries.first().waitFor();
    const keys = await entries.locator("td:first-child").allInnerTexts();
    // The header keeps the signed-in user's people (for the case forms).
    assert.deepEqual(keys.sort(), ['["cases","list",{}]', '["dashboard"]', '["people","sam"]']);
    // Both pages are gone: nobody observes either key any more (the
    // header still observes the people).
    await page.waitForFunction(() =>
      [...document.querySelectorAll("[data-testid=cache-entries] tbody tr")]
        .filter((tr) => !tr.cells[0].textContent.startsWith('["people"'))
        .every((tr) => tr.cells[3].textContent === "0"),
    );
    await page.getByTestId("slow-fetches").getByText('["dashboard"]').waitFor();
    // The event store in figures: the seeded log pulled to this device.
    const store = page.getByTestId("event-store");
    await page.waitForFunction(() => {
      const dd = [...document.querySelectorAll("[data-testid=event-store] dt")].find((dt) => dt.textContent === "Events");
      return dd && Number(dd.nextElementSibling.textContent) > 0;
    });
    await store.getByText("Quarantined (failed checksum)").waitFor();
    await page.screenshot({ path: path.join(OUTPUT, "performance.png"), fullPage: true });

    await entries.filter({ hasText: '["dashboard"]' }).getByRole("button", { name: "Remove" }).click();
    // The list and the people stay.
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=cache-entries] tbody tr").length === 2);
  });
});
