/**
 * The town pays its provider on chain (anvil, the real contracts, a real town and real BTP
 * sockets): alice pays 20 invoices of the provider "beta" through the town over her channel;
 * the town's books per peer (state/payments/peer_ledger.ts) owe beta each FULFILL once; past the
 * payout threshold the town opens a channel to beta's address and pays it with claims over
 * BTP (roles/town/channels/peer_payout.ts), which beta checks and keeps with the town's verification
 * code (roles/channels/payout_receiver.ts). Then both channels settle on chain and the chain pays each
 * of the three what its books say, to the unit. Beta, restarted with its claims file lost,
 * gets the town's newest claim again when it connects.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { generateSecretKey } from "nostr-tools";
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startChannelPair, startGasOnlyParty } from "../../harness/anvil_channel_pair.ts";
import {
  claimTownConfig,
  claimTownContact,
  connectClaimClient,
} from "../../harness/channel_town.ts";
import { openPairChannel, savePairChannel, settleOnTownClaim } from "../../harness/pair_channel.ts";
import { increaseTime } from "../../chain/anvil.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { openAuditLog } from "../../state/audit/audit_log.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import { openChannelClaimGate } from "../../roles/channels/btp_claim_gate.ts";
import { startTownNode } from "../../roles/town/town_node.ts";
import { TownPayouts } from "../../roles/town/channels/peer_payout.ts";
import { PayoutReceiver } from "../../roles/channels/payout_receiver.ts";
import type { ChannelChange } from "../../roles/channels/channel_watcher.ts";
import { BtpClient } from "../../transport/btp_client.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import { runCli } from "../../harness/run_cli.ts";
import {
  invoiceSecret,
  type PayoutReceiverProcessArgs,
} from "../support/payout_receiver_process.ts";

const PRICE = 2_500n;
const JOBS = 20;
const THRESHOLD = 10_000n;

/** Resolves with `probe()` once it is defined; a hang guard, not a time limit. */
async function until<T>(what: () => string, probe: () => T | undefined | Promise<T | undefined>) {
  for (let i = 0; i < 2400; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what()}`);
}

Deno.test("the town settles with its provider on chain: chain = books for all three (anvil)", async () => {
  await using pair = await startChannelPair();
  const dir = await Deno.makeTempDir({ prefix: "town_payout_" });
  const [townState, aliceState, betaState] = [`${dir}/town`, `${dir}/alice`, `${dir}/beta`];
  // Beta, the provider: its own key, gas to close with, no tokens.
  const { client: beta } = await startGasOnlyParty(pair);
  const start = {
    alice: await pair.alice.tokenBalance(),
    town: await pair.bob.tokenBalance(),
    beta: await beta.tokenBalance(),
  };
  const channel = await openPairChannel(pair, { deposit: 1_000_000n });
  await savePairChannel(channel, { townDir: townState, aliceDir: aliceState });
  const audit = await openAuditLog({ dir: townState });
  const gate = openChannelClaimGate({
    stateDir: townState,
    record: channel.townRecord,
    audit,
    readChannel: (id) => pair.bob.getChannel(id),
    triggeredBy: () => "test.town",
  });
  const config = claimTownConfig({ stateDir: townState });
  config.peers.push({ account: "beta", token: "beta-token" });
  const townLog: string[] = [];
  // The payouts need the running town (its ledger and peers); the town's hooks reach them.
  const hooks: { payouts?: TownPayouts } = {};
  const town = await startTownNode({
    config,
    secretKey: pair.bobKey,
    databasePath: ":memory:",
    claimGate: (account) => account === "alice" ? gate : undefined,
    onOwed: (balance) => hooks.payouts?.owed(balance),
    onPeerConnected: (account) => hooks.payouts?.connected(account),
    log: (line) => townLog.push(line),
  });
  const payouts = hooks.payouts = new TownPayouts({
    stateDir: townState,
    audit,
    ledger: town.ledger,
    signer: localNodeSigner(pair.bobKey),
    client: pair.bob,
    policy: { threshold: THRESHOLD, intervalMs: 3_600_000 },
    deposit: 200_000n,
    peerAddress: (account) => account === "beta" ? beta.address : undefined,
    send: async (account, claim) => {
      const peer = town.peer(account);
      if (!peer) throw new Error(`${account} is not connected`);
      await peer.sendClaim(claim, 10_000);
    },
    log: (line) => townLog.push(line),
  });
  // Beta answers the invoices it issued (their fulfillments are its secret) and keeps claims.
  const secrets = Array.from({ length: JOBS }, () => crypto.getRandomValues(new Uint8Array(32)));
  const byCondition = new Map(secrets.map((s) => [sha256(s).join(","), s]));
  const connectBeta = async (receiver: PayoutReceiver) => {
    const client = new BtpClient({
      url: claimTownContact(town).url,
      authToken: "beta-token",
      reconnect: false,
      onPrepare: (p) => {
        const secret = byCondition.get(p.executionCondition.join(","));
        return secret && BigInt(p.amount) === PRICE
          ? { type: "fulfill", fulfillment: secret, data: new Uint8Array(0) }
          : {
            type: "reject",
            code: "F02",
            triggeredBy: "",
            message: "no such invoice",
            data: new Uint8Array(0),
          };
      },
      onClaim: async (claim) => void await receiver.take(claim),
    });
    await client.connect();
    return client;
  };
  const receiver = new PayoutReceiver({
    stateDir: betaState,
    client: beta,
    townPubkey: town.pubkey,
  });
  let betaLink = await connectBeta(receiver);
  const alice = await connectClaimClient({
    ...claimTownContact(town),
    stateDir: aliceState,
    secretKey: pair.aliceKey,
    record: channel.aliceRecord,
  });
  try {
    // One paid write: the town's own fee.
    const write = await alice.write(alice.sign("a paid note"));
    assertEquals(write.reply.type, "fulfill");
    for (const secret of secrets) {
      const reply = await alice.client.sendPrepare({
        destination: "test.town.beta.invoice",
        amount: String(PRICE),
        executionCondition: sha256(secret),
        expiresAt: new Date(Date.now() + 30_000),
        data: new Uint8Array(0),
      });
      assertEquals(reply.type, "fulfill", JSON.stringify(reply));
    }
    const owed = PRICE * BigInt(JOBS);
    const books = town.ledger.balance("beta");
    assertEquals([books.owed, books.packets, books.inFlight, books.inDoubt], [owed, JOBS, 0n, 0n]);
    // Each threshold crossed was paid; what is left under it waits for the interval (here
    // asked for at once, as the interval would).
    const paidAtThreshold = await until(() => "payouts at the threshold", () => {
      const b = town.ledger.balance("beta");
      return b.owed - b.claimed < THRESHOLD ? b.claimed : undefined;
    });
    assert(paidAtThreshold > 0n && paidAtThreshold <= owed, `claimed ${paidAtThreshold}`);
    const last = await payouts.payNow("beta");
    // Nothing left to pay when a threshold payment already claimed it all: one queued by the
    // last FULFILLs may run after the snapshot above, and payNow runs after it (one queue).
    assertEquals(last?.transferredAmount ?? town.ledger.balance("beta").claimed, owed);
    const kept = await until(
      () => "beta keeps the claim for everything: " + townLog.join(" / "),
      async () => {
        const [record] = await receiver.records();
        return record?.received === owed ? record : undefined;
      },
    );
    assertEquals(town.ledger.balance("beta").claimed, owed);
    const payoutId = town.ledger.balance("beta").payoutChannel as `0x${string}`;
    assertEquals(kept.channelId, payoutId);
    const townPayout = await readChannel(channelFilePath(townState, payoutId));
    assertEquals([townPayout.sent, townPayout.deposit], [owed, 200_000n]);
    // The metrics show the books per peer.
    const metrics = await (await fetch(`http://127.0.0.1:${town.httpPort}/metrics`)).text();
    assert(metrics.includes(`turnpike_town_peer_owed{account="beta"} ${owed}`), metrics);
    assert(metrics.includes(`turnpike_town_peer_claimed{account="beta"} ${owed}`), metrics);

    // Beta loses its channel file and reconnects: the town sends its newest claim again.
    await betaLink.close();
    await receiver.close();
    await Deno.remove(`${betaState}/channels`, { recursive: true });
    const fresh = new PayoutReceiver({
      stateDir: betaState,
      client: beta,
      townPubkey: town.pubkey,
    });
    betaLink = await connectBeta(fresh);
    const recovered = await until(
      () => "the town resends its newest claim: " + townLog.join(" / "),
      async () => {
        const [record] = await fresh.records();
        return record?.received === owed ? record : undefined;
      },
    );
    await fresh.close();

    // Settlement: the town (the payer) closes the payout channel with no proof, which would pay
    // beta nothing; beta's watcher, started on the file kept from the run before, answers with
    // the town's newest claim. The town closes alice's with hers; after the timeout both settle.
    const changes: ChannelChange[] = [];
    const watching = new PayoutReceiver({
      stateDir: betaState,
      client: beta,
      townPubkey: town.pubkey,
      watch: { chain: beta, intervalMs: 50, onChange: (c) => changes.push(c) },
    });
    await watching.watchKept();
    await pair.bob.closeChannel(payoutId);
    await until(
      () => "beta's watcher to answer the town's close",
      async () => {
        const onChain = await beta.getChannel(payoutId);
        const paid = onChain.participants[pair.bob.address.toLowerCase()];
        // The watcher reports its update once the transaction's receipt is in, which can be
        // after the chain already shows it: wait for both.
        const reported = changes.some((c) => c.fields.UpdateTx);
        return paid?.nonce === recovered.receivedNonce && reported ? paid : undefined;
      },
    );
    const answered = changes.find((c) => c.fields.UpdateTx);
    assert(answered, "the watcher reports its update");
    assertStringIncludes(answered.fields.Disputed, `would pay 0 of the ${recovered.received}`);
    await watching.close();
    await gate.writer.durable();
    await settleOnTownClaim(pair, gate.record());
    await increaseTime(pair.anvil.rpcUrl, 601);
    await beta.settleChannel(payoutId);
    const end = {
      alice: await pair.alice.tokenBalance(),
      town: await pair.bob.tokenBalance(),
      beta: await beta.tokenBalance(),
    };
    const aliceSent = gate.record().received;
    const income = await openPaymentLog({ stateDir: townState });
    const townFees = income.entries().reduce((sum, e) => sum + BigInt(e.amount), 0n);
    assertEquals(aliceSent, owed + write.amount, "alice's claims cover the invoices and the write");
    // chain = books, for each of the three.
    assertEquals(start.alice - end.alice, aliceSent, "alice paid what her claims say");
    assertEquals(end.beta - start.beta, town.ledger.balance("beta").owed, "beta got its earnings");
    assertEquals(end.town - start.town, townFees, "the town kept its fees and nothing else");
    assertEquals(townFees, write.amount);
    // The operator's view of the same books.
    const shown = await runCli([
      "--state-dir",
      townState,
      "--output",
      "json",
      "town",
      "balances",
    ]);
    assertEquals(shown.code, 0, shown.stderr);
    const [row] = JSON.parse(shown.stdout).peers;
    assertEquals([row.account, row.owed, row.claimed, row.unclaimed, row.inDoubt], [
      "beta",
      String(owed),
      String(owed),
      "0",
      "0",
    ]);
  } finally {
    await alice.close();
    await betaLink.close();
    await payouts.close();
    await town.stop();
    await gate.writer.durable().catch(() => {});
    await audit.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a town's books refuse T04 past max owed, and nothing past it is forwarded", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "town_owed_" });
  const config = {
    ...claimTownConfig({ stateDir }),
    peers: [{ account: "alice", token: "alice-token" }, { account: "beta", token: "beta-token" }],
    payouts: { threshold: 1n, intervalMs: 3_600_000, maxOwed: 5_000n },
  };
  const town = await startTownNode({
    config,
    secretKey: generateSecretKey(),
    databasePath: ":memory:",
  });
  const seen: string[] = [];
  const beta = new BtpClient({
    url: claimTownContact(town).url,
    authToken: "beta-token",
    reconnect: false,
    onPrepare: (p) => {
      seen.push(p.amount);
      return { type: "fulfill", fulfillment: secretOf(p.amount), data: new Uint8Array(0) };
    },
  });
  const alice = new BtpClient({
    url: claimTownContact(town).url,
    authToken: "alice-token",
    reconnect: false,
  });
  try {
    await beta.connect();
    await alice.connect();
    const send = (amount: bigint) =>
      alice.sendPrepare({
        destination: "test.town.beta",
        amount: String(amount),
        executionCondition: sha256(secretOf(String(amount))),
        expiresAt: new Date(Date.now() + 30_000),
        data: new Uint8Array(0),
      });
    assertEquals((await send(3_000n)).type, "fulfill");
    const refused = await send(2_001n);
    assert(refused.type === "reject" && refused.code === "T04", JSON.stringify(refused));
    assertEquals(seen, ["3000"], "the refused packet never reached beta");
    assertEquals((await send(2_000n)).type, "fulfill");
    assertEquals(town.ledger.balance("beta").owed, 5_000n);
  } finally {
    await alice.close();
    await beta.close();
    await town.stop();
    await Deno.remove(stateDir, { recursive: true });
  }
});

