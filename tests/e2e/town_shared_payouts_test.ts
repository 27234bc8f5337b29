/**
 * A town of two `turnpike town up` processes on one PostgreSQL database (a real server this file
 * starts) pays its provider from both processes' books over the one payout channel the chain
 * allows per pair (roles/town/channels/shared_payouts.ts, state/postgres_payout_books.ts), on
 * anvil:
 *
 * 1. beta, the provider, is connected to process A; alice pays beta's invoices through process
 *    B (which forwards them to A); A owes them on its books, opens the payout channel at the
 *    threshold and pays with a claim; two more invoices (under the threshold) and A is
 *    SIGKILLed owing beta more than its last claim.
 * 2. beta reconnects to B; A is restarted on its state dir: it finds what its books owe beyond
 *    the newest claim, signs the next claim from the shared state, and the claim reaches beta
 *    through B (the process beta is connected to), not A.
 * 3. alice pays more invoices, now owed on B's books; B signs the next nonce on the same
 *    channel (no second channel, no clash) for what both books owe.
 * 4. beta closes and settles the payout channel with its newest claim: the chain pays beta
 *    exactly what A's and B's books together owe it.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { assert, assertEquals } from "../support/assert.ts";
import {
  BOB_MNEMONIC,
  startChannelPair,
  startGasOnlyParty,
} from "../support/anvil_channel_pair.ts";
import { chainToml } from "../support/chain_toml.ts";
import { createCliWallet } from "../support/cli_wallet.ts";
import { type CliTown, startCliTown } from "../support/cli_town.ts";
import { type ClaimClient, connectClaimClient } from "../support/channel_town.ts";
import { openPairChannel } from "../support/pair_channel.ts";
import { freshDatabase } from "../support/postgres_database.ts";
import { startPostgresServer } from "../../state/postgres_server.ts";
import { channelFilePath, readChannel, saveChannel } from "../../state/channel_file.ts";
import { openPeerLedger } from "../../state/peer_ledger.ts";
import { increaseTime } from "../../chain/anvil.ts";
import { PayoutReceiver } from "../../roles/channels/payout_receiver.ts";
import type { ChannelRecord } from "../../state/channel_file.ts";
import { BtpClient } from "../../transport/btp_client.ts";

const PRICE = 2_500n;
const THRESHOLD = 10_000n;
/** Invoices that make the threshold exactly. */
const AT_THRESHOLD = Number(THRESHOLD / PRICE);
/** A hang guard, not a wall-clock assertion. */
const GUARD_MS = 60_000;

