import { launchBrowser, startServer, waitForController } from "./harness.mjs";
const browser = await launchBrowser();
const server = await startServer({ seed: 200 });
const context = await browser.newContext();
const page = await context.newPage();
await page.goto(server.url);
await waitForController(page);
await page.goto(`${server.url}/cases`);
await page.locator("table.cases tbody tr").first().waitFor({ timeout: 60_000 });
await page.getByTestId("list-timing").waitFor({ timeout: 60_000 });
await server.stop();
const cdp = await context.newCDPSession(page);
await cdp.send("ServiceWorker.enable");
const all = [];
for (let i = 0; i < 7; i++) {
  await cdp.send("ServiceWorker.stopAllWorkers");
  await new Promise((r) => setTimeout(r, 100));
  await page.goto(`${server.url}/cases`, { waitUntil: "commit" });
  await page.locator("table.cases tbody tr").first().waitFor({ timeout: 60_000 });
  const t = await page.evaluate(() => ({
    now: Math.round(performance.now()),
    marks: performance.getEntriesByType("mark").map((m) => `${m.name}@${Math.round(m.startTime)}`),
    res: performance.getEntriesByType("resource").map((r) => `${r.name.split("/").pop().slice(0, 24)} ${Math.round(r.startTime)}-${Math.round(r.responseEnd)}`),
    paint: performance.getEntriesByType("paint").map((m) => `${m.name}@${Math.round(m.startTime)}`),
  }));
  all.push(t.now);
  if (i >= 5) console.log(JSON.stringify(t, null, 1));
}
console.log("list ms", all.join(" "), "sorted", [...all].sort((a, b) => a - b).join(" "));
await browser.close();
await server.dispose();
process.exit(0);