function secretOf(amount: string): Uint8Array {
  return sha256(new TextEncoder().encode(`secret ${amount}`));
}

Deno.test("the provider killed holding the town's claims unsubmitted closes with them after (anvil)", async () => {
  await using pair = await startChannelPair();
  const dir = await Deno.makeTempDir({ prefix: "payout_crash_" });
  const [townState, aliceState, betaState] = [`${dir}/town`, `${dir}/alice`, `${dir}/beta`];
  const { key: betaKey, client: beta } = await startGasOnlyParty(pair);
  const channel = await openPairChannel(pair, { deposit: 1_000_000n });
  await savePairChannel(channel, { townDir: townState, aliceDir: aliceState });
  const audit = await openAuditLog({ dir: townState });
  const config = claimTownConfig({ stateDir: townState });
  config.peers.push({ account: "beta", token: "beta-token" });
  const hooks: { payouts?: TownPayouts } = {};
  const town = await startTownNode({
    config,
    secretKey: pair.bobKey,
    databasePath: ":memory:",
    onOwed: (balance) => hooks.payouts?.owed(balance),
  });
  const payouts = hooks.payouts = new TownPayouts({
    stateDir: townState,
    audit,
    ledger: town.ledger,
    signer: localNodeSigner(pair.bobKey),
    client: pair.bob,
    policy: { threshold: 2n * PRICE, intervalMs: 3_600_000 },
    deposit: 200_000n,
    peerAddress: (account) => account === "beta" ? beta.address : undefined,
    send: (account, claim) => town.peer(account)!.sendClaim(claim, 10_000),
  });
  const args: PayoutReceiverProcessArgs = {
    url: claimTownContact(town).url,
    townPubkey: town.pubkey,
    stateDir: betaState,
    secretKey: `0x${Array.from(betaKey, (b) => b.toString(16).padStart(2, "0")).join("")}`,
    rpcUrl: pair.anvil.rpcUrl,
    tokenAddress: pair.contracts.tokenAddress,
    tokenNetworkAddress: pair.contracts.tokenNetworkAddress,
  };
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../support/payout_receiver_process.ts", import.meta.url).pathname,
      JSON.stringify(args),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let ended = false;
  const pump = (async () => {
    for (;;) {
      const { value, done } = await lines.read();
      if (done) break;
      buffered += value;
    }
  })().catch(() => {}).finally(() => ended = true);
  const waitLine = (want: string) =>
    until(() => `beta to print "${want}" (got ${JSON.stringify(buffered)})`, () => {
      if (buffered.split("\n").includes(want)) return true;
      if (ended) throw new Error(`beta ended: ${buffered}`);
      return undefined;
    });
  const alice = await connectClaimClient({
    ...claimTownContact(town),
    stateDir: aliceState,
    secretKey: pair.aliceKey,
    record: channel.aliceRecord,
  });
  let killed = false;
  try {
    await waitLine("ready");
    for (let n = 0; n < 6; n++) {
      const reply = await alice.client.sendPrepare({
        destination: "test.town.beta",
        amount: String(PRICE),
        executionCondition: sha256(invoiceSecret(n)),
        expiresAt: new Date(Date.now() + 30_000),
        data: new Uint8Array(0),
      });
      assertEquals(reply.type, "fulfill", JSON.stringify(reply));
    }
    const owed = 6n * PRICE;
    await waitLine(`kept ${owed}`);
    process.kill("SIGKILL");
    killed = true;
    await process.status;
    // What a restarted beta reads: the town's newest claim, never submitted, on its disk.
    const payoutId = town.ledger.balance("beta").payoutChannel as `0x${string}`;
    const held = await readChannel(channelFilePath(betaState, payoutId));
    assertEquals([held.received, town.ledger.balance("beta").claimed], [owed, owed]);
    const before = await beta.tokenBalance();
    await beta.closeChannel(payoutId, {
      nonce: held.receivedNonce,
      transferredAmount: held.received,
      signature: held.receivedSignature!,
    });
    await increaseTime(pair.anvil.rpcUrl, 601);
    await beta.settleChannel(payoutId);
    assertEquals(await beta.tokenBalance() - before, owed, "chain = beta's books = town's books");
  } finally {
    if (!killed) {
      process.kill("SIGKILL");
      await process.status;
    }
    await lines.cancel().catch(() => {});
    await pump;
    await alice.close();
    await payouts.close();
    await town.stop();
    await audit.close();
    await Deno.remove(dir, { recursive: true });
  }
});
