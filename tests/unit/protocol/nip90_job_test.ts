import { localNodeSigner } from "../../../identity/local_node_signer.ts";
import { finalizeEvent, generateSecretKey, getPublicKey, nip04, nip44 } from "nostr-tools";
import {
  buildJobFeedback,
  buildJobRequest,
  buildJobResult,
  decryptJobParams,
  encryptJobParams,
  Nip90JobError,
  parseJobFeedback,
  parseJobRequest,
  parseJobResult,
} from "../../../protocol/nip90_job.ts";
import {
  JOB_KIND_NAMES,
  jobKindFromName,
  jobNameFromKind,
  UnknownJobKindError,
} from "../../../protocol/job_kind_names.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../../../harness/assert.ts";

const customerKey = generateSecretKey();
const providerKey = generateSecretKey();
const provider = getPublicKey(providerKey);
const providerSigner = localNodeSigner(providerKey);

function sign(template: Parameters<typeof finalizeEvent>[0], key = customerKey): NostrEvent {
  return JSON.parse(JSON.stringify(finalizeEvent(template, key)));
}

Deno.test("job request: build, sign, parse", () => {
  const template = buildJobRequest({
    kind: 5050,
    inputs: [{ data: "What is ILP?", type: "text" }, { data: "e1", type: "job", marker: "m" }],
    params: [{ name: "max_tokens", values: ["200"] }],
    output: "text/plain",
    bid: 5000n,
    relays: ["ws://127.0.0.1:7100"],
    providers: [provider],
    createdAt: 1700000000,
  });
  assertEquals(template.tags, [
    ["i", "What is ILP?", "text"],
    ["i", "e1", "job", "", "m"],
    ["param", "max_tokens", "200"],
    ["output", "text/plain"],
    ["bid", "5000"],
    ["relays", "ws://127.0.0.1:7100"],
    ["p", provider],
  ]);
  const job = parseJobRequest(sign(template));
  assertEquals(job.inputs[1], { data: "e1", type: "job", marker: "m" });
  assertEquals(job.params, [{ name: "max_tokens", values: ["200"] }]);
  assertEquals([job.bid, job.output, job.relays, job.providers], [
    "5000",
    "text/plain",
    ["ws://127.0.0.1:7100"],
    [provider],
  ]);
  assertEquals(job.warnings, []);
  assertThrows(() => buildJobRequest({ kind: 6050 }), Nip90JobError, "5000-5999");
  assertThrows(() => buildJobRequest({ kind: 5050, bid: -1 }), Nip90JobError, "bid");
});

Deno.test("job request parser is tolerant: legacy tags, extra bid values, missing tags", () => {
  const job = parseJobRequest({
    kind: 5001,
    content: "",
    tags: [
      ["input", "https://x", "url"],
      ["i", "bare"],
      ["i", "x", "smoke-signal"],
      ["relay", "wss://r1"],
      ["relays", "wss://r2", "wss://r3"],
      ["bid", "100", "200"],
    ],
  });
  assertEquals(job.inputs, [{ data: "https://x", type: "url" }, { data: "bare", type: "text" }]);
  assertEquals(job.relays, ["wss://r1", "wss://r2", "wss://r3"]);
  assertEquals(job.bid, "100");
  assertEquals(job.warnings, ['input type "smoke-signal" is unknown']);
  const empty = parseJobRequest({ kind: 5000, tags: [], content: "" });
  assertEquals([empty.inputs, empty.bid, empty.output], [[], undefined, undefined]);
  assertThrows(() => parseJobRequest({ kind: 1, tags: [], content: "" }), Nip90JobError);
});

Deno.test("encrypted job params: NIP-44 round trip and NIP-04 decryption", async () => {
  const inputs = [{ data: "secret prompt", type: "text" as const }];
  const params = [{ name: "model", values: ["x"] }];
  const content = await encryptJobParams(
    { inputs, params },
    localNodeSigner(customerKey),
    provider,
  );
  const event = sign(
    buildJobRequest({ kind: 5050, providers: [provider], encryptedContent: content }),
  );
  assertEquals(event.tags, [["encrypted"], ["p", provider]]);
  assertEquals(parseJobRequest(event).encrypted, true);
  const job = await decryptJobParams(event, providerSigner);
  assertEquals([job.inputs, job.params], [inputs, params]);

  const legacy = await nip04.encrypt(customerKey, provider, JSON.stringify([["i", "old", "text"]]));
  const legacyEvent = sign({
    kind: 5050,
    created_at: 1,
    tags: [["encrypted"], ["p", provider]],
    content: legacy,
  });
  assertEquals((await decryptJobParams(legacyEvent, providerSigner)).inputs, [{
    data: "old",
    type: "text",
  }]);

  const wrong = sign({ ...legacyEvent, content: "not encrypted" });
  await assertRejects(
    () => decryptJobParams(wrong, providerSigner),
    Nip90JobError,
    "cannot decrypt",
  );
  const notTags = nip44.v2.encrypt(
    '{"a":1}',
    nip44.v2.utils.getConversationKey(customerKey, provider),
  );
  await assertRejects(
    () => decryptJobParams(sign({ ...legacyEvent, content: notTags }), providerSigner),
    Nip90JobError,
    "not an array of tags",
  );
  assertThrows(
    () => buildJobRequest({ kind: 5050, providers: [], encryptedContent: content }),
    Nip90JobError,
    "one provider",
  );
});

