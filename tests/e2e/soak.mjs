// The long chaos soak: `node tests/e2e/soak.mjs --seeds 20 --actions 500 [--from 1]`
// (or scripts/soak.sh). Runs the seeds one after another and prints one
// table; exits non-zero if any run broke an invariant, naming its seed.
import { parseArgs } from "node:util";
import { runChaos, table } from "./chaos.mjs";

const { values } = parseArgs({
  options: {
    seeds: { type: "string", default: "20" },
    actions: { type: "string", default: "500" },
    from: { type: "string", default: "1" },
    verbose: { type: "boolean", default: false },
  },
});
const runs = [];
let broken = 0;
for (let seed = Number(values.from); seed < Number(values.from) + Number(values.seeds); seed++) {
  const run = await runChaos({ seed, actions: Number(values.actions), log: values.verbose ? console.log : () => {} });
  runs.push(run);
  console.log(`seed ${seed}: ${run.seconds} s, faults ${JSON.stringify(run.tally.faults)}`);
  console.log(`seed ${seed}: refusals ${JSON.stringify(run.tally.refusals)}`);
  if (run.stalls.length) console.log(`seed ${seed}: steps that stalled: ${run.stalls.join(" | ")}`);
  if (run.problems.length) {
    broken++;
    console.log(`seed ${seed} BROKE: ${run.problems.join("; ")}`);
  }
}
console.log(table(runs));
console.log(broken ? `${broken} of ${runs.length} seeds broke an invariant` : `all ${runs.length} seeds held every invariant`);
process.exit(broken ? 1 : 0);
