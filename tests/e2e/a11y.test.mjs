// Accessibility: axe-core on every page reports no serious or critical
// violations, online and with the server stopped (offline).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { launchBrowser, startServer, waitForController, ROOT, OUTPUT, until } from "./harness.mjs";

const AXE = readFileSync(path.join(ROOT, "node_modules/axe-core/axe.min.js"), "utf8");
let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

async function audit(page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    (await axe.run(document, { resultTypes: ["violations"] })).violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      nodes: v.nodes.length,
      target: v.nodes[0]?.target?.join(" "),
    })),
  );
  return result.filter((v) => v.impact === "serious" || v.impact === "critical");
}

test("every page has no serious or critical axe violations, online and offline", async () => {
  const server = await startServer({ seed: 8 });
  // axe is injected by the test, not the app: let it past the CSP.
  const context = await browser.newContext({ bypassCSP: true });
  try {
    const page = await context.newPage();
    await page.goto(server.url);
    await waitForController(page);
    const first = await (await fetch(`${server.url}/api/v1/cases?limit=1`)).json();
    const routes = ["/", "/cases", "/cases/new", `/cases/${first.items[0].id}`, "/sync", "/performance", "/sign-in"];
    const names = ["dashboard", "cases", "new-case", "case", "sync", "performance"];
    const found = [];
    for (const offline of [false, true]) {
      if (offline) await server.stop();
      for (const route of routes) {
        await page.goto(`${server.url}${route}`);
        await page.locator("main h1").first().waitFor();
        await new Promise((r) => setTimeout(r, 300));
        for (const v of await audit(page)) found.push({ route, offline, ...v });
        const name = names[routes.indexOf(route)];
        await page.screenshot({
          path: path.join(OUTPUT, `page-${name}-${offline ? "offline" : "online"}.png`),
          fullPage: true,
        });
      }
    }
    // A phone's width hides the brand's text (Lighthouse found the link
    // left without a name there): every page again at 390 px.
    await server.start();
    await page.setViewportSize({ width: 390, height: 844 });
    for (const route of routes) {
      await page.goto(`${server.url}${route}`);
      await page.locator("main h1").first().waitFor();
      await new Promise((r) => setTimeout(r, 300));
      for (const v of await audit(page)) found.push({ route, phone: true, ...v });
      // Every figure keeps room to be read (the dashboard's sync figures
      // once had a column of no width at this size).
      const squeezed = await page.evaluate(() =>
        [...document.querySelectorAll("main dd")]
          .filter((dd) => dd.textContent.trim())
          .filter((dd) => dd.getBoundingClientRect().width < 40 || dd.getBoundingClientRect().right > innerWidth)
          .map((dd) => dd.textContent.trim()),
      );
      for (const text of squeezed) found.push({ route, phone: true, squeezed: text });
      await page.screenshot({ path: path.join(OUTPUT, `page-${names[routes.indexOf(route)]}-phone.png`), fullPage: true });
    }
    console.log(`axe: ${routes.length} pages × online/offline/phone width, serious+critical violations: ${found.length}`);
    assert.deepEqual(found, []);
  } finally {
    await context.close();
    await server.dispose();
  }
});

/**
 * Presses Tab until the focused element matches `selector` (and has `text`,
 * if given), at most 60 times.
 */
async function tabTo(page, selector, text) {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press("Tab");
    const here = await page.evaluate(
      ([sel, want]) => {
        const el = document.activeElement;
        return !!el?.matches(sel) && (want === undefined || el.textContent.trim() === want);
      },
      [selector, text],
    );
    if (here) return;
  }
  throw new Error(`Tab never reached ${selector} ${text ?? ""}`);
}

test("a caseworker's day from the keyboard alone: create, change status, note, delete and Undo, Escape", async () => {
  const server = await startServer({ seed: 3 });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(server.url);
    await page.locator("main h1").first().waitFor();
    const key = (k) => page.keyboard.press(k);

    await tabTo(page, 'nav a[href="/cases/new"]');
    await key("Enter");
    await page.waitForURL(/\/cases\/new$/);
    await tabTo(page, "#title");
    await page.keyboard.type("Typed without a mouse");
    await tabTo(page, "button[type=submit]");
    await key("Enter");
    await page.waitForURL(/\/cases\/[0-9a-f-]{36}$/);
    await page.locator("h1", { hasText: "Typed without a mouse" }).waitFor();

    // Status by typeahead on the focused select.
    await tabTo(page, "[data-testid=set-status]");
    await page.keyboard.type("c");
    await page.locator(".case-badges .status-closed").waitFor();

    await tabTo(page, "#note-body");
    await page.keyboard.type("Called the client back.");
    await tabTo(page, "form button[type=submit]");
    await key("Enter");
    await page.getByText("Called the client back.").first().waitFor();
    // Escape dismisses the newest toast ("Note added.").
    await page.getByRole("status").filter({ hasText: "Note added." }).waitFor();
    await key("Escape");
    await page.getByText("Note added.").waitFor({ state: "detached" });

    await tabTo(page, "main button", "Delete case");
    await key("Enter");
    await page.getByText("Case deleted.").waitFor();
    await tabTo(page, "button", "Undo");
    await key("Enter");
    await page.getByRole("button", { name: "Delete case" }).waitFor();

    const id = page.url().split("/").pop();
    const onServer = await until(async () => {
      const r = await fetch(`${server.url}/api/v1/cases/${id}`);
      if (r.status !== 200) return false;
      const c = await r.json();
      return c.status === "closed" && !c.deleted && c;
    }, "the keyboard-made case on the server", 30_000);
    assert.equal(onServer.title, "Typed without a mouse");
    await page.screenshot({ path: path.join(OUTPUT, "keyboard-walkthrough.png"), fullPage: true });
  } finally {
    await context.close();
    await server.dispose();
  }
});
