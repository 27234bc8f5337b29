/**
 * The town client (roles/town_client/town_client.ts) against a real in-process town over a real
 * BTP connection: a paid write runs the sending stages and is stored and logged; an uplink that
 * fails under the packet is replaced by the next; a refusal is one TownRejectedError naming the
 * town; a grant the town no longer honours (F05) is asked again once; a town restarted on its
 * ports is paid again once the uplink reconnects; a write sent again after its answer was lost
 * is answered `duplicate` and not paid twice.
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "../../../harness/assert.ts";
import { startTestTown } from "../../../harness/town_test_node.ts";
import type { TownNode } from "../../../roles/town/town_node.ts";
import { generateSecretKey } from "nostr-tools";
import { BtpClient, BtpConnectionError, BtpTimeoutError } from "../../../transport/btp_client.ts";
import { queryRelay } from "../../../transport/relay_query.ts";
import { localNodeSigner } from "../../../identity/local_node_signer.ts";
import { encodeEventToon } from "../../../protocol/toon_codec.ts";
import { decodeIlpReply, type IlpPrepare, type IlpReply } from "../../../protocol/ilp_packet.ts";
import {
  ClaimError,
  claimRejectData,
  type ClaimRejectReason,
  claimRejectReasonOf,
} from "../../../protocol/payment_channel_claim.ts";
import { claimRejectReply } from "../../../roles/channels/claim_reject_reply.ts";
import { TownClient, type TownPayment } from "../../../roles/town_client/town_client.ts";
import {
  isRetryablePaymentReject,
  isTransientWriteError,
  NoTownStoredError,
  rejectClaimReason,
  rejectSuggestion,
  TownRejectedError,
} from "../../../roles/town_client/town_rejection.ts";
import { buildPaidWrite, SpspOverIlpError } from "../../../roles/town_client/spsp_handshake.ts";
import { isDuplicateWrite } from "../../../protocol/duplicate_write_reply.ts";
import { paymentLog } from "../../support/town_network_kit.ts";

/** A stand-in for an uplink whose socket dies under every packet (it says it is open). */
class DyingUplinkStub {
  readonly state = "open";
  calls = 0;
  sendPrepare(_prepare: IlpPrepare): Promise<IlpReply> {
    this.calls++;
    return Promise.reject(new BtpConnectionError("socket closed with the packet in flight"));
  }
}

/**
 * A real uplink whose answer to the first paid PREPARE is lost: the packet reaches the town
 * (stored and fulfilled there), then the socket is said to die before the answer came back.
 */
class LostAnswerUplinkStub {
  readonly state = "open";
  lost: IlpReply | undefined;
  constructor(readonly real: BtpClient) {}
  async sendPrepare(prepare: IlpPrepare): Promise<IlpReply> {
    const reply = await this.real.sendPrepare(prepare);
    if (prepare.amount === "0" || this.lost !== undefined) return reply;
    this.lost = reply;
    throw new BtpConnectionError("socket closed before the answer");
  }
}

/**
 * A stand-in for a town that lost the grant's secret (e.g. a new identity behind the same
 * address): the first paid PREPARE is rejected F05 here, everything else goes to the real uplink.
 */
class StaleGrantUplinkStub {
  readonly state = "open";
  spspAsks = 0;
  #rejected = false;
  constructor(readonly real: BtpClient) {}
  sendPrepare(prepare: IlpPrepare): Promise<IlpReply> {
    if (prepare.amount === "0") this.spspAsks++;
    else if (!this.#rejected) {
      this.#rejected = true;
      return Promise.resolve({
        type: "reject",
        code: "F05",
        triggeredBy: "",
        message: "wrong condition",
        data: new Uint8Array(),
      });
    }
    return this.real.sendPrepare(prepare);
  }
}

