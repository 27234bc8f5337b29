/**
 * What an audit commit of a payment costs as the day's payment log grows: the log is filled to
 * each `--sizes` line count (lines of about 400 bytes, a fulfilled payment's, committed in
 * groups of 500), then `--commits` payments are appended one at a time, each committed before
 * the next (the audit trail's in-process writer, `state/audit/git_commit_writer.ts`). Per commit:
 * this process's CPU ms, wall ms, and the bytes `.git/objects` grew by (the files' sizes, and
 * the disk blocks they take).
 *
 *     deno run -A bench/audit_payment_log_bench_script.ts [--sizes 0,1000,10000] [--commits 50]
 *
 * @module
 */
import { openAuditLog } from "../state/audit/audit_log.ts";
import { openPaymentLog, type PaymentEntry } from "../state/payments/payment_log.ts";
import { parseBenchFlags } from "./bench_flags.ts";
import { processCpuMs } from "./process_cpu.ts";

const { values } = parseBenchFlags(Deno.args, {
  values: ["sizes", "commits"],
  switches: [],
  usage:
    "Usage: deno run -A bench/audit_payment_log_bench_script.ts [--sizes 0,1000,10000] [--commits 50]",
});
const sizes = (values.sizes ?? "0,1000,10000").split(",").map(Number);
const commits = Number(values.commits ?? 50);
const FILL_GROUP = 500;

/** The files under `dir`: their bytes, and the disk they take (512-byte blocks). */
function usage(dir: string): { bytes: number; disk: number } {
  let bytes = 0, disk = 0;
  for (const e of Deno.readDirSync(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) {
      const sub = usage(path);
      bytes += sub.bytes;
      disk += sub.disk;
    } else if (e.isFile) {
      const info = Deno.statSync(path);
      bytes += info.size;
      disk += (info.blocks ?? 0) * 512;
    }
  }
  return { bytes, disk };
}

let n = 0;
/** Random hex, as ids and fulfillments are (they do not compress). */
function hex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

function entry(): PaymentEntry {
  n++;
  return {
    ts: new Date().toISOString(),
    direction: "out",
    event: "fulfilled",
    jobId: hex(32),
    invoiceId: hex(16),
    amount: String(1000 + n),
    asset: "USD",
    peer: "cd".repeat(32),
    fulfillment: hex(32),
    category: "job",
    scale: 6,
  };
}

for (const size of sizes) {
  const dir = await Deno.makeTempDir();
  try {
    const audit = await openAuditLog({ dir, windowMs: 1 });
    const log = await openPaymentLog({ stateDir: dir, audit });
    for (let done = 0; done < size; done += FILL_GROUP) {
      const group = Math.min(FILL_GROUP, size - done);
      await Promise.all(Array.from({ length: group }, () => log.append(entry())));
      await audit.flush();
    }
    const logBytes = usage(dir).bytes - usage(`${dir}/.git`).bytes;
    const g0 = usage(`${dir}/.git/objects`);
    const c0 = (await processCpuMs()).self;
    const t0 = performance.now();
    for (let i = 0; i < commits; i++) {
      const before = audit.commits;
      await log.append(entry());
      // Committed by its window (1 ms), not by flush (which also puts the index back).
      while (audit.commits === before) await new Promise((r) => setTimeout(r, 1));
    }
    const cpu = ((await processCpuMs()).self) - c0;
    const ms = performance.now() - t0;
    const g1 = usage(`${dir}/.git/objects`);
    await audit.close();
    console.log(
      `${size} lines (state dir files ${(logBytes / 1024).toFixed(0)} KiB): ${commits} commits: ` +
        `${(cpu / commits).toFixed(2)} ms CPU, ${(ms / commits).toFixed(2)} ms wall per commit; ` +
        `.git/objects +${((g1.bytes - g0.bytes) / commits / 1024).toFixed(1)} KiB per commit ` +
        `(disk +${((g1.disk - g0.disk) / commits / 1024).toFixed(1)} KiB)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
