// The event-store workloads: the app's EventStore (wasm, real IndexedDB)
// beside the same writes through plain IndexedDB from JS (the ceiling), in
// the same page. Every workload runs on fresh databases; the median of
// ROUNDS runs counts. Set-up (filling the log) is not timed.
import init, { StoreBench } from "/pkg/casefile_bench.js";

// Median of ROUNDS; the workloads of a few milliseconds get more rounds
// (their spread on this machine is as large as the figure).
const ROUNDS = 3;
const SHORT_ROUNDS = 15;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
let dbCount = 0;
const fresh = (what) => `bench-${what}-${Date.now()}-${dbCount++}`;

const drop = (name) =>
  new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = req.onerror = req.onblocked = () => resolve();
  });

/** A plain database with the same stores and indexes as the app's schema. */
function openPlain(name) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 2);
    req.onupgradeneeded = () => {
      const db = req.result;
      const events = db.createObjectStore("events", { keyPath: "id" });
      for (const f of ["aggregate_id", "synced"]) events.createIndex(f, f);
      events.createIndex("aggregate_stamp", ["aggregate_id", "clock", "node_id"]);
      db.createObjectStore("meta");
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function putAll(db, records) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(["events", "meta"], "readwrite");
    const store = tx.objectStore("events");
    for (const r of records) store.put(r);
    tx.objectStore("meta").put(records.length, "clock");
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
}

async function plainAppend(records, batch) {
  const name = fresh("plain");
  const db = await openPlain(name);
  const t0 = performance.now();
  for (let i = 0; i < records.length; i += batch) await putAll(db, records.slice(i, i + batch));
  const t = performance.now() - t0;
  db.close();
  await drop(name);
  return t;
}

async function oursAppend(n, batch) {
  const name = fresh("ours");
  const bench = await StoreBench.open(name);
  const t0 = performance.now();
  if (batch === 1) await bench.append_each(n);
  else await bench.append_batches(n, batch);
  const t = performance.now() - t0;
  bench.free();
  await drop(name);
  return t;
}

async function pair(name, ops, ours, plain, rounds = ROUNDS) {
  const a = [];
  const b = [];
  for (let round = 0; round < rounds; round++) {
    a.push(await ours());
    b.push(await plain());
  }
  return { name, ops, oursMs: median(a), plainMs: median(b) };
}

async function solo(name, ops, fn) {
  const a = [];
  for (let round = 0; round < SHORT_ROUNDS; round++) a.push(await fn());
  return { name, ops, oursMs: median(a), plainMs: null };
}

// `?only=append,catch-up,replay,scan` runs just those workloads (for a quick
// before/after while working on one); all of them run by default.
const only = new URLSearchParams(location.search).get("only")?.split(",");
const want = (what) => !only || only.includes(what);

await init();
const N = 10_000;
const records = JSON.parse(StoreBench.sample_records(N));
const results = [];

if (want("append")) {
  results.push(await pair("append 10,000 events, one transaction each", N, () => oursAppend(N, 1), () => plainAppend(records, 1)));
  results.push(await pair("append 10,000 events in transactions of 500", N, () => oursAppend(N, 500), () => plainAppend(records, 500)));
}

// A new device's first catch-up: 10,000 events (2,000 cases of 5) pulled in
// pages of 500, each page stored as the sync loop stores it (verify, merge
// with what the device has, one transaction per page); beside it, plain
// IndexedDB putting the same number of records in transactions of 500.
if (want("catch-up")) {
  const CASES = 2_000;
  const PER_CASE = 5;
  const catchUp = async () => {
    const name = fresh("catch-up");
    const bench = await StoreBench.open(name);
    bench.prepare_catch_up(CASES, PER_CASE, 500);
    const t0 = performance.now();
    const added = await bench.catch_up();
    const t = performance.now() - t0;
    if (added !== CASES * PER_CASE) throw new Error(`caught up ${added} events`);
    bench.free();
    await drop(name);
    return t;
  };
  results.push(await pair(`first catch-up: ${N.toLocaleString("en")} events of ${CASES.toLocaleString("en")} cases, pages of 500`, N, catchUp, () => plainAppend(records, 500)));
}

// Replay: one case of 1,000 events pulled from the server.
if (want("replay")) {
  const name = fresh("replay");
  const bench = await StoreBench.open(name);
  await bench.fill_case(7, 1_000, 1);
  const timed = async (fn) => {
    const t0 = performance.now();
    const version = await fn();
    if (version !== 1_000) throw new Error(`replayed to version ${version}`);
    return performance.now() - t0;
  };
  await bench.replay_with_snapshot(7); // makes the snapshot
  // The ceiling: plain IndexedDB reading the same 1,000 records of one
  // case through the same index (nothing verified or folded).
  const plainName = fresh("replay-plain");
  const db = await openPlain(plainName);
  const caseRecords = JSON.parse(StoreBench.sample_records(1_000));
  await putAll(db, caseRecords);
  const plainRead = () =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const req = db.transaction("events").objectStore("events").index("aggregate_id").getAll(caseRecords[0].aggregate_id);
      req.onsuccess = () => {
        if (req.result.length !== 1_000) reject(new Error(`plain read found ${req.result.length}`));
        resolve(performance.now() - t0);
      };
      req.onerror = () => reject(req.error);
    });
  results.push(await pair("replay a case of 1,000 events, no snapshot (read, verify, fold)", 1_000, () => timed(() => bench.replay_full(7)), plainRead, SHORT_ROUNDS));
  db.close();
  await drop(plainName);
  results.push(await solo("replay a case of 1,000 events from its snapshot", 1_000, () => timed(() => bench.replay_with_snapshot(7))));
  bench.free();
  await drop(name);
}

// Unsynced scan: 100,000 events in the log, 100 of them pending.
if (want("scan")) {
  const name = fresh("scan");
  const bench = await StoreBench.open(name);
  for (let c = 0; c < 10; c++) await bench.fill_case(100 + c, 10_000, 1 + c * 10_000);
  await bench.append_batches(100, 100);
  const plainName = fresh("scan-plain");
  const db = await openPlain(plainName);
  const big = JSON.parse(StoreBench.sample_records(10_000));
  for (let c = 0; c < 10; c++) {
    await putAll(db, big.map((r, i) => ({ ...r, id: `${c}-${r.id}`, synced: c === 0 && i < 100 ? 0 : 1 })));
  }
  const plainScan = () =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const req = db.transaction("events").objectStore("events").index("synced").getAll(0);
      req.onsuccess = () => {
        if (req.result.length !== 100) reject(new Error(`plain scan found ${req.result.length}`));
        resolve(performance.now() - t0);
      };
      req.onerror = () => reject(req.error);
    });
  const oursScan = async () => {
    const t0 = performance.now();
    const n = await bench.unsynced();
    if (n !== 100) throw new Error(`scan found ${n}`);
    return performance.now() - t0;
  };
  results.push(await pair("unsynced() over 100,000 events (100 pending)", 100, oursScan, plainScan, SHORT_ROUNDS));
  db.close();
  bench.free();
  await drop(name);
  await drop(plainName);
}

window.__store_results = results;
document.getElementById("out").textContent = JSON.stringify(results, null, 2);