/** Runs `fn` with an in-process town and a BTP connection to it; stops both after. */
async function withTown(
  fn: (
    t: { town: TownNode; btp: BtpClient; relayUrl: string; stateDir: string },
  ) => Promise<void>,
): Promise<void> {
  const stateDir = await Deno.makeTempDir({ prefix: "turnpike-town-client-" });
  const town = await startTestTown({ acceptAnyToken: true, stateDir });
  const btp = new BtpClient({
    url: `btp+ws://127.0.0.1:${town.btpPort}`,
    authToken: "t",
    reconnect: false,
  });
  try {
    await btp.connect();
    await fn({ town, btp, relayUrl: `ws://127.0.0.1:${town.httpPort}`, stateDir });
  } finally {
    await btp.close();
    await town.stop();
    await Deno.remove(stateDir, { recursive: true });
  }
}

const note = (content: string) => ({
  kind: 1,
  created_at: Math.floor(Date.now() / 1000),
  tags: [],
  content,
});

Deno.test("town client: a paid write is stored, paid at price x TOON bytes, and logged", () =>
  withTown(async ({ town, btp, relayUrl }) => {
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
  }));

Deno.test("town client: an uplink that fails under the packet is replaced by the next", () =>
  withTown(async ({ town, btp, relayUrl }) => {
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
  }));

Deno.test("town client: a write sent again after its answer was lost is answered duplicate and paid once", () =>
  withTown(async ({ town, btp, relayUrl, stateDir }) => {
    const lossy = new LostAnswerUplinkStub(btp);
    const client = new TownClient({
      relayUrl,
      uplinks: [lossy, btp],
      townAddress: town.ilpAddress,
      townPubkey: town.pubkey,
      signer: localNodeSigner(generateSecretKey()),
    });
    // The first send is stored and fulfilled at the town, its answer lost; the client sends the
    // same event again by the next uplink and the town answers duplicate: stored, not charged.
    const event = await client.publish(note("answer lost"));
    assertEquals(lossy.lost?.type, "fulfill");
    assertEquals([client.published, client.duplicates, client.spent], [1, 1, 0n]);
    assertEquals(town.writeCounters.duplicates, 1);
    const income = (await paymentLog(stateDir)).filter((e) => e.jobId === event.id);
    assertEquals(income.length, 1, JSON.stringify(income));
    const { events } = await queryRelay(relayUrl, [{ ids: [event.id] }]);
    assertEquals(events.map((e) => e.id), [event.id]);

    // The duplicate REJECT proves it came from the town: the same answer with another write's
    // fulfillment (what a connector on the path could forge at best) does not count as stored.
    const { prepare, fulfillment } = await buildPaidWrite({
      event,
      grant: await client.grant(),
      pricePerByte: 10n,
    });
    const reply = await btp.sendPrepare(prepare);
    assert(reply.type === "reject" && reply.code === "F99", JSON.stringify(reply));
    assertEquals(reply.message, "duplicate: already have this event");
    assert(isDuplicateWrite(reply, { eventId: event.id, fulfillment }));
    assert(!isDuplicateWrite(reply, { eventId: event.id, fulfillment: new Uint8Array(32) }));
  }));

Deno.test("town client: a refused write is a TownRejectedError with the code, the town and a suggestion", () =>
  withTown(async ({ town, btp, relayUrl }) => {
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
  }));

Deno.test("town client: a town restarted on its ports is paid again once the uplink is back (the grant's secret comes from its key)", async () => {
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
    // The uplink reconnects; the town derives the cached grant's secret again from its key.
    const event = await client.publish(note("after the restart"));
    const { events } = await queryRelay(relayUrl, [{ ids: [event.id] }]);
    assertEquals(events.length, 1);
    assertEquals(client.published, 2);
  } finally {
    await btp.close();
    await town.stop();
  }
});

Deno.test("town client: a grant the town no longer honours (F05) is asked again once, then paid", () =>
  withTown(async ({ town, btp, relayUrl }) => {
    const stale = new StaleGrantUplinkStub(btp);
    const client = new TownClient({
      relayUrl,
      uplinks: [stale],
      townAddress: town.ilpAddress,
      townPubkey: town.pubkey,
      signer: localNodeSigner(generateSecretKey()),
    });
    const event = await client.publish(note("after a new grant"));
    assertEquals(stale.spspAsks, 2);
    const { events } = await queryRelay(relayUrl, [{ ids: [event.id] }]);
    assertEquals(events.length, 1);
    // A second write uses the new grant: no third ask.
    await client.publish(note("same grant"));
    assertEquals(stale.spspAsks, 2);
  }));

