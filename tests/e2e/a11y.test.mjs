// Accessibility: axe-core on every page reports no serious or critical
// violations, online and with the server stopped (offline).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { launchBrowser, startServer, waitForController, ROOT } from "./harness.mjs";

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
    const routes = ["/", "/cases", "/cases/new", `/cases/${first.items[0].id}`, "/sync", "/performance"];
    const found = [];
    for (const offline of [false, true]) {
      if (offline) await server.stop();
      for (const route of routes) {
        await page.goto(`${server.url}${route}`);
        await page.locator("main h1").first().waitFor();
        await new Promise((r) => setTimeout(r, 300));
        for (const v of await audit(page)) found.push({ route, offline, ...v });
      }
    }
    console.log(`axe: ${routes.length} pages × online/offline, serious+critical violations: ${found.length}`);
    assert.deepEqual(found, []);
  } finally {
    await context.close();
    await server.dispose();
  }
});
