import { assertEquals, assertThrows } from "../../../../harness/assert.ts";
import {
  ChannelFileError,
  type ChannelRecord,
  encodeChannelToml,
  parseChannelToml,
} from "../../../../state/channels/channel_file.ts";
import { fixtureChannelRecord } from "../../../support/channel_record_fixture.ts";

const RECORD: ChannelRecord = fixtureChannelRecord({
  selfAddress: `0x${"33".repeat(20)}`,
  peerAddress: `0x${"44".repeat(20)}`,
  deposit: 50_000_000n,
}, {
  withdrawn: 10_000_000n,
  peerWithdrawn: 7n,
  sent: 8_750n,
  sentNonce: 12n,
  openedAt: "2025-01-01T00:00:00.000Z",
});

// A file as written before withdrawals existed (no withdrawn / peer_withdrawn lines).
const OLD_FILE = `channel_id = "0x${"ab".repeat(32)}"
chain = "evm:base:31337"
chain_id = 31337
network = "local"
token_network_address = "0x${"11".repeat(20)}"
token_address = "0x${"22".repeat(20)}"
token_symbol = "M2M"
token_decimals = 6
self_address = "0x${"33".repeat(20)}"
peer_address = "0x${"44".repeat(20)}"
status = "open"
deposit = "50000000"
peer_deposit = "0"
sent = "8750"
sent_nonce = "12"
received = "0"
received_nonce = "0"
settle_timeout = "600"
settle_at = "0"
opened_at = "2025-01-01T00:00:00.000Z"
warn_percent = 10
`;

Deno.test("channel file: withdrawn totals round-trip as decimal strings", () => {
  const text = encodeChannelToml(RECORD);
  assertEquals(text.includes(`withdrawn = "10000000"`), true);
  assertEquals(text.includes(`peer_withdrawn = "7"`), true);
  assertEquals(parseChannelToml(text), RECORD);
});

Deno.test("channel file: an old file without withdrawn totals reads as 0", () => {
  const record = parseChannelToml(OLD_FILE);
  assertEquals(record.withdrawn, 0n);
  assertEquals(record.peerWithdrawn, 0n);
  assertEquals(record, { ...RECORD, withdrawn: 0n, peerWithdrawn: 0n });
});

Deno.test("channel file: a bad withdrawn total is refused", () => {
  for (const line of [`withdrawn = "-1"`, `withdrawn = "1.5"`, `peer_withdrawn = 3`]) {
    assertThrows(() => parseChannelToml(`${OLD_FILE}${line}\n`), ChannelFileError, "withdrawn");
  }
});
