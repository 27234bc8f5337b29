/**
 * A town of two `turnpike town up` processes on one PostgreSQL database (a real server this file
 * starts) forwards alice's payments to its provider beta and pays beta out on chain over the one
 * payout channel (roles/town/channels/shared_payouts.ts, state/postgres/postgres_payout_books.ts), on
 * anvil, through chaos; beta is paid on chain exactly what the town's books owe it, to the unit:
 *
 * 1. alice pays beta's invoices through both processes at once (one sequence of claims over two
 *    connections); packets reaching the process beta is not connected to are forwarded to the
 *    one it is. The threshold is one payment (what `chain up` writes), the interval the default
 *    hour: each FULFILL on a process's books is claimed at once.
 * 2. Chaos one: the process beta is connected to is SIGKILLed in the middle of a round of
 *    payments, beta holding the FULFILLs of those that reached it: they are in doubt on the
 *    killed process's books, owed once beta shows their fulfillments. Beta moves to the
 *    survivor, the killed process is restarted on its state dir, alice reconnects, paying goes
 *    on.
 * 3. Chaos two: the process now signing beta's claims is SIGKILLed right after the payout books
 *    committed a claim (its `payout beta: claim` line: the claim is decided and signed in the
 *    database, not yet on its ledger nor sent); the claim it was sending never reaches beta. The
 *    killed process is restarted and beta moves back to it (the claim it committed reaches beta
 *    from there); process 0's payments in doubt wait for beta's next visit. Paying goes on.
 * 4. Settle: beta visits process 0 (the payments left in doubt by the first kill are proven,
 *    after the last payment, and claimed at once) and comes back to process 1; once beta holds a
 *    claim for everything the books owe, the processes stop, beta closes the payout channel with
 *    its newest claim and settles: the chain pays beta what both processes' books owe it, and
 *    never more. Before payments proven after a crash were handed to the payouts, they waited
 *    for the interval (an hour): the chain paid beta 300,000 of the 312,500 the books owed.
 *
 * The figures it prints are quoted in docs/OPERATIONS.md ("Paying providers").
 */
import { InvoiceFulfiller } from "../support/invoice_fulfiller.ts";
import { assert, assertEquals } from "../../harness/assert.ts";
import { startChannelPair, startGasOnlyParty } from "../../harness/anvil_channel_pair.ts";
import {
  guard as sharedGuard,
  killTowns,
  twoProcessTownState,
} from "../support/shared_payout_town.ts";
import { type CliTown, startCliTown } from "../../harness/cli_town.ts";
import { type ClaimClient, connectClaimClient } from "../../harness/channel_town.ts";
import { openPairChannel } from "../../harness/pair_channel.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import { channelFilePath, readChannel, saveChannel } from "../../state/channels/channel_file.ts";
import { openPeerLedger, type PeerLedgerEntry } from "../../state/payments/peer_ledger.ts";
import { increaseTime } from "../../chain/anvil.ts";
import { PayoutReceiver } from "../../roles/channels/payout_receiver.ts";
import type { ChannelRecord } from "../../state/channels/channel_file.ts";
import { BtpClient } from "../../transport/btp_client.ts";

const PRICE = 2_500n;
/** Every payment is claimed at once (what `chain up` writes); the interval is the default hour. */
const THRESHOLD = PRICE;
/** Payments in flight at once on each of alice's connections. */
const PER_CONNECTION = 4;
/** Fulfilled payments before the first kill, between the kills, and after the second. */
const PHASES = [40, 40, 40];
/** A hang guard per step, not a wall-clock assertion (the machine is shared). */
const GUARD_MS = 120_000;
/** The settle waits for beta's claim to reach the books until nothing moved for this long. */
const STALL_MS = 30_000;

