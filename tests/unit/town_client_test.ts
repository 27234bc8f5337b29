/**
 * The town client (roles/town_client/town_client.ts) against a real in-process town over a real
 * BTP connection: a paid write runs the sending stages and is stored and logged; an uplink that
 * fails under the packet is replaced by the next; a refusal is one TownRejectedError naming the
 * town; a town restarted with its SPSP secrets gone is asked for a new grant once.
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { startTestTown } from "../support/town_test_node.ts";
import { generateSecretKey } from "nostr-tools";
import { BtpClient, BtpConnectionError } from "../../transport/btp_client.ts";
import { queryRelay } from "../../transport/relay_query.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { encodeEventToon } from "../../protocol/toon_codec.ts";
import type { IlpPrepare, IlpReply } from "../../protocol/ilp_packet.ts";
import { TownClient, type TownPayment } from "../../roles/town_client/town_client.ts";
import { TownRejectedError } from "../../roles/town_client/town_rejection.ts";

/** A stand-in for an uplink whose socket dies under every packet (it says it is open). */
class DyingUplinkStub {
  readonly state = "open";
  calls = 0;
  sendPrepare(_prepare: IlpPrepare): Promise<IlpReply> {
    this.calls++;
    return Promise.reject(new BtpConnectionError("socket closed with the packet in flight"));
  }
}

const note = (content: string) => ({
  kind: 1,
  created_at: Math.floor(Date.now() / 1000),
  tags: [],
  content,
});

Deno.test("town client: a paid write is stored, paid at price x TOON bytes, and logged", async () => {
  const town = await startTestTown({ acceptAnyToken: true });
  const btp = new BtpClient({
    url: `btp+ws://127.0.0.1:${town.btpPort}`,
    authToken: "t",
    reconnect: false,
  });
  try {
    await btp.connect();
    const relayUrl = `ws://127.0.0.1:${town.httpPort}`;
    const records: TownPayment[] = [];
    const client = new TownClient({
      relayUrl,
      uplinks: [btp],
      townAddress: town.ilpAddress,
      townPubkey: town.pubkey,
      signer: localNodeSigner(generateSecretKey()),
      record: (paid) => Promise.resolve(void records.push(paid)),
    });
    const event = await client.publish(note("stored"));
    const { events } = await queryRelay(relayUrl, [{ ids: [event.id] }]);
    assertEquals(events.map((e) => e.id), [event.id]);
    const price = 10n * BigInt(new TextEncoder().encode(encodeEventToon(event)).byteLength);
    assertEquals(client.spent, price);
    assertEquals(client.published, 1);
    assertEquals(records.map((r) => [r.event.id, r.amount, r.blob, r.townAddress]), [
      [event.id, price, false, town.ilpAddress],
    ]);
  } finally {
    await btp.close();
    await town.stop();
  }
});

Deno.test("town client: an uplink that fails under the packet is replaced by the next", async () => {
  const town = await startTestTown({ acceptAnyToken: true });
  const btp = new BtpClient({
    url: `btp+ws://127.0.0.1:${town.btpPort}`,
    authToken: "t",
    reconnect: false,
  });
  try {
    await btp.connect();
    const relayUrl = `ws://127.0.0.1:${town.httpPort}`;
    const dying = new DyingUplinkStub();
    const options = {
      relayUrl,
      townAddress: town.ilpAddress,
      townPubkey: town.pubkey,
      signer: localNodeSigner(generateSecretKey()),
      retry: { maxRetries: 1, initialMs: 1 },
    };
    const client = new TownClient({ ...options, uplinks: [dying, btp] });
    const event = await client.publish(note("by the second uplink"));
    assert(dying.calls >= 2, `the dying uplink was tried first (${dying.calls})`);
    const { events } = await queryRelay(relayUrl, [{ ids: [event.id] }]);
    assertEquals(events.length, 1);
    // With no other uplink the same write fails (the SPSP ask cannot leave).
    const alone = new TownClient({ ...options, uplinks: [new DyingUplinkStub()] });
    await assertRejects(() => alone.publish(note("nowhere")), BtpConnectionError);
  } finally {
    await btp.close();
    await town.stop();
  }
});

Deno.test("town client: a refused write is a TownRejectedError with the code, the town and a suggestion", async () => {
  const town = await startTestTown({ acceptAnyToken: true });
  const btp = new BtpClient({
    url: `btp+ws://127.0.0.1:${town.btpPort}`,
    authToken: "t",
    reconnect: false,
  });
  try {
    await btp.connect();
    const relayUrl = `ws://127.0.0.1:${town.httpPort}`;
    const underpaying = new TownClient({
      relayUrl,
      uplinks: [btp],
      townAddress: town.ilpAddress,
      townPubkey: town.pubkey,
      signer: localNodeSigner(generateSecretKey()),
      pricePerByte: 1n,
    });
    const err = await assertRejects(() => underpaying.publish(note("cheap")), TownRejectedError);
    assertEquals(err.code, "F04");
    assertEquals(err.town, relayUrl);
    assert(err.message.startsWith("the town rejected the packet: F04"), err.message);
    assert(err.suggestion.includes("price per byte"), err.suggestion);
    assertEquals(underpaying.spent, 0n);
  } finally {
    await btp.close();
    await town.stop();
  }
});

Deno.test("town client: a town restarted without its SPSP secrets is asked for a new grant once", async () => {
  const secretKey = generateSecretKey();
  let town = await startTestTown({ acceptAnyToken: true, secretKey });
  const btp = new BtpClient({
    url: `btp+ws://127.0.0.1:${town.btpPort}`,
    authToken: "t",
    reconnect: true,
    reconnectInitialDelayMs: 50,
  });
  try {
    await btp.connect();
    const relayUrl = `ws://127.0.0.1:${town.httpPort}`;
    const client = new TownClient({
      relayUrl,
      uplinks: [btp],
      townAddress: town.ilpAddress,
      townPubkey: town.pubkey,
      signer: localNodeSigner(generateSecretKey()),
    });
    await client.publish(note("before the restart"));
    const { httpPort, btpPort } = town;
    await town.stop();
    town = await startTestTown({ acceptAnyToken: true, secretKey, httpPort, btpPort });
    // The cached grant's secret is gone with the old process: F05/F02, a new grant, stored.
    const event = await client.publish(note("after the restart"));
    const { events } = await queryRelay(relayUrl, [{ ids: [event.id] }]);
    assertEquals(events.length, 1);
    assertEquals(client.published, 2);
  } finally {
    await btp.close();
    await town.stop();
  }
});
