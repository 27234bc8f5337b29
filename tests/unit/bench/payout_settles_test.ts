/**
 * Who settled a payout channel (bench/payout_settles.ts), over facts cut from a real scale run
 * (fixtures/payout_settles/scale_run.json: six of the 30 payout channels of a 60-agent run on
 * anvil, each settled by the provider's node or by the town's watch before the harness, whose own
 * settles were all refused `WrongChannelState(<id>, 0)`), and over the same facts changed the ways
 * a run can go wrong.
 */
import { assertEquals } from "../../../harness/assert.ts";
import {
  attributeSettles,
  type ChannelChainFacts,
  type PayoutChannel,
} from "../../../bench/payout_settles.ts";

const fixture = JSON.parse(
  await Deno.readTextFile(
    new URL("../../../fixtures/payout_settles/scale_run.json", import.meta.url),
  ),
) as { payoutChannels: PayoutChannel[]; facts: ChannelChainFacts[] };
const { payoutChannels, facts } = fixture;

Deno.test("payout settles: the run's refused settles are each named by its ChannelSettled log", () => {
  const got = attributeSettles(payoutChannels, facts);
  assertEquals(got.map((a) => a.by), ["provider", "provider", "provider", "town", "town", "town"]);
  for (const [i, a] of got.entries()) {
    const f = facts[i];
    assertEquals(a.channelId, f.channelId);
    if (a.by === "unexplained") throw new Error(a.why);
    assertEquals(a.tx, f.settles[0].tx);
    assertEquals(a.from, f.settles[0].from);
    // The provider is the partner (participant2): the town opened the channel.
    assertEquals(a.paidToProvider, f.settles[0].amount2);
    assertEquals(a.refused, payoutChannels[i].refused);
  }
});

Deno.test("payout settles: the harness's own transaction is named by its hash, not its key", () => {
  const mine = { ...payoutChannels[0], refused: undefined, harnessTx: facts[0].settles[0].tx };
  assertEquals(attributeSettles([mine], facts)[0].by, "harness");
  // The same key, another transaction: the provider's node.
  const other = { ...mine, harnessTx: "0x" + "0".repeat(64) };
  assertEquals(attributeSettles([other], facts)[0].by, "provider");
});

Deno.test("payout settles: a third sender is named apart; what a settle paid follows the provider's side", () => {
  const third = "0x" + "9".repeat(40);
  const f = { ...facts[3], settles: [{ ...facts[3].settles[0], from: third }] };
  const [a] = attributeSettles([payoutChannels[3]], [f]);
  assertEquals(a.by, "other");
  // The provider as participant1 (had it opened the channel): amount1 is its.
  const swapped = { ...facts[3], participant1: f.participant2, participant2: f.participant1 };
  const [b] = attributeSettles([payoutChannels[3]], [swapped]);
  assertEquals(b.by === "town" && b.paidToProvider, facts[3].settles[0].amount1);
});

Deno.test("payout settles: what the chain does not explain is said, never taken from a record", () => {
  const why = (f: Partial<ChannelChainFacts>, c: PayoutChannel = payoutChannels[0]) => {
    const [a] = attributeSettles([c], [{ ...facts[0], ...f }]);
    return a.by === "unexplained" ? a.why : a.by;
  };
  assertEquals(why({ state: "closed" }), "still closed on chain");
  assertEquals(why({ state: "opened", settles: [] }), "still opened on chain");
  assertEquals(why({ settles: [] }), "gone from the chain with 0 ChannelSettled logs");
  assertEquals(
    why({ settles: [facts[0].settles[0], facts[1].settles[0]] }),
    "gone from the chain with 2 ChannelSettled logs",
  );
  assertEquals(
    why({ participant1: undefined, participant2: undefined }),
    "no ChannelOpened log",
  );
  assertEquals(
    why({}, { ...payoutChannels[0], provider: "0x" + "7".repeat(40) }),
    `the provider is not a participant (${facts[0].participant1}, ${facts[0].participant2})`,
  );
  assertEquals(
    why({ state: "unread", unread: "The request took too long to respond." }),
    "its state not read from the chain: The request took too long to respond.",
  );
  const [none] = attributeSettles(payoutChannels.slice(0, 1), []);
  assertEquals(none.by === "unexplained" && none.why, "its state not read from the chain");
  // The refused settle stays beside whatever the chain says.
  const [kept] = attributeSettles(payoutChannels.slice(0, 1), [{ ...facts[0], state: "closed" }]);
  assertEquals(kept.refused, payoutChannels[0].refused);
});
