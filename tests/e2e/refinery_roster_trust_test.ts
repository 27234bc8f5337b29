/**
 * The refinery orders by the combined trust `providers` uses (cli/refinery_trust.ts,
 * docs/AGENTS.md "The refinery"): a real relay (the reference Nostr relay over a socket) holds the
 * Mayor's roster (kind 3) and NIP-85 assertions (kind 30382); two results alike but for their
 * provider and size are ordered by the refinery's rule. An assertion from a roster key about the
 * larger result's provider puts it first; one from a key outside the roster changes nothing.
 * Before, the refinery read the profile's own receipts only, and no assertion moved it.
 */
import { assertEquals } from "../../harness/assert.ts";
import { startReferenceRelay } from "../../harness/reference_relay.ts";
import { refineryTrust } from "../../cli/refinery_trust.ts";
import { orderQueue } from "../../roles/agent_work/refinery/refinery_order.ts";
import { trustAssertionEvent } from "../../protocol/trust_assertion.ts";
import { createWalletRecord } from "../../identity/wallet.ts";
import { deriveNip06SecretKey } from "../../identity/nip06_key.ts";
import { walletFilePath, writeWalletFile } from "../../identity/wallet_file.ts";
import { finalizeEvent, generateSecretKey, getPublicKey, Relay } from "nostr-tools";

const MNEMONIC = "leader monkey parrot ring guide accident before fence cannon height naive bean";

Deno.test("the refinery's order moves with a roster key's trust assertion and not with one from outside the roster", async () => {
  const relay = await startReferenceRelay();
  const stateDir = await Deno.makeTempDir({ prefix: "turnpike-refinery-trust-" });
  const client = await Relay.connect(relay.url);
  try {
    // The Mayor's profile: a wallet, no receipts.
    await writeWalletFile(
      walletFilePath(stateDir),
      await createWalletRecord({ mnemonic: MNEMONIC, passphrase: "pw" }),
    );
    const mayor = deriveNip06SecretKey(MNEMONIC);
    const [bob, carol] = [generateSecretKey(), generateSecretKey()];
    const [a, b] = [getPublicKey(generateSecretKey()), getPublicKey(generateSecretKey())];
    let at = Math.floor(Date.now() / 1000) - 100;
    const publish = (
      template: Omit<Parameters<typeof finalizeEvent>[0], "created_at">,
      key: Uint8Array,
    ) => client.publish(finalizeEvent({ ...template, created_at: at++ }, key));
    await publish({ kind: 3, tags: [["p", getPublicKey(bob)]], content: "" }, mayor);

    // A's result is larger (100 lines to B's 50): alike otherwise, B goes first.
    const results = [
      { job: "from-a", provider: a, deliveredAtMs: 1_000, verdict: "pass", lines: 100 },
      { job: "from-b", provider: b, deliveredAtMs: 2_000, verdict: "pass", lines: 50 },
    ];
    const order = async () => {
      const trust = await refineryTrust({
        stateDir,
        relays: [relay.url],
        providers: results.map((r) => r.provider),
      });
      const queued = results.map((r) => ({ ...r, trust: trust.get(r.provider) }));
      return orderQueue(queued, { nowMs: 3_000 }).map((o) => o.result.job);
    };
    assertEquals(await order(), ["from-b", "from-a"]);

    // Carol, outside the roster, vouches for A: nothing moves.
    await publish(trustAssertionEvent({ subject: a, rank: 100 }), carol);
    assertEquals(await order(), ["from-b", "from-a"]);

    // Bob, on the roster, vouches for A: its result goes first.
    await publish(trustAssertionEvent({ subject: a, rank: 100 }), bob);
    assertEquals(await order(), ["from-a", "from-b"]);
  } finally {
    client.close();
    await relay.stop();
    await Deno.remove(stateDir, { recursive: true });
  }
});
