/**
 * What a profile's payment log (state/payments/payment_log.ts) costs to read after a busy month:
 * writes a log of `--payments` paid invoices (an intent and a fulfilled line each, as a requester
 * writes them, one job each), then, each in a process of its own so that its peak RSS (VmHWM) is
 * its own, `--rounds` times:
 *
 * - `node`: the log opened as a node opens it at start (`openPaymentLog`, every kept line in
 *   memory for never paying twice);
 * - `job`: one job's entries as `job wait` / `job results --output json` / `job cancel` read them
 *   for the job's costs (`readPaymentEntries` with `mentioning`, state/payments/payment_log_reader.ts);
 * - `job-whole`: the obvious alternative, what those commands did before: the whole log opened
 *   and its entries filtered for the job;
 * - `spend`: what a payment's decision asks of the open log, today's spend in total and to its
 *   provider (`spentOn` twice, the spend policy's daily caps), the mean of 50 after a warm-up:
 *   `ms` is the pair's, not the opening's.
 *
 * Prints per mode the best and median milliseconds and the highest peak RSS in MiB. Run from a
 * worktree of another revision to compare (`job` needs the reader; the other two run anywhere).
 *
 * Run: deno run -A bench/payment_log_read_bench_script.ts [--payments 100000] [--rounds 3]
 *
 * @module
 */
import { parseBenchFlags } from "./bench_flags.ts";

const USAGE = "deno run -A bench/payment_log_read_bench_script.ts [--payments N] [--rounds N]";

if (Deno.args[0] === "--child") {
  const [, mode, stateDir, job] = Deno.args;
  const started = performance.now();
  let entries = 0;
  if (mode === "job") {
    const { readPaymentEntries } = await import("../state/payments/payment_log_reader.ts");
    entries = (await readPaymentEntries({ stateDir, mentioning: [job] })).length;
  } else {
    const { openPaymentLog } = await import("../state/payments/payment_log.ts");
    const log = await openPaymentLog({ stateDir });
    entries = mode === "job-whole"
      ? log.entries().filter((e) => e.jobId === job).length
      : log.entries().length;
    if (mode === "spend") {
      const peer = "c".repeat(64);
      for (let i = 0; i < 5; i++) log.spentOn({ peer }) + log.spentOn();
      const t0 = performance.now();
      for (let i = 0; i < 50; i++) log.spentOn({ peer }) + log.spentOn();
      const pairMs = (performance.now() - t0) / 50;
      const status = Deno.readTextFileSync("/proc/self/status");
      const peakMiB = Math.round(Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024);
      console.log(JSON.stringify({ ms: Number(pairMs.toFixed(3)), peakMiB, entries }));
      Deno.exit(0);
    }
  }
  const ms = Math.round(performance.now() - started);
  const status = Deno.readTextFileSync("/proc/self/status");
  const peakMiB = Math.round(Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024);
  console.log(JSON.stringify({ ms, peakMiB, entries }));
  Deno.exit(0);
}

const { values } = parseBenchFlags(Deno.args, {
  values: ["payments", "rounds"],
  switches: [],
  usage: USAGE,
});
const payments = Number(values.payments ?? 100_000);
const rounds = Number(values.rounds ?? 3);
const stateDir = await Deno.makeTempDir({ prefix: "turnpike-payment-log-bench-" });
try {
  const file = await Deno.open(`${stateDir}/payment_log.jsonl`, { write: true, create: true });
  const now = Date.now();
  let lines: string[] = [];
  const jobId = (i: number) => (i + 1).toString(16).padStart(64, "0");
  for (let i = 0; i < payments; i++) {
    // Spread over the last day, oldest first, as appended.
    const ts = new Date(now - Math.round((payments - i) * 86_000_000 / payments)).toISOString();
    const base = {
      ts,
      direction: "out",
      jobId: jobId(i),
      invoiceId: (i + 1).toString(16).padStart(64, "e"),
      amount: "1000",
    };
    const rest = { asset: "M2M", peer: "c".repeat(64), category: "job", scale: 6 };
    lines.push(JSON.stringify({ ...base, event: "intent", ...rest }));
    lines.push(
      JSON.stringify({ ...base, event: "fulfilled", ...rest, fulfillment: "f".repeat(64) }),
    );
    if (lines.length >= 20_000) {
      await file.write(new TextEncoder().encode(lines.join("\n") + "\n"));
      lines = [];
    }
  }
  await file.write(new TextEncoder().encode(lines.join("\n") + "\n"));
  file.close();
  const bytes = (await Deno.stat(`${stateDir}/payment_log.jsonl`)).size;
  console.log(JSON.stringify({ payments, logMiB: Math.round(bytes / 2 ** 20) }));
  const job = jobId(Math.floor(payments / 2));
  for (const mode of ["node", "job-whole", "job", "spend"]) {
    const times: number[] = [];
    let peakMiB = 0;
    let entries = 0;
    for (let r = 0; r < rounds; r++) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL(import.meta.url).pathname, "--child", mode, stateDir, job],
        stderr: "inherit",
      }).output();
      const line = JSON.parse(new TextDecoder().decode(out.stdout));
      times.push(line.ms);
      peakMiB = Math.max(peakMiB, line.peakMiB);
      entries = line.entries;
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    console.log(JSON.stringify({ mode, entries, bestMs: times[0], medianMs: median, peakMiB }));
  }
} finally {
  await Deno.remove(stateDir, { recursive: true });
}
