/**
 * A town's payout to one peer (roles/town/channels/peer_payout.ts) whose claim cannot be made,
 * here because the key's signer fails (as when its worker is gone): the payout nobody awaits (a
 * FULFILL's threshold, the interval) says so in the town's log; nothing is written to the channel
 * file or the ledger, and the next payment tries again and pays all that is owed. Before, that
 * failure was said nowhere (the payouts' queue swallowed it).
 */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { PeerPayout } from "../../../../roles/town/channels/peer_payout.ts";
import { localNodeSigner } from "../../../../identity/local_node_signer.ts";
import type { NodeSigner } from "../../../../protocol/node_signer.ts";
import {
  channelFilePath,
  readChannel,
  saveChannel,
} from "../../../../state/channels/channel_file.ts";
import { openPeerLedger } from "../../../../state/payments/peer_ledger.ts";
import { fixtureChannelRecord } from "../../../support/channel_record_fixture.ts";

const CHANNEL = `0x${"c4".repeat(32)}` as const;

Deno.test("peer payout: a claim that cannot be signed is logged; nothing is written; the next one pays all that is owed", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const real = localNodeSigner(crypto.getRandomValues(new Uint8Array(32)));
    let signerDown = true;
    // The real signer, with its EVM signatures failing while `signerDown`.
    const evm = new Proxy(real.evm, {
      get(target, prop, receiver) {
        if (prop === "signTypedData" && signerDown) {
          return () => Promise.reject(new Error("the signer's worker is gone"));
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const signer: NodeSigner = { ...real, evmAddress: real.evmAddress, evm };
    const record = fixtureChannelRecord({
      channelId: CHANNEL,
      tokenNetworkAddress: `0x${"a1".repeat(20)}`,
      tokenAddress: `0x${"b1".repeat(20)}`,
      selfAddress: real.evmAddress,
      peerAddress: `0x${"be".repeat(20)}`,
      deposit: 100_000n,
    }, { openedAt: "2026-01-01T00:00:00.000Z" });
    await saveChannel(record, { stateDir, action: "open" });
    const ledger = await openPeerLedger({ stateDir });
    const log: string[] = [];
    const sent: Uint8Array[] = [];
    const payout = new PeerPayout({
      stateDir,
      ledger,
      account: "beta",
      signer,
      record,
      policy: { threshold: 1_000n, intervalMs: 3_600_000 },
      send: (claim) => {
        sent.push(claim);
        return Promise.resolve();
      },
      log: (line) => log.push(line),
    });
    try {
      await ledger.forward("beta", "ab".repeat(32), 2_500n);
      await ledger.fulfilled("beta", "ab".repeat(32), "cd".repeat(32));
      payout.check(); // what the town's onOwed does after a FULFILL
      // Payouts run one after the other: this one ends after the one check() started.
      const again = await payout.pay("asked").then(() => undefined, (err: Error) => err.message);
      assertEquals(again, "the signer's worker is gone");
      assert(
        log.some((l) => l.includes("no claim (threshold): the signer's worker is gone")),
        log.join("\n"),
      );
      assertEquals(sent.length, 0);
      assertEquals((await readChannel(channelFilePath(stateDir, CHANNEL))).sentNonce, 0n);
      assertEquals(ledger.balance("beta").claimed, 0n);

      signerDown = false;
      await ledger.forward("beta", "ef".repeat(32), 2_500n);
      await ledger.fulfilled("beta", "ef".repeat(32), "01".repeat(32));
      const claim = await payout.pay("threshold");
      assertEquals([claim?.nonce, claim?.transferredAmount], [1n, 5_000n]);
      assertEquals(sent.length, 1);
      assertEquals(ledger.balance("beta").claimed, 5_000n);
    } finally {
      await payout.close();
    }
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