Deno.test("job result: a large request is named (e, p), never quoted; extra tags appended", () => {
  const big = "x".repeat(5000);
  const request = sign(buildJobRequest({ kind: 5600, inputs: [{ data: big, type: "text" }] }));
  const template = buildJobResult({
    request,
    content: "done",
    extraTags: [["blob", "ci.log", "http://t/" + "ab".repeat(32), "ab".repeat(32), "7"]],
  });
  assertEquals(template.tags.map((t) => t[0]), ["e", "p", "blob"]);
  assert(!JSON.stringify(template).includes(big), "the input is not repeated");
  const small = buildJobResult({ request: sign(buildJobRequest({ kind: 5600 })), content: "" });
  assertEquals(small.tags[0][0], "request");
});

Deno.test("job result: kind + 1000, request, e, p, i, amount", () => {
  const request = sign(buildJobRequest({ kind: 5050, inputs: [{ data: "q", type: "text" }] }));
  const template = buildJobResult({
    request,
    content: "answer",
    amount: { amount: "4200", paymentRequest: "ilp:g.x?amount=4200" },
  });
  assertEquals(template.kind, 6050);
  const result = parseJobResult(sign(template, providerKey));
  assertEquals(result.requestId, request.id);
  assertEquals(result.customer, request.pubkey);
  assertEquals(result.request, request);
  assertEquals(result.inputs, [{ data: "q", type: "text" }]);
  assertEquals(result.amount, { amount: "4200", paymentRequest: "ilp:g.x?amount=4200" });
  const bare = parseJobResult({
    kind: 6001,
    tags: [["request", "{"], ["amount", "x"]],
    content: "",
  });
  assertEquals([bare.requestId, bare.amount, bare.warnings.length], [undefined, undefined, 2]);
  assertThrows(() => parseJobResult({ kind: 7000, tags: [], content: "" }), Nip90JobError);
});

Deno.test("job feedback: build and tolerant parse (payment_required)", () => {
  const request = { id: "a".repeat(64), pubkey: "b".repeat(64) };
  const template = buildJobFeedback({
    request,
    status: "payment-required",
    extraInfo: "pay first",
    amount: { amount: "10", paymentRequest: "invoice" },
  });
  assertEquals(template.tags, [
    ["status", "payment-required", "pay first"],
    ["amount", "10", "invoice"],
    ["e", request.id],
    ["p", request.pubkey],
  ]);
  const fb = parseJobFeedback({ ...template });
  assertEquals([fb.status, fb.extraInfo, fb.requestId, fb.customer], [
    "payment-required",
    "pay first",
    request.id,
    request.pubkey,
  ]);
  const legacy = parseJobFeedback({
    kind: 7000,
    tags: [["status", "payment_required"]],
    content: "",
  });
  assertEquals([legacy.status, legacy.amount, legacy.requestId], [
    "payment-required",
    undefined,
    undefined,
  ]);
  assertThrows(
    () => parseJobFeedback({ kind: 7000, tags: [], content: "" }),
    Nip90JobError,
    "no status",
  );
  assertThrows(
    () => parseJobFeedback({ kind: 7000, tags: [["status", "dancing"]], content: "" }),
    Nip90JobError,
    "unknown",
  );
});

Deno.test("job kind names", () => {
  assertEquals(jobKindFromName("text-generation"), 5050);
  assertEquals(jobKindFromName("ci-run"), 5600);
  assertEquals(jobKindFromName("echo"), 5601);
  assertEquals(jobKindFromName("5777"), 5777);
  assertEquals(jobNameFromKind(5600), "ci-run");
  assertEquals(new Set(Object.values(JOB_KIND_NAMES)).size, Object.keys(JOB_KIND_NAMES).length);
  const err = assertThrows(
    () => jobKindFromName("txt-gen"),
    UnknownJobKindError,
    "text-generation",
  );
  assertEquals(err.jobName, "txt-gen");
  assertThrows(() => jobKindFromName("toString"), UnknownJobKindError);
  assertThrows(() => jobKindFromName("6050"), UnknownJobKindError);
});
