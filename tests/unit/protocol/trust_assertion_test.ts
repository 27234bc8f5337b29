/** protocol/trust_assertion.ts: NIP-85 kind 30382 written and read. */
import { assertEquals } from "../../../harness/assert.ts";
import {
  newestAssertions,
  readTrustAssertion,
  trustAssertionEvent,
} from "../../../protocol/trust_assertion.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";

const [X, BOB] = ["a".repeat(64), "b".repeat(64)];
const signed = (pubkey: string, tags: string[][], created_at = 1): NostrEvent => ({
  id: "0".repeat(64),
  pubkey,
  sig: "0".repeat(128),
  kind: 30382,
  created_at,
  tags,
  content: "",
});

Deno.test("trust assertion: a kind 30382 with the subject as d and a whole-number rank 0-100", () => {
  const event = trustAssertionEvent({ subject: X, rank: 129.6, createdAt: 7 });
  assertEquals(event, {
    kind: 30382,
    created_at: 7,
    tags: [["d", X], ["rank", "100"]],
    content: "",
  });
  assertEquals(trustAssertionEvent({ subject: X, rank: 29.4 }).tags[1], ["rank", "29"]);
});

Deno.test("trust assertion: malformed ones and one about its own author are not read", () => {
  assertEquals(readTrustAssertion(signed(BOB, [["d", X], ["rank", "42"]]))?.rank, 42);
  for (
    const tags of [
      [["d", X]],
      [["d", X], ["rank", "101"]],
      [["d", X], ["rank", "4.5"]],
      [["d", "npub1x"], ["rank", "4"]],
      [["d", BOB], ["rank", "90"]],
    ]
  ) assertEquals(readTrustAssertion(signed(BOB, tags)), undefined, JSON.stringify(tags));
});

Deno.test("trust assertion: only the newest of one author about one subject counts", () => {
  const read = newestAssertions([
    signed(BOB, [["d", X], ["rank", "10"]], 5),
    signed(BOB, [["d", X], ["rank", "70"]], 9),
    signed(BOB, [["d", X], ["rank", "30"]], 7),
  ]);
  assertEquals(read.map((a) => [a.author, a.subject, a.rank]), [[BOB, X, 70]]);
});
