/**
 * `channel list` as an agent reads it (docs/AGENTS.md "A channel's figures"): the state a town
 * outage leaves, written by the state layer (a channel whose claims cover 34 paid packets, two of
 * them refused or unanswered, and a payment log of the 32 that were paid), then the CLI run as an
 * agent runs it, stdout parsed line by line:
 *
 * - the payer's `sent` is what `wallet history` adds up (its `payment` lines out), and `claimed`
 *   and `cover` say what the claims cover beyond it;
 * - the town's side of a settled channel shows `received` as what was delivered (what the close
 *   settled at), the newest claim apart as `receivedClaimed`.
 */
import { assertEquals } from "../../harness/assert.ts";
import { agentCli } from "../../harness/agent_cli.ts";
import { fixtureChannelRecord } from "../support/channel_record_fixture.ts";
import { saveChannel } from "../../state/channels/channel_file.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import { parseUnits } from "viem";

const PAYER = "0x1111111111111111111111111111111111111111";
const TOWN = "0x2222222222222222222222222222222222222222";
const PRICE = 1_000n;

Deno.test("channel list: sent equals wallet history's total while claims are ahead (refused and unanswered packets); a settled channel shows what settled", async () => {
  const home = await Deno.makeTempDir({ prefix: "channel_books_cli_" });
  try {
    const opened = Date.now() - 60_000;
    const record = fixtureChannelRecord({ selfAddress: PAYER, peerAddress: TOWN }, {
      openedAt: new Date(opened).toISOString(),
      // 34 claims, one per packet: 32 paid, one refused after its claim, one unanswered.
      sent: 34n * PRICE + 110n,
      sentNonce: 34n,
    });
    await saveChannel(record, { stateDir: `${home}/alice`, action: "open" });
    const log = await openPaymentLog({ stateDir: `${home}/alice` });
    const entry = (i: number, event: "intent" | "fulfilled" | "rejected") => ({
      ts: new Date(opened + 1_000 + i).toISOString(),
      direction: "out" as const,
      event,
      jobId: `job-${i}`,
      invoiceId: `inv-${i}`,
      amount: String(PRICE + (i === 0 ? 110n : 0n)),
      asset: record.tokenSymbol,
      scale: record.tokenDecimals,
      peer: "g.town",
      category: "town-write" as const,
      ...(event === "fulfilled" ? { fulfillment: "ab".repeat(32) } : {}),
      ...(event === "rejected" ? { reason: "T01 town stopped" } : {}),
    });
    for (let i = 0; i < 34; i++) {
      await log.append(entry(i, "intent"));
      if (i < 32) await log.append(entry(i, "fulfilled"));
      else if (i === 32) await log.append(entry(i, "rejected"));
      // i === 33: no answer (in doubt).
    }
    const alice = agentCli({ profile: "alice", env: { TURNPIKE_HOME: home }, secret: [] });

    const history = await alice("wallet", "history");
    assertEquals(history.code, 0, history.stderr);
    const paid = history.lines.filter((l) => l.type === "payment" && l.direction === "out")
      .reduce((sum, l) => sum + BigInt(String(l.amount)), 0n);
    assertEquals(paid, 32n * PRICE + 110n);

    const listed = await alice("channel", "list");
    assertEquals(listed.code, 0, listed.stderr);
    assertEquals(listed.lines.length, 1, listed.stdout);
    const channel = listed.lines[0];
    const units = (v: unknown) => parseUnits(String(v), record.tokenDecimals);
    assertEquals(units(channel.sent), paid, "sent is what the books paid");
    assertEquals(units(channel.claimed), record.sent);
    assertEquals(units(channel.cover), record.sent - paid);

    // The town's side, settled at what was delivered: that, not the newest claim, is received.
    const town = fixtureChannelRecord({ selfAddress: TOWN, peerAddress: PAYER }, {
      status: "settled",
      deposit: 0n,
      received: record.sent,
      receivedNonce: 34n,
      receivedForwarded: paid,
    });
    await saveChannel(town, { stateDir: `${home}/town`, action: "settle" });
    const townList = await agentCli({ profile: "town", env: { TURNPIKE_HOME: home }, secret: [] })(
      "channel",
      "list",
    );
    assertEquals(townList.code, 0, townList.stderr);
    const settled = townList.lines[0];
    assertEquals([settled.status, units(settled.received)], ["settled", paid]);
    assertEquals(units(settled.receivedClaimed), record.sent);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
