/**
 * Jobs/s through the echo skill: sandboxed (namespaces + nobody + memory cgroup) vs running
 * `skills/echo/run` directly as a plain subprocess. Prints both and the per-job overhead.
 * Run: deno run -A bench/skill_sandbox_bench_script.ts [jobs]
 *
 * @module
 */
import { parseSkillManifest } from "../roles/provider/skill_manifest.ts";
import { createSkillSandbox } from "../roles/provider/skill_sandbox.ts";

const jobs = Number(Deno.args[0] ?? 20);
const input = await Deno.readTextFile("fixtures/events/valid/job-5000-0.toon");
const manifest = parseSkillManifest(await Deno.readTextFile("skills/echo/SKILL.md"));
const root = await Deno.makeTempDir();
const denoDir = Deno.execPath().replace(/\/[^/]*$/, "");

async function direct(): Promise<void> {
  const child = new Deno.Command("skills/echo/run", {
    clearEnv: true,
    env: { PATH: `${denoDir}:/usr/bin:/bin`, HOME: root },
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(input));
  await w.close();
  const { stdout } = await child.output();
  if (new TextDecoder().decode(stdout) !== "input text 0") throw new Error("direct: bad echo");
}

try {
  const sandbox = await createSkillSandbox({
    jobsRoot: `${root}/state/jobs`,
    hiddenPaths: [`${root}/state`],
  });
  const sandboxed = async (i: number) => {
    const o = await sandbox.run({ jobId: `b${i}`, skillDir: "skills/echo", manifest, input });
    if (o.status !== "ok") throw new Error(`sandboxed: ${o.status} ${o.stderrTail}`);
  };
  await direct();
  await sandboxed(-1); // warm the page cache for both
  const t0 = performance.now();
  for (let i = 0; i < jobs; i++) await direct();
  const t1 = performance.now();
  for (let i = 0; i < jobs; i++) await sandboxed(i);
  const t2 = performance.now();
  const d = (t1 - t0) / jobs;
  const s = (t2 - t1) / jobs;
  console.log(`echo skill, ${jobs} sequential jobs (memory cgroup: ${sandbox.memoryLimits})`);
  console.log(`direct:    ${(1000 / d).toFixed(1)} jobs/s  (${d.toFixed(1)} ms/job)`);
  console.log(`sandboxed: ${(1000 / s).toFixed(1)} jobs/s  (${s.toFixed(1)} ms/job)`);
  console.log(`sandbox overhead: ${(s - d).toFixed(1)} ms/job`);
} finally {
  await Deno.remove(root, { recursive: true });
}
