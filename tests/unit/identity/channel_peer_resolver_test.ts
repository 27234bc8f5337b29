/**
 * roles/channels/channel_peer_resolver.ts against a real in-process town (its own kind 10032 from
 * roles/town/town_peer_info.ts, read over NIP-11 + NIP-01) and, for the hostile cases, a mock
 * relay that serves forged, oversized or endless answers; plus the offline paths (--peer,
 * --peer-info) and the town's announcement being replaced on restart.
 */
import { localNodeSigner } from "../../../identity/local_node_signer.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "../../../harness/assert.ts";
import { generateSecretKey, getPublicKey, nip19 } from "nostr-tools";
import { startTestTown } from "../../../harness/town_test_node.ts";
import {
  ChannelPeerError,
  resolveChannelPeer,
  type ResolveChannelPeerOptions,
} from "../../../roles/channels/channel_peer_resolver.ts";
import { announceTownPeerInfo } from "../../../roles/town/town_peer_info.ts";
import { resolveTownSettlement, type TownSettlement } from "../../../config/town_settlement.ts";
import { publicIdentity } from "../../../identity/nip06_key.ts";
import { signEventTemplate } from "../../../identity/event_signer.ts";
import { buildPeerInfo, PEER_INFO_KIND, type PeerInfo } from "../../../protocol/peer_info.ts";
import { openEventStore } from "../../../state/events/event_store.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { queryRelay, RelayQueryError } from "../../../transport/relay_query.ts";

const LOCAL = "evm:base:31337";
const SEPOLIA = "evm:base:84532";
const TN_LOCAL = `0x${"aa".repeat(20)}` as const;
const TOKEN_LOCAL = `0x${"bb".repeat(20)}` as const;

const settlement: TownSettlement = {
  chains: [
    { chain: SEPOLIA, tokenNetwork: `0x${"cc".repeat(20)}` },
    { chain: LOCAL, tokenNetwork: TN_LOCAL, token: TOKEN_LOCAL },
  ],
};

async function withTown(
  settle: TownSettlement | undefined,
  fn: (url: string, key: Uint8Array) => Promise<void>,
): Promise<void> {
  const secretKey = generateSecretKey();
  const town = await startTestTown({ secretKey, settlement: settle });
  try {
    await fn(`ws://127.0.0.1:${town.httpPort}`, secretKey);
  } finally {
    await town.stop();
  }
}

async function rejection(
  options: ResolveChannelPeerOptions,
): Promise<ChannelPeerError> {
  return await assertRejects(() => resolveChannelPeer(options), ChannelPeerError);
}

Deno.test("resolver: the town's 10032 gives the peer, the preferred common chain and contracts", async () => {
  await withTown(settlement, async (townUrl, key) => {
    const me = publicIdentity(key);
    const byMine = await resolveChannelPeer({ mine: [LOCAL, SEPOLIA], townUrl });
    assertEquals(byMine.chain, LOCAL);
    assertEquals(byMine.peerAddress, me.evmAddress);
    assertEquals(byMine.tokenNetwork, TN_LOCAL);
    assertEquals(byMine.token, TOKEN_LOCAL);
    assertEquals(byMine.source, "relay");
    assertEquals(byMine.peerPubkey, me.pubkey);
    assertEquals(byMine.peerLabel, me.npub);
    assertEquals(byMine.origin, `from kind 10032 on ${townUrl}`);
    assertEquals(byMine.peerInfo?.ilpAddress, "test.town");
    assertStringIncludes(byMine.peerInfo?.btpEndpoint ?? "", "btp+ws://127.0.0.1:");

    // [channels] prefer beats our order; --chain beats both.
    const preferred = await resolveChannelPeer({
      mine: [SEPOLIA, LOCAL],
      prefer: [LOCAL],
      townUrl,
    });
    assertEquals(preferred.chain, LOCAL);
    const flagged = await resolveChannelPeer({
      mine: [LOCAL, SEPOLIA],
      prefer: [LOCAL],
      chain: SEPOLIA,
      townUrl,
      local: () => ({ tokenNetwork: `0x${"CC".repeat(20)}` }),
    });
    assertEquals(flagged.chain, SEPOLIA);
    assertEquals(flagged.tokenNetwork, `0x${"CC".repeat(20)}`, "same address, other case: ours");
    assertEquals(flagged.token, undefined, "neither side names one: the chain default applies");
  });
});

