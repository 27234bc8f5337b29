/**
 * A command's start: from spawning `deno run -A cli.ts ...` to its first byte on stdout (its
 * answer: every command here prints it there with `--json`) and to its exit, best and median of `--runs` runs each, for the commands that only read
 * (`--version`, `--help`, `job list`, `job wait` of a job that has ended, `node status`), against
 * `deno run` of an empty program in the same run (docs/SCALE.md "A command's start"). The runs
 * take turns (one of each command, then again) so a busy moment of the machine spreads over all.
 *
 * Last, what every paying command spends before it asks the profile's node anything: the proof
 * that it knows the wallet's passphrase (identity/passphrase_proof.ts: Argon2id, m=64 MiB), timed
 * in this process.
 *
 * The state dir is a temporary one with 20 ended jobs (written through state/jobs/job_repository.ts);
 * `node status` finds no node there (its answer is the error line, exit 1).
 *
 * - `--cli <path>`: the entry to run (default this checkout's `cli.ts`; an older checkout's
 *   `cli.ts`, or a bundle from `deno bundle`, for a comparison);
 * - `--deno-flags "<flags>"`: more `deno run` flags (`--no-code-cache` to see what V8's code
 *   cache gives);
 * - `--submit`: also `--json job submit echo` (without `--wait`) through the profile's running
 *   node, on real peers (a town, a provider with the echo skill, anvil, an automatic channel:
 *   harness/), to its first line, the job's (the first call, which starts the node, not
 *   counted).
 *
 *     deno run -A bench/cli_start_bench_script.ts [--runs 15] [--cli cli.ts] \
 *       [--deno-flags "--no-code-cache"] [--submit]
 *
 * @module
 */
import { openJobRepository } from "../state/jobs/job_repository.ts";
import { sealSecret } from "../identity/key_vault.ts";
import { passphraseProof } from "../identity/passphrase_proof.ts";
import { parseBenchFlags } from "./bench_flags.ts";
import { dirname } from "node:path";

const USAGE = "Usage: deno run -A bench/cli_start_bench_script.ts [--runs 15] [--cli cli.ts] " +
  '[--deno-flags "--no-code-cache"] [--submit]';
const { values, switches } = parseBenchFlags(Deno.args, {
  values: ["runs", "cli", "deno-flags"],
  switches: ["submit"],
  usage: USAGE,
});
const runs = Number(values.runs ?? 15);
const cli = values.cli ?? new URL("../cli.ts", import.meta.url).pathname;
const denoFlags = (values["deno-flags"] ?? "").split(" ").filter((f) => f !== "");
const repoDir = new URL("..", import.meta.url).pathname;

interface Timed {
  code: number;
  firstByteMs: number;
  exitMs: number;
  output: string;
}

/** Runs `deno run -A <flags> <entry> <args>` in the checkout, timing its first byte and exit. */
async function timed(
  entry: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<Timed> {
  const start = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...denoFlags, entry, ...args],
    // The entry's own checkout (its deno.json and node_modules), this one for the empty program.
    cwd: entry === empty ? repoDir : dirname(entry),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  let firstByteMs = -1;
  const chunks: string[] = [];
  const read = async (stream: ReadableStream<Uint8Array>, answer: boolean) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      if (answer && firstByteMs < 0) firstByteMs = performance.now() - start;
      chunks.push(decoder.decode(chunk, { stream: true }));
    }
  };
  const [status] = await Promise.all([
    child.status,
    read(child.stdout, true),
    read(child.stderr, false),
  ]);
  return {
    code: status.code,
    firstByteMs,
    exitMs: performance.now() - start,
    output: chunks.join(""),
  };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const best = (xs: readonly number[]) => Math.min(...xs);

const dir = await Deno.makeTempDir({ prefix: "cli_start_bench_" });
const stateDir = `${dir}/state`;
const empty = `${dir}/empty.ts`;
await Deno.writeTextFile(empty, 'console.log("");\n');
const repo = await openJobRepository({ stateDir });
const now = Date.now();
const ids: string[] = [];
for (let i = 0; i < 20; i++) {
  const id = i.toString(16).padStart(2, "0").repeat(32);
  ids.push(id);
  await repo.create({
    id,
    kind: 5100,
    skill: "none",
    status: "error",
    error: "a job that has ended",
    createdAtMs: now - i * 1000,
    updatedAtMs: now,
    payments: [],
  });
}
repo.close();