function guard<T>(promise: Promise<T>, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out (${GUARD_MS} ms): ${what()}`)),
      GUARD_MS,
    );
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function poll<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("shared payouts: a provider owed by two town processes (its link moved by a SIGKILL) is paid over one channel; chain = both books", async () => {
  await using pair = await startChannelPair();
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const channel = await openPairChannel(pair, { deposit: 50_000_000n });
  const dir = await Deno.makeTempDir({ prefix: "shared_payouts_" });
  const { client: beta } = await startGasOnlyParty(pair);
  const betaStart = await beta.tokenBalance();
  const towns: CliTown[] = [];
  let alice: ClaimClient | undefined;
  let betaLink: BtpClient | undefined;
  try {
    const bob = await createCliWallet({
      dir,
      name: "town0",
      mnemonic: BOB_MNEMONIC,
      config: `[store]
url = "${storeUrl}"
processes = 2

[channels]
chains = ["evm:base:31337"]

[town]
ilp_address = "test.paytown"

[[town.peers]]
account = "alice"
token = "alice-token"
channel = "${channel.channelId}"
credit_limit = "0"

[[town.peers]]
account = "beta"
token = "beta-token"

[town.payouts]
threshold = "${THRESHOLD}"
interval_seconds = 3600
deposit = "1000000"

[town.payouts.addresses]
beta = "${beta.address}"

${chainToml(pair)}`,
    });
    const recovered = await bob.run(["channel", "recover"]);
    assertEquals(recovered.code, 0, recovered.stderr);
    const stateA = bob.stateDir;
    const stateB = `${dir}/town1`;
    await new Deno.Command("cp", { args: ["-a", stateA, stateB] }).output();
    const up = (stateDir: string) =>
      guard(
        startCliTown({ stateDir, secret: bob.secret, ready: (l) => l.includes("settles") }),
        () => `town up in ${stateDir}`,
      );
    const logs = () => towns.map((t, i) => `town ${i}: ${t.process.stderr.join(" | ")}`).join("\n");
    towns.push(await up(stateA), await up(stateB));
    const [a, b] = towns;
    const payouts = new PayoutReceiver({
      stateDir: `${dir}/beta`,
      client: beta,
      townPubkey: a.field("pubkey"),
    });

    // Beta answers its invoices (their fulfillments are its secret) and keeps the town's claims.
    const secrets = new Map<string, Uint8Array>();
    const connectBeta = async (town: CliTown) => {
      const client = new BtpClient({
        url: town.btpUrl,
        authToken: "beta-token",
        reconnect: false,
        onPrepare: (p) => {
          const secret = secrets.get(p.executionCondition.join(","));
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
        onClaim: async (claim) => void await payouts.take(claim),
      });
      await client.connect();
      return client;
    };
    const kept = (amount: bigint, what: string) =>
      guard(
        poll(async () => {
          const [r] = await payouts.records();
          return r?.received === amount ? r : undefined;
        }),
        () => `beta keeps a claim for ${amount} (${what})\n${logs()}`,
      );

    const aliceDir = `${dir}/alice`;
    await saveChannel(channel.aliceRecord, { stateDir: aliceDir, action: "open" });
    alice = await guard(
      connectClaimClient({
        url: b.btpUrl,
        townAddress: b.field("ilpAddress"),
        townPubkey: b.field("pubkey"),
        stateDir: aliceDir,
        secretKey: pair.aliceKey,
        record: await readChannel(channelFilePath(aliceDir, channel.channelId)),
      }),
      () => "alice connects to B",
    );
    const payInvoice = async () => {
      const secret = crypto.getRandomValues(new Uint8Array(32));
      secrets.set(sha256(secret).join(","), secret);
      // B forwards to the process beta is connected to (it may take a moment to be known).
      for (;;) {
        const reply = await alice!.client.sendPrepare({
          destination: "test.paytown.beta.invoice",
          amount: String(PRICE),
          executionCondition: sha256(secret),
          expiresAt: new Date(Date.now() + 30_000),
          data: new Uint8Array(0),
        });
        if (reply.type === "fulfill") return;
        assert(reply.code === "F02" || reply.code.startsWith("T"), JSON.stringify(reply));
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    // 1. Beta on A: A's claim at the threshold is 10,000; then its books owe 15,000.
    betaLink = await guard(connectBeta(a), () => "beta connects to A");
    const pay = async (n: number, where: string) => {
      for (let i = 0; i < n; i++) {
        await guard(payInvoice(), () => `invoice ${i} (${where})\n${logs()}`);
      }
    };
    await pay(AT_THRESHOLD, "beta on A");
    const first = await kept(THRESHOLD, "A's claim at the threshold");
    await pay(2, "beta on A, under the threshold");
    a.process.child.kill("SIGKILL");
    await a.process.done;
    await betaLink.close();

    // 2. Beta on B; A restarted: A's claim for the rest of its books reaches beta through B.
    betaLink = await guard(connectBeta(b), () => "beta connects to B");
    towns[0] = await up(stateA);
    const owedByA = THRESHOLD + 2n * PRICE;
    const second = await kept(owedByA, "A's next claim, delivered by B");
    assert(second.receivedNonce > first.receivedNonce, "a higher nonce");

    // 3. More invoices, owed on B's books; B pays on the same channel, the next nonce.
    await pay(AT_THRESHOLD, "beta on B");
    const total = owedByA + THRESHOLD;
    const last = await kept(total, "B's claim for both books");
    assert(last.receivedNonce > second.receivedNonce, "a higher nonce again");
    assertEquals(last.channelId, first.channelId, "one payout channel");

    // 4. Beta closes and settles with the newest claim: chain = both processes' books.
    await betaLink.close();
    await alice.close();
    for (const t of towns) await t.stop();
    const owedA = (await openPeerLedger({ stateDir: stateA })).balance("beta").owed;
    const owedB = (await openPeerLedger({ stateDir: stateB })).balance("beta").owed;
    assertEquals([owedA, owedB], [owedByA, THRESHOLD], "each process's books owe its share");
    const record: ChannelRecord = last;
    await beta.closeChannel(record.channelId, {
      nonce: record.receivedNonce,
      transferredAmount: record.received,
      signature: record.receivedSignature!,
    });
    await increaseTime(pair.anvil.rpcUrl, 601);
    await beta.settleChannel(record.channelId);
    assertEquals(await beta.tokenBalance() - betaStart, owedA + owedB, "chain = both books");
    await payouts.close();
  } finally {
    await alice?.close().catch(() => {});
    await betaLink?.close().catch(() => {});
    for (const t of towns) {
      try {
        t.process.child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await t.process.done.catch(() => {});
    }
    await Deno.remove(dir, { recursive: true });
  }
});
