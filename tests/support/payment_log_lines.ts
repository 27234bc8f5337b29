/**
 * Every line of a state dir's payment log, wherever the log keeps it: the current file, and the
 * sealed chunks and rotated days under `payment_log/` (state/payments/payment_log.ts). A provider
 * that writes many lines (heartbeats, the writes its bills count) seals the current file into a
 * chunk every 16 KiB: a test that reads `payment_log.jsonl` alone misses what was sealed.
 *
 * @module
 */

/** A payment log line, as far as the tests read it. */
export interface PaymentLogLine {
  jobId?: string;
  direction: string;
  event?: string;
  amount?: string;
  [field: string]: unknown;
}

/**
 * The payment log's lines of `stateDir` (a partial last line, as a SIGKILL leaves, skipped).
 *
 * @example
 * ```ts
 * import { paymentLogLines } from "./payment_log_lines.ts";
 *
 * const lines = await paymentLogLines(await Deno.makeTempDir());
 * console.log(lines.filter((l) => l.direction === "in").length); // 0
 * ```
 */
export async function paymentLogLines(stateDir: string): Promise<PaymentLogLine[]> {
  const files = [`${stateDir}/payment_log.jsonl`, ...await jsonlUnder(`${stateDir}/payment_log`)];
  const lines: PaymentLogLine[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(file).catch(() => "");
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      try {
        lines.push(JSON.parse(line) as PaymentLogLine);
      } catch {
        // A partial last line: the log skips it too.
      }
    }
  }
  return lines;
}

async function jsonlUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) found.push(...await jsonlUnder(path));
      else if (entry.name.endsWith(".jsonl")) found.push(path);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return found.sort();
}