Deno.test("resolver: no common chain, a --chain the town lacks, differing contracts", async () => {
  await withTown(settlement, async (townUrl) => {
    const none = await rejection({ mine: ["evm:base:8453"], townUrl });
    assertEquals(none.reason, "no-common-chain");
    assertEquals(none.message, "no settlement chain in common with the peer");
    assertEquals(none.context, `ours: evm:base:8453; theirs: ${SEPOLIA}, ${LOCAL}`);

    const notThat = await rejection({ mine: [LOCAL, "evm:base:1"], chain: "evm:base:1", townUrl });
    assertEquals(notThat.reason, "no-common-chain");
    assertStringIncludes(notThat.suggestion ?? "", `pick one of: ${LOCAL}`);

    const other = `0x${"dd".repeat(20)}`;
    const mismatch = await rejection({
      mine: [LOCAL],
      townUrl,
      local: () => ({ tokenNetwork: other }),
    });
    assertEquals(mismatch.reason, "contract-mismatch");
    assertEquals(mismatch.context, `ours: ${other}; the peer's: ${TN_LOCAL}`);
    assertStringIncludes(mismatch.suggestion ?? "", `[chains."${LOCAL}"] token_network`);
  });
});

Deno.test("resolver: a town with no chains, or no announcement at all", async () => {
  await withTown({ chains: [] }, async (townUrl) => {
    const err = await rejection({ mine: [LOCAL], townUrl });
    assertEquals(err.reason, "no-chains");
    assertEquals(err.message, "the town settles on no chain");
  });
  await withTown(undefined, async (townUrl) => {
    const err = await rejection({ mine: [LOCAL], townUrl });
    assertEquals(err.reason, "no-peer-info");
  });
});

Deno.test("resolver: an unreachable town is a clear error", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const err = await rejection({
    mine: [LOCAL],
    townUrl: `ws://127.0.0.1:${port}`,
    timeoutMs: 2000,
  });
  assertEquals(err.reason, "unreachable");
  assertStringIncludes(err.context ?? "", `ws://127.0.0.1:${port}`);
});

