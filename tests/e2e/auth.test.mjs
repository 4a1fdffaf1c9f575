// Signing in and out in the app (SPEC §10), against the real server with its
// demo users: the app's own sign-in page, a clear message for a wrong
// password, the user and role in the header, sign-out, on a phone-width
// screen too; the session cookie is out of every script's reach.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { launchBrowser, startServer, watchProblems, signedOut, OUTPUT } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test("a first visit, signed out, asks the server for its session once", async () => {
  const server = await startServer({ seed: 0 });
  const context = signedOut(await browser.newContext());
  try {
    const page = await context.newPage();
    const asked = [];
    page.on("request", (r) => new URL(r.url()).pathname === "/api/v1/auth/session" && asked.push(r.url()));
    await page.goto(`${server.url}/cases`);
    await page.getByLabel("Password").waitFor();
    await page.waitForLoadState("networkidle");
    assert.equal(asked.length, 1, "one question, one 401 in the console");
  } finally {
    await context.close();
    await server.dispose();
  }
});

test("a caseworker signs in on the app's page, sees who they are, and signs out", async () => {
  const server = await startServer({ seed: 2 });
  const context = signedOut(await browser.newContext({ viewport: { width: 390, height: 800 } }));
  try {
    const page = await context.newPage();
    const problems = watchProblems(page);
    await page.goto(`${server.url}/`);
    await page.getByTestId("user-menu").getByText("Sign in").click();
    await page.waitForURL(/\/sign-in$/);
    await page.getByLabel("Name").fill("casey");
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("sign-in-problem").getByText("Wrong name or password.").waitFor();

    await page.getByLabel("Password").fill("casefile-demo");
    await page.getByLabel("Password").press("Enter");
    await page.waitForURL(`${server.url}/`);
    await page.getByTestId("user-menu").getByText("Casey Caseworker · caseworker").waitFor();
    await page.screenshot({ path: path.join(OUTPUT, "signed-in-phone.png"), fullPage: true });
    // The session lives in an HttpOnly cookie: no script sees it. Scripts
    // see at most the device's log marker (a node id, not a secret).
    const visible = await page.evaluate(() => document.cookie);
    assert.doesNotMatch(visible, /casefile_session/);
    assert.match(visible, /^(casefile_log_[0-9a-f]+=[0-9a-f-]+)?$/);
    const [cookie] = await context.cookies();
    assert.equal(cookie.name, "casefile_session");
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, "Strict");
    // The server knows who is asking.
    const who = await page.evaluate(async () => (await fetch("/api/v1/auth/session")).json());
    assert.deepEqual([who.user, who.role, who.teams], ["casey", "caseworker", ["north"]]);

    await page.getByTestId("user-menu").getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/sign-in$/);
    await page.getByTestId("user-menu").getByText("Sign in").waitFor();
    const after = await page.evaluate(async () => (await fetch("/api/v1/auth/session")).status);
    assert.equal(after, 401, "signed out on the server too");
    assert.deepEqual(problems.csp, []);
  } finally {
    await context.close();
    await server.dispose();
  }
});
