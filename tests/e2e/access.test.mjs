// Who may read and change what, in the browser against the real server
// (SPEC §8, §10): a caseworker of another team never sees a case, a
// supervisor's assignment reaches the caseworker live, and a session that
// ends while writes wait offline costs nothing: they wait with no attempt
// spent, the header asks for sign-in, and they land once as that user.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { launchBrowser, startServer, signedOut, signIn, sameOrigin, waitForController, until, serverCase, OUTPUT, createCase } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const PASSWORD = "casefile-demo";

async function deviceOf(server, name) {
  const context = signedOut(await browser.newContext());
  await signIn(context, { name, password: PASSWORD });
  const page = await context.newPage();
  await page.goto(server.url);
  await waitForController(page);
  await page.reload();
  await page.getByTestId("user-menu").getByText("Sign out").waitFor();
  return { context, page };
}

test("a caseworker of another team never sees the case; a supervisor's assignment reaches the caseworker live", async () => {
  const server = await startServer({ seed: 0 });
  const casey = await deviceOf(server, "casey");
  const kim = await deviceOf(server, "kim");
  const sam = await deviceOf(server, "sam");
  try {
    const id = await createCase(sam.page, server, "North team case");
    await until(async () => (await serverCase(server, id)) !== null, "the case on the server");

    // Kim (team south): not in her list, 404 for the case itself.
    await kim.page.goto(`${server.url}/cases`);
    await kim.page.getByText("North team case").waitFor({ state: "detached", timeout: 2_000 }).catch(() => {});
    assert.equal(await kim.page.getByText("North team case").count(), 0);
    const status = await kim.page.evaluate(async (id) => (await fetch(`/api/v1/cases/${id}`)).status, id);
    assert.equal(status, 404);
    const pulled = await kim.page.evaluate(async () => (await (await fetch("/api/v1/events?after=0")).json()).events.length);
    assert.equal(pulled, 0, "absent from her pull");

    // Casey (team north) has the case open; Sam assigns it to her; it
    // arrives on her page without a reload.
    await casey.page.goto(`${server.url}/cases/${id}`);
    await casey.page.locator("h1", { hasText: "North team case" }).waitFor();
    await sam.page.goto(`${server.url}/cases/${id}/edit`);
    await sam.page.getByLabel("Assignee").selectOption("casey");
    await sam.page.getByRole("button", { name: "Save changes" }).click();
    await sam.page.waitForURL(new RegExp(`/cases/${id}$`));
    await casey.page.locator("dd", { hasText: /^casey$/ }).first().waitFor({ timeout: 10_000 });
    // Now hers, she may change it; reassigning it is not hers to do.
    await casey.page.getByTestId("set-status").selectOption("in_review");
    await until(async () => (await serverCase(server, id))?.status === "in_review", "her change on the server");
    await casey.page.screenshot({ path: path.join(OUTPUT, "access-caseworker.png"), fullPage: true });

    // Sam runs both teams: he files a case in south, assigned to Kim, whom
    // the form offers by name among south's members (and not Casey).
    await sam.page.goto(`${server.url}/cases/new`);
    await sam.page.getByLabel("Title").fill("South team case");
    await sam.page.getByLabel("Team").selectOption("south");
    const offered = await sam.page.getByLabel("Assignee").locator("option").allInnerTexts();
    assert.ok(offered.some((o) => /\(kim\)$/.test(o)), `Kim on offer: ${offered}`);
    assert.ok(!offered.some((o) => /\(casey\)$/.test(o)), `Casey is not in south: ${offered}`);
    await sam.page.getByLabel("Assignee").selectOption("kim");
    await sam.page.screenshot({ path: path.join(OUTPUT, "access-new-case-team.png"), fullPage: true });
    await sam.page.getByRole("button", { name: "Create case" }).click();
    await sam.page.waitForURL(/\/cases\/[0-9a-f-]{36}$/);
    const southId = sam.page.url().split("/").pop();
    await until(async () => (await serverCase(server, southId))?.assignee === "kim", "the south case on the server");
    await kim.page.goto(`${server.url}/cases`);
    await kim.page.getByText("South team case").waitFor({ timeout: 10_000 });
    const caseyCanRead = await casey.page.evaluate(async (id) => (await fetch(`/api/v1/cases/${id}`)).status, southId);
    assert.equal(caseyCanRead, 404, "north's caseworker never reads it");
  } finally {
    for (const d of [casey, kim, sam]) await d.context.close();
    await server.dispose();
  }
});

test("a session that expires while writes wait offline: no attempt spent, sign in, and they land once as that user", async () => {
  // Short lifetimes by flags: idle 10 min, at most 1 h; the server comes
  // back with its clock 2 h on (injected, not waited for).
  const server = await startServer({ seed: 0, faults: true, args: ["--session-idle-secs", "600", "--session-lifetime-secs", "3600"] });
  const casey = await deviceOf(server, "casey");
  try {
    await casey.page.goto(`${server.url}/cases/new`);
    await casey.page.getByLabel("Title").waitFor();
    await server.stop();
    await casey.page.getByLabel("Title").fill("Written offline");
    await casey.page.getByRole("button", { name: "Create case" }).click();
    await casey.page.waitForURL(/\/cases\/[0-9a-f-]{36}$/);
    const id = casey.page.url().split("/").pop();
    await casey.page.locator("h1", { hasText: "Written offline" }).waitFor();

    // While she is offline her session expires: two hours pass.
    await server.start({ CASEFILE_CLOCK_SKEW_MS: String(2 * 3600 * 1000) });

    // Back online, the worker's replay meets 401: held, nothing spent.
    await casey.page.goto(`${server.url}/sync`);
    await casey.page.getByTestId("sync-now").click();
    const banner = casey.page.getByTestId("sign-in-banner");
    await banner.waitFor({ timeout: 20_000 });
    assert.match(await banner.innerText(), /Signed out — sign in to send 1 change/);
    const attempts = await casey.page.evaluate(
      () =>
        new Promise((resolve) => {
          const req = indexedDB.open("casefile-queue");
          req.onsuccess = () => {
            const all = req.result.transaction("queue").objectStore("queue").getAll();
            all.onsuccess = () => resolve(all.result.map(({ entry }) => [entry.attempts, entry.last_status]));
          };
        }),
    );
    assert.deepEqual(attempts, [[0, 401]]);
    assert.equal(await serverCase(server, id), null, "not applied as anyone");
    await casey.page.screenshot({ path: path.join(OUTPUT, "access-signed-out.png"), fullPage: true });

    // She signs in again; the held write lands once, as her.
    await banner.getByRole("link").click();
    await casey.page.waitForURL(/\/sign-in$/);
    await casey.page.getByLabel("Name").fill("casey");
    await casey.page.getByLabel("Password").fill(PASSWORD);
    await casey.page.getByRole("button", { name: "Sign in" }).click();
    await casey.page.waitForURL(`${server.url}/`);
    const onServer = await until(async () => serverCase(server, id), "the held write on the server", 30_000);
    assert.equal(onServer.title, "Written offline");
    await banner.waitFor({ state: "detached", timeout: 20_000 });
    const log = await (await fetch(`${server.url}/api/v1/events?after=0`)).json();
    assert.equal(log.events.filter((e) => e.event.aggregate_id === id).length, 1, "exactly once");
  } finally {
    await casey.context.close();
    await server.dispose();
  }
});
