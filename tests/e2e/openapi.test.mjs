// The API against its own description (issue 15): a third-party fuzzer,
// Schemathesis, reads `/api/v1/openapi.json` and sends what it generates,
// valid and invalid, to every documented operation as the demo supervisor,
// for a bounded time. Any 5xx, any answer the document does not describe
// (status, content type, body schema) or invalid data accepted fails it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startServer, ROOT } from "./harness.mjs";

const ST = path.join(ROOT, "target/py/bin/st");
// Seconds of fuzzing; the document's operations share them.
const BUDGET = Number(process.env.CASEFILE_FUZZ_SECONDS || 60);

function run(cmd, args) {
  return new Promise((resolve) => {
    // Run where its own files (.schemathesis/) do not land in the checkout.
    const cwd = mkdtempSync(path.join(tmpdir(), "casefile-fuzz-"));
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (out += c));
    child.on("exit", (code) => resolve({ code, out }));
  });
}

test("the OpenAPI document describes every answer: Schemathesis finds no server error and no answer outside it", async () => {
  assert.ok(existsSync(ST), `schemathesis is not installed at ${ST} (scripts/install.sh --test)`);
  const server = await startServer({ seed: 40 });
  try {
    const doc = await (await fetch(`${server.url}/api/v1/openapi.json`, { headers: { "x-anonymous": "1" } })).json();
    assert.match(doc.openapi, /^3\.1\./);
    const { code, out } = await run(ST, [
      "run",
      `${server.url}/api/v1/openapi.json`,
      "--header",
      `Authorization: Bearer ${server.token}`,
      "--checks",
      "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection",
      "--phases",
      "examples,coverage,fuzzing",
      "--mode",
      "all",
      "--max-time",
      String(BUDGET),
      "--workers",
      "1",
      "--seed",
      "15",
      "--request-timeout",
      "10",
    ]);
    const summary = out.split("\n").filter((l) => /passed|failed|error|Operations|Test cases|Seed/i.test(l)).slice(-12);
    console.log(summary.join("\n"));
    assert.equal(code, 0, `schemathesis failed:\n${out.slice(-6000)}`);
  } finally {
    await server.dispose();
  }
});
