/**
 * Test helper for the crash-delivered tests (docs/PROTOCOL.md "Payment channels and claims"):
 * claim-paid writes sent on several lanes at once until the town is killed mid-stream, each
 * write's price kept by event id, so that after the kill a test can weigh what the town counts
 * as delivered against what its store holds. The SQLite town's test
 * (tests/e2e/channel_crash_delivered_test.ts) and the shared PostgreSQL store's
 * (tests/e2e/town_shared_crash_delivered_test.ts) pay with it.
 *
 * @module
 */
import { assertEquals } from "./assert.ts";
import type { ClaimClient } from "./channel_town.ts";
import { buildPaidWrite } from "../roles/town_client/spsp_handshake.ts";

/** The claim client's price per byte, which the writes' prices are reckoned at. */
const PRICE_PER_BYTE = 10n;

/** Options for {@linkcode payWritesUntilKilled}. */
export interface WritesUntilKilledOptions {
  /** The payer on the town about to be killed. */
  payer: Pick<ClaimClient, "sign" | "write" | "grant">;
  /** The round: the kill comes after `40 + 17 * round` FULFILLs, a different point each round. */
  round: number;
  /** How many writes are in flight at once (one lane each). */
  inFlight: number;
  /** Every write sent, by event id, with its price; the writes of this round are added. */
  price: Map<string, bigint>;
  /** Kills the town (SIGKILL). */
  kill(): void;
  /** Called with each FULFILLed write's price. */
  onFulfill?(price: bigint): void;
}

/**
 * Sends writes on `inFlight` lanes, each asserting a FULFILL, until the connection goes with
 * the town `kill` ends (or 10,000 writes were sent).
 *
 * It needs a claim town on anvil, so it has no example here: the two crash-delivered tests
 * named in the module doc pay with it.
 */
export async function payWritesUntilKilled(options: WritesUntilKilledOptions): Promise<void> {
  const { payer, round, price } = options;
  const killAt = 40 + round * 17;
  let fulfilled = 0;
  let next = 0;
  await Promise.all(Array.from({ length: options.inFlight }, async () => {
    while (next < 10_000) {
      const event = payer.sign(`round ${round} note ${next++}`);
      const { prepare } = await buildPaidWrite({
        event,
        grant: payer.grant,
        pricePerByte: PRICE_PER_BYTE,
      });
      price.set(event.id, BigInt(prepare.amount));
      const reply = await payer.write(event).then((w) => w.reply, () => undefined);
      if (reply === undefined) return; // the connection went with the town
      assertEquals(reply.type, "fulfill");
      options.onFulfill?.(price.get(event.id)!);
      if (++fulfilled === killAt) options.kill();
    }
  }));
}

/**
 * What the writes `ids` are worth at the prices in `price` (an id not sent counts 0).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { valueOfWrites } from "./writes_in_flight.ts";
 *
 * const price = new Map([["a", 30n], ["b", 12n]]);
 * assert.equal(valueOfWrites(["a", "b", "c"], price), 42n);
 * ```
 */
export function valueOfWrites(ids: Iterable<string>, price: Map<string, bigint>): bigint {
  let value = 0n;
  for (const id of ids) value += price.get(id) ?? 0n;
  return value;
}