Deno.test("resolver: explicit --peer / config peer and the offline --peer-info file", async () => {
  const peer = `0x${"12".repeat(20)}`;
  const explicit = await resolveChannelPeer({
    mine: [SEPOLIA, LOCAL],
    prefer: [LOCAL],
    peerConfig: peer,
    local: () => ({ tokenNetwork: TN_LOCAL }),
  });
  assertEquals(explicit, {
    chain: LOCAL,
    peerAddress: peer,
    tokenNetwork: TN_LOCAL,
    source: "config",
    origin: "from [channels] peer",
    peerLabel: peer,
  });
  const dir = await Deno.makeTempDir({ prefix: "peer_resolver_" });
  try {
    const info: PeerInfo = {
      ilpAddress: "test.peer",
      btpEndpoint: "btp+ws://127.0.0.1:3000",
      assetCode: "USD",
      assetScale: 6,
      supportedChains: [SEPOLIA],
      settlementAddresses: { [SEPOLIA]: peer },
      tokenNetworks: {},
      preferredTokens: {},
    };
    const file = `${dir}/peer.json`;
    await Deno.writeTextFile(file, JSON.stringify(buildPeerInfo(info)));
    const fromFile = await resolveChannelPeer({ mine: [LOCAL, SEPOLIA], peerInfoFile: file });
    assertEquals([fromFile.chain, fromFile.peerAddress, fromFile.source], [SEPOLIA, peer, "file"]);
    await Deno.writeTextFile(file, "{not json");
    assertEquals((await rejection({ mine: [LOCAL], peerInfoFile: file })).reason, "bad-peer-info");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assertEquals((await rejection({ mine: [LOCAL] })).reason, "no-peer");
});

Deno.test("town announcement: a restart replaces the 10032, an unchanged one is kept", async () => {
  const store = openEventStore({ path: ":memory:" });
  try {
    const secretKey = generateSecretKey();
    const base = {
      store,
      signer: localNodeSigner(secretKey),
      ilpAddress: "test.town",
      btpEndpoint: "btp+ws://127.0.0.1:3000",
      assetCode: "USD",
      assetScale: 6,
      now: () => 1_700_000_000,
    };
    const first = await announceTownPeerInfo({ ...base, settlement: { chains: [] } });
    assertEquals(first.status, "stored");
    // Same second, new chains: must still replace the older version.
    const second = await announceTownPeerInfo({ ...base, settlement });
    assertEquals(second.status, "replaced");
    assertEquals(second.event.created_at, 1_700_000_001);
    assertEquals((await announceTownPeerInfo({ ...base, settlement })).status, "unchanged");
    const stored = store.query([{ kinds: [PEER_INFO_KIND], authors: [getPublicKey(secretKey)] }]);
    assertEquals(stored.length, 1);
    assertEquals(stored[0].id, second.event.id);
    assertEquals(second.info.settlementAddresses[LOCAL], publicIdentity(secretKey).evmAddress);
    const withUrl = await announceTownPeerInfo({
      ...base,
      settlement: { ...settlement, publicBtpUrl: "btp+wss://town.example:3000" },
    });
    assertEquals(withUrl.info.btpEndpoint, "btp+wss://town.example:3000");
  } finally {
    store.close();
  }
});

Deno.test("town settlement config: chains, contracts, the Sepolia token default, bad values", () => {
  const s = resolveTownSettlement({
    sections: {
      channels: { chains: [SEPOLIA, LOCAL] },
      chains: { [LOCAL]: { token_network: TN_LOCAL, token: TOKEN_LOCAL } },
    },
    publicBtpUrl: "btp+wss://town.example:3000",
  });
  assertEquals(s, {
    chains: [
      { chain: SEPOLIA, token: "0x39eaF99Cd4965A28DFe8B1455DD42aB49D0836B9" },
      { chain: LOCAL, tokenNetwork: TN_LOCAL, token: TOKEN_LOCAL },
    ],
    publicBtpUrl: "btp+wss://town.example:3000",
  });
  assertEquals(resolveTownSettlement({ sections: {} }), { chains: [] });
  const bad = (sections: Record<string, Record<string, unknown>>, url?: unknown) => {
    try {
      resolveTownSettlement({ sections, publicBtpUrl: url });
    } catch (err) {
      return (err as Error).message;
    }
    return "accepted";
  };
  assertStringIncludes(bad({ channels: { chains: ["base"] } }), "channels.chains must be");
  assertStringIncludes(bad({ channels: { chains: [LOCAL, LOCAL] } }), "twice");
  assertStringIncludes(
    bad({ channels: { chains: [LOCAL] }, chains: { [LOCAL]: { token: "0x12" } } }),
    `chains."${LOCAL}".token is not a 0x address`,
  );
  assertStringIncludes(bad({}, "http://x"), "public BTP URL must be");
});

/** A mock relay: NIP-11 says `self`, and every REQ gets `answer(subId)` (then EOSE unless told). */
function mockRelay(
  self: string,
  answer: (subId: string) => unknown[][],
  options: { eose?: boolean } = {},
): { url: string; close(): Promise<void> } {
  const sockets = new Set<WebSocket>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (req.headers.get("upgrade") !== "websocket") return Response.json({ self });
    const { socket, response } = Deno.upgradeWebSocket(req);
    sockets.add(socket);
    socket.onclose = () => sockets.delete(socket);
    socket.onmessage = (e) => {
      const msg = JSON.parse(String(e.data));
      if (msg[0] !== "REQ") return;
      for (const m of answer(msg[1])) socket.send(JSON.stringify(m));
      if (options.eose !== false) socket.send(JSON.stringify(["EOSE", msg[1]]));
    };
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}`,
    close: async () => {
      for (const s of sockets) s.close();
      await server.shutdown();
    },
  };
}

function peerInfoEvent(secretKey: Uint8Array, content?: string): NostrEvent {
  const template = buildPeerInfo({
    ilpAddress: "test.evil",
    btpEndpoint: "btp+ws://127.0.0.1:3000",
    assetCode: "USD",
    assetScale: 6,
    supportedChains: [LOCAL],
    settlementAddresses: { [LOCAL]: `0x${"ee".repeat(20)}` },
    tokenNetworks: {},
    preferredTokens: {},
  });
  return signEventTemplate(content ? { ...template, content } : template, secretKey);
}

Deno.test("resolver: a 10032 by another key, a forged signature, an oversize answer", async () => {
  const town = generateSecretKey();
  const townPubkey = getPublicKey(town);
  const cases: { name: string; answer: (sub: string) => unknown[][]; reason: string }[] = [
    {
      name: "signed by someone else",
      answer: (sub) => [["EVENT", sub, peerInfoEvent(generateSecretKey())]],
      reason: "wrong-signer",
    },
    {
      name: "tampered after signing",
      answer: (sub) => {
        const e = peerInfoEvent(town);
        return [["EVENT", sub, { ...e, content: e.content.replace("test.evil", "test.eviler") }]];
      },
      reason: "wrong-signer",
    },
    {
      name: "content over 64 KiB",
      answer: (sub) => [["EVENT", sub, peerInfoEvent(town, " ".repeat(70_000) + "{}")]],
      reason: "too-large",
    },
    {
      name: "answer over 256 KiB",
      answer: (sub) =>
        Array.from({ length: 5 }, () => ["EVENT", sub, peerInfoEvent(town, "x".repeat(60_000))]),
      reason: "too-large",
    },
  ];
  for (const c of cases) {
    const relay = mockRelay(townPubkey, c.answer);
    try {
      const err = await rejection({ mine: [LOCAL], townUrl: relay.url });
      assertEquals(err.reason, c.reason, `${c.name}: ${err.message} (${err.context})`);
    } finally {
      await relay.close();
    }
  }
  const wrongSigner = mockRelay(townPubkey, (sub) => [[
    "EVENT",
    sub,
    peerInfoEvent(generateSecretKey()),
  ]]);
  try {
    const err = await rejection({ mine: [LOCAL], townUrl: wrongSigner.url });
    assertEquals(err.message, "the town's kind 10032 is not signed by the town");
    assertStringIncludes(err.context ?? "", `the town is ${townPubkey.slice(0, 16)}`);
    assert(nip19.npubEncode(townPubkey).startsWith("npub1"));
  } finally {
    await wrongSigner.close();
  }
});

Deno.test("relay query: no EOSE times out, CLOSED is a refusal, too many events", async () => {
  const key = generateSecretKey();
  const silent = mockRelay(getPublicKey(key), () => [], { eose: false });
  try {
    const err = await assertRejects(
      () => queryRelay(silent.url, [{ kinds: [PEER_INFO_KIND] }], { timeoutMs: 200 }),
      RelayQueryError,
    );
    assertEquals(err.reason, "timeout");
  } finally {
    await silent.close();
  }
  const refusing = mockRelay(getPublicKey(key), (sub) => [["CLOSED", sub, "blocked: no"]]);
  try {
    const err = await assertRejects(
      () => queryRelay(refusing.url, [{ kinds: [PEER_INFO_KIND] }]),
      RelayQueryError,
    );
    assertEquals(err.reason, "closed");
    assertStringIncludes(err.message, "blocked: no");
  } finally {
    await refusing.close();
  }
  const flood = mockRelay(
    getPublicKey(key),
    (sub) => Array.from({ length: 4 }, () => ["EVENT", sub, peerInfoEvent(key)]),
  );
  try {
    const err = await assertRejects(
      () => queryRelay(flood.url, [{ kinds: [PEER_INFO_KIND] }], { maxEvents: 3 }),
      RelayQueryError,
    );
    assertEquals(err.reason, "too-large");
    const ok = await queryRelay(flood.url, [{ kinds: [PEER_INFO_KIND] }], { maxEvents: 4 });
    assertEquals(ok.events.length, 4);
    assertEquals(ok.rejected, []);
  } finally {
    await flood.close();
  }
  await assertRejects(() => queryRelay("http://127.0.0.1:1", []), RelayQueryError, "not a ws://");
});

Deno.test("relay query: CLOSED rate-limited is retried on the same connection", async () => {
  const key = generateSecretKey();
  let reqs = 0;
  // Busy twice (no EOSE after a CLOSED, as a relay does), then the answer.
  const busy = mockRelay(getPublicKey(key), (sub) => {
    reqs++;
    return reqs <= 2
      ? [["CLOSED", sub, "rate-limited: town busy (query time per second spent); retry later"]]
      : [["EVENT", sub, peerInfoEvent(key)], ["EOSE", sub]];
  }, { eose: false });
  try {
    const ok = await queryRelay(busy.url, [{ kinds: [PEER_INFO_KIND] }]);
    assertEquals([ok.events.length, reqs], [1, 3]);
  } finally {
    await busy.close();
  }
});
