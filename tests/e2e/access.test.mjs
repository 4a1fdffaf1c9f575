// Who may read and change what, in the browser against the real server
// (SPEC §8, §10): a caseworker of another team never sees a case, a
// supervisor's assignment reaches the caseworker live, and a session that
// ends while writes wait offline costs nothing: they wait with no attempt
// spent, the header asks for sign-in, and they land once as that user.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { launchBrowser, startServer, signedOut, signIn, sameOrigin, waitForController, until, serverCase, OUTPUT, createCase, setFaults } from "./harness.mjs";

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

/** This case's records in the user's event store: `[{ id, synced }]`. */
async function storedOf(page, user, caseId) {
  return page.evaluate(
    async ([name, id]) =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open(name);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const all = open.result.transaction("events").objectStore("events").getAll();
          all.onsuccess = () => {
            open.result.close();
            resolve(all.result.filter((r) => r.aggregate_id === id).map((r) => ({ id: r.id, synced: r.synced })));
          };
        };
      }),
    [`casefile-events:${user}`, caseId],
  );
}

test("a supervisor moves a case to another team while its caseworker has an unsent edit: it leaves her device, the edit is refused with its content, the new team's caseworker gets it live", async () => {
  const server = await startServer({ seed: 0, faults: true });
  const casey = await deviceOf(server, "casey");
  const kim = await deviceOf(server, "kim");
  const sam = await deviceOf(server, "sam");
  try {
    // Sam files a north case for Casey; it reaches her device's log.
    await sam.page.goto(`${server.url}/cases/new`);
    await sam.page.getByLabel("Title").fill("Moving case");
    await sam.page.getByLabel("Team").selectOption("north");
    await sam.page.getByLabel("Assignee").selectOption("casey");
    await sam.page.getByRole("button", { name: "Create case" }).click();
    await sam.page.waitForURL(/\/cases\/[0-9a-f-]{36}$/);
    const id = sam.page.url().split("/").pop();
    await until(async () => (await serverCase(server, id))?.assignee === "casey", "the case on the server");
    await casey.page.goto(`${server.url}/cases/${id}`);
    await casey.page.locator("h1", { hasText: "Moving case" }).waitFor();
    await until(async () => (await storedOf(casey.page, "casey", id)).length >= 1, "the case in Casey's log");
    // Her list, as last shown, is kept for her next start (src/peek.rs).
    const peek = () => casey.page.evaluate(() => localStorage.getItem("casefile.peek") ?? "");
    await casey.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Cases", exact: true }).click();
    await until(async () => (await peek()).includes("Moving case"), "the case in the list kept for her next start");
    await casey.page.goto(`${server.url}/cases/${id}`);
    await casey.page.locator("h1", { hasText: "Moving case" }).waitFor();

    // Casey's device loses the server (her requests only: the others work
    // on); she edits the case there.
    await setFaults(server, [{ path: "/api/", user: "casey", status: 503 }]);
    await casey.page.getByRole("link", { name: "Edit" }).click();
    await casey.page.getByLabel("Title").fill("Moving case, Casey's visit notes");
    await casey.page.getByRole("button", { name: "Save changes" }).click();
    await casey.page.locator("h1", { hasText: "Casey's visit notes" }).waitFor();

    // Kim (south) has her list open: not there.
    await kim.page.goto(`${server.url}/cases`);
    await kim.page.locator("main").getByText(/case/i).first().waitFor();
    assert.equal(await kim.page.getByText("Moving case").count(), 0);

    // Sam moves it to south, to Kim. The form offers south's people only.
    await sam.page.goto(`${server.url}/cases/${id}/edit`);
    await sam.page.getByLabel("Move to team").selectOption("south");
    const offered = await sam.page.getByLabel("Assignee").locator("option").allInnerTexts();
    assert.ok(!offered.some((o) => /\(casey\)$/.test(o)), `Casey is not in south: ${offered}`);
    await sam.page.getByLabel("Assignee").selectOption("kim");
    await sam.page.screenshot({ path: path.join(OUTPUT, "access-move-case.png"), fullPage: true });
    await sam.page.getByRole("button", { name: "Save changes" }).click();
    await until(async () => (await serverCase(server, id))?.assignee === "kim", "moved on the server");

    // Kim receives it live, with its history.
    await kim.page.getByText("Moving case").first().waitFor({ timeout: 15_000 });
    await until(async () => (await storedOf(kim.page, "kim", id)).length === 2, "created and moved, in Kim's log");

    // Casey is back: the case leaves her device; her edit stays, refused,
    // readable, and never reaches the server.
    await setFaults(server, []);
    await casey.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sync", exact: true }).click();
    await casey.page.getByTestId("sync-now").click();
    const problem = casey.page.getByTestId("sync-problem").filter({ hasText: /have access to this case/ });
    await problem.waitFor({ timeout: 30_000 });
    assert.match(await problem.getByTestId("problem-content").innerText(), /Casey's visit notes/);
    await problem.getByTestId("copy-problem").waitFor();
    await until(async () => {
      const left = await storedOf(casey.page, "casey", id);
      return left.length === 1 && left;
    }, "only her unsent edit left of the case");
    assert.doesNotMatch(await peek(), /Moving case/, "nor is it in the list kept for her next start");
    await casey.page.setViewportSize({ width: 390, height: 900 });
    await casey.page.screenshot({ path: path.join(OUTPUT, "access-revoked-phone.png"), fullPage: true });
    await casey.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Cases", exact: true }).click();
    await casey.page.locator("main").getByText(/case/i).first().waitFor();
    await until(async () => (await casey.page.locator("main").getByText("Moving case").count()) === 0, "gone from Casey's list");
    const status = await casey.page.evaluate(async (id) => (await fetch(`/api/v1/cases/${id}`)).status, id);
    assert.equal(status, 404, "and from the server's answers to her");
    const cached = await casey.page.evaluate(async (id) => {
      const hits = [];
      for (const name of await caches.keys()) {
        for (const r of await (await caches.open(name)).keys()) if (r.url.includes(id)) hits.push(r.url);
      }
      return hits;
    }, id);
    assert.deepEqual(cached, [], "no cached answer of the case is left");
    assert.equal((await serverCase(server, id)).title, "Moving case", "her edit never landed");
  } finally {
    for (const d of [casey, kim, sam]) await d.context.close();
    await server.dispose();
  }
});
