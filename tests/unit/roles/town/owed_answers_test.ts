/** The town's answer to a peer's `payment-owed` question: from its books, of that peer's packets only, bounded. */
import { assertEquals, assertThrows } from "../../../../harness/assert.ts";
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

Deno.test("owed answers: fulfilled is owed, rejected and never forwarded are not, in flight and in doubt after a crash are asked again; on a shared store a packet unknown here is in doubt", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const ledger = await openPeerLedger({ stateDir });
    await ledger.forward("beta", PAID, 100n);
    await ledger.fulfilled("beta", PAID, "ff".repeat(32));
    await ledger.forward("beta", REFUSED, 100n);
    await ledger.rejected("beta", REFUSED, "T01");
    await ledger.forward("beta", LOST, 100n); // the town killed before the answer
    const reopened = await openPeerLedger({ stateDir });
    await reopened.forward("beta", FLYING, 100n);
    const ask = (shared: boolean): OwedAnswer =>
      decodeOwedAnswer(
        createOwedAnswers({ ledger: reopened, shared })(
          "beta",
          encodeOwedQuestion([PAID, REFUSED, FLYING, NEVER, LOST]),
        ),
      );
    assertEquals(ask(false), { owed: [PAID], notOwed: [REFUSED, NEVER], inDoubt: [FLYING, LOST] });
    assertEquals(ask(true), { owed: [PAID], notOwed: [REFUSED], inDoubt: [FLYING, NEVER, LOST] });
    // A rejected packet forwarded again (its invoice paid again) stands as that answer says.
    await reopened.rejected("beta", FLYING, "F99");
    await reopened.forward("beta", REFUSED, 100n);
    await reopened.fulfilled("beta", REFUSED, "ee".repeat(32));
    assertEquals(ask(false), {
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
    const ask = (account: string) => decodeOwedAnswer(answers(account, encodeOwedQuestion([PAID])));
    assertEquals(ask("gamma"), { owed: [], notOwed: [PAID], inDoubt: [] });
    assertEquals(ask("beta").owed, [PAID]);
    assertEquals(ask("beta").owed, [PAID]);
    assertEquals(ask("beta"), { owed: [], notOwed: [], inDoubt: [PAID], retryAfterMs: 1000 });
    now += 1000;
    assertEquals(ask("beta").owed, [PAID]);
    const long = JSON.stringify({ conditions: Array(MAX_OWED_QUESTION + 1).fill(PAID) });
    assertThrows(() => answers("beta", new TextEncoder().encode(long)), OwedMessageError);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("owed answers: a payer asking of its packets to a child hears only refused or never forwarded (notOwed), everything else in doubt; a destination not under the town is in doubt", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const ledger = await openPeerLedger({ stateDir });
    await ledger.forward("beta", PAID, 100n);
    await ledger.fulfilled("beta", PAID, "ff".repeat(32));
    await ledger.forward("beta", REFUSED, 100n);
    await ledger.rejected("beta", REFUSED, "T01");
    await ledger.forward("beta", FLYING, 100n);
    const all = [PAID, REFUSED, FLYING, NEVER];
    const ask = (shared: boolean, to: string) =>
      decodeOwedAnswer(
        createOwedAnswers({ ledger, shared, townAddress: () => "g.town" })(
          "alice",
          encodeOwedQuestion(all, to),
        ),
      );
    // A fulfilled packet is not told to the payer as owed: only that it is not "never sent".
    assertEquals(ask(false, "g.town.beta.job1"), {
      owed: [],
      notOwed: [REFUSED, NEVER],
      inDoubt: [PAID, FLYING],
    });
    assertEquals(ask(true, "g.town.beta.job1"), {
      owed: [],
      notOwed: [REFUSED],
      inDoubt: [PAID, FLYING, NEVER],
    });
    // Routed on (another town, a parent): not on these books, whatever they hold.
    for (const to of ["g.other.beta.job1", "g.townbeta.job1"]) {
      assertEquals(ask(false, to), { owed: [], notOwed: [], inDoubt: all });
    }
    // A town that does not know its address answers a payer nothing but doubt.
    const blind = createOwedAnswers({ ledger, shared: false });
    assertEquals(
      decodeOwedAnswer(blind("alice", encodeOwedQuestion([NEVER], "g.town.beta"))).inDoubt,
      [NEVER],
    );
    assertThrows(() => encodeOwedQuestion([NEVER], "not an address!"), OwedMessageError);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
