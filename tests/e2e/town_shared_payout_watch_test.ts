/**
 * A town of two `turnpike town up` processes on one PostgreSQL database (a real server this file
 * starts) watches its payout channel on anvil (roles/town/channels/shared_payout_watch.ts,
 * state/postgres_payout_books.ts; docs/OPERATIONS.md "The payout channels of a town of several
 * processes"), with `[channels] watch_interval = 0.1`:
 *
 * 1. beta, the provider, on process A, is paid a claim at the threshold (alice pays through B).
 * 2. beta closes the payout channel with that claim and leaves. A process marks the row closed.
 * 3. beta comes back on B (its invoices only): B's books owe it past the threshold, and B signs no
 *    claim on the closed channel and opens no other.
 * 4. Past the settle timeout one process settles it (one settle in both logs); beta is paid its
 *    claim, the channel is gone, A books its share (the whole claim: A's books were paid by it).
 * 5. Both stopped and restarted: each finds the channel settled and opens no other.
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

Deno.test("shared payout watch: a provider closes the payout channel of a two-process town and leaves; one process settles it, none claims on it, none opens another after both restart", async () => {
  await using pair = await startChannelPair();
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const channel = await openPairChannel(pair, { deposit: 50_000_000n });
  const dir = await Deno.makeTempDir({ prefix: "shared_payout_watch_" });
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
watch_interval = 0.1

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

    const seen = (town: CliTown, text: string) =>
      guard(
        poll(() => Promise.resolve(town.process.stderr.some((l) => l.includes(text)) || undefined)),
        () => `"${text}" in ${town.process.stderr[0] ?? "a town"}'s log\n${logs()}`,
      );
    const anySeen = (text: string) =>
      guard(
        poll(() =>
          Promise.resolve(
            towns.some((t) => t.process.stderr.some((l) => l.includes(text))) || undefined,
          )
        ),
        () => `"${text}" in a town's log\n${logs()}`,
      );
    const pay = async (n: number, where: string) => {
      for (let i = 0; i < n; i++) {
        await guard(payInvoice(), () => `invoice ${i} (${where})\n${logs()}`);
      }
    };

    // 1. Beta on A: A's claim at the threshold.
    betaLink = await guard(connectBeta(a), () => "beta connects to A");
    await pay(AT_THRESHOLD, "beta on A");
    const first = await kept(THRESHOLD, "A's claim at the threshold");

    // 2. Beta closes the payout channel with it and leaves.
    await betaLink.close();
    betaLink = undefined;
    await beta.closeChannel(first.channelId, {
      nonce: first.receivedNonce,
      transferredAmount: first.received,
      signature: first.receivedSignature!,
    });
    await anySeen("closed on chain by the peer");

    // 3. Beta back on B for its invoices: owed past the threshold, no claim, no other channel.
    betaLink = await guard(connectBeta(b), () => "beta connects to B");
    await pay(AT_THRESHOLD, "beta on B, channel closed");
    await seen(b, `channel ${first.channelId} is closed: no other is opened`);
    await betaLink.close();
    betaLink = undefined;

    // 4. Past the timeout: one process settles; A books the claim it paid.
    await increaseTime(pair.anvil.rpcUrl, 601);
    await anySeen(`channel ${first.channelId} settled on chain (0x`);
    await seen(a, `settled: ${THRESHOLD} of it booked here`);
    assertEquals((await beta.getChannel(first.channelId)).state, "none");
    assertEquals(await beta.tokenBalance() - betaStart, THRESHOLD, "beta paid its claim");
    const [newest] = await payouts.records();
    assertEquals(newest.receivedNonce, first.receivedNonce, "no claim after the close");

    // 5. Both restarted: the channel is settled, no other is opened.
    await alice.close();
    alice = undefined;
    for (const t of towns) await t.stop();
    const settles = towns.flatMap((t) => t.process.stderr)
      .filter((l) => l.includes("settled on chain (")).length;
    assertEquals(settles, 1, `one settle, by one process\n${logs()}`);
    const ledgerA = (await openPeerLedger({ stateDir: stateA })).balance("beta");
    const ledgerB = (await openPeerLedger({ stateDir: stateB })).balance("beta");
    assertEquals([ledgerA.owed, ledgerA.settled], [THRESHOLD, THRESHOLD], "A's books");
    assertEquals([ledgerB.owed, ledgerB.settled], [THRESHOLD, 0n], "B's books: never claimed");
    towns.length = 0;
    towns.push(await up(stateA), await up(stateB));
    for (const t of towns) {
      await seen(t, `channel ${first.channelId} is settled: no other is opened`);
    }
    for (const t of towns) await t.stop();
    assertEquals(
      await beta.channelWith(pair.bob.address),
      `0x${"00".repeat(32)}`,
      "no new channel",
    );
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
