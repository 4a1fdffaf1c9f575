// The app against a fleet (issue 15): two server instances on one
// PostgreSQL database, both listed as the app's API origins
// (`--api-origins`). The page spreads its requests over both; one instance
// is killed mid-session, and reads and writes carry on through the other
// with nothing lost.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { launchBrowser, startServer, waitForController, serverCase, createCase, until, OUTPUT, ROOT } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A new, empty database on the test PostgreSQL (scripts/pg.sh). */
function freshDatabase() {
  const admin = execFileSync("bash", [path.join(ROOT, "scripts/pg.sh")]).toString().trim();
  const name = `casefile_fleet_${process.pid}_${Date.now()}`;
  execFileSync("psql", [admin, "-qc", `CREATE DATABASE ${name}`]);
  return admin.replace(/\/[^/]*$/, `/${name}`);
}

test("the app on two instances: one is killed mid-session and reads and writes carry on through the other", async () => {
  const database = freshDatabase();
  const ports = [await freePort(), await freePort()];
  const origins = ports.map((p) => `http://127.0.0.1:${p}`);
  const env = (port) => ({
    DATABASE_URL: database,
    CASEFILE_ADDR: `127.0.0.1:${port}`,
    CASEFILE_API_ORIGINS: origins.join(","),
    // Each request in turn, so both instances are seen serving this page
    // (the default, rendezvous, keeps each path on one of them).
    CASEFILE_API_BALANCE: "round-robin",
  });
  const a = await startServer({ seed: 30, env: env(ports[0]) });
  const b = await startServer({ env: env(ports[1]) });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const served = new Set();
    page.on("request", (r) => {
      if (r.url().includes("/api/v1/")) served.add(new URL(r.url()).origin);
    });
    await page.goto(`${a.url}/cases`);
    await page.locator("table.cases tbody tr").first().waitFor();
    await waitForController(page);
    const before = await createCase(page, a, "Written with both up");
    await until(async () => (await serverCase(b, before)) !== null, "the first case, read on B");
    assert.deepEqual([...served].sort(), [...origins].sort(), "requests went to both instances");

    // A dies. The page (its shell from the worker) carries on through B.
    await a.stop();
    const afterId = await createCase(page, a, "Written with A down");
    await page.getByTestId("set-status").selectOption("closed");
    const onB = await until(async () => {
      const c = await serverCase(b, afterId);
      return c?.status === "closed" && c;
    }, "the write made after A died, on B", 60_000);
    assert.equal(onB.title, "Written with A down");
    // Reads too: the list shows both new cases, fetched through B.
    await page.getByRole("link", { name: "Cases", exact: true }).click();
    await page.locator("table.cases tbody tr", { hasText: "Written with A down" }).waitFor({ timeout: 30_000 });
    await page.locator("table.cases tbody tr", { hasText: "Written with both up" }).waitFor();
    await page.getByTestId("pending-count").waitFor({ state: "detached", timeout: 30_000 });
    await page.screenshot({ path: path.join(OUTPUT, "fleet-one-down.png"), fullPage: true });
    // Nothing lost or doubled: each case once on B, with its events.
    const log = (await (await fetch(`${b.url}/api/v1/events?after=0&limit=1000`)).json()).events;
    const ids = log.map((e) => e.event.id);
    assert.equal(new Set(ids).size, ids.length, "no event applied twice");
    for (const id of [before, afterId]) {
      assert.ok(log.some((e) => e.event.aggregate_id === id && e.event.event_type === "case.created"), id);
    }
  } finally {
    await context.close();
    await a.dispose();
    await b.dispose();
  }
});
