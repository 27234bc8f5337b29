/**
 * What the provider's side of an agent task's repository costs (its inputs: the sealed bundle
 * opened, checked and checked out, the worktree tar, the checkout kept in the cache;
 * roles/agent_work/provider/agent_task_inputs.ts) for a base new to the provider, on a real
 * repository (this one by default, `--depth 50`): with a cache that holds a checkout of an
 * older base (`--from HEAD~3`), which the new checkout starts from (roles/agent_work/
 * seeded_checkout.ts), and with an empty cache (every file written). Each round makes the older
 * base's checkout first (the first task of a repository), then the new base's both ways.
 *
 * Run: deno run -A bench/agent_checkout_bench_script.ts [--repo DIR] [--from HEAD~3] [--depth 50] [--rounds 3]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { bytesToHex } from "@noble/hashes/utils.js";
import { createRepositoryBundle, resolveBase } from "../roles/agent_work/repository_bundle.ts";
import { sealBlob } from "../roles/agent_work/sealed_blob.ts";
import { prepareAgentTaskInputs } from "../roles/agent_work/provider/agent_task_inputs.ts";
import {
  type CheckoutCache,
  openCheckoutCache,
} from "../roles/agent_work/provider/checkout_cache.ts";
import type { SkillJob } from "../roles/provider/sandbox/skill_sandbox.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    repo: { type: "string", default: "." },
    from: { type: "string", default: "HEAD~3" },
    depth: { type: "string", default: "50" },
    rounds: { type: "string", default: "3" },
  },
});
const tmp = await Deno.makeTempDir({ prefix: "turnpike-bench-checkout-" });
try {
  /** The base's bundle, sealed, as a requester sends it. */
  const sealedOf = async (rev: string, name: string) => {
    const base = await resolveBase(values.repo, rev);
    const plain = `${tmp}/${name}.bundle`;
    await createRepositoryBundle({
      repoDir: values.repo,
      outPath: plain,
      base,
      depth: Number(values.depth),
    });
    const { sealed, key } = await sealBlob(await Deno.readFile(plain));
    await Deno.writeFile(`${tmp}/${name}.sealed`, sealed);
    return { path: `${tmp}/${name}.sealed`, key: bytesToHex(key), base };
  };
  const older = await sealedOf(values.from, "older");
  const newer = await sealedOf("HEAD", "newer");
  let jobs = 0;
  /** One job's inputs in a host dir of its own; the ms it took. */
  const inputs = async (blob: typeof older, cache: CheckoutCache) => {
    const hostDir = `${tmp}/job-${++jobs}.agent`;
    await Deno.mkdir(hostDir);
    const job = {
      files: [{ path: blob.path, name: "repo" }],
      manifest: { diskBytes: 8 * 1024 ** 3 },
    } as unknown as SkillJob;
    const started = performance.now();
    const made = await prepareAgentTaskInputs(
      job,
      {
        repoBlob: "repo",
        repoKey: blob.key,
        task: JSON.stringify({ title: "bench" }),
        base: blob.base,
        protect: [],
        accept: "true",
        preset: { command: "true" },
      },
      hostDir,
      cache,
    );
    const ms = Math.round(performance.now() - started);
    // Kept once the job is over, as the runner does: not part of the inputs' time.
    await made.keep();
    return ms;
  };
  for (let round = 1; round <= Number(values.rounds); round++) {
    const cache = openCheckoutCache({ dir: `${tmp}/cache-${round}` });
    const olderMs = await inputs(older, cache);
    const load = Deno.loadavg()[0];
    const wholeMs = await inputs(newer, openCheckoutCache({ dir: `${tmp}/empty-${round}` }));
    const seededMs = await inputs(newer, cache);
    console.log(JSON.stringify({ round, load, olderMs, newBaseWholeMs: wholeMs, seededMs }));
  }
} finally {
  await Deno.remove(tmp, { recursive: true });
}
