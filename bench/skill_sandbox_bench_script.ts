/**
 * The sandbox's cost per job, sequential jobs: the echo skill (Deno) and a `sh` no-op skill,
 * each sandboxed vs run directly as a plain subprocess, in every mode this user gets (root:
 * namespaces + nobody + cgroups; rootless: the same in a user namespace, sampled memory), rows
 * of both modes in one run. The no-op's difference is the sandbox's setup and teardown alone. Also prints the
 * CPU per sandboxed no-op job of this process and of its children (the sandbox's processes),
 * and echo sandboxed with a warmed read-only Deno cache (`denoCacheDir`, what a provider uses).
 * Run: deno run -A bench/skill_sandbox_bench_script.ts [jobs]
 *
 * @module
 */
import { parseSkillManifest } from "../roles/provider/skills/skill_manifest.ts";
import { createSkillSandbox } from "../roles/provider/sandbox/skill_sandbox.ts";
import type { SandboxMode } from "../roles/provider/sandbox/sandbox_probe.ts";
import { processCpuMs } from "./process_cpu.ts";

const jobs = Number(Deno.args[0] ?? 20);
const input = await Deno.readTextFile("fixtures/events/valid/job-5000-0.toon");
const manifest = parseSkillManifest(await Deno.readTextFile("skills/echo/SKILL.md"));
const root = await Deno.makeTempDir();
const denoDir = Deno.execPath().replace(/\/[^/]*$/, "");
const noop = `${root}/skills/noop`;

async function direct(skillDir: string, expect: string): Promise<void> {
  const child = new Deno.Command(`${skillDir}/run`, {
    clearEnv: true,
    env: { PATH: `${denoDir}:/usr/bin:/bin`, HOME: root },
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(input));
  await w.close();
  const { stdout } = await child.output();
  if (new TextDecoder().decode(stdout) !== expect) throw new Error(`direct: bad ${skillDir}`);
}

async function perJob(fn: (i: number) => Promise<void>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < jobs; i++) await fn(i);
  return (performance.now() - t0) / jobs;
}

try {
  await Deno.mkdir(noop, { recursive: true, mode: 0o755 });
  for (const d of [root, `${root}/skills`, noop]) await Deno.chmod(d, 0o755);
  await Deno.writeTextFile(`${noop}/run`, "#!/bin/sh\ncat > /dev/null\necho ok\n", {
    mode: 0o755,
  });
  await direct("skills/echo", "input text 0"); // page cache
  await direct(noop, "ok\n");
  const d = await perJob(() => direct("skills/echo", "input text 0"));
  const dn = await perJob(() => direct(noop, "ok\n"));
  console.log(`${jobs} sequential jobs per row`);
  const line = (label: string, ms: number) =>
    console.log(`${label.padEnd(40)}${(1000 / ms).toFixed(1)} jobs/s  (${ms.toFixed(1)} ms/job)`);
  line("echo direct:", d);
  line("sh no-op direct:", dn);
  const modes: SandboxMode[] = Deno.uid() === 0 ? ["root", "rootless"] : ["rootless"];
  for (const mode of modes) {
    const sandbox = await createSkillSandbox({
      jobsRoot: `${root}/state-${mode}/jobs`,
      hiddenPaths: [`${root}/state-${mode}`],
      mode,
    });
    const cached = await createSkillSandbox({
      jobsRoot: `${root}/state-${mode}/jobs`,
      hiddenPaths: [`${root}/state-${mode}`],
      denoCacheDir: `${root}/state-${mode}/skill-deno-cache`,
      mode,
    });
    await cached.warmDenoCache!({ skillDir: "skills/echo", manifest });
    const warmEcho = async (i: number) => {
      const o = await cached.run({ jobId: `c${i}`, skillDir: "skills/echo", manifest, input });
      if (o.status !== "ok") throw new Error(`cached: ${o.status} ${o.stderrTail}`);
    };
    const sandboxed = (skillDir: string, prefix: string) => async (i: number) => {
      const o = await sandbox.run({ jobId: `${prefix}${i}`, skillDir, manifest, input });
      if (o.status !== "ok") throw new Error(`sandboxed: ${o.status} ${o.stderrTail}`);
    };
    await sandboxed("skills/echo", "w")(0);
    await sandboxed(noop, "w")(1);
    const s = await perJob(sandboxed("skills/echo", "e"));
    const sc = await perJob(warmEcho);
    const cpu0 = await processCpuMs();
    const sn = await perJob(sandboxed(noop, "n"));
    const cpu1 = await processCpuMs();
    console.log(
      `-- ${mode} (memory ${sandbox.limits.memory}, processes ${sandbox.limits.processes})`,
    );
    line(`echo sandboxed:`, s);
    line(`echo sandboxed, Deno cache warm:`, sc);
    line(`sh no-op sandboxed:`, sn);
    console.log(
      `sandbox overhead (${mode}): echo ${(s - d).toFixed(1)} ms/job, sh no-op ${
        (sn - dn).toFixed(1)
      } ms/job; CPU per sandboxed no-op job: this process ${
        ((cpu1.self - cpu0.self) / jobs).toFixed(1)
      } ms, children ${((cpu1.children - cpu0.children) / jobs).toFixed(1)} ms`,
    );
  }
} finally {
  await Deno.remove(root, { recursive: true });
}
