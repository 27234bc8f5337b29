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
 * Run: deno run -A bench/peer_ledger_bench_script.ts [--packets 1000000] [--accounts 20]
 */
import { parseBenchFlags } from "./bench_flags.ts";

const USAGE = "deno run -A bench/peer_ledger_bench_script.ts [--packets N] [--accounts N]";

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
    if (mode === "ledger") {
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
  values: ["packets", "accounts"],
  switches: [],
  usage: USAGE,
});
const packets = Number(flags.values.packets ?? 1_000_000);
const accounts = Number(flags.values.accounts ?? 20);
if (!(packets > 0) || !(accounts > 0)) {
  console.error(`Error: --packets and --accounts want positive numbers\n${USAGE}`);
  Deno.exit(2);
}

const stateDir = await Deno.makeTempDir({ prefix: "peer_ledger_bench_" });
try {
  const file = await Deno.open(`${stateDir}/peer_ledger.jsonl`, { write: true, create: true });
  const encoder = new TextEncoder();
  const start = Date.parse("2026-01-01T00:00:00Z");
  let batch = "";
  for (let i = 0; i < packets; i++) {
    const account = `child${i % accounts}`;
    // Distinct 64-hex conditions and fulfillments; the ledger does not check one against the
    // other when it replays (it did when it wrote them).
    const condition = i.toString(16).padStart(64, "c");
    const fulfillment = i.toString(16).padStart(64, "f");
    const ts = new Date(start + i * 40).toISOString();
    batch += `{"ts":"${ts}","event":"forward","account":"${account}","condition":"${condition}",` +
      `"amount":"2500"}\n{"ts":"${ts}","event":"fulfilled","account":"${account}",` +
      `"condition":"${condition}","amount":"2500","fulfillment":"${fulfillment}"}\n`;
    if (batch.length > 1 << 20) {
      await file.write(encoder.encode(batch));
      batch = "";
    }
  }
  await file.write(encoder.encode(batch));
  file.close();
  const bytes = (await Deno.stat(`${stateDir}/peer_ledger.jsonl`)).size;
  console.log(
    `peer ledger: ${packets} packets over ${accounts} accounts, ${
      (bytes / 2 ** 20).toFixed(1)
    } MiB on disk`,
  );
  for (const mode of ["lines parsed, nothing kept", "ledger, first start", "ledger, next start"]) {
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        new URL(import.meta.url).pathname,
        "--child",
        mode.startsWith("ledger") ? "ledger" : "parse",
        stateDir,
      ],
      stderr: "inherit",
    }).output();
    const opened = JSON.parse(new TextDecoder().decode(child.stdout)) as Opened;
    console.log(
      `  ${mode.padEnd(27)} ${
        opened.error === undefined
          ? `open ${opened.openMs} ms, peak RSS ${opened.peakRssMiB} MiB, heap after GC ${opened.heapMiB} MiB`
          : `FAILED after ${opened.openMs} ms: ${opened.error}`
      }${opened.owed === undefined ? "" : ` (${opened.owed})`}`,
    );
  }
} finally {
  await Deno.remove(stateDir, { recursive: true });
}
