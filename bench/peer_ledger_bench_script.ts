/**
 * What a town's books per peer (state/payments/peer_ledger.ts) cost it at start after a long run:
 * writes a ledger of `--packets` forwarded and fulfilled packets (two lines each, as a town
 * writes them) over `--accounts` children, then opens it in a process of its own, as `town up`
 * does, and prints the time to open it, the process's peak RSS and its heap after a GC: a first
 * start (the whole file read; it leaves a checkpoint, state/payments/peer_ledger_checkpoint.ts),
 * then a next one (from that checkpoint). The obvious alternative, in the same run: reading the
 * same file and parsing each line, keeping nothing (the least any full replay does). Run from a
 * worktree of another revision to compare.
 *
 * With `--credit-lines N`, the same for the town's peer credit counts (state/payments/peer_credit.ts:
 * N lines of takes and give-backs, summed at open).
 *
 * Run: deno run -A bench/peer_ledger_bench_script.ts [--packets 1000000] [--accounts 20]
 *   [--credit-lines 0]
 */
import { parseBenchFlags } from "./bench_flags.ts";

const USAGE =
  "deno run -A bench/peer_ledger_bench_script.ts [--packets N] [--accounts N] [--credit-lines N]";

/** One opening's figures, printed by the child as a JSON line. */
interface Opened {
  openMs: number;
  peakRssMiB: number;
  heapMiB: number;
  owed?: string;
  error?: string;
}

if (Deno.args[0] === "--child") {
  const [, mode, stateDir] = Deno.args;
  const started = performance.now();
  const out: Opened = { openMs: 0, peakRssMiB: 0, heapMiB: 0 };
  try {
    if (mode === "credit") {
      const { openFilePeerCredit } = await import("../state/payments/peer_credit.ts");
      const credit = await openFilePeerCredit({ stateDir });
      out.openMs = Math.round(performance.now() - started);
      out.owed = String(await credit.spent("child1"));
      await credit.close(); // with the checkpoint a long read leaves (not timed)
    } else if (mode === "ledger") {
      const { openPeerLedger } = await import("../state/payments/peer_ledger.ts");
      const ledger = await openPeerLedger({ stateDir });
      // The checkpoint a long read leaves is written before the process ends (not timed).
      out.openMs = Math.round(performance.now() - started);
      await (ledger as { flush?: () => Promise<void> }).flush?.();
      out.owed = String(ledger.balances().reduce((sum, b) => sum + b.owed, 0n));
    } else {
      // The least a replay does: every line read and parsed, nothing kept.
      let lines = 0;
      const stream = (await Deno.open(`${stateDir}/peer_ledger.jsonl`)).readable
        .pipeThrough(new TextDecoderStream());
      let rest = "";
      for await (const chunk of stream) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop() ?? "";
        for (const line of parts) if (JSON.parse(line).event) lines++;
      }
      out.owed = String(lines);
    }
  } catch (err) {
    out.error = (err as Error).message.slice(0, 200);
  }
  out.openMs ||= Math.round(performance.now() - started);
  (globalThis as { gc?: () => void }).gc?.();
  out.heapMiB = Math.round(Deno.memoryUsage().heapUsed / 2 ** 20);
  const status = await Deno.readTextFile("/proc/self/status");
  out.peakRssMiB = Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
  console.log(JSON.stringify(out));
  Deno.exit(0);
}

const flags = parseBenchFlags(Deno.args, {
  values: ["packets", "accounts", "credit-lines"],
  switches: [],
  usage: USAGE,
});
const packets = Number(flags.values.packets ?? 1_000_000);
const accounts = Number(flags.values.accounts ?? 20);
const creditLines = Number(flags.values["credit-lines"] ?? 0);
if (!(packets > 0) || !(accounts > 0)) {
  console.error(`Error: --packets and --accounts want positive numbers\n${USAGE}`);
  Deno.exit(2);
}

const stateDir = await Deno.makeTempDir({ prefix: "peer_ledger_bench_" });
try {
  const start = Date.parse("2026-01-01T00:00:00Z");
  await writeLines(`${stateDir}/peer_ledger.jsonl`, packets, (i) => {
    const account = `child${i % accounts}`;
    // Distinct 64-hex conditions and fulfillments; the ledger does not check one against the
    // other when it replays (it did when it wrote them).
    const condition = i.toString(16).padStart(64, "c");
    const fulfillment = i.toString(16).padStart(64, "f");
    const ts = new Date(start + i * 40).toISOString();
    return `{"ts":"${ts}","event":"forward","account":"${account}","condition":"${condition}",` +
      `"amount":"2500"}\n{"ts":"${ts}","event":"fulfilled","account":"${account}",` +
      `"condition":"${condition}","amount":"2500","fulfillment":"${fulfillment}"}\n`;
  });
  const bytes = (await Deno.stat(`${stateDir}/peer_ledger.jsonl`)).size;
  console.log(
    `peer ledger: ${packets} packets over ${accounts} accounts, ${
      (bytes / 2 ** 20).toFixed(1)
    } MiB on disk`,
  );
  for (const mode of ["lines parsed, nothing kept", "ledger, first start", "ledger, next start"]) {
    const opened = await openIn(mode.startsWith("ledger") ? "ledger" : "parse", stateDir);
    console.log(`  ${mode.padEnd(27)} ${describe(opened)}`);
  }
  if (creditLines > 0) {
    // A take, and every seventh a give-back (a refused packet), as a town writes them.
    await writeLines(
      `${stateDir}/peer_credit.jsonl`,
      creditLines,
      (i) => `{"a":"child${i % accounts}","d":"${i % 7 === 0 ? "-2500" : "2500"}"}\n`,
    );
    const bytes = (await Deno.stat(`${stateDir}/peer_credit.jsonl`)).size;
    console.log(`peer credit: ${creditLines} lines, ${(bytes / 2 ** 20).toFixed(1)} MiB on disk`);
    for (const mode of ["credit, first start", "credit, next start"]) {
      const opened = await openIn("credit", stateDir);
      console.log(`  ${mode.padEnd(27)} ${describe(opened)}`);
    }
  }
} finally {
  await Deno.remove(stateDir, { recursive: true });
}

/** Opens the state dir's files in a process of its own (`--child mode`). */
async function openIn(mode: string, stateDir: string): Promise<Opened> {
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      "--child",
      mode,
      stateDir,
    ],
    stderr: "inherit",
  }).output();
  return JSON.parse(new TextDecoder().decode(child.stdout)) as Opened;
}

function describe(opened: Opened): string {
  return (opened.error === undefined
    ? `open ${opened.openMs} ms, peak RSS ${opened.peakRssMiB} MiB, heap after GC ${opened.heapMiB} MiB`
    : `FAILED after ${opened.openMs} ms: ${opened.error}`) +
    (opened.owed === undefined ? "" : ` (${opened.owed})`);
}

/** Writes `count` pieces of text, a MiB at a time. */
async function writeLines(path: string, count: number, text: (i: number) => string) {
  using file = await Deno.open(path, { write: true, create: true });
  const encoder = new TextEncoder();
  let batch = "";
  for (let i = 0; i < count; i++) {
    batch += text(i);
    if (batch.length > 1 << 20) {
      await file.write(encoder.encode(batch));
      batch = "";
    }
  }
  await file.write(encoder.encode(batch));
}
