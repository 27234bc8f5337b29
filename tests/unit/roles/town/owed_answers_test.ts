/** The town's answer to a peer's `payment-owed` question: from its books, of that peer's packets only, bounded. */
import { bytesToHex } from "@noble/hashes/utils.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { assertEquals, assertRejects, assertThrows } from "../../../../harness/assert.ts";
import { createOwedAnswers } from "../../../../roles/town/btp/owed_answers.ts";
import { openPeerLedger } from "../../../../state/payments/peer_ledger.ts";
import {
  decodeOwedAnswer,
  encodeOwedQuestion,
  MAX_OWED_QUESTION,
  type OwedAnswer,
  OwedMessageError,
} from "../../../../protocol/payment_owed.ts";

const [PAID, REFUSED, FLYING, NEVER, LOST] = ["a1", "b2", "c3", "d4", "e5"].map((h) =>
  h.repeat(32)
);

/** A ledger in `stateDir` with beta's packet PAID fulfilled and REFUSED rejected (T01). */
async function paidAndRefused(stateDir: string) {
  const ledger = await openPeerLedger({ stateDir });
  await ledger.forward("beta", PAID, 100n);
  await ledger.fulfilled("beta", PAID, "ff".repeat(32));
  await ledger.forward("beta", REFUSED, 100n);
  await ledger.rejected("beta", REFUSED, "T01");
  return ledger;
}

