/**
 * protocol/roster_trust.ts: the profile's own score and its roster's NIP-85 assertions combined
 * (docs/PROTOCOL.md "Trust assertions (NIP-85)").
 */
import { assertEquals } from "../../../harness/assert.ts";
import { combineTrust, noReceiptsScore } from "../../../protocol/roster_trust.ts";
import type { TrustAssertion } from "../../../protocol/trust_assertion.ts";

const [X, BOB, CAROL, DAVE, SELF] = ["a", "b", "c", "d", "e"].map((c) => c.repeat(64));
const said = (author: string, rank: number, createdAt = 1): TrustAssertion => ({
  author,
  subject: X,
  rank,
  createdAt,
});

Deno.test("roster trust: an assertion from a key outside the roster, or the profile's own, changes nothing", () => {
  const own = { ...noReceiptsScore(X), positive: 4, negative: 4, rank: 25, receipts: 3 };
  const alone = combineTrust(own, [], { roster: new Set([BOB]) });
  const others = combineTrust(own, [said(CAROL, 100), said(SELF, 100)], {
    roster: new Set([BOB, SELF]),
    self: SELF,
  });
  assertEquals([alone.rank, alone.roster], [25, []]);
  assertEquals([others.rank, others.roster], [25, []]);
});

Deno.test("roster trust: one roster key gives a newcomer half its rank, two or more their mean, never past the prior's weight", () => {
  const roster = { roster: new Set([BOB, CAROL, DAVE]) };
  const newcomer = noReceiptsScore(X);
  assertEquals(combineTrust(newcomer, [said(BOB, 80)], roster).rank, 40);
  assertEquals(combineTrust(newcomer, [said(BOB, 80), said(CAROL, 40)], roster).rank, 60);
  const three = combineTrust(newcomer, [said(BOB, 90), said(CAROL, 90), said(DAVE, 90)], roster);
  assertEquals(three.rank, 90);
  assertEquals(three.roster.reduce((s, v) => s + v.weight, 0), 8);
});

Deno.test("roster trust: the own receipts outweigh the roster's word as they grow, and only an author's newest word counts", () => {
  const roster = { roster: new Set([BOB]) };
  // 92 weight of failures of its own: the roster's 100 moves it by 4 points at most.
  const burnt = { ...noReceiptsScore(X), negative: 92 };
  assertEquals(combineTrust(burnt, [said(BOB, 100)], roster).rank, 4);
  const newer = combineTrust(noReceiptsScore(X), [said(BOB, 100, 1), said(BOB, 20, 2)], roster);
  assertEquals(newer.roster.map((v) => v.rank), [20]);
  assertEquals(newer.rank, 10);
});
