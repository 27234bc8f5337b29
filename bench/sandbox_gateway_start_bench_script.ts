/**
 * What a model gateway adds to a sandboxed job's start (docs/SCALE.md "The gateway's relay started
 * by the setup itself"): a `sh` no-op job run in the real sandbox with and without a gateway
 * (roles/agent_work/provider/agent_gateway.ts on a Unix socket, a stand-in model API behind it: a
 * mock, no model runs here), the two taking turns, sequential, in each mode this user gets. The
 * difference is the gateway's step: the loopback, the relay's start and its `ready`.
 *
 * Run: deno run -A bench/sandbox_gateway_start_bench_script.ts [--jobs 20]
 *
 * @module
 */
import { parseBenchFlags } from "./bench_flags.ts";
import { parseSkillManifest } from "../roles/provider/skills/skill_manifest.ts";
import { createSkillSandbox } from "../roles/provider/sandbox/skill_sandbox.ts";
import type { SandboxMode } from "../roles/provider/sandbox/sandbox_probe.ts";
import { startAgentGateway } from "../roles/agent_work/provider/agent_gateway.ts";
import { startStandInModelApi } from "../harness/stand_in_model_api.ts";

const { values } = parseBenchFlags(Deno.args, {
  values: ["jobs"],
  switches: [],
  usage: "Usage: deno run -A bench/sandbox_gateway_start_bench_script.ts [--jobs 20]",
});
const jobs = Number(values.jobs ?? 20);
const root = await Deno.makeTempDir({ prefix: "turnpike-gateway-start-" });
const manifest = parseSkillManifest(
  "---\nname: noop\ndescription: t\nmetadata:\n  kinds: [5000]\n  timeout: 60\n---\n",
);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  await Deno.chmod(root, 0o755);
  const skillDir = `${root}/skills/noop`;
  await Deno.mkdir(skillDir, { recursive: true, mode: 0o755 });
  await Deno.chmod(`${root}/skills`, 0o755);
  await Deno.writeTextFile(`${skillDir}/run`, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  await using api = await startStandInModelApi({ apiKey: "sk-bench" });
  await Deno.mkdir(`${root}/gateways`, { mode: 0o700 });
  await using gateway = await startAgentGateway({
    socketPath: `${root}/gateways/g.sock`,
    upstream: api.url,
    flavor: "anthropic",
    apiKey: "sk-bench",
    prices: { inputPerMillion: 1n, outputPerMillion: 1n },
    budget: 1_000_000n,
  });
  const modes: SandboxMode[] = Deno.uid() === 0 ? ["root", "rootless"] : ["rootless"];
  for (const mode of modes) {
    const sandbox = await createSkillSandbox({
      jobsRoot: `${root}/state-${mode}/jobs`,
      hiddenPaths: [`${root}/state-${mode}`],
      mode,
    });
    const run = async (id: string, withGateway: boolean) => {
      const started = performance.now();
      const o = await sandbox.run({
        jobId: id,
        skillDir,
        manifest,
        input: "",
        ...(withGateway ? { gateway: { socketPath: gateway.socketPath, port: 8089 } } : {}),
      });
      if (o.status !== "ok") throw new Error(`${id}: ${o.status} ${o.reason} ${o.stderrTail}`);
      return performance.now() - started;
    };
    await run(`warm-${mode}-a`, false);
    await run(`warm-${mode}-b`, true);
    const times = { without: [] as number[], with: [] as number[] };
    for (let i = 0; i < jobs; i++) {
      times.without.push(await run(`n-${mode}-${i}`, false));
      times.with.push(await run(`g-${mode}-${i}`, true));
    }
    const [w, g] = [median(times.without), median(times.with)];
    console.log(
      `${mode}: a no-op job without a gateway best ${Math.min(...times.without).toFixed(1)} ms, ` +
        `median ${w.toFixed(1)}; with one best ${Math.min(...times.with).toFixed(1)} ms, median ` +
        `${g.toFixed(1)}; the gateway adds ${(g - w).toFixed(1)} ms (median, ${jobs} jobs each)`,
    );
  }
} finally {
  await Deno.remove(root, { recursive: true });
}
