/**
 * Helpers of the tests that run towns as processes under the reference connector
 * (tests/e2e/town_network_test.ts, tests/e2e/provider_town_uplinks_test.ts): URLs of a town
 * process, its pubkey from NIP-11, a node's payment log, and a hang guard.
 *
 * @module
 */
import { generateSecretKey } from "nostr-tools";
import { type Requester, startRequester } from "../../roles/requester/requester_node.ts";
import { writeRecordingSkill } from "../../harness/requester_network.ts";
import type { SharedTownProcess } from "../../harness/shared_town_process.ts";
import { readPaymentLogText } from "../../state/payments/payment_log_files.ts";
import { readProviderIncome } from "../../state/jobs/provider_job_index.ts";

/**
 * A hang guard (not a timing assertion): rejects with a clear error after `ms`.
 *
 * @example
 * ```ts
 * declare const requester: { waitFor(id: string): Promise<unknown> };
 * declare const id: string;
 * const done = await within("the job", requester.waitFor(id));
 * ```
 */
export function within<T>(what: string, promise: Promise<T>, ms = 90_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) =>
      timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms)
    ),
  ]);
}

/**
 * One entry of a node's payment log (its chunks and `payment_log.jsonl`, and a provider's income
 * rows), the fields the tests read.
 */
export interface PaymentLogEntry {
  event: string;
  jobId: string;
  invoiceId: string;
  amount: string;
  peer: string;
  category: string;
  direction: string;
}

/**
 * The payment log of the node whose state dir is `stateDir` (none yet: empty).
 *
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * const paid = (await paymentLog(dir)).filter((e) => e.category === "job");
 * ```
 */
export async function paymentLog(stateDir: string): Promise<PaymentLogEntry[]> {
  const text = await readPaymentLogText(stateDir);
  const lines = text.trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
  return [...lines, ...readProviderIncome(stateDir, "2000-01-01").entries as PaymentLogEntry[]];
}

/**
 * The town's NIP-01 URL.
 *
 * @example
 * ```ts
 * declare const town: Parameters<typeof relayOf>[0];
 * relayOf(town); // "ws://127.0.0.1:41234"
 * ```
 */
export const relayOf = (t: SharedTownProcess): string => `ws://127.0.0.1:${t.httpPort}`;

/**
 * The town's BTP URL for account `user` (token `t`).
 *
 * @example
 * ```ts
 * declare const town: Parameters<typeof btpOf>[0];
 * btpOf(town, "provider"); // "btp+ws://provider:t@127.0.0.1:41235"
 * ```
 */
export const btpOf = (t: SharedTownProcess, user: string): string =>
  `btp+ws://${user}:t@127.0.0.1:${t.btpPort}`;

/**
 * The town's pubkey (its NIP-11 `self`).
 *
 * @example
 * ```ts
 * declare const town: Parameters<typeof townPubkeyOf>[0];
 * const townPubkey = await townPubkeyOf(town);
 * ```
 */
export async function townPubkeyOf(town: SharedTownProcess): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${town.httpPort}/`, {
    headers: { accept: "application/nostr+json" },
  });
  const doc = await res.json();
  return doc.self;
}

/**
 * A requester in `<root>/<name>` whose one town is `town` (BTP account `name`, token `t`), with a
 * recording callback skill and a short audit window; the caller closes it.
 *
 * @example
 * ```ts
 * import type { SharedTownProcess } from "../../harness/shared_town_process.ts";
 * import { requesterOnTown } from "./town_network_kit.ts";
 * declare const town: SharedTownProcess;
 * const requester = await requesterOnTown("/tmp/net", "requester", town);
 * await requester.close();
 * ```
 */
export async function requesterOnTown(
  root: string,
  name: string,
  town: SharedTownProcess,
): Promise<Requester> {
  const stateDir = `${root}/${name}`;
  await Deno.mkdir(stateDir, { recursive: true });
  return await startRequester({
    stateDir,
    secretKey: generateSecretKey(),
    relayUrl: relayOf(town),
    btpUrl: btpOf(town, name),
    btpToken: "t",
    skillsDir: await writeRecordingSkill(stateDir),
    auditWindowMs: 50,
  });
}
