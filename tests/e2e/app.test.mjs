// The app as a person meets it: seeded cases, offline reloads, installability,
// and a clean CSP. Runs against the release build served by the real server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { launchBrowser, launchProfile, startServer, watchProblems, waitForController, OUTPUT, until } from "./harness.mjs";

const SEEDED = 40;
let browser;

before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

async function withServer(fn) {
  const server = await startServer({ seed: SEEDED });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  try {
    await fn(server, context);
  } finally {
    await context.close();
    await server.dispose();
  }
}

test("the Cases page lists the seeded cases", async () => {
  await withServer(async (server, context) => {
    const page = await context.newPage();
    await page.goto(`${server.url}/cases`);
    const rows = page.locator("table.cases tbody tr");
    await rows.first().waitFor();
    assert.equal(await rows.count(), SEEDED);
    await assert.doesNotReject(page.getByText(`Showing ${SEEDED} of ${SEEDED} cases`).waitFor());
    // Every seeded title is numbered #1000…; the list is newest first.
    const firstTitle = await rows.first().locator("td.col-title a").innerText();
    assert.match(firstTitle, /#1\d{3}$/);
    await page.screenshot({ path: path.join(OUTPUT, "cases.png"), fullPage: true });
  });
});

test("filtering by status narrows the list", async () => {
  await withServer(async (server, context) => {
    const page = await context.newPage();
    await page.goto(`${server.url}/cases`);
    await page.locator("table.cases tbody tr").first().waitFor();
    await page.getByLabel("Status").selectOption("closed");
    await page.waitForFunction(() =>
      [...document.querySelectorAll("table.cases tbody tr .badge[class*=status-]")].every((b) =>
        b.classList.contains("status-closed"),
      ),
    );
    const api = await (await fetch(`${server.url}/api/v1/cases?status=closed&limit=500`)).json();
    await page.getByText(`Showing ${api.items.length} of ${api.total} cases`).waitFor();
  });
});

test("the dashboard shows counts and charts", async () => {
  await withServer(async (server, context) => {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await page.locator("svg.chart").first().waitFor();
    assert.equal(await page.locator(".tile-total .tile-value").innerText(), String(SEEDED));
    await page.screenshot({ path: path.join(OUTPUT, "dashboard.png"), fullPage: true });
  });
});

test("every page runs under the CSP with no violations or errors", async () => {
  await withServer(async (server, context) => {
    const page = await context.newPage();
    const problems = watchProblems(page);
    await page.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) =>
        window.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`),
      );
    });
    const api = await (await fetch(`${server.url}/api/v1/cases?limit=1`)).json();
    for (const route of ["/", "/cases", `/cases/${api.items[0].id}`, "/cases/new", "/sync", "/performance"]) {
      await page.goto(`${server.url}${route}`);
      await page.locator("header.topbar").waitFor();
      await page.waitForLoadState("networkidle");
      const violations = await page.evaluate(() => window.__cspViolations);
      assert.deepEqual(violations, [], `CSP violations on ${route}`);
    }
    assert.deepEqual(problems.csp, []);
    assert.deepEqual(problems.errors, []);
    // The server heard of no violation either…
    const reports = async () =>
      (await fetch(`${server.url}/api/v1/csp-reports`, { headers: { authorization: `Bearer ${server.adminToken}` } })).json();
    assert.equal((await reports()).count, 0);
    // …and it would have: an inline script is blocked and reported.
    await page.evaluate(() => {
      const s = document.createElement("script");
      s.textContent = "window.__injected = true";
      document.body.appendChild(s);
    });
    const heard = await until(async () => {
      const r = await reports();
      return r.count > 0 && r;
    }, "the CSP report of an injected inline script");
    assert.match(heard.recent[0], /^script-src/);
    assert.equal(await page.evaluate(() => window.__injected), undefined, "the inline script did not run");
  });
});

test("the app is installable", async () => {
  const server = await startServer({ seed: 1 });
  const context = await launchProfile();
  try {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await waitForController(page);
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
    assert.deepEqual(installabilityErrors, []);
    const manifest = await cdp.send("Page.getAppManifest");
    assert.deepEqual(manifest.errors, []);
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("the shell reloads offline, and every route starts offline from a cold worker", async () => {
  await withServer(async (server, context) => {
    const page = await context.newPage();
    const problems = watchProblems(page);
    await page.goto(`${server.url}/sync`);
    await page.getByRole("heading", { name: "Sync center" }).waitFor();
    await waitForController(page);
    // The device has its own copy once the first pull is in ("Last
    // received" is set); only then can the list work with the server gone.
    const lastPull = page.locator("dl.sync-facts dt", { hasText: "Last received" }).locator("xpath=following-sibling::dd[1]");
    await until(async () => (await lastPull.innerText()) !== "not yet", "the first pull");

    await server.stop();
    await page.reload();
    await page.locator("header.topbar .brand").waitFor();
    await page.getByRole("heading", { name: "Sync center" }).waitFor();
    await page.screenshot({ path: path.join(OUTPUT, "offline-reload.png") });

    // Stop the worker itself, as the browser does when idle, and load cold.
    const cdp = await context.newCDPSession(page);
    await cdp.send("ServiceWorker.enable");
    await cdp.send("ServiceWorker.stopAllWorkers");
    await page.goto(`${server.url}/performance`);
    await page.getByRole("heading", { name: "Performance" }).waitFor();
    await page.goto(`${server.url}/sync`);
    await page.getByTestId("worker-status").getByText("Offline ready").waitFor();

    // Every route starts offline from a cold worker, deep links included,
    // with its own heading (the data it shows comes from the device).
    const first = page.locator("table.cases td.col-title a").first();
    await page.goto(`${server.url}/cases`);
    await first.waitFor();
    const caseTitle = await first.innerText();
    const casePath = await first.getAttribute("href");
    const routes = [
      ["/", "Dashboard"],
      ["/cases", "Cases"],
      ["/cases/new", "New case"],
      [casePath, caseTitle],
      [`${casePath}/edit`, "Edit case"],
      ["/sync", "Sync center"],
      ["/performance", "Performance"],
      ["/no/such/page", "Page not found"],
    ];
    for (const [route, heading] of routes) {
      await cdp.send("ServiceWorker.stopAllWorkers");
      await page.goto(`${server.url}${route}`);
      await page.locator("main h1").filter({ hasText: heading }).first().waitFor({ timeout: 10_000 });
    }
    // The header does not claim "Online" when the server cannot be reached.
    await page.getByTestId("online-indicator").filter({ hasText: "Server unreachable" }).waitFor({ timeout: 20_000 });
    assert.deepEqual(problems.csp, []);
  });
});

test("a page's chunk that fails to load is fetched again, and a page that cannot load says so and loads on Try again", async () => {
  const server = await startServer({ seed: 5 });
  // No worker: the page's own requests reach the network, where this test
  // drops them (a worker would answer from its precache).
  const context = await browser.newContext({ serviceWorkers: "block" });
  try {
    const page = await context.newPage();
    const problems = watchProblems(page);
    // Both routes are in place before the app starts: its background
    // preload of the pages' chunks (two seconds after the list) meets them
    // too, and cannot load a chunk before the test holds it.
    // The Sync center's chunk (shared with the Performance page): the
    // first request fails, and it is asked for again.
    const asked = [];
    await context.route(/\/app-[0-9a-f]{16}\/split_tools\.wasm$/, (route) => {
      asked.push(route.request().url());
      return asked.length === 1 ? route.abort("internetdisconnected") : route.continue();
    });
    // The case pages' chunk (the case form's) cannot be had at all: the
    // page says so in words (the app goes on running), and loads once it
    // can.
    let dropping = true;
    await context.route(/\/app-[0-9a-f]{16}\/split_case_pages\.wasm$/, (route) =>
      dropping ? route.abort("internetdisconnected") : route.continue(),
    );
    await page.goto(`${server.url}/cases`);
    await page.locator("table.cases td.col-title a").first().waitFor();

    await page.getByRole("link", { name: "Sync", exact: true }).click();
    await page.getByRole("heading", { name: "Sync center" }).waitFor();
    assert.equal(asked.length, 2, "fetched once more after the failure");

    await page.getByRole("link", { name: "New case" }).click();
    const unloaded = page.getByTestId("chunk-unloaded");
    await unloaded.getByText("This page is not on this device yet").waitFor();
    await page.screenshot({ path: path.join(OUTPUT, "chunk-unloaded.png") });
    dropping = false;
    await unloaded.getByRole("button", { name: "Try again" }).click();
    await page.getByRole("heading", { name: "New case" }).waitFor();
    assert.deepEqual(problems.fatal, [], "no panic: a failed load is an answer, not a crash");
    assert.deepEqual(problems.csp, []);
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("a repeat visit to the list paints the rows last shown before the rest of the app has loaded, for their user only, and a sign-out deletes them", async () => {
  const server = await startServer({ seed: 60 });
  // No worker: this test holds the signed-in chunk on the network.
  const context = await browser.newContext({ serviceWorkers: "block" });
  try {
    const page = await context.newPage();
    const problems = watchProblems(page);
    await page.goto(`${server.url}/cases`);
    await page.getByTestId("list-timing").waitFor({ timeout: 30_000 });
    const shown = await page.locator("main#main table.cases td.col-title a").allInnerTexts();
    const peekText = () => page.evaluate(() => localStorage.getItem("casefile.peek"));
    await until(async () => (await peekText()) !== null, "the list kept for the next start");
    const kept = JSON.parse(await peekText());
    assert.deepEqual(kept.rows.map((r) => r.title), shown.slice(0, kept.rows.length), "the first rows, in order");
    assert.equal(kept.rows.length, 20, "a screenful, not the page");
    assert.doesNotMatch(await peekText(), /description|tags/, "only what a row shows");

    // The next start, with the signed-in chunk held back: the kept rows
    // are on screen first, and cannot be acted on.
    let release;
    const held = new Promise((r) => (release = r));
    let asked = 0;
    await context.route(/\/app-[0-9a-f]{16}\/split_signed_in\.wasm$/, async (route) => {
      asked += 1;
      await held;
      await route.continue();
    });
    // On a phone, where the top bar wraps onto rows of its own.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload({ waitUntil: "commit" });
    const peek = page.locator(".peek");
    await peek.locator("table.cases tbody tr").first().waitFor();
    assert.deepEqual(await peek.locator("td.col-title a").allInnerTexts(), shown.slice(0, 20));
    await peek.getByText(/^Showing 20 of 60 cases$/).waitFor();
    await peek.locator("header .user").getByText("Sam Supervisor · supervisor").waitFor();
    assert.equal(await peek.locator('nav a[aria-current="page"]').innerText(), "Cases");
    assert.equal(await peek.getAttribute("inert"), "", "inert while the app loads");
    await until(async () => asked === 1, "the chunk asked for");
    assert.equal(await page.locator("main#main").count(), 0, "the app itself is not there yet");
    const peekTop = (await peek.locator("table.cases").boundingBox()).y;
    await page.screenshot({ path: path.join(OUTPUT, "list-peek.png") });
    release();
    await page.locator("main#main table.cases tbody tr").first().waitFor();
    await page.getByTestId("list-timing").waitFor();
    assert.equal(await peek.count(), 0, "the app replaced it");
    const appTop = (await page.locator("main#main table.cases").boundingBox()).y;
    assert.ok(Math.abs(appTop - peekTop) <= 2, `the rows stay where they were: ${peekTop} → ${appTop}`);
    await page.screenshot({ path: path.join(OUTPUT, "list-after-peek.png") });
    await page.setViewportSize({ width: 1280, height: 720 });
    await context.unroute(/\/app-[0-9a-f]{16}\/split_signed_in\.wasm$/);

    // A kept list that is not this user's (or does not read) is not shown.
    for (const other of [JSON.stringify({ ...kept, user: "kim" }), "{not json"]) {
      await page.evaluate((t) => localStorage.setItem("casefile.peek", t), other);
      let seen;
      await context.route(/\/app-[0-9a-f]{16}\/split_signed_in\.wasm$/, async (route) => {
        seen = await page.locator(".peek").count();
        await route.continue();
      });
      await page.reload();
      await page.locator("main#main table.cases tbody tr").first().waitFor();
      assert.equal(seen, 0, `no peek from ${other.slice(0, 12)}`);
      await context.unroute(/\/app-[0-9a-f]{16}\/split_signed_in\.wasm$/);
    }

    // Signing out deletes it.
    await page.getByTestId("list-timing").waitFor();
    await until(async () => JSON.parse((await peekText()) ?? "{}").user === kept.user, "kept again");
    await page.getByTestId("user-menu").getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/sign-in$/);
    assert.equal(await peekText(), null, "nothing of the list after a sign-out");
    assert.deepEqual(problems.fatal, []);
    assert.deepEqual(problems.csp, []);
  } finally {
    await context.close();
    await server.dispose();
  }
});
