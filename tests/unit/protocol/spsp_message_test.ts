import { localNodeSigner } from "../../../identity/local_node_signer.ts";
import { finalizeEvent, generateSecretKey, getPublicKey, nip04, nip44 } from "nostr-tools";
import {
  buildSpspRequest,
  buildSpspResponse,
  parseSpspRequest,
  parseSpspResponse,
  SpspMessageError,
  SpspNip47MessageError,
} from "../../../protocol/spsp_message.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { assertEquals, assertRejects } from "../../../harness/assert.ts";

const senderKey = generateSecretKey();
const townKey = generateSecretKey();
const sender = getPublicKey(senderKey);
const town = getPublicKey(townKey);
const senderSigner = localNodeSigner(senderKey);
const townSigner = localNodeSigner(townKey);

function sign(template: Parameters<typeof finalizeEvent>[0], key: Uint8Array): NostrEvent {
  return JSON.parse(JSON.stringify(finalizeEvent(template, key)));
}

Deno.test("SPSP over Nostr: request and response round trip (NIP-44)", async () => {
  const request = sign(
    await buildSpspRequest({
      signer: senderSigner,
      receiverPubkey: town,
      requestId: "r1",
      amount: "99",
    }),
    senderKey,
  );
  assertEquals([request.kind, request.tags], [23194, [["p", town]]]);
  const parsed = await parseSpspRequest(request, townSigner);
  assertEquals(parsed, { from: sender, eventId: request.id, requestId: "r1", amount: "99" });

  const secret = crypto.getRandomValues(new Uint8Array(32));
  const response = sign(
    await buildSpspResponse({
      signer: townSigner,
      request,
      destinationAccount: "g.town.alice.r1",
      sharedSecret: secret,
      expiresAt: "2030-01-01T00:00:00Z",
      assetCode: "USD",
      assetScale: 6,
      requestId: "r1",
    }),
    townKey,
  );
  assertEquals([response.kind, response.tags], [23195, [["p", sender], ["e", request.id]]]);
  assertEquals(await parseSpspResponse(response, senderSigner), {
    destinationAccount: "g.town.alice.r1",
    sharedSecret: secret,
    expiresAt: "2030-01-01T00:00:00Z",
    assetCode: "USD",
    assetScale: 6,
    requestId: "r1",
  });
  await assertRejects(
    () => parseSpspResponse(response, townSigner),
    SpspMessageError,
    "not addressed",
  );
});

Deno.test("SPSP: NIP-04 content is decrypted; base64url secrets accepted", async () => {
  const secret = new Uint8Array(32).fill(251);
  const body = {
    destination_account: "g.town.bob",
    shared_secret: btoa(String.fromCharCode(...secret)).replaceAll("+", "-").replaceAll("/", "_")
      .replace(/=+$/, ""),
  };
  const content = await nip04.encrypt(townKey, sender, JSON.stringify(body));
  const event = sign({ kind: 23195, created_at: 1, tags: [["p", sender]], content }, townKey);
  const response = await parseSpspResponse(event, senderSigner);
  assertEquals([response.destinationAccount, response.sharedSecret], ["g.town.bob", secret]);
});

Deno.test("SPSP: NIP-47 wallet messages on the same kinds are told apart", async () => {
  const key = nip44.v2.utils.getConversationKey(senderKey, town);
  const walletRequest = sign({
    kind: 23194,
    created_at: 1,
    tags: [["p", town]],
    content: nip44.v2.encrypt('{"method":"pay_invoice","params":{"invoice":"lnbc1"}}', key),
  }, senderKey);
  await assertRejects(
    () => parseSpspRequest(walletRequest, townSigner),
    SpspNip47MessageError,
    "NIP-47",
  );
  const walletResponse = sign({
    kind: 23195,
    created_at: 1,
    tags: [["p", town]],
    content: nip44.v2.encrypt('{"result_type":"pay_invoice","result":{}}', key),
  }, senderKey);
  await assertRejects(() => parseSpspResponse(walletResponse, townSigner), SpspNip47MessageError);
});

Deno.test("SPSP: precise rejections", async () => {
  const key = nip44.v2.utils.getConversationKey(townKey, sender);
  const respond = (body: unknown) =>
    sign({
      kind: 23195,
      created_at: 1,
      tags: [["p", sender]],
      content: nip44.v2.encrypt(JSON.stringify(body), key),
    }, townKey);
  const good = { destination_account: "g.x.y", shared_secret: btoa("x".repeat(32)) };
  const cases: [unknown, string][] = [
    [{ ...good, destination_account: "nope" }, "destination_account"],
    [{ ...good, shared_secret: btoa("short") }, "shared_secret"],
    [{ ...good, shared_secret: "!!!" }, "shared_secret"],
    [{ ...good, expires_at: "soon" }, "expires_at"],
    [{ ...good, asset_scale: -1 }, "asset_scale"],
    [[1, 2], "not a JSON object"],
  ];
  for (const [body, msg] of cases) {
    await assertRejects(
      () => parseSpspResponse(respond(body), senderSigner),
      SpspMessageError,
      msg,
    );
  }
  const garbage = sign(
    { kind: 23195, created_at: 1, tags: [["p", sender]], content: "AAAA" },
    townKey,
  );
  await assertRejects(
    () => parseSpspResponse(garbage, senderSigner),
    SpspMessageError,
    "cannot decrypt",
  );
  const request = sign(
    { kind: 23194, created_at: 1, tags: [["p", town]], content: "x" },
    senderKey,
  );
  await assertRejects(
    () => parseSpspResponse(request, senderSigner),
    SpspMessageError,
    "not 23195",
  );
  await assertRejects(
    () =>
      buildSpspResponse({
        signer: townSigner,
        request,
        destinationAccount: "g.a.b",
        sharedSecret: new Uint8Array(31),
      }),
    SpspMessageError,
    "32 bytes",
  );
});
