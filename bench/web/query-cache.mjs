// The query-cache workloads of SPEC §9, ours (wasm) and @tanstack/query-core
// (JS) in the same page. Each workload runs ROUNDS times after one warm-up;
// the median time counts. Set-up (filling caches, subscribing observers) is
// not timed on either side.
import init, { CacheBench } from "/pkg/casefile_bench.js";
import { QueryClient, QueryObserver, hashKey, notifyManager } from "/node_modules/@tanstack/query-core/build/modern/index.js";

// Observers are told in a microtask, not a later macrotask (TanStack's
// default is setTimeout 0), so a timed workload that waits for its
// notifications waits for the work, not for the event loop's idle time.
notifyManager.setScheduler(queueMicrotask);

const ROUNDS = 7;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = (fn) => {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
};
const settle = () => new Promise((r) => setTimeout(r, 0));
// Lets every queued microtask (notifications, resolved fetches) run.
const settle0 = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

async function measure(name, ops, ours, theirs) {
  const a = [];
  const b = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const ta = await ours();
    const tb = await theirs();
    if (round > 0) {
      a.push(ta);
      b.push(tb);
    }
  }
  return { name, ops, oursMs: median(a), theirsMs: median(b) };
}

await init();
const results = [];

results.push(
  await measure(
    "set_query_data, 10,000 distinct keys",
    10_000,
    () => {
      const bench = new CacheBench();
      const t = time(() => bench.set_many(10_000));
      bench.free();
      return t;
    },
    () => {
      const qc = new QueryClient();
      const t = time(() => {
        for (let i = 0; i < 10_000; i++) qc.setQueryData(["item", i], i);
      });
      qc.clear();
      return t;
    },
  ),
);

results.push(
  await measure(
    "get_query_data, 100,000 hits over 10,000 keys",
    100_000,
    () => {
      const bench = new CacheBench();
      bench.set_many(10_000);
      const t = time(() => bench.get_many(100_000, 10_000));
      bench.free();
      return t;
    },
    () => {
      const qc = new QueryClient();
      for (let i = 0; i < 10_000; i++) qc.setQueryData(["item", i], i);
      let sum = 0;
      const t = time(() => {
        for (let i = 0; i < 100_000; i++) sum += qc.getQueryData(["item", i % 10_000]);
      });
      qc.clear();
      if (sum < 0) throw new Error("unreachable");
      return t;
    },
  ),
);

results.push(
  await measure(
    "invalidate prefix: 1,000 active of 10,000 keys, each refetched by a fake fetcher and its observer told",
    1_000,
    () => {
      const bench = new CacheBench();
      bench.setup_invalidate(10_000, 1_000);
      const t = time(() => {
        if (bench.invalidate_group_settled() < 1_000) throw new Error("expected 1,000 observers told");
      });
      bench.free();
      return t;
    },
    async () => {
      const qc = new QueryClient();
      for (let i = 0; i < 9_000; i++) qc.setQueryData(["item", i], i);
      let told = 0;
      const unsubscribe = [];
      for (let i = 0; i < 1_000; i++) {
        const observer = new QueryObserver(qc, { queryKey: ["group", i], queryFn: () => i, staleTime: 5 * 60_000 });
        unsubscribe.push(observer.subscribe(() => told++));
      }
      await settle();
      told = 0;
      const t0 = performance.now();
      await qc.invalidateQueries({ queryKey: ["group"] });
      await settle0();
      const t = performance.now() - t0;
      if (told < 1_000) throw new Error(`expected 1,000 observers told, got ${told}`);
      unsubscribe.forEach((u) => u());
      qc.clear();
      return t;
    },
  ),
);

results.push(
  await measure(
    "new data for 1,000 observed keys, each observer told",
    1_000,
    () => {
      const bench = new CacheBench();
      bench.setup_invalidate(1_000, 1_000);
      const t = time(() => {
        if (bench.set_observed(1_000, 1) !== 1_000) throw new Error("expected 1,000 observers told");
      });
      bench.free();
      return t;
    },
    async () => {
      const qc = new QueryClient();
      let told = 0;
      const unsubscribe = [];
      for (let i = 0; i < 1_000; i++) {
        qc.setQueryData(["group", i], i);
        const observer = new QueryObserver(qc, { queryKey: ["group", i], queryFn: () => i, staleTime: Infinity });
        unsubscribe.push(observer.subscribe(() => told++));
      }
      await settle();
      told = 0;
      const t0 = performance.now();
      for (let i = 0; i < 1_000; i++) qc.setQueryData(["group", i], 100_000 + i);
      await settle0();
      const t = performance.now() - t0;
      if (told !== 1_000) throw new Error(`expected 1,000 observers told, got ${told}`);
      unsubscribe.forEach((u) => u());
      qc.clear();
      return t;
    },
  ),
);

results.push(
  await measure(
    "1,000 optimistic mutations rolled back (save, set, restore) over 100 keys",
    1_000,
    () => {
      const bench = new CacheBench();
      bench.set_many(100);
      const t = time(() => bench.mutate_and_roll_back(1_000));
      bench.free();
      return t;
    },
    () => {
      const qc = new QueryClient();
      for (let i = 0; i < 100; i++) qc.setQueryData(["item", i], i);
      let sum = 0;
      const t = time(() => {
        for (let m = 0; m < 1_000; m++) {
          const key = ["item", m % 100];
          // TanStack's documented onMutate / onError: snapshot, set, restore.
          const previous = qc.getQueryData(key);
          qc.setQueryData(key, 1_000_000 + m);
          qc.setQueryData(key, previous);
          sum += qc.getQueryData(key);
        }
      });
      if (sum < 0) throw new Error("unreachable");
      qc.clear();
      return t;
    },
  ),
);

results.push(
  await measure(
    "hash 100,000 structured keys",
    100_000,
    () => {
      const bench = new CacheBench();
      bench.prepare_keys(100_000);
      const t = time(() => bench.hash_keys());
      bench.free();
      return t;
    },
    () => {
      const keys = [];
      for (let i = 0; i < 100_000; i++) keys.push(["cases", "list", { status: "open", page: i }]);
      let total = 0;
      const t = time(() => {
        for (const k of keys) total += hashKey(k).length;
      });
      if (total === 0) throw new Error("unreachable");
      return t;
    },
  ),
);

window.__results = results;
document.getElementById("out").textContent = JSON.stringify(results, null, 2);
