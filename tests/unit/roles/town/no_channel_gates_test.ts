/**
 * A town without channels: whether it needs the channel gates (and so the chain code), and the
 * gates it gets instead, which refuse every claim (F00) and let a packet without one pass.
 */
import { assert, assertEquals, assertStringIncludes } from "../../../../harness/assert.ts";
import {
  channelGatesNeeded,
  noChannelGates,
} from "../../../../roles/town/channels/no_channel_gates.ts";
import { decodeIlpReject } from "../../../../protocol/ilp_packet.ts";
import { encodeChannelToml } from "../../../../state/channels/channel_file.ts";
import { fixtureChannelRecord } from "../../../support/channel_record_fixture.ts";

const PEER = { selfAddress: `0x${"33".repeat(20)}`, peerAddress: `0x${"44".repeat(20)}` } as const;

Deno.test("channel gates: needed only with a channel, a chain to learn on, or a learned channel file", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "no_gates_test_" });
  try {
    const none = { stateDir, peerChannels: [], settlementChains: [] };
    assertEquals(await channelGatesNeeded(none), false);
    const channelId = `0x${"ab".repeat(32)}` as const;
    assert(await channelGatesNeeded({ ...none, peerChannels: [{ account: "p", channelId }] }));
    assert(await channelGatesNeeded({ ...none, settlementChains: ["evm:base:31337"] }));
    await Deno.mkdir(`${stateDir}/channels`);
    // A channel the town paid on (no BTP account): not one it takes claims on.
    const paid = fixtureChannelRecord({ ...PEER, deposit: 1n });
    await Deno.writeTextFile(`${stateDir}/channels/a.toml`, encodeChannelToml(paid));
    assertEquals(await channelGatesNeeded(none), false);
    const learned = fixtureChannelRecord({ ...PEER, deposit: 1n }, { btpAccount: "peer-1" });
    await Deno.writeTextFile(`${stateDir}/channels/b.toml`, encodeChannelToml(learned));
    assert(await channelGatesNeeded(none), "a channel learned before");
    await Deno.remove(`${stateDir}/channels/b.toml`);
    await Deno.writeTextFile(`${stateDir}/channels/c.toml`, "not = [toml");
    assert(await channelGatesNeeded(none), "an unreadable file: the gates report it");
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("no channel gates: a claim is refused F00, a packet without one passes", async () => {
  const gates = noChannelGates({ settlementChains: [], triggeredBy: () => "g.town" });
  const gate = gates.claimGate("peer")!;
  const passed = new Uint8Array([1, 2, 3]);
  assertEquals(
    await gate.handle(new Uint8Array(0), undefined, () => Promise.resolve(passed)),
    passed,
  );
  let routed = false;
  const reply = await gate.handle(new Uint8Array(0), new Uint8Array([7]), () => {
    routed = true;
    return Promise.resolve(passed);
  });
  assertEquals(routed, false, "a refused claim's packet is not routed");
  const reject = decodeIlpReject(reply);
  assertEquals(reject.code, "F00");
  assertEquals(reject.triggeredBy, "g.town");
  assertStringIncludes(reject.message, "settles on no chain");
  assertEquals(gates.gate("peer"), undefined);
  assertEquals(gates.settlements.length, 0);
  await gates.close();
});
