/**
 * The record of a payout channel being opened (docs/OPERATIONS.md "Paying providers"): written
 * before the town sends the open, completed with the channel id once the open is mined, removed
 * once the channel's file and ledger line are written. A town killed in between finds it at its
 * next payout to that peer and finishes the open (deposit, file, ledger) instead of losing the
 * channel: the record proves the channel is the town's own and that no claim was signed on it.
 *
 * One small JSON file per peer address under `<stateDir>/payout_opens/`, replaced atomically.
 *
 * @module
 */
import { StateError } from "../state_error.ts";
import { writeFileAtomic } from "../atomic_file.ts";
import { readOptionalTextFile } from "../optional_text_file.ts";

/** A payout channel open under way. */
export interface PayoutOpenIntent {
  /** The BTP account paid. */
  account: string;
  /** The peer's EVM address. */
  peerAddress: `0x${string}`;
  /** The deposit the open is to carry, base units. */
  deposit: bigint;
  /** Settle timeout, seconds. */
  settleTimeout: bigint;
  /** Once the open is mined: the channel and its transaction. */
  channelId?: `0x${string}`;
  openTx?: `0x${string}`;
  /** ISO time the open started. */
  startedAt: string;
}

/** A record that cannot be read back (not this module's JSON). */
export class PayoutOpenIntentError extends StateError {
  override name = "PayoutOpenIntentError";
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/**
 * The path of the record for a peer address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const path = payoutOpenIntentPath("/srv/town", "0x00000000000000000000000000000000000000b0");
 * assert.equal(path, "/srv/town/payout_opens/0x00000000000000000000000000000000000000b0.json");
 * ```
 */
export function payoutOpenIntentPath(stateDir: string, peerAddress: string): string {
  if (!ADDRESS.test(peerAddress)) throw new PayoutOpenIntentError(`not an address: ${peerAddress}`);
  return `${stateDir}/payout_opens/${peerAddress.toLowerCase()}.json`;
}

/**
 * Writes (or replaces) the record; durable when it resolves.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir(); // the town's
 * const peerAddress = "0x00000000000000000000000000000000000000b0";
 * await writePayoutOpenIntent(stateDir, {
 *   account: "beta",
 *   peerAddress,
 *   deposit: 1_000_000n,
 *   settleTimeout: 600n,
 *   startedAt: new Date().toISOString(),
 * });
 * assert.equal((await readPayoutOpenIntent(stateDir, peerAddress))?.deposit, 1_000_000n);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function writePayoutOpenIntent(
  stateDir: string,
  intent: PayoutOpenIntent,
): Promise<void> {
  const path = payoutOpenIntentPath(stateDir, intent.peerAddress);
  await Deno.mkdir(`${stateDir}/payout_opens`, { recursive: true, mode: 0o700 });
  const json = JSON.stringify({
    ...intent,
    deposit: String(intent.deposit),
    settleTimeout: String(intent.settleTimeout),
  });
  await writeFileAtomic(path, `${json}\n`);
}

/**
 * The record for a peer address, or undefined when no open to it is under way.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * const peerAddress = "0x00000000000000000000000000000000000000b0";
 * assert.equal(await readPayoutOpenIntent(stateDir, peerAddress), undefined); // no open under way
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readPayoutOpenIntent(
  stateDir: string,
  peerAddress: string,
): Promise<PayoutOpenIntent | undefined> {
  const path = payoutOpenIntentPath(stateDir, peerAddress);
  const text = await readOptionalTextFile(path);
  if (text === undefined) return undefined;
  try {
    const o = JSON.parse(text);
    if (typeof o.account !== "string" || !ADDRESS.test(o.peerAddress)) throw new Error("fields");
    return { ...o, deposit: BigInt(o.deposit), settleTimeout: BigInt(o.settleTimeout) };
  } catch (err) {
    throw new PayoutOpenIntentError(`${path}: unreadable: ${(err as Error).message}`);
  }
}

/**
 * Every record under the state dir (the opens a crash interrupted, at start).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * const started = { deposit: 1n, settleTimeout: 600n, startedAt: new Date().toISOString() };
 * const peerAddress = "0x00000000000000000000000000000000000000b0";
 * await writePayoutOpenIntent(stateDir, { ...started, account: "beta", peerAddress });
 * assert.deepEqual((await listPayoutOpenIntents(stateDir)).map((i) => i.account), ["beta"]);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function listPayoutOpenIntents(stateDir: string): Promise<PayoutOpenIntent[]> {
  const out: PayoutOpenIntent[] = [];
  try {
    for await (const entry of Deno.readDir(`${stateDir}/payout_opens`)) {
      const m = entry.isFile ? /^(0x[0-9a-f]{40})\.json$/.exec(entry.name) : null;
      const intent = m ? await readPayoutOpenIntent(stateDir, m[1]) : undefined;
      if (intent) out.push(intent);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out;
}

/**
 * Removes the record (the open is finished); absent is fine.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * const started = { deposit: 1n, settleTimeout: 600n, startedAt: new Date().toISOString() };
 * const peerAddress = "0x00000000000000000000000000000000000000b0";
 * await writePayoutOpenIntent(stateDir, { ...started, account: "beta", peerAddress });
 * await clearPayoutOpenIntent(stateDir, peerAddress);
 * assert.deepEqual(await listPayoutOpenIntents(stateDir), []);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function clearPayoutOpenIntent(stateDir: string, peerAddress: string): Promise<void> {
  await Deno.remove(payoutOpenIntentPath(stateDir, peerAddress)).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
}