function guard<T>(promise: Promise<T>, what: () => string): Promise<T> {
  return sharedGuard(promise, what, GUARD_MS);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ledgerLines(stateDir: string): Promise<PeerLedgerEntry[]> {
  const text = await Deno.readTextFile(`${stateDir}/peer_ledger.jsonl`).catch(() => "");
  const out: PeerLedgerEntry[] = [];
  for (const line of text.split("\n")) {
    try {
      if (line.trim() !== "") out.push(JSON.parse(line) as PeerLedgerEntry);
    } catch { /* a partial last line after a SIGKILL */ }
  }
  return out;
}

Deno.test("shared payouts through chaos: two town processes, one SIGKILLed mid-run and one right after committing a claim; beta's chain payout = the books, to the unit", async () => {
  await using pair = await startChannelPair();
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const channel = await openPairChannel(pair, { deposit: 50_000_000n });
  const dir = await Deno.makeTempDir({ prefix: "shared_payouts_chaos_" });
  const { client: beta } = await startGasOnlyParty(pair);
  const betaStart = await beta.tokenBalance();
  const towns: (CliTown | undefined)[] = [undefined, undefined];
  const alices: (ClaimClient | undefined)[] = [undefined, undefined];
  let betaLink: BtpClient | undefined;
  try {
    const { secret, stateA, stateB } = await twoProcessTownState({
      dir,
      pair,
      storeUrl,
      aliceChannelId: channel.channelId,
      betaAddress: beta.address,
      threshold: THRESHOLD,
      deposit: 10_000_000n,
    });
    const stateDirs = [stateA, stateB];
    const logs = () =>
      towns.map((t, i) => `town ${i}: ${t?.process.stderr.slice(-40).join(" | ")}`).join("\n");
    const up = async (i: number) => {
      towns[i] = await guard(
        startCliTown({
          stateDir: stateDirs[i],
          secret,
          ready: (l) => l.includes("settles"),
        }),
        () => `town up ${i}`,
      );
      return towns[i]!;
    };
    const kill = async (i: number) => {
      const t = towns[i]!;
      t.process.child.kill("SIGKILL");
      await t.process.done;
      towns[i] = undefined;
    };
    await up(0);
    await up(1);
    const townPubkey = towns[0]!.field("pubkey");
    const payouts = new PayoutReceiver({ stateDir: `${dir}/beta`, client: beta, townPubkey });

    // Beta: fulfils its invoices (their fulfillments are its secrets), shows the ones it holds
    // when a process asks about payments in doubt, and keeps the town's claims, except while the
    // second kill is armed: the claims in flight around it are lost (refused).
    const payee = new InvoiceFulfiller(PRICE);
    const fulfilledByBeta = payee.fulfilled;
    let dropClaims = false;
    let claimsDropped = 0;
    const connectBeta = async (i: number) => {
      await betaLink?.close().catch(() => {});
      const client = new BtpClient({
        url: towns[i]!.btpUrl,
        authToken: "beta-token",
        reconnect: false,
        onPrepare: payee.onPrepare,
        onInDoubt: payee.onInDoubt,
        onClaim: async (claim) => {
          if (dropClaims) {
            claimsDropped++;
            throw new Error("lost with the process that sent it");
          }
          await payouts.take(claim);
        },
      });
      await guard(client.connect(), () => `beta connects to ${i}`);
      betaLink = client;
    };
    const kept = async () => (await payouts.records())[0];

    // Alice: one sequence of claims over a connection to each process.
    const aliceDir = `${dir}/alice`;
    await saveChannel(channel.aliceRecord, { stateDir: aliceDir, action: "open" });
    const aliceRecord = await readChannel(channelFilePath(aliceDir, channel.channelId));
    const connectAlice = async (i: number) => {
      const t = towns[i]!;
      const shared = alices.find((a) => a !== undefined);
      alices[i] = await guard(
        connectClaimClient({
          url: t.btpUrl,
          townAddress: t.field("ilpAddress"),
          townPubkey: t.field("pubkey"),
          stateDir: aliceDir,
          secretKey: pair.aliceKey,
          record: aliceRecord,
          shareClaimsOf: shared,
        }),
        () => `alice connects to ${i}`,
      );
    };
    let fulfilled = 0;
    let refused = 0;
    let failed = 0;
    /** One invoice paid through process `i`: true when fulfilled. */
    const payOnce = async (i: number): Promise<boolean> => {
      const alice = alices[i];
      if (!alice) return false;
      const condition = payee.invoice();
      try {
        const reply = await alice.client.sendPrepare({
          destination: "test.paytown.beta.invoice",
          amount: String(PRICE),
          executionCondition: condition,
          expiresAt: new Date(Date.now() + 30_000),
          data: new Uint8Array(0),
        });
        if (reply.type === "fulfill") {
          fulfilled++;
          return true;
        }
        refused++;
        return false;
      } catch {
        failed++; // the process was killed under it
        return false;
      }
    };
    /** A round: PER_CONNECTION payments at once on each connection; `during` runs alongside. */
    const round = async (during?: () => Promise<void>) => {
      const paying = [0, 1].flatMap((i) =>
        Array.from({ length: PER_CONNECTION }, () => payOnce(i))
      );
      await Promise.all([...paying, during?.()]);
    };
    const payUntil = async (target: number, what: string) => {
      while (fulfilled < target) {
        const before = fulfilled;
        await guard(round(), () => `a round (${what})\n${logs()}`);
        if (fulfilled === before) await sleep(200); // beta moving, or a route being learnt
      }
    };

    for (const i of [0, 1]) await connectAlice(i);
    await connectBeta(0);

    // 1. Paying through both processes; beta on process 0.
    await payUntil(PHASES[0], "before the first kill");

    // 2. Chaos one: process 0 (beta's) SIGKILLed under a round of payments, beta holding the
    //    FULFILLs of those that reached it (they are in doubt on process 0's books).
    const killed1 = Promise.withResolvers<void>();
    payee.hold = killed1.promise;
    const heldBefore = fulfilledByBeta.size;
    await guard(
      round(async () => {
        while (fulfilledByBeta.size < heldBefore + PER_CONNECTION) await sleep(5);
        await kill(0);
        killed1.resolve();
      }),
      () => `the round of the first kill\n${logs()}`,
    );
    payee.hold = undefined;
    const inDoubtAtKill1 = fulfilledByBeta.size - heldBefore;
    await alices[0]?.close().catch(() => {});
    alices[0] = undefined;
    await connectBeta(1);
    await up(0);
    await connectAlice(0);
    const afterKill1 = fulfilled;
    await payUntil(afterKill1 + PHASES[1], "between the kills");

    // 3. Chaos two: process 1 (beta's now: it signs) SIGKILLed right after the payout books
    //    committed a claim: its `payout beta: claim` line, printed after the commit, before the
    //    ledger line and the send.
    const committed = (l: string) => /^payout beta: claim \d+ \(nonce \d+\)$/.test(l);
    const claimLinesBefore = towns[1]!.process.stderr.filter(committed).length;
    dropClaims = true;
    let committedAtKill = "";
    const watcher = (async () => {
      const t = towns[1]!;
      for (;;) {
        const lines = t.process.stderr.filter(committed);
        if (lines.length > claimLinesBefore) {
          t.process.child.kill("SIGKILL");
          committedAtKill = lines[lines.length - 1];
          await t.process.done;
          towns[1] = undefined;
          return;
        }
        await sleep(2);
      }
    })();
    await guard(
      (async () => {
        while (towns[1] !== undefined) await round();
        await watcher;
      })(),
      () => `the second kill\n${logs()}`,
    );
    dropClaims = false;
    await alices[1]?.close().catch(() => {});
    alices[1] = undefined;
    await up(1);
    await connectBeta(1);
    await connectAlice(1);
    const afterKill2 = fulfilled;
    await payUntil(afterKill2 + PHASES[2], "after the second kill");

    // 4. Settle: beta visits each process (payments in doubt proven there), then waits on the
    //    one it ends on until its newest claim covers what both books owe.
    for (const i of [0, 1]) {
      await connectBeta(i);
      await sleep(1_500);
    }
    // Waits until beta holds a claim for what the books owe (and every payment beta fulfilled
    // that a kill left in doubt is proven), or until nothing has moved for STALL_MS: then the
    // assertions below say what is missing.
    const books = async () => {
      let owed = 0n;
      let unproven = 0;
      for (const d of stateDirs) {
        const ledger = await openPeerLedger({ stateDir: d });
        owed += ledger.balance("beta").owed;
        unproven += ledger.inDoubt().filter((p) =>
          p.account === "beta" && fulfilledByBeta.has(p.condition)
        ).length;
      }
      return { owed, unproven };
    };
    let last: ChannelRecord | undefined;
    let settledBooks = await books();
    let moved = performance.now();
    let seen = "";
    for (;;) {
      const b = await books();
      const k = await kept();
      const now = `${b.owed} ${b.unproven} ${k?.received} ${k?.receivedNonce}`;
      if (now !== seen) moved = performance.now();
      seen = now;
      settledBooks = b;
      last = k;
      if (b.unproven === 0 && k?.received === b.owed) break;
      if (performance.now() - moved > STALL_MS) break;
      await sleep(250);
    }
    assert(last !== undefined, "beta holds a claim");
    assertEquals(settledBooks.unproven, 0, "every payment beta fulfilled is on the books");
    await betaLink?.close();
    betaLink = undefined;
    for (const a of alices) await a?.close();
    for (const [i, t] of towns.entries()) {
      await t?.stop();
      towns[i] = undefined;
    }
    // The books as the stopped processes left them: nothing moved after beta's newest claim.
    const final = await books();
    assertEquals(final, settledBooks, "the books did not move after the last claim");
    const lines = (await Promise.all(stateDirs.map(ledgerLines))).flat()
      .filter((e) => e.account === "beta");
    const proven = lines.filter((e) => e.event === "fulfilled" && e.proven);
    const opened = new Set(lines.filter((e) => e.event === "opened").map((e) => e.channelId));
    assertEquals(opened.size, 1, "one payout channel");
    assertEquals(last.channelId, [...opened][0]);

    await beta.closeChannel(last.channelId, {
      nonce: last.receivedNonce,
      transferredAmount: last.received,
      signature: last.receivedSignature!,
    });
    await increaseTime(pair.anvil.rpcUrl, 601);
    await beta.settleChannel(last.channelId);
    const paidOnChain = await beta.tokenBalance() - betaStart;
    const earnedByBeta = BigInt(fulfilledByBeta.size) * PRICE;
    console.log(JSON.stringify({
      fulfilledToAlice: fulfilled,
      refused,
      failedUnderKills: failed,
      fulfilledByBeta: fulfilledByBeta.size,
      earnedByBeta: String(earnedByBeta),
      inDoubtAtKill1,
      provenAfterKills: proven.length,
      owedByBooks: String(final.owed),
      claimsOnLedgers: lines.filter((e) => e.event === "claimed").length,
      newestNonce: String(last.receivedNonce),
      claimsDroppedAtKill2: claimsDropped,
      committedAtKill2: committedAtKill,
      paidOnChain: String(paidOnChain),
    }));
    assert(
      paidOnChain <= final.owed,
      `paid ${paidOnChain} on chain, more than the books' ${final.owed}`,
    );
    assertEquals(paidOnChain, final.owed, "chain = both processes' books");
    // The books owe for every payment alice had fulfilled, and for no packet beta never fulfilled.
    assert(final.owed >= BigInt(fulfilled) * PRICE, "the books owe every fulfilled payment");
    assert(final.owed <= earnedByBeta, "the books owe nothing beta did not fulfil");
    assert(committedAtKill !== "", "process 1 was killed right after a claim's commit");
    assert(proven.length >= inDoubtAtKill1, "the payments held at the first kill were proven");
    await payouts.close();
  } finally {
    for (const a of alices) await a?.close().catch(() => {});
    await betaLink?.close().catch(() => {});
    await killTowns(towns);
    await Deno.remove(dir, { recursive: true });
  }
});