Deno.test("owed answers: fulfilled is owed, rejected and never forwarded are not, in flight and in doubt after a crash are asked again; on a shared store a packet unknown here is in doubt", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const ledger = await paidAndRefused(stateDir);
    await ledger.forward("beta", LOST, 100n); // the town killed before the answer
    const reopened = await openPeerLedger({ stateDir });
    await reopened.forward("beta", FLYING, 100n);
    const ask = async (shared: boolean): Promise<OwedAnswer> =>
      decodeOwedAnswer(
        await createOwedAnswers({ ledger: reopened, shared })(
          "beta",
          encodeOwedQuestion([PAID, REFUSED, FLYING, NEVER, LOST]),
        ),
      );
    assertEquals(await ask(false), {
      owed: [PAID],
      notOwed: [REFUSED, NEVER],
      inDoubt: [FLYING, LOST],
    });
    assertEquals(await ask(true), {
      owed: [PAID],
      notOwed: [REFUSED],
      inDoubt: [FLYING, NEVER, LOST],
    });
    // A rejected packet forwarded again (its invoice paid again) stands as that answer says.
    await reopened.rejected("beta", FLYING, "F99");
    await reopened.forward("beta", REFUSED, 100n);
    await reopened.fulfilled("beta", REFUSED, "ee".repeat(32));
    assertEquals(await ask(false), {
      owed: [PAID, REFUSED],
      notOwed: [FLYING, NEVER],
      inDoubt: [LOST],
    });
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("owed answers: another account learns nothing of beta's books; a long question is refused; past the burst the books are not read and the answer says when to ask again", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const ledger = await openPeerLedger({ stateDir });
    await ledger.forward("beta", PAID, 100n);
    await ledger.fulfilled("beta", PAID, "ff".repeat(32));
    let now = 0;
    const answers = createOwedAnswers({
      ledger,
      shared: false,
      burst: 2,
      perSecond: 1,
      now: () => now,
    });
    const ask = async (account: string) =>
      decodeOwedAnswer(await answers(account, encodeOwedQuestion([PAID])));
    assertEquals(await ask("gamma"), { owed: [], notOwed: [PAID], inDoubt: [] });
    assertEquals((await ask("beta")).owed, [PAID]);
    assertEquals((await ask("beta")).owed, [PAID]);
    assertEquals(await ask("beta"), { owed: [], notOwed: [], inDoubt: [PAID], retryAfterMs: 1000 });
    now += 1000;
    assertEquals((await ask("beta")).owed, [PAID]);
    const long = JSON.stringify({ conditions: Array(MAX_OWED_QUESTION + 1).fill(PAID) });
    await assertRejects(() => answers("beta", new TextEncoder().encode(long)), OwedMessageError);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("owed answers: a payer asking of its packets to a child, once their expiry is past on the town's clock, hears only refused or never forwarded (notOwed), everything else in doubt; on a shared store, or for a destination not under the town, all in doubt", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const ledger = await paidAndRefused(stateDir);
    await ledger.forward("beta", FLYING, 100n);
    const all = [PAID, REFUSED, FLYING, NEVER];
    let clock = 10_000;
    const ask = async (shared: boolean, to: string, expiresAt = 5_000) =>
      decodeOwedAnswer(
        await createOwedAnswers({
          ledger,
          shared,
          townAddress: () => "g.town",
          clock: () => clock,
        })(
          "alice",
          encodeOwedQuestion(all, { payer: { to, expiresAt } }),
        ),
      );
    // A fulfilled packet is not told to the payer as owed: only that it is not "never sent".
    assertEquals(await ask(false, "g.town.beta.job1"), {
      owed: [],
      notOwed: [REFUSED, NEVER],
      inDoubt: [PAID, FLYING],
    });
    // Before the PREPARE's expiry (and a second) on the town's clock: ask again then.
    assertEquals(await ask(false, "g.town.beta.job1", 9_500), {
      owed: [],
      notOwed: [],
      inDoubt: all,
      retryAfterMs: 500,
    });
    clock = 10_500;
    assertEquals((await ask(false, "g.town.beta.job1", 9_500)).notOwed, [REFUSED, NEVER]);
    // On a shared store another process may have forwarded what this one refused.
    assertEquals(await ask(true, "g.town.beta.job1"), { owed: [], notOwed: [], inDoubt: all });
    // Routed on (another town, a parent): not on these books, whatever they hold.
    for (const to of ["g.other.beta.job1", "g.townbeta.job1"]) {
      assertEquals(await ask(false, to), { owed: [], notOwed: [], inDoubt: all });
    }
    // A town that does not know its address answers a payer nothing but doubt.
    const blind = createOwedAnswers({ ledger, shared: false });
    const question = encodeOwedQuestion([NEVER], { payer: { to: "g.town.beta", expiresAt: 0 } });
    assertEquals(decodeOwedAnswer(await blind("alice", question)).inDoubt, [NEVER]);
    assertThrows(
      () => encodeOwedQuestion([NEVER], { payer: { to: "not an address!", expiresAt: 0 } }),
      OwedMessageError,
    );
    const half = new TextEncoder().encode(JSON.stringify({ conditions: [NEVER], to: "g.town.b" }));
    await assertRejects(() => blind("alice", half), OwedMessageError);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("owed answers: a packet the books no longer hold is in doubt, to its provider and to a payer, unless the payer's expiry shows it came after every packet let go", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    let clock = 1_000_000;
    const ledger = await openPeerLedger({ stateDir, now: () => clock, keepAnswered: 1 });
    await ledger.forward("beta", PAID, 100n);
    await ledger.fulfilled("beta", PAID, "ff".repeat(32));
    clock += 1_000;
    await ledger.forward("beta", REFUSED, 100n);
    await ledger.rejected("beta", REFUSED, "T01"); // PAID let go (forwarded at 1,000,000)
    assertEquals(ledger.packetState("beta", PAID), "unknown");
    // Its provider: PAID may be owed; NEVER too, as far as these books can tell.
    const answer = createOwedAnswers({ ledger, shared: false });
    assertEquals(
      decodeOwedAnswer(await answer("beta", encodeOwedQuestion([PAID, REFUSED, NEVER]))),
      {
        owed: [],
        notOwed: [REFUSED],
        inDoubt: [PAID, NEVER],
      },
    );
    // A payer: the town forwards no PREPARE expiring more than maxExpiryMs on (5 min, and a
    // minute for the hops before it), so an expiry past 1,000,000 + 360,000 came later.
    const payer = async (expiresAt: number) =>
      decodeOwedAnswer(
        await createOwedAnswers({
          ledger,
          shared: false,
          townAddress: () => "g.town",
          clock: () => expiresAt + 2_000,
        })("alice", encodeOwedQuestion([PAID, NEVER], { payer: { to: "g.town.beta", expiresAt } })),
      );
    assertEquals(await payer(1_360_000), { owed: [], notOwed: [], inDoubt: [PAID, NEVER] });
    // (A payer asking so of PAID asks of a packet forwarded later than PAID was: another one.)
    assertEquals(await payer(1_360_001), { owed: [], notOwed: [PAID, NEVER], inDoubt: [] });
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("owed answers: on a shared store a packet refused here is not owed only when it is the packet the provider's income fulfilled; one refused because another process's packet was paid stays in doubt, on every reading", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const [sent, paidElsewhere] = [Date.parse("2026-11-28T19:56:19.927Z"), 1_795_000_000_000];
    const shown = new Uint8Array(32).fill(7);
    const proven = bytesToHex(sha256(shown));
    const ledger = await openPeerLedger({ stateDir });
    await ledger.forward("beta", REFUSED, 100n, new Date(sent));
    await ledger.rejected("beta", REFUSED, "T01");
    await ledger.forward("beta", proven, 100n, new Date(sent));
    // Killed before beta answered; beta shows it fulfilled a PREPARE of another expiry.
    const again = await openPeerLedger({ stateDir, checkpointLines: 1 });
    const outcome = await again.prove("beta", shown, new Date(paidElsewhere).toISOString());
    assertEquals(outcome.kind, "another-packet");
    for (let n = 1n; n <= 4n; n++) await again.claimed("beta", `0x${"ab".repeat(32)}`, n, n);
    await again.flush();
    const checkpoint = await Deno.readTextFile(`${stateDir}/peer_ledger.checkpoint.json`);
    assertEquals(checkpoint.includes(`"${proven}"`), true, "the answer is in a checkpoint");
    // The books as written, as replayed from the file, as restored from the checkpoint.
    const copy = await copyWithout(stateDir);
    const fromFile = await openPeerLedger({ stateDir: copy });
    await Deno.remove(copy, { recursive: true });
    for (const books of [again, fromFile, await openPeerLedger({ stateDir })]) {
      const ask = async (
        shared: boolean,
        conditions: string[],
        paidExpiresAt?: (number | null)[],
      ) =>
        decodeOwedAnswer(
          await createOwedAnswers({ ledger: books, shared })(
            "beta",
            encodeOwedQuestion(conditions, paidExpiresAt && { paidExpiresAt }),
          ),
        );
      // One process: its books hold every packet of the condition; nothing moved here.
      assertEquals((await ask(false, [REFUSED, proven], [paidElsewhere, paidElsewhere])).notOwed, [
        REFUSED,
        proven,
      ]);
      // Shared: the packet beta was paid by is another process's to answer.
      assertEquals(await ask(true, [REFUSED, proven], [paidElsewhere, paidElsewhere]), {
        owed: [],
        notOwed: [],
        inDoubt: [REFUSED, proven],
      });
      // This packet's own expiry, or an older provider's question: REFUSED is this one.
      assertEquals(await ask(true, [REFUSED, proven], [sent, null]), {
        owed: [],
        notOwed: [REFUSED],
        inDoubt: [proven],
      });
      assertEquals((await ask(true, [REFUSED, proven])).notOwed, [REFUSED]);
      assertEquals(books.packetDetail("beta", proven), { expiresAt: sent, paidElsewhere: true });
    }
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

/** A copy of a state dir without its ledger's checkpoint: read from the file's first line. */
async function copyWithout(stateDir: string): Promise<string> {
  const copy = await Deno.makeTempDir();
  await Deno.copyFile(`${stateDir}/peer_ledger.jsonl`, `${copy}/peer_ledger.jsonl`);
  return copy;
}
