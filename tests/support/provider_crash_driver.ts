/**
 * A provider process for crash tests: starts a provider node on a state dir, prints `ready`, and
 * runs until SIGTERM (then stops and exits 0). With `TP_KILL_AT` it SIGKILLs itself once, while
 * it records a job's deposit payment (roles/provider/payments/payment_desk.ts), before the
 * FULFILL can leave:
 *
 * - `record-before-line`: once the job's `paid` record is on disk without its income: the state
 *   an older turnpike's desk (the record first, its payment log line after) left a kill in;
 * - `line-before-record`: the `paid` record is not written; the process waits until the income
 *   is on disk (a line of the payment log, or a row of the job index: written alongside the
 *   record by a desk that writes them at once) or 3 s have passed (a desk that writes them in
 *   one transaction never writes it alone), then dies;
 * - `line-before-fulfill`: once the income of a job's payment is on disk (its row, in the
 *   transaction of its `paid` record), before the FULFILL is sent (the desk sends it when that
 *   write resolves).
 *
 * Environment: TP_STATE_DIR, TP_SECRET_KEY (hex), TP_RELAY_URL, TP_BTP_URL, TP_TOWN_PUBKEY,
 * TP_TOWN_ADDRESS, TP_SKILLS_DIR; optional TP_KILL_AT.
 *
 * @module
 */
import { hexToBytes } from "@noble/hashes/utils.js";
import { startProviderNode } from "../../roles/provider/provider_node.ts";
import type { ProviderJobRecord } from "../../state/jobs/provider_job_record.ts";
import type { ProviderJobWrite } from "../../state/jobs/provider_job_store.ts";
import { readProviderIncome } from "../../state/jobs/provider_job_index.ts";
import { parseIlpInvoice } from "../../protocol/ilp_invoice.ts";

const killAt = Deno.env.get("TP_KILL_AT");

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

/** Whether the payment log or the job index holds the income of the invoice's condition. */
async function lineOnDisk(condition: string): Promise<boolean> {
  const text = await Deno.readTextFile(`${stateDir}/payment_log.jsonl`).catch(() => "");
  const rows = readProviderIncome(stateDir, "2000-01-01").entries;
  return text.includes(condition) || rows.some((e) => e.invoiceId === condition);
}

if (killAt === "line-before-fulfill") {
  // The kill lands between the commit of the record and its income row and the FULFILL the
  // payment desk sends once that write resolves.
  const store = provider.store;
  const put = store.put.bind(store);
  store.put = async (record: ProviderJobRecord, options?: ProviderJobWrite) => {
    await put(record, options);
    if (options?.income !== undefined) Deno.kill(Deno.pid, "SIGKILL");
  };
} else if (killAt === "record-before-line" || killAt === "line-before-record") {
  const store = provider.store;
  const put = store.put.bind(store);
  store.put = async (record: ProviderJobRecord, options?: ProviderJobWrite) => {
    if (record.status !== "paid" || record.invoice === undefined) {
      return await put(record, options);
    }
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
