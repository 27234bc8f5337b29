/**
 * What computing trust costs at N receipts (docs/PROTOCOL.md "Receipts and trust"): a profile
 * with N ended jobs (requester job records, each paid once on the payment log) among P
 * providers, its receipts signed once into the book; then, each in a fresh process so that its
 * peak RSS (VmHWM) is its own:
 *
 * - `book`: every provider's trust from the receipt book, each line's signature checked once
 *   (what `trust`, `providers` and `job submit` with a deposit share do: the lines a reading
 *   before checked, unchanged, are not checked again; one reading before the timed ones);
 * - `book-every`: the same with every line's signature checked at each reading (the book's
 *   checked mark removed before each: what each reading cost before the mark, and what
 *   `receipts --check` does);
 * - `records`: the obvious alternative, the receipts derived afresh from the job records and the
 *   payment log each time (what `receipts --check` does), then scored;
 * - `score`: the formula alone over receipts already in memory;
 * - `none`: the process with nothing run, the baseline of the peaks.
 *
 * Prints the signing of the book once, then per mode the best and median milliseconds over the
 * rounds and the peak RSS in MiB.
 *
 * Run: deno run -A bench/trust_bench_script.ts [--receipts 10000] [--providers 100] [--rounds 5]
 *
 * @module
 */
import { parseBenchFlags } from "./bench_flags.ts";
import { generateSecretKey } from "nostr-tools";
import { localNodeSigner } from "../identity/local_node_signer.ts";
import { openJobRepository } from "../state/jobs/job_repository.ts";
import { PAYMENT_LOG_NAME } from "../state/payments/payment_log_files.ts";
import { catchUpReceipts, deriveReceipts, readReceipts } from "../roles/receipts/receipt_ledger.ts";
import { RECEIPT_BOOK_CHECKED_NAME } from "../state/receipts/receipt_book.ts";
import { paidJobRecord } from "./aged_profile.ts";
import { trustScores } from "../protocol/trust_score.ts";

const { values } = parseBenchFlags(Deno.args, {
  values: ["receipts", "providers", "rounds", "measure", "state"],
  switches: [],
  usage: "Usage: deno run -A bench/trust_bench_script.ts [--receipts 10000] [--providers 100] " +
    "[--rounds 5]",
});
const rounds = Number(values.rounds ?? 5);

function peakMiB(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

async function measure(mode: string, stateDir: string): Promise<void> {
  // The formula alone starts from receipts already read (and checked); no other mode reads them.
  const inMemory = mode === "score"
    ? (await readReceipts(stateDir)).receipts.map((s) => s.receipt)
    : [];
  const run: Record<string, () => Promise<number>> = {
    none: () => Promise.resolve(0),
    book: async () => {
      const read = await readReceipts(stateDir);
      return trustScores(read.receipts.map((s) => s.receipt), { nowMs: Date.now() }).size;
    },
    "book-every": async () => {
      await Deno.remove(`${stateDir}/${RECEIPT_BOOK_CHECKED_NAME}`).catch(() => {});
      const read = await readReceipts(stateDir);
      return trustScores(read.receipts.map((s) => s.receipt), { nowMs: Date.now() }).size;
    },
    records: async () =>
      trustScores((await deriveReceipts(stateDir)).values(), { nowMs: Date.now() }).size,
    score: () => Promise.resolve(trustScores(inMemory, { nowMs: Date.now() }).size),
  };
  if (mode === "book") await readReceipts(stateDir); // the mark a reading before leaves
  const times: number[] = [];
  let providers = 0;
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    providers = await run[mode]();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({
    mode,
    providers,
    bestMs: Math.round(times[0]),
    medianMs: Math.round(times[Math.floor(times.length / 2)]),
    peakMiB: Math.round(peakMiB()),
  }));
}

async function fill(stateDir: string, n: number, providers: number): Promise<void> {
  const repo = await openJobRepository({ stateDir, durable: false });
  const lines: string[] = [];
  const now = Date.now();
  try {
    for (let i = 0; i < n; i++) {
      const id = (i + 1).toString(16).padStart(64, "0");
      const provider = (i % providers + 1).toString(16).padStart(64, "c");
      const at = now - (n - i) * 60_000;
      const invoiceId = (i + 1).toString(16).padStart(64, "e");
      const amount = 1000n + BigInt(i % 97) * 100n;
      const status = i % 10 === 0 ? "error" : "done";
      const record = paidJobRecord({ id, kind: 5603, provider, invoiceId, amount, at, status });
      await repo.create(record);
      const ts = new Date(at).toISOString();
      const base = { ts, direction: "out", jobId: id, invoiceId, amount: String(amount) };
      const rest = { asset: "M2M", peer: provider, category: "job", scale: 6 };
      lines.push(JSON.stringify({ ...base, event: "intent", ...rest }));
      const fulfillment = record.payments[0].fulfillment;
      lines.push(JSON.stringify({ ...base, event: "fulfilled", ...rest, fulfillment }));
    }
  } finally {
    repo.close();
  }
  await Deno.writeTextFile(`${stateDir}/${PAYMENT_LOG_NAME}`, lines.join("\n") + "\n");
}

if (values.measure !== undefined) {
  await measure(values.measure, values.state!);
} else {
  const n = Number(values.receipts ?? 10_000);
  const providers = Number(values.providers ?? 100);
  const stateDir = await Deno.makeTempDir({ prefix: "turnpike-trust-bench-" });
  try {
    await fill(stateDir, n, providers);
    using signer = localNodeSigner(generateSecretKey());
    const t0 = performance.now();
    const signed = await catchUpReceipts({ stateDir, signer });
    const signMs = Math.round(performance.now() - t0);
    const bytes = (await Deno.stat(`${stateDir}/receipts.jsonl`)).size;
    console.log(
      JSON.stringify({ receipts: signed, providers, signOnceMs: signMs, bookBytes: bytes }),
    );
    for (const mode of ["none", "score", "book-every", "book", "records"]) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          ...["run", "-A", new URL(import.meta.url).pathname, "--measure", mode],
          ...["--state", stateDir, "--rounds", String(rounds)],
        ],
        stderr: "inherit",
      }).output();
      await Deno.stdout.write(out.stdout);
    }
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
}
