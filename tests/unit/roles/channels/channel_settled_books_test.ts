/**
 * A settle after a close on chain books the channel file by the proofs on chain
 * (roles/channels/channel_chain_sync.ts `settledBooks`): the payer's claims never submitted come
 * back (`Unclaimed`), a payee's newer claim never submitted is not paid (`Unsubmitted`, its
 * forwarded value capped), the refused packets' cover a payee did not take is `NotTaken`, and a
 * side whose proof is not on chain transferred nothing.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { settledBooks } from "../../../../roles/channels/channel_chain_sync.ts";
import { fixtureChannelRecord } from "../../../support/channel_record_fixture.ts";

const SELF = `0x${"a1".repeat(20)}` as const;
const PEER = `0x${"b2".repeat(20)}` as const;

function record(extra: Parameters<typeof fixtureChannelRecord>[1] = {}) {
  return fixtureChannelRecord({
    channelId: `0x${"c1".repeat(32)}`,
    selfAddress: SELF,
    peerAddress: PEER,
    deposit: 1_000_000n,
  }, extra);
}

Deno.test("settledBooks: the payer's newest claim the payee never submitted comes back", () => {
  const fields: Record<string, string> = {};
  const booked = settledBooks(
    record({ sent: 565_060n, sentNonce: 40n }),
    { [SELF.toLowerCase()]: { transferredAmount: 540_210n } },
    fields,
  );
  assertEquals([booked.sent, booked.received, booked.sentNonce], [540_210n, 0n, 40n]);
  assertEquals(fields, { Unclaimed: "24850" });
});

Deno.test("settledBooks: a payee's claim never submitted is not paid, its forwarded value capped", () => {
  const fields: Record<string, string> = {};
  const booked = settledBooks(
    record({ received: 30_000n, receivedNonce: 3n, receivedForwarded: 25_000n }),
    { [PEER.toLowerCase()]: { transferredAmount: 20_000n } },
    fields,
  );
  assertEquals([booked.received, booked.receivedForwarded], [20_000n, 20_000n]);
  assertEquals(fields, { Unsubmitted: "10000" });
});

Deno.test("settledBooks: a payee that took what it delivered books the refused cover as not taken", () => {
  const fields: Record<string, string> = {};
  const booked = settledBooks(
    record({ received: 36_600n, receivedNonce: 8n, receivedForwarded: 16_600n }),
    { [PEER.toLowerCase()]: { transferredAmount: 16_600n } },
    fields,
  );
  assertEquals([booked.received, booked.receivedForwarded], [16_600n, 16_600n]);
  assertEquals(fields, { NotTaken: "20000" });
});

Deno.test("settledBooks: no proof on chain is nothing transferred; equal books add no line", () => {
  const none: Record<string, string> = {};
  assertEquals(settledBooks(record({ sent: 5n, sentNonce: 1n }), {}, none).sent, 0n);
  assertEquals(none, { Unclaimed: "5" });
  const same: Record<string, string> = {};
  const booked = settledBooks(
    record({ sent: 7n, sentNonce: 1n }),
    { [SELF.toLowerCase()]: { transferredAmount: 7n } },
    same,
  );
  assertEquals([booked.sent, same], [7n, {}]);
});
