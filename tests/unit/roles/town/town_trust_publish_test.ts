/**
 * What a town asserts of its peers from their credit history (roles/town/town_trust_publish.ts,
 * state/payments/credit_rank.ts): a real SQLite store and the real signer; the credit counts'
 * standings are given as a script (the counts themselves run in
 * tests/e2e/town_trust_publish_test.ts).
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { localNodeSigner } from "../../../../identity/local_node_signer.ts";
import { openEventStore } from "../../../../state/events/event_store.ts";
import type { CreditStanding } from "../../../../state/payments/credit_line.ts";
import { publishTownTrust } from "../../../../roles/town/town_trust_publish.ts";

const GRACE_MS = 60_000;

Deno.test("a town's published rank of a peer drops to 0 at its default, a newcomer and a peer with a channel are not asserted", async () => {
  const store = openEventStore({ path: ":memory:" });
  const [good, fresh, channelled] = [0, 1, 2].map(() => getPublicKey(generateSecretKey()));
  const standings = new Map<string, CreditStanding>([
    ["good", { repaid: 15_000n, mark: 0n }],
    ["fresh", { repaid: 0n, since: 0, mark: 0n }],
    ["channelled", { repaid: 15_000n, mark: 0n }],
  ]);
  let now = 1_000;
  const options = {
    store,
    signer: localNodeSigner(generateSecretKey()),
    config: {
      peers: [
        { account: "good", token: "a", pubkey: good },
        { account: "fresh", token: "b", pubkey: fresh },
        { account: "channelled", token: "c", pubkey: channelled },
        { account: "nokey", token: "d" },
      ],
      peerChannels: [{ account: "channelled", channelId: `0x${"ab".repeat(32)}` as const }],
      peerCreditLimit: 5_000n,
      peerCreditLine: { ceiling: 20_000n, graceMs: GRACE_MS },
    },
    credit: { standing: (a: string) => Promise.resolve(standings.get(a)!) },
    now: () => now,
  };
  const ranks = async () => (await publishTownTrust(options)).sent.map((s) => [s.subject, s.rank]);
  const first = await publishTownTrust(options);
  // 15,000 repaid on a span of 15,000: 50. The newcomer, in credit within its grace: nothing yet.
  assertEquals(first.sent.map((s) => [s.subject, s.rank]), [[good, 50]]);
  assertEquals([first.unchanged, first.noPubkey], [0, 1]);
  // In credit past the grace: a default, 0 at once; the newcomer's too (0, its first word).
  standings.set("good", { repaid: 15_000n, since: 2_000, mark: 0n });
  now = 2_000 + GRACE_MS + 1;
  assertEquals(await ranks(), [[good, 0], [fresh, 0]]);
  // The default closed (its history erased): still 0, nothing sent.
  standings.set("good", { repaid: 0n, mark: 0n });
  assertEquals(await ranks(), []);
  // One assertion per subject in the store, the newest.
  const stored = await store.query([{ kinds: [30382], "#d": [good] }]);
  assertEquals(stored.map((e) => JSON.parse(e.json).tags[1]), [["rank", "0"]]);
  store.close();
});
