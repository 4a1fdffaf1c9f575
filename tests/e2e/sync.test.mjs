// Local-first writes end to end: every write lands in the device's event
// store at once, reaches the real server exactly once, survives the server
// being stopped and a reload, and two devices converge on the server's state.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { launchBrowser, startServer, setFaults, watchProblems, waitForController, countRecords, OUTPUT, until } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

async function api(server, p) {
  const res = await fetch(`${server.url}${p}`);
  return { status: res.status, body: res.status === 200 ? await res.json() : null };
}


async function createCase(page, server, title, { priority = "high" } = {}) {
  await page.goto(`${server.url}/cases/new`);
  await page.getByLabel("Title").fill(title);
  await page.getByLabel("Priority").selectOption(priority);
  await page.getByLabel("Assignee").selectOption("casey");
  await page.getByLabel("Tags (comma-separated)").fill("housing, urgent");
  await page.getByRole("button", { name: "Create case" }).click();
  await page.waitForURL(/\/cases\/[0-9a-f-]{36}$/);
  await page.locator("h1", { hasText: title }).waitFor();
  return page.url().split("/").pop();
}

test("a new case shows at once, reaches the server once, and the pending count clears", async () => {
  const server = await startServer({ seed: 5 });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const problems = watchProblems(page);
    await page.goto(server.url);
    // An invalid form says why and saves nothing.
    await page.goto(`${server.url}/cases/new`);
    await page.getByRole("button", { name: "Create case" }).click();
    await page.getByText("A title is required.").waitFor();
    assert.match(page.url(), /\/cases\/new$/);

    const id = await createCase(page, server, "Boiler broken in flat 4");
    const onServer = await until(async () => {
      const r = await api(server, `/api/v1/cases/${id}`);
      return r.status === 200 && r.body;
    }, "the case on the server");
    assert.equal(onServer.title, "Boiler broken in flat 4");
    assert.equal(onServer.priority, "high");
    assert.deepEqual(onServer.tags, ["housing", "urgent"]);
    await page.getByTestId("pending-count").waitFor({ state: "detached" });

    // A status change and a note: visible at once, then on the server.
    await page.getByTestId("set-status").selectOption("in_review");
    await page.locator(".case-badges .status-in_review").waitFor();
    await page.getByLabel("Add a note").fill("Engineer booked for Tuesday.");
    await page.getByRole("button", { name: "Add note" }).click();
    await page.getByText("Engineer booked for Tuesday.").waitFor();
    await until(async () => {
      const c = await api(server, `/api/v1/cases/${id}`);
      const n = await api(server, `/api/v1/cases/${id}/notes`);
      return c.body?.status === "in_review" && n.body?.length === 1;
    }, "the update and the note on the server");
    // Exactly once: the server's log holds each event one time.
    const log = await api(server, `/api/v1/events?after=0&limit=1000`);
    const mine = log.body.events.filter((e) => e.event.aggregate_id === id);
    assert.deepEqual(
      mine.map((e) => e.event.event_type),
      ["case.created", "case.updated", "note.added"],
    );
    assert.equal(new Set(mine.map((e) => e.event.id)).size, 3);

    // The audit trail: every event with its stamp, and the past replayed.
    const rows = page.getByTestId("history-event");
    await until(async () => (await rows.count()) === 3, "three events in the history");
    const texts = await rows.allInnerTexts();
    assert.match(texts[0], /^\(\d+, [0-9a-f]{8}\)/);
    assert.match(texts[0], /case\.created/);
    assert.match(texts[1], /status → In review/);
    assert.match(texts[2], /note\.added/);
    assert.ok(texts.every((t) => t.includes("on the server")));
    await rows.nth(0).getByRole("button", { name: /As of here|Show the case/ }).click();
    const past = page.getByTestId("past-state");
    await past.getByText("As it was after event 1").waitFor();
    assert.match(await past.innerText(), /Status\s+Open/);
    assert.match(await past.innerText(), /Notes\s+0/);
    await page.screenshot({ path: path.join(OUTPUT, "audit-trail.png"), fullPage: true });
    assert.deepEqual(problems.errors, []);
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("with the server stopped, writes show at once, survive a reload and sync when it returns", async () => {
  const server = await startServer({ seed: 5 });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(server.url);
    await waitForController(page);
    await page.goto(`${server.url}/cases`);
    await page.locator("table.cases tbody tr").first().waitFor();
    await server.stop();

    const id = await createCase(page, server, "Written while the server was down", { priority: "critical" });
    await page.locator(".case-badges .badge.pending").waitFor();
    await page.getByTestId("set-status").selectOption("closed");
    await page.locator(".case-badges .status-closed").waitFor();
    await page.getByTestId("pending-count").filter({ hasText: "2 pending" }).waitFor();

    // Reload with the server still down: the worker serves the app, the
    // store still has both writes.
    await page.reload();
    await page.locator("h1", { hasText: "Written while the server was down" }).waitFor();
    await page.locator(".case-badges .status-closed").waitFor();
    await page.locator(".case-badges .badge.pending").waitFor();
    await page.goto(`${server.url}/cases`);
    const row = page.locator("table.cases tbody tr", { hasText: "Written while the server was down" });
    await row.locator(".badge.pending").waitFor();
    await page.screenshot({ path: path.join(OUTPUT, "offline-pending.png"), fullPage: true });

    await server.start();
    const onServer = await until(async () => {
      const r = await api(server, `/api/v1/cases/${id}`);
      return r.status === 200 && r.body.status === "closed" && r.body;
    }, "the offline writes on the server", 60_000);
    assert.equal(onServer.priority, "critical");
    await page.getByTestId("pending-count").waitFor({ state: "detached", timeout: 20_000 });
    await row.locator(".badge.pending").waitFor({ state: "detached", timeout: 20_000 });
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("two devices editing one case converge on the server's state; a second tab follows without reload", async () => {
  const server = await startServer({ seed: 5 });
  const deviceA = await browser.newContext();
  const deviceB = await browser.newContext();
  try {
    const a = await deviceA.newPage();
    const b = await deviceB.newPage();
    const id = await createCase(a, server, "Shared case");
    await until(async () => (await api(server, `/api/v1/cases/${id}`)).status === 200, "creation synced");
    // Device A has a second tab on the same case.
    const a2 = await deviceA.newPage();
    await a2.goto(`${server.url}/cases/${id}`);
    await a2.locator("h1", { hasText: "Shared case" }).waitFor();
    await b.goto(`${server.url}/cases/${id}`);
    await b.locator("h1", { hasText: "Shared case" }).waitFor();
    await waitForController(b);

    // B goes offline (server down for it and everyone) and changes the
    // status; A changes the priority and the status once the server is back.
    await server.stop();
    await b.getByTestId("set-status").selectOption("closed");
    await b.locator(".case-badges .badge.pending").waitFor();
    await server.start();
    await a.goto(`${server.url}/cases/${id}`);
    await a.locator("h1", { hasText: "Shared case" }).waitFor();
    await a.getByTestId("set-priority").selectOption("low");
    await a.getByTestId("set-status").selectOption("in_review");

    // The second tab of A shows A's changes without a reload.
    await a2.locator(".case-badges .prio-low").waitFor();

    // Both devices and the server agree once everything is synced.
    const final = await until(async () => {
      const server_ = (await api(server, `/api/v1/cases/${id}`)).body;
      const shown = async (p) =>
        p.evaluate(() => ({
          status: document.querySelector(".case-badges [class*=status-]")?.className,
          priority: document.querySelector(".case-badges [class*=prio-]")?.className,
          pending: !!document.querySelector(".case-badges .badge.pending"),
        }));
      const [sa, sb] = [await shown(a), await shown(b)];
      const want = { status: `badge status-${server_.status}`, priority: `badge prio-${server_.priority}`, pending: false };
      const same = JSON.stringify(sa) === JSON.stringify(want) && JSON.stringify(sb) === JSON.stringify(want);
      return same && server_;
    }, "both devices showing the server's state", 60_000);
    assert.equal(final.priority, "low", "A's priority stands");
    // Nothing was applied twice.
    const log = (await api(server, `/api/v1/events?after=0&limit=1000`)).body.events;
    const ids = log.map((e) => e.event.id);
    assert.equal(new Set(ids).size, ids.length);
    await b.screenshot({ path: path.join(OUTPUT, "two-devices.png"), fullPage: true });

    // B's socket reconnects as soon as its sync reaches the server again,
    // not after the backoff it grew while the server was down (up to 30 s).
    await b.locator("html[data-live=up]").waitFor({ timeout: 10_000 });
    // Both online: A's next change reaches B through the live notice, with
    // no reload, focus or polling interval involved (fallback pulls are 15 s).
    const started = Date.now();
    await a.getByTestId("set-status").selectOption("open");
    await b.locator(".case-badges .status-open").waitFor({ timeout: 5_000 });
    console.log(`live: a change on device A showed on device B after ${Date.now() - started} ms`);
  } finally {
    await deviceA.close();
    await deviceB.close();
    await server.dispose();
  }
});

// Regression (chaos seed 2): the case page rebuilt its note form on every
// change of the case, so a note being typed vanished when another device's
// change arrived, and "Add note" then saved nothing.
test("a note being typed survives another device's change arriving", async () => {
  const server = await startServer({ seed: 2 });
  const deviceA = await browser.newContext();
  const deviceB = await browser.newContext();
  try {
    const a = await deviceA.newPage();
    const b = await deviceB.newPage();
    const id = await createCase(a, server, "Typed over a live change");
    await until(async () => (await api(server, `/api/v1/cases/${id}`)).status === 200, "creation synced");
    await b.goto(`${server.url}/cases/${id}`);
    await b.getByTestId("set-status").waitFor();

    await a.getByLabel("Add a note").fill("Half-written note");
    await a.getByLabel("Add a note").focus();
    await b.getByTestId("set-status").selectOption("closed");
    await a.locator(".case-badges .status-closed").waitFor({ timeout: 10_000 });
    assert.equal(await a.getByLabel("Add a note").inputValue(), "Half-written note", "the draft is kept");
    await a.getByRole("button", { name: "Add note" }).click();
    await a.locator(".note", { hasText: "Half-written note" }).waitFor();
    await until(async () => (await api(server, `/api/v1/cases/${id}/notes`)).body?.length === 1, "the note on the server");
  } finally {
    await deviceA.close();
    await deviceB.close();
    await server.dispose();
  }
});

test("delete shows an Undo toast that restores the case; a refused write rolls back with an error toast naming the reason", async () => {
  const server = await startServer({ seed: 2, faults: true });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    // The page's timers run on Playwright's clock: the toasts' 4 s passes
    // when the test says so, not in real time.
    await page.clock.install();
    const id = await createCase(page, server, "Delete me, then undo");
    await page.getByTestId("toast").filter({ hasText: "Case created." }).waitFor();
    await until(async () => (await api(server, `/api/v1/cases/${id}`)).status === 200, "creation synced");

    await page.getByRole("button", { name: "Delete case" }).click();
    const toast = page.getByTestId("toast").filter({ hasText: "Case deleted." });
    await toast.waitFor();
    assert.equal(await toast.getAttribute("role"), "status");
    await page.locator(".case-badges .badge.deleted").waitFor();
    await toast.getByRole("button", { name: "Undo" }).click();
    await page.locator(".case-badges .badge.deleted").waitFor({ state: "detached" });
    await until(async () => {
      const c = (await api(server, `/api/v1/cases/${id}`)).body;
      return c && c.deleted === false && c.version >= 3;
    }, "delete and restore on the server");

    // The server refuses the next write: it shows at once, then rolls back
    // with an error toast that says why.
    await setFaults(server, [{ path: "/api/v1/events", method: "POST", status: 422, times: 1 }]);
    await page.getByTestId("set-priority").selectOption("critical");
    await page.locator(".case-badges .prio-critical").waitFor();
    const error = page.getByRole("alert").filter({ hasText: "refused" });
    await error.waitFor({ timeout: 15_000 });
    assert.match(await error.innerText(), /422/);
    await page.locator(".case-badges .prio-critical").waitFor({ state: "detached" });
    await page.screenshot({ path: path.join(OUTPUT, "refused-toast.png") });
    // Errors stay until dismissed; Escape dismisses the newest toast.
    await page.clock.fastForward(4_500);
    assert.equal(await error.count(), 1);
    assert.equal(await page.getByTestId("toast").filter({ hasText: "Case created." }).count(), 0, "success toasts go after 4 s");
    await page.keyboard.press("Escape");
    await error.waitFor({ state: "detached" });
    assert.notEqual((await api(server, `/api/v1/cases/${id}`)).body.priority, "critical");
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("editing a case sends only the changed fields; invalid input says why and saves nothing", async () => {
  const server = await startServer({ seed: 2 });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const id = await createCase(page, server, "Before the edit");
    await page.getByRole("link", { name: "Edit" }).click();
    await page.waitForURL(/\/edit$/);
    await page.getByLabel("Title").fill("   ");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("A title is required.").waitFor();
    await page.getByLabel("Title").fill("After the edit");
    await page.getByLabel("Assignee").selectOption("sam");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.waitForURL(new RegExp(`/cases/${id}$`));
    await page.locator("h1", { hasText: "After the edit" }).waitFor();
    const onServer = await until(async () => {
      const c = (await api(server, `/api/v1/cases/${id}`)).body;
      return c?.title === "After the edit" && c;
    }, "the edit on the server");
    assert.equal(onServer.assignee, "sam");
    assert.deepEqual(onServer.tags, ["housing", "urgent"], "untouched fields stay");
    const log = (await api(server, `/api/v1/events?after=0&limit=1000`)).body.events;
    const update = log.find((e) => e.event.aggregate_id === id && e.event.event_type === "case.updated");
    assert.deepEqual(Object.keys(update.event.data).sort(), ["assignee", "title"]);
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("a manual conflict is shown side by side, field by field, and the choice reaches the server", async () => {
  const server = await startServer({ seed: 2 });
  const deviceA = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const deviceB = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const a = await deviceA.newPage();
    const b = await deviceB.newPage();
    const id = await createCase(a, server, "Contested case", { priority: "medium" });
    await until(async () => (await api(server, `/api/v1/cases/${id}`)).status === 200, "creation synced");
    // Both devices ask to decide conflicts themselves.
    for (const p of [a, b]) {
      await p.goto(`${server.url}/sync`);
      await p.getByTestId("conflict-policy").selectOption("manual");
      await waitForController(p);
      await p.goto(`${server.url}/cases/${id}`);
      await p.locator("h1", { hasText: "Contested case" }).waitFor();
    }
    // With the server down, both change the status to different values
    // from the same version; A also raises the priority.
    await server.stop();
    await a.getByTestId("set-status").selectOption("closed");
    await a.getByTestId("set-priority").selectOption("critical");
    await b.getByTestId("set-status").selectOption("in_review");
    await a.locator(".case-badges .badge.pending").waitFor();
    await b.locator(".case-badges .badge.pending").waitFor();
    await server.start();
    for (const p of [a, b]) await p.goto(`${server.url}/sync`);

    // Whichever reached the server second holds a conflict for its person.
    const [loser, table] = await until(async () => {
      for (const p of [a, b]) {
        const t = p.getByTestId("conflict");
        if (await t.count()) return [p, t];
      }
      return false;
    }, "a parked conflict on one device", 60_000);
    const status = table.locator("tr[data-field=status]");
    await status.waitFor();
    const cells = await status.locator("td").allInnerTexts();
    const onServer = (await api(server, `/api/v1/cases/${id}`)).body;
    const mine = loser === a ? "Closed" : "In review";
    const theirs = loser === a ? "In review" : "Closed";
    assert.deepEqual(cells.slice(0, 3), ["Open", mine, theirs], "before, mine, theirs");
    assert.equal(onServer.status, loser === a ? "in_review" : "closed");
    await loser.screenshot({ path: path.join(OUTPUT, "conflict.png"), fullPage: true });

    // Keep mine for the status, from the keyboard.
    await status.getByLabel("Mine").focus();
    await loser.keyboard.press("Space");
    // Before Apply, the other device changes the status again and this one
    // receives it: "theirs" shows the server's case now, and the choice
    // made stays made (a refresh once drew the table anew, back on Theirs,
    // and "theirs" was never read again).
    const winner = loser === a ? b : a;
    const held = () => countRecords(loser, "casefile-events:sam", "events");
    const before = await held();
    await winner.goto(`${server.url}/cases/${id}`);
    await winner.locator("h1", { hasText: "Contested case" }).waitFor();
    await winner.getByTestId("set-status").selectOption("open");
    await until(async () => (await held()) > before, "the other device's write received");
    await until(async () => (await status.locator("td.theirs").innerText()) === "Open", "theirs read again");
    assert.equal(await loser.getByTestId("sync-problem").count(), 1, "one conflict on screen");
    assert.equal(await status.getByLabel("Mine").isChecked(), true, "the choice survives a sync");
    await loser.getByRole("button", { name: "Apply my choices" }).click();
    await table.waitFor({ state: "detached" });
    const resolved = await until(async () => {
      const c = (await api(server, `/api/v1/cases/${id}`)).body;
      return c.status === (loser === a ? "closed" : "in_review") && c;
    }, "the chosen value on the server", 60_000);
    // The change that did not conflict (A's priority) stands either way.
    assert.equal(resolved.priority, "critical");
    const log = (await api(server, `/api/v1/events?after=0&limit=1000`)).body.events.filter(
      (e) => e.event.aggregate_id === id,
    );
    const ids = log.map((e) => e.event.id);
    assert.equal(new Set(ids).size, ids.length, "nothing applied twice");
  } finally {
    await deviceA.close();
    await deviceB.close();
    await server.dispose();
  }
});
