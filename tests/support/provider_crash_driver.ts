/**
 * A provider process for crash tests: starts a provider node on a state dir, prints `ready`, and
 * runs until SIGTERM (then stops and exits 0). With `TP_KILL_AT` it SIGKILLs itself once, while
 * it records a job's deposit payment (roles/provider/payments/payment_desk.ts), before the
 * FULFILL can leave:
 *
 * - `record-before-line`: once the job's `paid` record is on disk (its income line not yet);
 * - `line-before-record`: the `paid` record is not written; the process waits until the income
 *   line is in the payment log (written alongside the record by a desk that writes them at once)
 *   or 3 s have passed (a desk that writes the record first never writes it), then dies;
 * - `line-before-fulfill`: once the income line of a job's payment is on disk (its record too),
 *   before the FULFILL is sent (the desk sends it when the line's append resolves).
 *
 * Environment: TP_STATE_DIR, TP_SECRET_KEY (hex), TP_RELAY_URL, TP_BTP_URL, TP_TOWN_PUBKEY,
 * TP_TOWN_ADDRESS, TP_SKILLS_DIR; optional TP_KILL_AT.
 *
 * @module
 */
import { hexToBytes } from "@noble/hashes/utils.js";
import { startProviderNode } from "../../roles/provider/provider_node.ts";
import type { ProviderJobRecord } from "../../state/jobs/provider_job_record.ts";
import { parseIlpInvoice } from "../../protocol/ilp_invoice.ts";
import { type PaymentEntry, PaymentLog } from "../../state/payments/payment_log.ts";

const killAt = Deno.env.get("TP_KILL_AT");
if (killAt === "line-before-fulfill") {
  // Patched before the node opens its log: the kill lands between the append's fsync and the
  // FULFILL the payment desk sends once the append resolves.
  const append = PaymentLog.prototype.append;
  PaymentLog.prototype.append = function (this: PaymentLog, entry: PaymentEntry) {
    const written = append.call(this, entry);
    if (entry.direction !== "in" || entry.event !== "fulfilled") return written;
    return written.then(() => Deno.kill(Deno.pid, "SIGKILL"));
  };
}

const env = (name: string): string => {
  const v = Deno.env.get(name);
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const stateDir = env("TP_STATE_DIR");
const provider = await startProviderNode({
  stateDir,
  secretKey: hexToBytes(env("TP_SECRET_KEY")),
  btpUrl: env("TP_BTP_URL"),
  btpToken: "p",
  relayUrl: env("TP_RELAY_URL"),
  townPubkey: env("TP_TOWN_PUBKEY"),
  townAddress: env("TP_TOWN_ADDRESS"),
  skillsDir: env("TP_SKILLS_DIR"),
  heartbeatMs: 3_600_000,
  log: (line) => console.log(line),
});

/** Whether the payment log holds a line naming the invoice's condition. */
async function lineOnDisk(condition: string): Promise<boolean> {
  const text = await Deno.readTextFile(`${stateDir}/payment_log.jsonl`).catch(() => "");
  return text.includes(condition);
}

if (killAt === "record-before-line" || killAt === "line-before-record") {
  const store = provider.store;
  const put = store.put.bind(store);
  store.put = async (record: ProviderJobRecord) => {
    if (record.status !== "paid" || record.invoice === undefined) return await put(record);
    if (killAt === "record-before-line") {
      await put(record);
    } else {
      const condition = parseIlpInvoice(record.invoice).condition;
      for (let i = 0; i < 300 && !(await lineOnDisk(condition)); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    Deno.kill(Deno.pid, "SIGKILL");
  };
}

const stopped = Promise.withResolvers<void>();
Deno.addSignalListener("SIGTERM", () => stopped.resolve());
console.log("ready");
await stopped.promise;
await provider.stop();
Deno.exit(0);
