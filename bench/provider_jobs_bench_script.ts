/**
 * Jobs per second a provider sustains with the echo skill, end to end on one machine: a real
 * town (in process), the provider (in process), a requester posting N jobs at once and waiting
 * for every result. Four runs in the same process:
 *
 * - paid (price 100: invoice feedback, the requester pays, then the run) vs free (price 0);
 * - sandboxed (namespaces, nobody, memory cgroup) vs a direct runner that spawns `run` as a
 *   plain subprocess (same contract, no isolation): the difference is the sandbox's share.
 *
 * Each job also costs the provider 3-4 paid writes to the town (feedback, result).
 * Run: deno run -A bench/provider_jobs_bench_script.ts [jobs] [concurrentRuns]
 *
 * @module
 */
import { buildJobRequest } from "../protocol/nip90_job.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import type {
  SkillJob,
  SkillOutcome,
  SkillSandbox,
} from "../roles/provider/sandbox/skill_sandbox.ts";
import {
  connectTestRequester,
  feedbackOf,
  resultOf,
  withProvider,
} from "../harness/provider_test_kit.ts";

const jobs = Number(Deno.args[0] ?? 30);
const concurrent = Number(Deno.args[1] ?? 2);
const denoDir = Deno.execPath().replace(/\/[^/]*$/, "");

/** Runs `run` as a plain subprocess: the same contract as the sandbox, without isolation. */
function directRunner(jobsRoot: string): SkillSandbox {
  return {
    // Not a sandbox at all: the baseline the sandboxed runs are compared with.
    mode: "rootless",
    modeReason: "no sandbox: a plain subprocess (benchmark baseline)",
    setup: "shell",
    limits: { memory: "none", processes: "none" },
    memoryLimits: false,
    async run(job: SkillJob): Promise<SkillOutcome> {
      const workDir = `${jobsRoot}/${job.jobId}`;
      await Deno.mkdir(workDir, { recursive: true });
      const started = performance.now();
      const child = new Deno.Command(`${job.skillDir}/run`, {
        clearEnv: true,
        env: { PATH: `${denoDir}:/usr/bin:/bin`, HOME: workDir },
        cwd: workDir,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(
        typeof job.input === "string" ? new TextEncoder().encode(job.input) : job.input,
      );
      await w.close();
      const out = await child.output();
      return {
        status: out.code === 0 ? "ok" : "failed",
        reason: "",
        exitCode: out.code,
        stdout: out.stdout,
        stderrTail: new TextDecoder().decode(out.stderr),
        stderrTruncated: false,
        durationMs: performance.now() - started,
        workDir,
      };
    },
  };
}

// The project's echo `run` (a Deno script), reached through its absolute path.
const ECHO_RUN = `#!/bin/sh\nexec ${Deno.realPathSync("skills/echo/run")}\n`;
// A shell skill that costs next to nothing: isolates the provider's own per-job overhead.
const SH_RUN = "#!/bin/sh\ncat >/dev/null\nprintf ok\n";

async function measure(
  label: string,
  price: number,
  direct: boolean,
  run = ECHO_RUN,
): Promise<number> {
  let rate = 0;
  const skill = { name: "echo-bench", kinds: [5601], price, run };
  const root = await Deno.makeTempDir({ prefix: "provider-bench-" });
  try {
    await withProvider([], [skill], async ({ town, alice }) => {
      const others = await Promise.all(
        ["bob-token"].map((token) => connectTestRequester({ town, token })),
      );
      const requesters = [alice, ...others];
      const started = performance.now();
      const posted: Promise<NostrEvent>[] = [];
      for (let i = 0; i < jobs; i++) {
        posted.push(requesters[i % requesters.length].post(buildJobRequest({
          kind: 5601,
          inputs: [{ data: `bench ${i}`, type: "text" }],
        })));
      }
      const events = await Promise.all(posted);
      await Promise.all(events.map(async (job, i) => {
        const who = requesters[i % requesters.length];
        if (price > 0) {
          const paid = await who.payInvoice(
            await who.waitFor(feedbackOf(job.id, "payment-required")),
          );
          if (paid.reply.type !== "fulfill") throw new Error("payment refused");
        }
        const result = await who.waitFor(resultOf(job.id), 120_000);
        if (result.content !== (run === SH_RUN ? "ok" : `bench ${i}`)) {
          throw new Error(`bad result ${result.content}`);
        }
      }));
      const seconds = (performance.now() - started) / 1000;
      rate = jobs / seconds;
      console.log(
        `${label.padEnd(28)} ${jobs} jobs in ${seconds.toFixed(2)} s: ` +
          `${rate.toFixed(1)} jobs/s, ${(1000 / rate).toFixed(1)} ms/job`,
      );
      await Promise.all(others.map((o) => o.close()));
    }, {
      maxInFlight: jobs + 10,
      maxInFlightPerRequester: jobs,
      maxUnpaid: jobs + 10,
      maxUnpaidPerRequester: jobs,
      maxConcurrentRuns: concurrent,
      sandbox: direct ? directRunner(`${root}/direct`) : undefined,
    });
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
  return rate;
}

console.log(`provider throughput, echo skill, ${concurrent} concurrent runs`);
const freeSandboxed = await measure("free, sandboxed", 0, false);
const freeDirect = await measure("free, direct run", 0, true);
await measure("paid, sandboxed", 100, false);
await measure("paid, direct run", 100, true);
const shSandboxed = await measure("free, sandboxed, sh skill", 0, false, SH_RUN);
const shDirect = await measure("free, direct, sh skill", 0, true, SH_RUN);
console.log(
  `sandbox overhead per job (sh skill): ` +
    `${((1000 / shSandboxed - 1000 / shDirect) * concurrent).toFixed(1)} ms`,
);
console.log(
  `sandbox overhead per job (free runs, wall clock / ${concurrent} slots): ` +
    `${((1000 / freeSandboxed - 1000 / freeDirect) * concurrent).toFixed(1)} ms`,
);