Deno.test("town client: a passing write failure is told from a refusal", () => {
  assert(isTransientWriteError(new BtpTimeoutError("no answer to BTP request 1 in 31000 ms")));
  assert(isTransientWriteError(new BtpConnectionError("not connected")));
  assert(isTransientWriteError(new TownRejectedError("T04", "busy")));
  assert(isTransientWriteError(new TownRejectedError("R00", "expired")));
  assert(isTransientWriteError(new SpspOverIlpError("rejected", { code: "T00" })));
  assert(!isTransientWriteError(new TownRejectedError("F04", "insufficient amount")));
  // A T04 its sender marked final (claims asked of a payer with no channel) is a refusal.
  assert(!isTransientWriteError(new TownRejectedError("T04", "not-covered", { final: true })));
  assert(!isTransientWriteError(new SpspOverIlpError("not a 23195")));
  assert(!isTransientWriteError(new RangeError("no uplink")));
  // Several towns: one passing failure among refusals is worth a retry; refusals alone are not.
  const f06 = new TownRejectedError("F06", "bad signature");
  assert(isTransientWriteError(new NoTownStoredError([f06, new BtpTimeoutError("t")], "none")));
  assert(!isTransientWriteError(new NoTownStoredError([f06, f06], "none")));
});

Deno.test("town client: a job payment is paid again only after a REJECT that asks to come back", () => {
  // The town's own REJECT of a claim, as it goes on the wire: the reason is in its data.
  const claim = (reason: ClaimRejectReason) => {
    const reply = decodeIlpReply(claimRejectReply(new ClaimError(reason, "detail"), "g.town"));
    assert(reply.type === "reject");
    return { code: reply.code, reason: rejectClaimReason(reply) };
  };
  const retry = (r: { code: string; reason?: ClaimRejectReason }) =>
    isRetryablePaymentReject(r.code, r.reason);
  assert(retry(claim("rate-limited")));
  assert(retry({ code: "T05" }));
  assert(retry({ code: "T03" }));
  assert(retry(claim("not-covered")));
  assert(retry(claim("beyond-deposit")));
  // The town's configured peer (the provider) not connected now: paid again while time is left.
  assert(retry({ code: "T01" }));
  // The town's own liquidity (what it owes the payee at its limit, a hop not reading): it drains.
  assert(retry({ code: "T04" }));
  // Not about the payer's pace: its credit spent, a town that cannot answer, time out, final.
  assert(!retry(claim("credit-limit-exceeded")));
  assert(!retry({ code: "T00" }));
  assert(!retry({ code: "R00" }));
  assert(!retry(claim("bad-signature")));
  assert(!retry({ code: "F00", reason: "rate-limited" }));
});

Deno.test("claim rejections: the reason is read from the REJECT's data only", () => {
  const data = claimRejectData("not-covered");
  assertEquals(new TextDecoder().decode(data), '{"claimReject":"not-covered"}');
  assertEquals(claimRejectReasonOf(data), "not-covered");
  // The message is for people: the same words with no data name no reason.
  const words = new ClaimError("not-covered", "no claim").message;
  assertEquals(rejectClaimReason({ data: new TextEncoder().encode(words) }), undefined);
  // Anything else in the data is no reason: empty, another object, an unknown token, too long.
  for (
    const other of [
      "",
      "{}",
      '{"claimReject":"free-money"}',
      '{"claimReject":1}',
      "null",
      "[]",
      `{"claimReject":"not-covered","pad":"${"x".repeat(64)}"}`,
      "{not json",
    ]
  ) {
    assertEquals(claimRejectReasonOf(new TextEncoder().encode(other)), undefined, other);
  }
  assertStringIncludes(rejectSuggestion("T04", "not-covered"), "--channel");
  assertEquals(rejectSuggestion("T04"), "the receiver has no liquidity now; try again later");
});
