// The chaos driver (SPEC §8): a seeded random schedule of user actions on two
// devices (device A with two tabs, device B with one), interleaved with
// faults — the server stopped, 5xx bursts, added latency, a response lost
// after the server committed, a tab closed and reopened, a reload with a
// non-empty queue, a new build deployed — then a settle phase and the checks:
// every event created on a client is on the server exactly once or visible
// in a dead letter / conflict / refused view; every client's case list equals
// the server's; Lamport stamps are unique per node and never reused.
//
// `runChaos({ seed, actions })` returns the run's table; `tests/e2e/chaos.test.mjs`
// runs a few fixed seeds, `scripts/soak.sh` a long soak.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { OUTPUT, ROOT, launchBrowser, setFaults, signIn, startServer, until, waitForController, watchProblems } from "./harness.mjs";

/** A small seeded generator (mulberry32): the same seed gives the same run. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    chance: (p) => next() < p,
  };
}

const STATUSES = ["open", "in_review", "closed"];
const PRIORITIES = ["low", "medium", "high", "critical"];
// `synced` values of the event store (src/store/schema.rs).
const SYNC_STATE = { 0: "pending", 1: "synced", 2: "refused", 3: "overruled", 4: "parked", 5: "queued", 6: "dead" };
const WAITING = new Set([0, 5, 6]);
const VISIBLE_UNSENT = new Set([2, 3, 4, 6]);

/** Everything a device's event store holds: its node, clock, events; and its worker queue. */
async function readDevice(page) {
  return page.evaluate(async () => {
    const open = (name) =>
      new Promise((resolve, reject) => {
        const req = indexedDB.open(name);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    const all = (db, store) =>
      new Promise((resolve, reject) => {
        if (!db.objectStoreNames.contains(store)) return resolve([]);
        const req = db.transaction(store).objectStore(store).getAll();
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    const get = (db, store, key) =>
      new Promise((resolve, reject) => {
        const req = db.transaction(store).objectStore(store).get(key);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    const names = (await indexedDB.databases()).map((d) => d.name);
    const events = await open("casefile-events:sam");
    const out = {
      node: await get(events, "meta", "node_id"),
      clock: await get(events, "meta", "clock"),
      events: (await all(events, "events")).map((r) => ({
        id: r.id,
        aggregate_id: r.aggregate_id,
        event_type: r.event_type,
        clock: r.clock,
        node_id: r.node_id,
        synced: r.synced,
        sync_error: r.sync_error,
      })),
      quarantined: (await all(events, "quarantine")).length,
      queued: 0,
      dead: 0,
    };
    events.close();
    if (names.includes("casefile-queue")) {
      const queue = await open("casefile-queue");
      out.queued = (await all(queue, "queue")).length;
      out.dead = (await all(queue, "dead")).length;
      queue.close();
    }
    return out;
  });
}

async function serverEvents(server) {
  const events = [];
  let after = 0;
  for (;;) {
    const page = await (await fetch(`${server.url}/api/v1/events?after=${after}&limit=1000`)).json();
    events.push(...page.events.map((e) => e.event));
    after = page.next_cursor;
    if (!page.has_more) return events;
  }
}

async function serverCases(server) {
  const cases = [];
  let cursor = "";
  for (;;) {
    const page = await (await fetch(`${server.url}/api/v1/cases?limit=500${cursor ? `&cursor=${cursor}` : ""}`)).json();
    cases.push(...page.items);
    if (!page.next_cursor) return cases;
    cursor = encodeURIComponent(page.next_cursor);
  }
}

/** The case list a device shows (its own copy), every page, as plain rows. */
async function shownCases(page, base) {
  await page.goto(`${base}/cases`);
  await page.getByTestId("list-timing").or(page.getByText("No cases match")).first().waitFor({ timeout: 20_000 });
  const rows = [];
  for (;;) {
    rows.push(
      ...(await page.locator("table.cases tbody tr").evaluateAll((trs) =>
        trs.map((tr) => ({
          id: tr.querySelector("a").getAttribute("href").split("/").pop(),
          title: tr.querySelector("a").textContent,
          status: tr.querySelector("[class*=status-]").className.match(/status-(\w+)/)[1],
          priority: tr.querySelector("[class*=prio-]").className.match(/prio-(\w+)/)[1],
          assignee: tr.children[3].textContent,
          pending: !!tr.querySelector(".badge.pending"),
        })),
      )),
    );
    const next = page.locator("nav.pager button", { hasText: "Next" });
    if (!(await next.count()) || (await next.isDisabled())) return rows;
    const at = await page.getByTestId("page-of").innerText();
    await next.click();
    await until(async () => (await page.getByTestId("page-of").innerText()) !== at, "the next page");
  }
}

/**
 * One chaos run. Returns `{ seed, actions, faults, counts, problems }`;
 * `problems` lists every broken invariant in words (empty when all hold).
 */
export async function runChaos({ seed, actions: total = 30, log = () => {} }) {
  const r = rng(seed);
  // Choices inside a fault variant, apart from the schedule's stream (so
  // adding a variant does not reshuffle every seed's schedule).
  const side = rng(seed ^ 0x5eed);
  let reopens = 0;
  const dist = mkdtempSync(path.join(tmpdir(), "casefile-chaos-dist-"));
  cpSync(path.join(ROOT, "dist"), dist, { recursive: true });
  const server = await startServer({ faults: true, dist });
  const browser = await launchBrowser();
  const deviceA = await browser.newContext();
  const deviceB = await browser.newContext();
  const tally = { actions: {}, faults: {}, refusals: {} };
  const bump = (t, k) => (t[k] = (t[k] || 0) + 1);
  const created = []; // case ids, in order
  const expected = []; // { context, case, type }: an event each finished step made
  const titles = new Map(); // id -> the title this run gave it
  const pageErrors = [];
  const trail = []; // what happened, in order, for a failure's message
  const stalls = []; // steps the browser did not finish in time (reported)
  const failures = []; // steps that failed twice (the run fails)
  let offline = 0; // actions left before the server comes back
  let signedOut = 0; // actions left before the person signs in again
  let builds = 0;
  let edits = 0;

  const newTab = async (context, name) => {
    const page = await context.newPage();
    const problems = watchProblems(page);
    page.on("dialog", (d) => d.dismiss());
    // Requests still open, to say what a stalled navigation waits for.
    const open = new Map();
    page.on("request", (r) => open.set(r, Date.now()));
    page.on("requestfinished", (r) => open.delete(r));
    page.on("requestfailed", (r) => open.delete(r));
    const waitingFor = () =>
      [...open].map(([r, t]) => `${r.method()} ${new URL(r.url()).pathname} ${Date.now() - t} ms${r.serviceWorker() ? " (worker)" : ""}`).slice(0, 6).join(", ") || "nothing";
    const tab = { name, context, page, problems, waitingFor };
    return tab;
  };
  const tabs = [await newTab(deviceA, "A1"), await newTab(deviceA, "A2"), await newTab(deviceB, "B")];
  // A navigation that has not loaded in 15 s is tried once more and
  // reported (seen once in CI right after a deploy, not reproduced since).
  const goto = async (tab, route) => {
    const target = `${server.url}${route}`;
    if (tab.page.url() === target) return;
    try {
      await tab.page.goto(target, { timeout: 15_000 });
    } catch (e) {
      if (!/Timeout/.test(e.message)) throw e;
      const workers = tab.context.serviceWorkers().map((w) => new URL(w.url()).pathname).join(", ");
      stalls.push(`${tab.name} ${route} after ${trail.slice(-3).join(", ")}; open requests: ${tab.waitingFor()}; workers: ${workers || "none"}`);
      await tab.page.goto(target, { timeout: 30_000 });
    }
  };
  // Opens a case; false when this device cannot change it yet (it has not
  // pulled it, and the page shows the server's copy, an error or "not found").
  const openCase = async (tab, id) => {
    await goto(tab, `/cases/${id}`);
    const page = tab.page;
    const actions = page.getByTestId("set-status");
    const other = page.getByRole("heading", { name: "Case not found" }).or(page.locator(".panel-error")).or(page.locator("article.case"));
    await actions.or(other).first().waitFor({ timeout: 15_000 });
    if (await actions.count()) return true;
    return actions.waitFor({ timeout: 3_000 }).then(() => true, () => false);
  };

  // Picks (with `rand`) another value in one of the open case page's selects.
  const pickAnother = async (tab, select, values, rand) => {
    const now = await tab.page.getByTestId(select).inputValue();
    const next = rand.pick(values.filter((v) => v !== now));
    await tab.page.getByTestId(select).selectOption(next);
    return next;
  };
  // Changes one of the case page's selects and waits for its badge.
  const change = async (tab, id, select, values, badge) => {
    if (!(await openCase(tab, id))) return false;
    const next = await pickAnother(tab, select, values, r);
    await tab.page.locator(`.case-badges .${badge}-${next}`).waitFor();
    return true;
  };
  const act = {
    async create(tab) {
      await goto(tab, "/cases/new");
      const title = `Chaos ${seed}-${created.length + 1} ${r.pick(["rent", "boiler", "benefits", "school", "damp"])}`;
      await tab.page.getByLabel("Title").fill(title);
      await tab.page.getByLabel("Priority").selectOption(r.pick(PRIORITIES));
      await tab.page.getByRole("button", { name: "Create case" }).click();
      await tab.page.waitForURL(/\/cases\/[0-9a-f-]{36}$/);
      const id = tab.page.url().split("/").pop();
      created.push(id);
      titles.set(id, title);
      await tab.page.locator("h1", { hasText: title }).waitFor();
      return true;
    },
    status: (tab, id) => change(tab, id, "set-status", STATUSES, "status"),
    priority: (tab, id) => change(tab, id, "set-priority", PRIORITIES, "prio"),
    async edit(tab, id) {
      if (!(await openCase(tab, id))) return false;
      if (await tab.page.getByRole("button", { name: "Restore case" }).count()) return false;
      await goto(tab, `/cases/${id}/edit`);
      // Assignees are users of the case's team (the demo's north: sam, casey).
      const assignee = r.pick(["sam", "casey"]);
      const select = tab.page.getByLabel("Assignee");
      // Signed out, the team's members cannot be listed: nothing to pick.
      await tab.page.getByRole("button", { name: "Save changes" }).waitFor();
      if (!(await select.locator(`option[value="${assignee}"]`).count())) return false;
      const same = (await select.inputValue()) === assignee;
      edits++;
      await select.selectOption(assignee);
      await tab.page.getByRole("button", { name: "Save changes" }).click();
      await tab.page.waitForURL(new RegExp(`/cases/${id}$`));
      await tab.page.getByText(assignee).first().waitFor();
      // Saving an unchanged form writes nothing.
      return same ? "unchanged" : true;
    },
    async note(tab, id) {
      if (!(await openCase(tab, id))) return false;
      const body = `Note ${seed}-${r.int(1e6)}`;
      await tab.page.getByLabel("Add a note").fill(body);
      await tab.page.getByRole("button", { name: "Add note" }).click();
      // Signed out, the form says so and writes nothing (a note names its
      // author).
      const refused = tab.page.locator(".field-error", { hasText: "Sign in to add notes." });
      await tab.page.getByText(body).and(tab.page.locator("ul.notes p")).or(refused).first().waitFor();
      return (await refused.count()) ? false : true;
    },
    async delete(tab, id) {
      if (!(await openCase(tab, id))) return false;
      const restore = tab.page.getByRole("button", { name: "Restore case" });
      if (await restore.count()) {
        await restore.click();
        await tab.page.getByRole("button", { name: "Delete case" }).waitFor();
        return "restored";
      }
      await tab.page.getByRole("button", { name: "Delete case" }).click();
      const toast = tab.page.locator(".toast", { hasText: "Case deleted." });
      if (r.chance(0.5)) {
        await toast.getByRole("button", { name: "Undo" }).click();
        await tab.page.getByRole("button", { name: "Delete case" }).waitFor();
      } else {
        await restore.waitFor();
      }
      return true;
    },
  };

  const fault = {
    async offline() {
      await server.stop();
      offline = 2 + r.int(4);
    },
    async burst() {
      await setFaults(server, [{ path: "/api/v1/events", method: "POST", status: r.pick([500, 503]), times: 1 + r.int(3) }]);
    },
    async latency() {
      await setFaults(server, [{ path: "/api/v1/", delay_ms: 300 + r.int(1200), times: 3 + r.int(6) }]);
    },
    // Every session of the user ends (as at its idle timeout): the devices'
    // writes meet 401 and must wait, spending nothing, until the person
    // signs in again a few actions later.
    async session_expired() {
      const sessions = await (await fetch(`${server.url}/api/v1/auth/sessions`)).json();
      for (const s of sessions) await fetch(`${server.url}/api/v1/auth/sessions/${s.id}`, { method: "DELETE" });
      signedOut = 2 + r.int(4);
    },
    async lost_response() {
      await setFaults(server, [{ path: "/api/v1/events", method: "POST", status: 503, times: 1, after_commit: true }]);
    },
    async reopen_tab() {
      const i = r.int(tabs.length);
      const old = tabs[i];
      // Once in three, mid-sync: change a case and close the tab as soon
      // as its push is on the wire (the answer is lost to the page; the
      // worker or the next push must settle it exactly once).
      // Every third time, the tab's renderer crashes right after a change,
      // while its IndexedDB write may be under way (CDP Page.crash).
      const variant = reopens++ % 3;
      if (variant === 2 && created.length && old.page.url() !== "about:blank" && (await openCase(old, side.pick(created)).catch(() => false))) {
        const cdp = await old.context.newCDPSession(old.page);
        await pickAnother(old, "set-priority", PRIORITIES, side);
        // Page.crash never answers (the renderer is gone): wait for the
        // page's crash event instead, for at most 5 s.
        const crashed = old.page.waitForEvent("crash", { timeout: 5_000 }).catch(() => {});
        cdp.send("Page.crash").catch(() => {});
        await crashed;
        bump(tally.faults, "reopen_tab:crash");
      } else if (variant === 1 && !offline && created.length && old.page.url() !== "about:blank") {
        const id = side.pick(created);
        const pushed = old.page
          .waitForRequest((q) => q.method() === "POST" && q.url().endsWith("/api/v1/events"), { timeout: 5_000 })
          .catch(() => null);
        if (await openCase(old, id).catch(() => false)) {
          await pickAnother(old, "set-priority", PRIORITIES, side);
          bump(tally.faults, (await pushed) ? "reopen_tab:mid_push" : "reopen_tab:before_push");
        }
      }
      pageErrors.push(...old.problems.errors.map((e) => `${old.name}: ${e}`));
      await old.page.close();
      tabs[i] = await newTab(old.context, old.name);
      await goto(tabs[i], r.pick(["/", "/cases", "/sync"]));
    },
    async reload() {
      const tab = r.pick(tabs);
      if (tab.page.url() === "about:blank") return;
      await tab.page.reload();
    },
    async deploy() {
      const file = path.join(dist, "sw.js");
      const sw = readFileSync(file, "utf8");
      const version = sw.match(/const VERSION = "([^"]+)"/)[1];
      writeFileSync(file, sw.replace(version, `chaos-${seed}-build-${++builds}`));
      if (offline) return; // the browsers find it when the server is back
      const tab = r.pick(tabs);
      if (tab.page.url() === "about:blank") return;
      await tab.page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.update()).catch(() => {});
      const banner = tab.page.getByTestId("update-banner");
      try {
        await banner.waitFor({ timeout: 10_000 });
        await Promise.all([tab.page.waitForEvent("load"), banner.getByRole("button", { name: "Reload" }).click()]);
      } catch {
        // The browser may take longer to fetch the new worker; the next
        // navigation finds it.
      }
    },
  };

  /** The person signs in again on both devices. */
  const signInAgain = async () => {
    signedOut = 0;
    for (const context of [deviceA, deviceB]) {
      context.__signedInto = null;
      await signIn(context);
    }
    trail.push("signed in again");
    log("  signed in again");
  };

  const started = Date.now();
  try {
    // Every tab loads the app once online, so its worker is installed.
    for (const tab of tabs) {
      await goto(tab, "/");
      await waitForController(tab.page);
    }
    for (let n = 0; n < total; n++) {
      if (offline && --offline === 0) await server.start();
      if (signedOut && !offline && --signedOut === 0) await signInAgain();
      if (!offline && r.chance(0.2)) {
        const name = r.pick(Object.keys(fault));
        bump(tally.faults, name);
        trail.push(`fault ${name}`);
        log(`  fault ${name}`);
        await fault[name]();
      }
      const tab = r.pick(tabs);
      let name = created.length === 0 || r.chance(0.25) ? "create" : r.pick(["status", "priority", "edit", "note", "delete"]);
      const id = r.pick(created);
      let did;
      try {
        did = await act[name](tab, id);
      } catch (e) {
        // A browser step may flake once: it is reported and tried again.
        // A step that fails twice is a broken UI and fails the run.
        const shot = path.join(OUTPUT, `chaos-seed-${seed}-stall-${stalls.length + 1}.png`);
        await tab.page.screenshot({ path: shot, fullPage: true, timeout: 5_000 }).catch(() => {});
        stalls.push(`action ${n + 1} (${tab.name} ${name}): ${e.message.split("\n")[0]} after ${trail.slice(-4).join(", ")}; open requests: ${tab.waitingFor()} (${shot}); retried`);
        try {
          did = await act[name](tab, id);
          name = `${name} retried`;
        } catch (again) {
          failures.push(`action ${n + 1} (${tab.name} ${name}) failed twice: ${again.message.split("\n")[0]} (${shot})`);
          did = false;
          name = `${name} failed`;
        }
      }
      if (did && did !== "unchanged") {
        const base = name.replace(/ retried$/, "");
        const type = { create: "case.created", note: "note.added", delete: did === "restored" ? "case.restored" : "case.deleted" }[base] ?? "case.updated";
        expected.push({ context: tab.context, case: base === "create" ? created[created.length - 1] : id, type });
      }
      bump(tally.actions, did || name.endsWith("failed") ? name : `${name} skipped`);
      trail.push(`${tab.name} ${name}${did ? "" : " skipped"}`);
      log(`  ${tab.name} ${name}${did ? "" : " skipped"}`);
    }
    if (offline) await server.start();
    offline = 0;
    if (signedOut) await signInAgain();
    await setFaults(server, []);

    // Settle: as a person would, open the Sync center, press Sync now and
    // retry every dead letter until every device is quiet and has pulled
    // everything the server has.
    const deadLettered = new Set();
    let settled = null;
    const deadline = Date.now() + 120_000;
    let unsettled = [];
    let lastRead = null;
    const problems = [];
    while (!settled) {
      // Not settling is a broken invariant (something stays unsynced); the
      // checks still run on the last reading, to say what is wrong.
      if (Date.now() > deadline && lastRead) {
        for (const tab of [tabs[0], tabs[2]]) {
          await tab.page.screenshot({ path: path.join(OUTPUT, `chaos-seed-${seed}-unsettled-${tab.name}.png`), fullPage: true }).catch(() => {});
        }
        problems.push(`the devices did not settle within 120 s: ${unsettled.join("; ")}`);
        settled = lastRead;
        break;
      }
      unsettled = [];
      const log_ = await serverEvents(server);
      const onServer = new Set(log_.map((e) => e.id));
      let quiet = true;
      const devices = [];
      for (const tab of [tabs[0], tabs[2]]) {
        await goto(tab, "/sync");
        const letters = tab.page.getByTestId("dead-letter");
        for (const text of await letters.allInnerTexts()) deadLettered.add(`${tab.name}:${text.slice(0, 80)}`);
        if (await letters.count()) {
          await letters.first().getByRole("button", { name: "Retry" }).click();
          quiet = false;
        }
        const device = await readDevice(tab.page);
        devices.push({ tab, device });
        const waiting = device.events.filter((e) => WAITING.has(e.synced)).length;
        const known = new Set(device.events.map((e) => e.id));
        const missing = [...onServer].filter((id) => !known.has(id)).length;
        if (waiting || device.queued || device.dead || missing) {
          unsettled.push(`${tab.name}: ${waiting} waiting (${device.events.filter((e) => WAITING.has(e.synced)).map((e) => `${e.id.slice(0, 8)}:${e.synced}:${e.sync_error ?? ""}`).slice(0, 4).join(", ")}), ${device.queued} queued, ${device.dead} dead, ${missing} not pulled`);
          quiet = false;
          await tab.page.getByTestId("sync-now").click().catch(() => {});
        }
      }
      lastRead = { log: log_, devices };
      // Quiet only if the server took nothing new while the devices were read.
      if (quiet && (await serverEvents(server)).length === log_.length) settled = { log: log_, devices };
      else await new Promise((res) => setTimeout(res, 1_000));
    }

    // The checks.
    const { log: serverLog, devices } = settled;
    // A dead letter is a push the server failed with 5xx until the queue
    // gave up: only the 5xx faults explain one.
    const fiveHundreds = (tally.faults.burst ?? 0) + (tally.faults.lost_response ?? 0);
    if (deadLettered.size && !fiveHundreds) {
      problems.push(`${deadLettered.size} dead letters with no 5xx fault injected to explain them: ${[...deadLettered][0]}`);
    }
    const ids = serverLog.map((e) => e.id);
    const duplicates = ids.length - new Set(ids).size;
    if (duplicates) problems.push(`${duplicates} events applied twice on the server`);
    const onServer = new Set(ids);
    let createdHere = 0;
    let lost = 0;
    let overruled = 0;
    let refused = 0;
    const stamps = new Map();
    for (const { tab, device } of devices) {
      if (device.quarantined) problems.push(`${tab.context === deviceA ? "A" : "B"}: ${device.quarantined} quarantined records`);
      const own = device.events.filter((e) => e.node_id === device.node);
      createdHere += own.length;
      for (const e of own) {
        if (onServer.has(e.id)) {
          if (e.synced !== 1) problems.push(`${e.id} is on the server but ${SYNC_STATE[e.synced]} on its device`);
        } else if (VISIBLE_UNSENT.has(e.synced)) {
          if (e.synced === 3) {
            overruled++;
            // A conflict needs another device's change of the same case.
            if (!serverLog.some((s) => s.aggregate_id === e.aggregate_id && s.node_id !== e.node_id)) {
              problems.push(`overruled with no other device's change to explain it: ${e.event_type} ${e.id} (${e.sync_error})`);
            }
          }
          if (e.synced === 4) problems.push(`parked under the merge policy: ${e.event_type} ${e.id}`);
          if (e.synced === 2) {
            refused++;
            // Every refusal is explained (issue 20): a case that is on the
            // server was never missing, and a version the device was based on
            // was never ahead of it; such a refusal means the device sent the
            // case's events out of order and took the server's answer as final.
            const reason = e.sync_error ?? "";
            const caseOnServer = serverLog.some((s) => s.aggregate_id === e.aggregate_id);
            if (caseOnServer && /no case has id|based on version/.test(reason)) {
              problems.push(`refused for nothing: ${e.event_type} ${e.id} of a case on the server (${reason})`);
            } else if (!/discarded by you|no case has id/.test(reason)) {
              // No fault here injects a 4xx: any other refusal is unexplained.
              problems.push(`refused with no injected fault to explain it: ${e.event_type} ${e.id} (${reason})`);
            }
            bump(tally.refusals, reason.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, "<id>").slice(0, 60));
          }
        } else {
          lost++;
          problems.push(`lost: ${e.event_type} ${e.id} (${SYNC_STATE[e.synced]}) is neither on the server nor shown as needing attention`);
        }
      }
      // The device holds exactly the server's log as settled events.
      const settledHere = new Set(device.events.filter((e) => e.synced === 1).map((e) => e.id));
      const notHere = ids.filter((id) => !settledHere.has(id)).length;
      const notThere = [...settledHere].filter((id) => !onServer.has(id)).length;
      if (notHere || notThere) problems.push(`${tab.name}'s device: ${notHere} server events missing, ${notThere} settled events the server lacks`);
      // Stamps: unique per node, and the persisted clock is past every one.
      const clocks = own.map((e) => e.clock);
      if (new Set(clocks).size !== clocks.length) problems.push(`${tab.name}'s device reused a Lamport stamp`);
      const maxClock = Math.max(0, ...device.events.map((e) => e.clock));
      if (device.clock < maxClock) problems.push(`${tab.name}'s device clock ${device.clock} is behind a stored stamp ${maxClock}`);
      for (const e of device.events) {
        const key = `${e.clock}/${e.node_id}`;
        if (stamps.has(key) && stamps.get(key) !== e.id) problems.push(`stamp ${key} names two events`);
        stamps.set(key, e.id);
      }
    }
    for (const e of serverLog) {
      const key = `${e.clock}/${e.node_id}`;
      if (stamps.has(key) && stamps.get(key) !== e.id) problems.push(`stamp ${key} names two events`);
    }

    // Convergence: every device's list (its own copy) equals the server's.
    const want = (await serverCases(server))
      .filter((c) => !c.deleted)
      .map((c) => ({ id: c.id, title: c.title, status: c.status, priority: c.priority, assignee: c.assignee ?? "Unassigned", pending: false }))
      .sort((x, y) => x.id.localeCompare(y.id));
    for (const { tab } of devices) {
      const shown = (await shownCases(tab.page, server.url)).sort((x, y) => x.id.localeCompare(y.id));
      if (JSON.stringify(shown) !== JSON.stringify(want)) {
        const diff = want.filter((w) => JSON.stringify(w) !== JSON.stringify(shown.find((s) => s.id === w.id)));
        problems.push(`${tab.name}'s list differs from the server's (${shown.length} vs ${want.length} cases; first difference: ${JSON.stringify(diff[0] ?? shown[0])} / ${JSON.stringify(shown.find((s) => s.id === diff[0]?.id))})`);
      }
    }
    for (const tab of tabs) pageErrors.push(...tab.problems.errors.map((e) => `${tab.name}: ${e}`));
    problems.push(...failures);
    for (const tab of tabs) problems.push(...tab.problems.fatal.map((e) => `${tab.name} broke: ${e.split("\n")[0]}`));
    // The whole of the first break (a panic's message and stack) for whoever debugs it.
    for (const tab of tabs) if (tab.problems.fatal.length) console.error(`${tab.name} broke first with:\n${tab.problems.fatal[0]}`);

    // Every finished step's event is still on its device (an event that
    // vanished from IndexedDB would be invisible to the counts above).
    for (const { tab, device } of devices) {
      const own = device.events.filter((e) => e.node_id === device.node);
      const want = new Map();
      for (const x of expected.filter((x) => x.context === tab.context)) {
        const key = `${x.type} ${x.case}`;
        want.set(key, (want.get(key) ?? 0) + 1);
      }
      for (const [key, n] of want) {
        const have = own.filter((e) => `${e.event_type} ${e.aggregate_id}` === key).length;
        if (have < n) problems.push(`${tab.name}'s device: ${n} × ${key} made, ${have} stored`);
      }
    }
    // Every case this run created is on the server, or its creation is
    // shown as refused or overruled on the device that made it.
    const serverIds = new Set(serverLog.map((e) => e.aggregate_id));
    const creations = new Map(devices.flatMap(({ device }) => device.events.filter((e) => e.event_type === "case.created").map((e) => [e.aggregate_id, e])));
    for (const id of created) {
      const e = creations.get(id);
      if (!serverIds.has(id) && !(e && VISIBLE_UNSENT.has(e.synced))) problems.push(`case ${id} (${titles.get(id)}) is neither on the server nor shown as refused`);
    }
    // Every case's fields, tags, description and notes as each device
    // shows them equal the server's.
    const serverById = new Map((await serverCases(server)).map((c) => [c.id, c]));
    for (const { tab } of devices) {
      for (const c of [...serverById.values()].filter((c) => !c.deleted)) {
        await goto(tab, `/cases/${c.id}`);
        await tab.page.locator("article.case").waitFor({ timeout: 15_000 });
        await tab.page.locator("ul.notes, p.muted", { hasText: /./ }).first().waitFor({ timeout: 15_000 }).catch(() => {});
        const shown = await tab.page.evaluate(() => ({
          title: document.querySelector("article.case h1")?.textContent ?? "",
          description: document.querySelector("article.case p.description")?.textContent.trim() ?? "",
          tags: [...document.querySelectorAll("article.case ul.tags li.tag")].map((li) => li.textContent),
          notes: [...document.querySelectorAll("ul.notes li.note > p:not(.note-meta)")].map((p) => p.textContent).sort(),
        }));
        const notes = (await (await fetch(`${server.url}/api/v1/cases/${c.id}/notes`)).json()).map((n) => n.body).sort();
        const want = { title: c.title, description: c.description || "No description.", tags: c.tags, notes };
        if (JSON.stringify(shown) !== JSON.stringify(want)) problems.push(`${tab.name} shows case ${c.id} as ${JSON.stringify(shown)}, the server has ${JSON.stringify(want)}`);
      }
    }
    const csp = tabs.flatMap((t) => t.problems.csp);
    if (csp.length) problems.push(`CSP violations: ${csp[0]}`);
    return {
      seed,
      actions: total,
      seconds: Math.round((Date.now() - started) / 1000),
      tally,
      counts: {
        created: createdHere,
        synced: devices.reduce((n, { device }) => n + device.events.filter((e) => e.node_id === device.node && onServer.has(e.id)).length, 0),
        duplicates,
        lost,
        dead_lettered: deadLettered.size,
        conflicts: overruled,
        refused,
        cases: want.length,
        stalled: stalls.length,
      },
      pageErrors,
      stalls,
      problems,
    };
  } finally {
    await deviceA.close().catch(() => {});
    await deviceB.close().catch(() => {});
    await browser.close().catch(() => {});
    await server.dispose();
    rmSync(dist, { recursive: true, force: true });
  }
}

/** The run's table, as printed by the test and the soak. */
export function table(runs) {
  const cols = ["seed", "actions", "faults", "created", "synced", "duplicates", "lost", "dead_lettered", "conflicts", "refused", "stalled", "s"];
  const lines = [cols.join(" | "), cols.map(() => "---").join(" | ")];
  const sum = Object.fromEntries(cols.map((c) => [c, 0]));
  for (const run of runs) {
    const row = {
      seed: run.seed,
      actions: run.actions,
      // "kind:variant" entries detail a fault already counted.
      faults: Object.entries(run.tally.faults).filter(([k]) => !k.includes(":")).reduce((a, [, b]) => a + b, 0),
      ...run.counts,
      s: run.seconds,
    };
    for (const c of cols) if (c !== "seed") sum[c] += row[c] ?? 0;
    lines.push(cols.map((c) => row[c] ?? 0).join(" | "));
  }
  sum.seed = `all ${runs.length}`;
  lines.push(cols.map((c) => sum[c]).join(" | "));
  return lines.map((l) => `| ${l} |`).join("\n");
}