interface Case {
  label: string;
  entry: string;
  args: string[];
  /** The exit code it should end with (a wrong one means the run measured something else). */
  code: number;
}
const s = ["--state-dir", stateDir, "--json"];
const cases: Case[] = [
  { label: "deno run of an empty program", entry: empty, args: [], code: 0 },
  { label: "--version", entry: cli, args: ["--version"], code: 0 },
  { label: "--help", entry: cli, args: ["--help"], code: 0 },
  { label: "--json job list", entry: cli, args: [...s, "job", "list"], code: 0 },
  {
    label: "--json job wait <ended job>",
    entry: cli,
    args: [...s, "job", "wait", ids[3]],
    code: 1,
  },
  {
    label: "--json node status (none running)",
    entry: cli,
    args: [...s, "node", "status"],
    code: 1,
  },
];

const results = new Map<string, Timed[]>(cases.map((c) => [c.label, []]));
/** The machine's 1-minute load average (the runs share it with whatever else runs). */
const load = () => Deno.loadavg()[0].toFixed(1);
const loadAtStart = load();
try {
  // One warm-up run of each (the module cache, V8's code cache), not counted.
  for (const c of cases) await timed(c.entry, c.args);
  for (let i = 0; i < runs; i++) {
    for (const c of cases) {
      const r = await timed(c.entry, c.args);
      if (r.code !== c.code) {
        throw new Error(`${c.label}: exit ${r.code}, expected ${c.code}:\n${r.output}`);
      }
      results.get(c.label)!.push(r);
    }
  }
  if (switches.submit) cases.push(await submitCase(results));
} finally {
  await Deno.remove(dir, { recursive: true });
}

const proof = await proofTimes();
const baseline = median(results.get(cases[0].label)!.map((r) => r.firstByteMs));
const f = (x: number) => x.toFixed(0).padStart(5);
console.log(
  `deno ${Deno.version.deno}, ${runs} runs each, entry ${cli}` +
    (denoFlags.length ? `, flags ${denoFlags.join(" ")}` : "") +
    `, load ${loadAtStart} at the start, ${load()} at the end (${navigator.hardwareConcurrency} CPUs)`,
);
console.log(
  "command".padEnd(38) + " first byte best  median  (- empty)   exit best  median",
);
for (const c of cases) {
  const rs = results.get(c.label)!;
  const first = rs.map((r) => r.firstByteMs);
  const exit = rs.map((r) => r.exitMs);
  console.log(
    c.label.padEnd(38) +
      ` ${f(best(first))} ms ${f(median(first))} ms  ${f(median(first) - baseline)} ms   ` +
      `${f(best(exit))} ms ${f(median(exit))} ms`,
  );
}
console.log(
  "passphrase proof (Argon2id, in proc.)".padEnd(38) +
    ` ${f(best(proof))} ms ${f(median(proof))} ms`,
);

/** Best and median of the passphrase proof (Argon2id at the wallet's parameters), in process. */
async function proofTimes(): Promise<number[]> {
  const sealed = await sealSecret("a bench secret", "a bench passphrase");
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await passphraseProof(sealed, "a bench passphrase");
    times.push(performance.now() - t);
  }
  return times;
}

/** `job submit echo` through the profile's running node, to its first line (the `sent` line). */
async function submitCase(into: Map<string, Timed[]>): Promise<Case> {
  const { providerOnline, startAutoChannelNetwork } = await import(
    "../harness/auto_channel_network.ts"
  );
  const net = await startAutoChannelNetwork({ prefix: "bench_cli_start_", provider: true });
  try {
    await providerOnline(net.env);
    const args = (text: string) => [
      "--profile",
      "alice",
      "--json",
      "job",
      "submit",
      "echo",
      "--input",
      `text:${text}`,
      "--bid",
      "100000",
      ...net.secret,
    ];
    const label = "--json job submit echo (node running)";
    // The first call starts the profile's node (unlock, town link, channel): not counted.
    const first = await timed(cli, args("start the node"), net.env);
    if (first.code !== 0) throw new Error(`the first job submit failed:\n${first.output}`);
    const rs: Timed[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await timed(cli, args(`run ${i}`), net.env);
      if (r.code !== 0) throw new Error(`${label}: exit ${r.code}:\n${r.output}`);
      rs.push(r);
    }
    into.set(label, rs);
    await timed(cli, ["--profile", "alice", "node", "stop"], net.env);
    return { label, entry: cli, args: [], code: 0 };
  } finally {
    await net[Symbol.asyncDispose]();
  }
}
