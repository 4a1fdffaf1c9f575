// Lighthouse on the release build served by the real server (SPEC §7, issue 7):
// prints the performance, accessibility, best-practices and PWA-relevant
// figures of a first visit, and the largest contentful paint of a repeat
// visit served by the service worker with the server stopped.
//
//   node scripts/lighthouse.mjs [--runs 3] [--route /cases]
//
// Needs a release build in dist/ and the server built (scripts/lighthouse.sh
// does both). Chromium is Debian's, started by chrome-launcher with the flags
// this closed network needs and a fresh profile kept across the two visits.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import * as chromeLauncher from "chrome-launcher";
import lighthouse from "lighthouse";
import { CHROMIUM, CHROMIUM_ARGS, startServer } from "../tests/e2e/harness.mjs";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "3" }, route: { type: "string", default: "/cases" } },
});
const RUNS = Number(values.runs);

const FLAGS = ["--headless=new", ...CHROMIUM_ARGS];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const score = (lhr, id) => Math.round((lhr.categories[id]?.score ?? 0) * 100);
const lcp = (lhr) => lhr.audits["largest-contentful-paint"].numericValue;

async function visit(port, url, { keepStorage }) {
  const result = await lighthouse(
    url,
    { port, output: "json", logLevel: "error", disableStorageReset: keepStorage },
    {
      extends: "lighthouse:default",
      settings: { onlyCategories: ["performance", "accessibility", "best-practices"] },
    },
  );
  if (result.lhr.runtimeError) throw new Error(`Lighthouse: ${result.lhr.runtimeError.message}`);
  return result.lhr;
}

const server = await startServer({ seed: 200 });
const profile = mkdtempSync(path.join(tmpdir(), "casefile-lighthouse-"));
const chrome = await chromeLauncher.launch({
  chromePath: CHROMIUM,
  chromeFlags: FLAGS,
  userDataDir: profile,
});
const first = [];
const repeat = [];
try {
  const url = `${server.url}${values.route}`;
  for (let i = 0; i < RUNS; i++) {
    if (!server.child || server.child.exitCode !== null) await server.start();
    // First visit: storage cleared, everything from the network.
    first.push(await visit(chrome.port, url, { keepStorage: false }));
    // Install the worker and fill the device's copy, as a first visit does.
    await visit(chrome.port, url, { keepStorage: true });
    // Repeat visit with the server stopped: only the worker can answer.
    await server.stop();
    repeat.push(await visit(chrome.port, url, { keepStorage: true }));
  }
} finally {
  await chrome.kill();
  await server.dispose();
  rmSync(profile, { recursive: true, force: true });
}

const row = (name, f) => `| ${name} | ${first.map(f).join(" / ")} | ${repeat.map(f).join(" / ")} |`;
console.log(`Lighthouse ${first[0].lighthouseVersion}, ${first[0].environment.hostUserAgent.match(/Chrome\/[\d.]+/)?.[0]}, ${RUNS} runs, route ${values.route}, default (mobile, simulated throttling) settings`);
console.log("| figure | first visit | repeat visit, server stopped (from the worker) |");
console.log("|---|---|---|");
console.log(row("performance", (l) => score(l, "performance")));
console.log(row("accessibility", (l) => score(l, "accessibility")));
console.log(row("best practices", (l) => score(l, "best-practices")));
console.log(row("largest contentful paint (ms)", (l) => Math.round(lcp(l))));
console.log(row("first contentful paint (ms)", (l) => Math.round(l.audits["first-contentful-paint"].numericValue)));
console.log(row("total blocking time (ms)", (l) => Math.round(l.audits["total-blocking-time"].numericValue)));
console.log(`median LCP: first visit ${Math.round(median(first.map(lcp)))} ms, repeat visit from the worker ${Math.round(median(repeat.map(lcp)))} ms`);
const failing = (l) =>
  Object.values(l.audits)
    .filter((a) => a.score !== null && a.score < 0.9 && a.scoreDisplayMode !== "informative" && a.scoreDisplayMode !== "manual")
    .map((a) => a.id);
console.log(`audits under 0.9 on the first visit: ${failing(first[0]).join(", ") || "none"}`);
console.log(`audits under 0.9 on the repeat visit: ${failing(repeat[0]).join(", ") || "none"}`);
// What the accessibility and best-practices audits that failed point at.
for (const [name, lhr] of [["first visit", first[0]], ["repeat visit", repeat[0]]]) {
  for (const id of ["accessibility", "best-practices"]) {
    for (const ref of lhr.categories[id].auditRefs) {
      const audit = lhr.audits[ref.id];
      if (ref.weight === 0 || audit.score === null || audit.score >= 1) continue;
      const items = (audit.details?.items ?? []).slice(0, 3).map((i) => i.node?.snippet ?? i.description ?? i.url ?? i.source?.url ?? "").filter(Boolean);
      console.log(`${name}: ${id} / ${audit.id}: ${audit.title}${items.length ? ` — ${items.join(" | ")}` : ""}`);
    }
  }
}
