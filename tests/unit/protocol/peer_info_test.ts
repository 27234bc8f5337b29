import { finalizeEvent, generateSecretKey } from "nostr-tools";
import {
  buildPeerInfo,
  negotiateSettlementChain,
  parsePeerInfo,
  type PeerInfo,
  PeerInfoError,
  validatePeerInfo,
} from "../../../protocol/peer_info.ts";
import { assertEquals, assertThrows } from "../../../harness/assert.ts";

const info: PeerInfo = {
  ilpAddress: "g.town.alice",
  btpEndpoint: "btp+wss://town.example:3000",
  assetCode: "USD",
  assetScale: 6,
  supportedChains: ["evm:base:84532", "evm:base:31337"],
  settlementAddresses: { "evm:base:84532": "0x" + "1".repeat(40) },
  tokenNetworks: { "evm:base:31337": "0x" + "a".repeat(40) },
  preferredTokens: { "evm:base:84532": "0x39eaF99Cd4965A28DFe8B1455DD42aB49D0836B9" },
};

Deno.test("peer info: build, sign, parse", () => {
  const event = finalizeEvent(buildPeerInfo(info), generateSecretKey());
  assertEquals(event.kind, 10032);
  assertEquals(parsePeerInfo(event), info);
  const { tokenNetworks: _t, preferredTokens: _p, ...minimal } = info;
  assertEquals(validatePeerInfo(minimal).tokenNetworks, {});
  // A town says the largest PREPARE it takes; absent, nothing is said.
  const capped = { ...info, maxPacketAmount: "102400" };
  assertEquals(parsePeerInfo(finalizeEvent(buildPeerInfo(capped), generateSecretKey())), capped);
  assertEquals("maxPacketAmount" in validatePeerInfo(info), false);
});

Deno.test("peer info: precise rejections", () => {
  const bad: [Partial<Record<keyof PeerInfo, unknown>>, string][] = [
    [{ ilpAddress: "x.y" }, "ilpAddress"],
    [{ ilpAddress: "g" }, "ilpAddress"],
    [{ btpEndpoint: "http://x" }, "btpEndpoint"],
    [{ assetCode: "" }, "assetCode"],
    [{ assetScale: 256 }, "assetScale"],
    [{ supportedChains: ["base"] }, "supportedChains"],
    [{ supportedChains: ["evm:base:1", "evm:base:1"] }, "duplicates"],
    [{ settlementAddresses: { "evm:base:1": "0x" + "1".repeat(40) } }, "unsupported chain"],
    [{ tokenNetworks: { "evm:base:84532": "0x12" } }, "not an address"],
    [{ preferredTokens: [] }, "preferredTokens"],
    [{ maxPacketAmount: 5 }, "maxPacketAmount"],
    [{ maxPacketAmount: "-1" }, "maxPacketAmount"],
  ];
  for (const [patch, field] of bad) {
    assertThrows(() => validatePeerInfo({ ...info, ...patch }), PeerInfoError, field);
  }
  assertThrows(() => parsePeerInfo({ kind: 10032, content: "{" }), PeerInfoError, "not JSON");
  assertThrows(() => parsePeerInfo({ kind: 1, content: "{}" }), PeerInfoError, "kind");
  // Too large is data on the error, not only words: a bad value is not, however it is worded.
  const large = assertThrows(
    () => parsePeerInfo({ kind: 10032, content: " ".repeat(70_000) }),
    PeerInfoError,
    "content",
  );
  assertEquals([large.field, large.tooLarge], ["content", true]);
  const wrong = assertThrows(
    () => validatePeerInfo({ ...info, ilpAddress: "x.over" }),
    PeerInfoError,
    "ilpAddress",
  );
  assertEquals(wrong.tooLarge, false);
});

Deno.test("settlement chain negotiation: intersection ordered by preference", () => {
  const mine = ["evm:base:31337", "evm:base:84532", "evm:arb:421614"];
  const theirs = ["evm:arb:421614", "evm:base:84532", "evm:base:31337"];
  assertEquals(negotiateSettlementChain(mine, theirs, ["evm:base:84532"]), [
    "evm:base:84532",
    "evm:base:31337",
    "evm:arb:421614",
  ]);
  assertEquals(negotiateSettlementChain(mine, theirs), mine);
  assertEquals(negotiateSettlementChain(mine, ["evm:eth:1"], mine), []);
  assertEquals(negotiateSettlementChain(["a:b:1", "a:b:1"], ["a:b:1"]), ["a:b:1"]);
});
