/**
 * A remote worker as the Witness saw it (roles/requester/witness_book.ts), as one line of text:
 * `witness`, `node status` and the dashboard's job detail say it the same way.
 *
 * @module
 */
import type { WitnessWorker } from "../roles/requester/witness_book.ts";

/**
 * One worker as a line of text.
 *
 * @example
 * ```ts
 * import { workerText } from "./witness_worker_text.ts";
 *
 * const line = workerText({
 *   job: "ab".repeat(32),
 *   key: "bead:gt-1",
 *   state: "alive",
 *   status: "paid",
 *   periodS: 60,
 * });
 * if (!line.startsWith("abababababab alive")) throw new Error(line);
 * ```
 */
export function workerText(w: WitnessWorker): string {
  const parts = [`${w.job.slice(0, 12)} ${w.state}`];
  if (w.provider) parts.push(`at ${w.provider.slice(0, 12)}`);
  if (w.reslungTo) parts.push(`slung again as ${w.reslungTo.slice(0, 12)}`);
  if (w.silentS !== undefined) parts.push(`last beat ${w.silentS} s ago (every ${w.periodS} s)`);
  if (w.spend) parts.push(`spent ${w.spend.cost} of ${w.spend.budget} (${w.spend.calls} calls)`);
  parts.push(w.key);
  if (w.transcript !== undefined) parts.push(`| ${w.transcript}`);
  return parts.join(", ");
}
