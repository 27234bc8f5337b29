/**
 * NIP-90 (Data Vending Machines): builders for job requests (5000-5999), results (request kind
 * + 1000) and feedback (7000), and tolerant parsers for what other implementations publish:
 * `payment_required` as well as `payment-required`, extra values in `bid`, the legacy `relay`
 * and `input` tags, and missing optional tags. Amounts are decimal strings of base units (NIP-90
 * says millisats; on Crosstown they are the ILP asset's base units).
 *
 * Encrypted jobs (NIP-90 "Encrypted Params"): the `i` and `param` tags move, as a JSON array of
 * tags, into the content, encrypted to the provider, with an `["encrypted"]` tag and the
 * provider's `p` tag. This project encrypts with NIP-44 v2 and decrypts NIP-44 v2 or NIP-04.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import * as nip44 from "nostr-tools/nip44";
import type { EventTemplate, NostrEvent } from "./nostr_event.ts";
import { type NodeSigner, NodeSignerError } from "./node_signer.ts";
import { isJobResultKind, JOB_FEEDBACK_KIND, JOB_RESULT_OFFSET } from "./nip90_kinds.ts";

export {
  isJobRequestKind,
  isJobResultKind,
  JOB_FEEDBACK_KIND,
  JOB_REQUEST_KINDS,
  JOB_RESULT_OFFSET,
} from "./nip90_kinds.ts";

/** How an `i` tag's data is to be read. */
export type JobInputType = "text" | "url" | "event" | "job";

/** One job input (`["i", data, type, relay?, marker?]`). */
export interface JobInput {
  /** The input itself for `text`, a URL for `url`, an event id (64 hex) for `event`/`job`. */
  data: string;
  /** How to read `data`; `job` means the output of that earlier job. */
  type: JobInputType;
  /** Relay hint where the `event` or `job` input can be fetched (`wss://...`). */
  relay?: string;
  /** How the job should use this input; free-form, provider-defined. */
  marker?: string;
}

/** A `["param", name, ...values]` tag. */
export interface JobParam {
  /** Parameter name, provider-defined (e.g. `max_tokens`, `model`). */
  name: string;
  /** Parameter values in order; NIP-90 tags carry strings only. */
  values: string[];
}

/** Feedback statuses of NIP-90. */
export type FeedbackStatus = "payment-required" | "processing" | "error" | "success" | "partial";

/** An `amount` tag: base units, and an optional payment request (here: an ILP invoice). */
export interface JobAmount {
  /** Base units of the ILP asset, a non-negative decimal integer string. */
  amount: string;
  /** How to pay, when given: an ILP payment request (NIP-90 says a bolt11 invoice). */
  paymentRequest?: string;
}

/** A job request or result that does not fit NIP-90 where it matters (kind, status). */
export class Nip90JobError extends ProtocolError {
  override name = "Nip90JobError";
}

const INPUT_TYPES: readonly string[] = ["text", "url", "event", "job"];
const STATUSES: readonly string[] = [
  "payment-required",
  "processing",
  "error",
  "success",
  "partial",
];
const AMOUNT = /^\d+$/;

/** Options for {@linkcode buildJobRequest}. */
export interface JobRequestOptions {
  /** Request kind, 5000-5999. */
  kind: number;
  /** Job inputs, written as `i` tags in order; default none. */
  inputs?: JobInput[];
  /** Job parameters, written as `param` tags in order; default none. */
  params?: JobParam[];
  /** Expected output MIME type. */
  output?: string;
  /** Most the customer will pay, base units. */
  bid?: bigint | number | string;
  /** Relays the provider should publish to. */
  relays?: string[];
  /** Providers the customer wants (`p` tags). */
  providers?: string[];
  /** Content of an encrypted request, from {@linkcode encryptJobParams}; needs one provider. */
  encryptedContent?: string;
  /** Seconds since the epoch; default now. */
  createdAt?: number;
  /** Other tags appended as is (e.g. `["t", ...]`, NIP-40 `["expiration", ...]`). */
  extraTags?: string[][];
}

/**
 * Builds a job request template.
 *
 * @example
 * ```ts
 * const template = buildJobRequest({
 *   kind: 5050,
 *   inputs: [{ data: "What is ILP?", type: "text" }],
 *   params: [{ name: "max_tokens", values: ["200"] }],
 *   bid: 5000n,
 * });
 * ```
 */
export function buildJobRequest(options: JobRequestOptions): EventTemplate {
  const { kind } = options;
  if (!Number.isInteger(kind) || kind < 5000 || kind > 5999) {
    throw new Nip90JobError(`job request kind ${kind} is not in 5000-5999`);
  }
  const providers = options.providers ?? [];
  const privateTags = [
    ...(options.inputs ?? []).map(inputTag),
    ...(options.params ?? []).map(paramTag),
  ];
  const tags: string[][] = [];
  if (options.encryptedContent === undefined) tags.push(...privateTags);
  else {
    if (providers.length !== 1) throw new Nip90JobError("an encrypted request needs one provider");
    if (privateTags.length > 0) {
      throw new Nip90JobError("inputs and params of an encrypted request go in encryptedContent");
    }
    tags.push(["encrypted"]);
  }
  if (options.output !== undefined) tags.push(["output", options.output]);
  if (options.bid !== undefined) tags.push(["bid", checkAmount(options.bid, "bid")]);
  if (options.relays !== undefined && options.relays.length > 0) {
    tags.push(["relays", ...options.relays]);
  }
  for (const p of providers) tags.push(["p", p]);
  tags.push(...(options.extraTags ?? []));
  return {
    kind,
    created_at: options.createdAt ?? now(),
    tags,
    content: options.encryptedContent ?? "",
  };
}

function inputTag(input: JobInput): string[] {
  if (!INPUT_TYPES.includes(input.type)) {
    throw new Nip90JobError(`input type "${input.type}" is not one of ${INPUT_TYPES.join(", ")}`);
  }
  const tag = ["i", input.data, input.type];
  if (input.relay !== undefined || input.marker !== undefined) tag.push(input.relay ?? "");
  if (input.marker !== undefined) tag.push(input.marker);
  return tag;
}

function paramTag(param: JobParam): string[] {
  return ["param", param.name, ...param.values];
}

function checkAmount(v: bigint | number | string, what: string): string {
  const s = typeof v === "number" && !Number.isSafeInteger(v) ? "bad" : String(v);
  if (!AMOUNT.test(s)) throw new Nip90JobError(`${what} "${s}" is not a non-negative integer`);
  return s;
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

/** A job request as read by {@linkcode parseJobRequest}. */
export interface ParsedJobRequest {
  /** Request kind, 5000-5999. */
  kind: number;
  /** The `i` (or legacy `input`) tags that parsed, in order; empty when encrypted. */
  inputs: JobInput[];
  /** The `param` tags that parsed, in order; empty when encrypted. */
  params: JobParam[];
  /** Expected output MIME type, from the `output` tag. */
  output?: string;
  /** Bid, base units (the first value of `bid`; extra values are ignored). */
  bid?: string;
  /** Relays the provider should publish to, from the `relays` (or legacy `relay`) tags. */
  relays: string[];
  /** Pubkeys of the providers the customer wants (`p` tags), as written. */
  providers: string[];
  /** True when `i`/`param` are in the encrypted content (see {@linkcode decryptJobParams}). */
  encrypted: boolean;
  /** The request's content: usually empty, the encrypted params when `encrypted`. */
  content: string;
  /** Tags that were ignored because they were malformed, with why. */
  warnings: string[];
}

/**
 * Reads a job request tolerantly: legacy `input` tags count as `i`, legacy `relay` tags as
 * `relays`, malformed optional tags are skipped with a warning.
 *
 * @example
 * ```ts
 * import { buildJobRequest, parseJobRequest } from "./nip90_job.ts";
 * import assert from "node:assert/strict";
 * const event = buildJobRequest({ kind: 5050, inputs: [{ data: "What is ILP?", type: "text" }] });
 * const job = parseJobRequest(event);
 * assert.ok(job.inputs[0].type === "text" && job.inputs[0].data === "What is ILP?");
 * ```
 */
export function parseJobRequest(
  event: Pick<NostrEvent, "kind" | "tags" | "content">,
): ParsedJobRequest {
  if (event.kind < 5000 || event.kind > 5999) {
    throw new Nip90JobError(`kind ${event.kind} is not a job request (5000-5999)`);
  }
  const job: ParsedJobRequest = {
    kind: event.kind,
    inputs: [],
    params: [],
    relays: [],
    providers: [],
    encrypted: false,
    content: event.content,
    warnings: [],
  };
  readPrivateTags(event.tags, job);
  for (const tag of event.tags) {
    const [name, first] = tag;
    switch (name) {
      case "output":
        if (first !== undefined) job.output = first;
        break;
      case "bid":
        if (first !== undefined && AMOUNT.test(first)) job.bid = first;
        else job.warnings.push(`bid "${first}" is not an integer amount`);
        break;
      case "relays":
      case "relay":
        job.relays.push(...tag.slice(1).filter((r) => r !== ""));
        break;
      case "p":
        if (first !== undefined) job.providers.push(first);
        break;
      case "encrypted":
        job.encrypted = true;
        break;
    }
  }
  return job;
}

function readPrivateTags(
  tags: string[][],
  job: Pick<ParsedJobRequest, "inputs" | "params" | "warnings">,
) {
  for (const tag of tags) {
    if (tag[0] === "i" || tag[0] === "input") {
      const [, data, type, relay, marker] = tag;
      if (data === undefined) {
        job.warnings.push("input tag without data");
        continue;
      }
      // A missing type is read as text, the most common intent of a bare input.
      const t = type === undefined || type === "" ? "text" : type;
      if (!INPUT_TYPES.includes(t)) {
        job.warnings.push(`input type "${t}" is unknown`);
        continue;
      }
      const input: JobInput = { data, type: t as JobInputType };
      if (relay !== undefined && relay !== "") input.relay = relay;
      if (marker !== undefined && marker !== "") input.marker = marker;
      job.inputs.push(input);
    } else if (tag[0] === "param") {
      if (tag[1] === undefined) job.warnings.push("param tag without name");
      else job.params.push({ name: tag[1], values: tag.slice(2) });
    }
  }
}

/**
 * Encrypts inputs and params for {@linkcode JobRequestOptions.encryptedContent} (NIP-44 v2).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localNodeSigner } from "@turnpike/turnpike";
 * import { generateSecretKey } from "nostr-tools/pure";
 *
 * const [requester, provider] = [localNodeSigner(generateSecretKey()), localNodeSigner(generateSecretKey())];
 * const inputs = [{ data: "What is ILP?", type: "text" as const }];
 * const content = await encryptJobParams({ inputs, params: [{ name: "max_tokens", values: ["200"] }] }, requester, provider.pubkey);
 * const request = await requester.signEvent(buildJobRequest({ kind: 5050, providers: [provider.pubkey], encryptedContent: content }));
 * assert.equal((await decryptJobParams(request, provider)).inputs[0].data, "What is ILP?");
 * ```
 */
export async function encryptJobParams(
  job: { inputs?: JobInput[]; params?: JobParam[] },
  signer: NodeSigner,
  recipientPubkey: string,
): Promise<string> {
  const tags = [...(job.inputs ?? []).map(inputTag), ...(job.params ?? []).map(paramTag)];
  return nip44.v2.encrypt(JSON.stringify(tags), await signer.conversationKey(recipientPubkey));
}

/**
 * Decrypts the content of an encrypted request (NIP-44 v2, or NIP-04 when the content has the
 * NIP-04 `?iv=` form) and returns the request with its inputs and params filled in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localNodeSigner } from "@turnpike/turnpike";
 * import { generateSecretKey } from "nostr-tools/pure";
 *
 * const [requester, provider] = [localNodeSigner(generateSecretKey()), localNodeSigner(generateSecretKey())];
 * const encryptedContent = await encryptJobParams({ params: [{ name: "max_tokens", values: ["200"] }] }, requester, provider.pubkey);
 * const event = await requester.signEvent(buildJobRequest({ kind: 5050, providers: [provider.pubkey], encryptedContent }));
 * const job = await decryptJobParams(event, provider);
 * assert.deepEqual(job.params, [{ name: "max_tokens", values: ["200"] }]);
 * ```
 */
export async function decryptJobParams(
  event: Pick<NostrEvent, "kind" | "tags" | "content" | "pubkey">,
  signer: NodeSigner,
): Promise<ParsedJobRequest> {
  const job = parseJobRequest(event);
  if (!job.encrypted) return job;
  let plain: string;
  try {
    plain = isNip04Content(event.content)
      ? await signer.nip04Decrypt(event.pubkey, event.content)
      : nip44.v2.decrypt(event.content, await signer.conversationKey(event.pubkey));
  } catch (err) {
    if (err instanceof NodeSignerError) throw err; // the node's trouble, not the requester's
    throw new Nip90JobError(`cannot decrypt job params: ${(err as Error).message}`);
  }
  let tags: unknown;
  try {
    tags = JSON.parse(plain);
  } catch {
    throw new Nip90JobError("decrypted job params are not JSON");
  }
  if (
    !Array.isArray(tags) ||
    !tags.every((t) => Array.isArray(t) && t.every((x) => typeof x === "string"))
  ) {
    throw new Nip90JobError("decrypted job params are not an array of tags");
  }
  readPrivateTags(tags as string[][], job);
  return job;
}

/**
 * True when content looks like NIP-04 (`<base64>?iv=<base64>`), not NIP-44 (plain base64).
 *
 * @example
 * ```ts
 * import { isNip04Content } from "./nip90_job.ts";
 * import assert from "node:assert/strict";
 * assert.equal(isNip04Content("YWJj?iv=ZGVmZ2hpamtsbW5vcHFycw=="), true);
 * assert.equal(isNip04Content("AmFiYw=="), false);
 * ```
 */
export function isNip04Content(content: string): boolean {
  return /^[A-Za-z0-9+/]+={0,2}\?iv=[A-Za-z0-9+/]{22}==$/.test(content);
}

/** Options for {@linkcode buildJobResult}. */
export interface JobResultOptions {
  /** The request being answered. */
  request: NostrEvent;
  /** The result payload. */
  content: string;
  /** Price asked for the result, with an optional payment request. */
  amount?: JobAmount;
  /** Relay hint for the `e` tag. */
  relayHint?: string;
  /** Unix seconds; default now. */
  createdAt?: number;
  /**
   * Quote the request (`request` tag) and its `i` tags only when its JSON is at most this many
   * bytes (default 2048): a result never repeats a large input (it rides one ILP packet, and
   * the requester has its request); `e` and `p` always name it.
   */
  maxQuotedRequestBytes?: number;
  /** Other tags appended as is (e.g. `["blob", ...]` outputs). */
  extraTags?: string[][];
}

/** Default largest request a result quotes whole. */
export const DEFAULT_MAX_QUOTED_REQUEST_BYTES = 2048;

/**
 * Builds a job result (kind = request kind + 1000) with its `e` and `p` tags, and the
 * stringified request and its `i` tags when the request is small.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildJobResult } from "./nip90_job.ts";
 *
 * const request = { id: "e".repeat(64), pubkey: "c".repeat(64), created_at: 1700000000, kind: 5050, tags: [], content: "", sig: "f".repeat(128) };
 * const paymentRequest = "g.town.provider.spsp";
 * const template = buildJobResult({
 *   request,
 *   content: "ILP is...",
 *   amount: { amount: "4200", paymentRequest },
 * });
 * assert.equal(template.kind, request.kind + 1000);
 * assert.equal(parseJobResult(template).requestId, request.id);
 * ```
 */
export function buildJobResult(options: JobResultOptions): EventTemplate {
  const { request } = options;
  if (request.kind < 5000 || request.kind > 5999) {
    throw new Nip90JobError(`kind ${request.kind} is not a job request (5000-5999)`);
  }
  const quoted = JSON.stringify(request);
  const quote = new TextEncoder().encode(quoted).byteLength <=
    (options.maxQuotedRequestBytes ?? DEFAULT_MAX_QUOTED_REQUEST_BYTES);
  const tags: string[][] = [
    ...(quote ? [["request", quoted]] : []),
    options.relayHint === undefined ? ["e", request.id] : ["e", request.id, options.relayHint],
    ["p", request.pubkey],
    ...(quote ? request.tags.filter((t) => t[0] === "i") : []),
  ];
  if (options.amount !== undefined) tags.push(amountTag(options.amount));
  tags.push(...(options.extraTags ?? []));
  return {
    kind: request.kind + 1000,
    created_at: options.createdAt ?? now(),
    tags,
    content: options.content,
  };
}

function amountTag(amount: JobAmount): string[] {
  const tag = ["amount", checkAmount(amount.amount, "amount")];
  if (amount.paymentRequest !== undefined) tag.push(amount.paymentRequest);
  return tag;
}

/** A job result as read by {@linkcode parseJobResult}. */
export interface ParsedJobResult {
  /** Result kind, 6000-6999. */
  kind: number;
  /** Kind of the request it answers (`kind` - 1000). */
  requestKind: number;
  /** The `e` tag: id of the request. */
  requestId?: string;
  /** The `p` tag: the customer. */
  customer?: string;
  /** The `request` tag parsed, when it is a JSON object. */
  request?: unknown;
  /** The request's `i` tags copied onto the result, in order. */
  inputs: JobInput[];
  /** What the provider asks to be paid, from the `amount` tag. */
  amount?: JobAmount;
  /** The result payload. */
  content: string;
  /** Tags that were ignored because they were malformed, with why. */
  warnings: string[];
}

/**
 * Reads a job result tolerantly (missing `request`, `e`, `p` or `amount` are left undefined).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildJobResult, parseJobResult } from "./nip90_job.ts";
 *
 * const request = { id: "e".repeat(64), pubkey: "c".repeat(64), created_at: 1700000000, kind: 5050, tags: [], content: "", sig: "f".repeat(128) };
 * const result = parseJobResult(buildJobResult({ request, content: "ILP is..." }));
 * assert.deepEqual([result.requestId, result.content], [request.id, "ILP is..."]);
 * ```
 */
export function parseJobResult(
  event: Pick<NostrEvent, "kind" | "tags" | "content">,
): ParsedJobResult {
  if (!isJobResultKind(event.kind)) {
    throw new Nip90JobError(`kind ${event.kind} is not a job result (6000-6999)`);
  }
  const result: ParsedJobResult = {
    kind: event.kind,
    requestKind: event.kind - JOB_RESULT_OFFSET,
    inputs: [],
    content: event.content,
    warnings: [],
  };
  const scratch = { inputs: result.inputs, params: [] as JobParam[], warnings: result.warnings };
  readPrivateTags(event.tags.filter((t) => t[0] === "i" || t[0] === "input"), scratch);
  for (const tag of event.tags) {
    if (tag[0] === "e" && result.requestId === undefined && tag[1] !== undefined) {
      result.requestId = tag[1];
    } else if (tag[0] === "p" && result.customer === undefined && tag[1] !== undefined) {
      result.customer = tag[1];
    } else if (tag[0] === "request" && tag[1] !== undefined) {
      try {
        result.request = JSON.parse(tag[1]);
      } catch {
        result.warnings.push("request tag is not JSON");
      }
    } else if (tag[0] === "amount") {
      readAmount(tag, result);
    }
  }
  return result;
}

function readAmount(tag: string[], into: { amount?: JobAmount; warnings: string[] }) {
  if (tag[1] === undefined || !AMOUNT.test(tag[1])) {
    into.warnings.push(`amount "${tag[1]}" is not an integer amount`);
    return;
  }
  into.amount = tag[2] === undefined || tag[2] === ""
    ? { amount: tag[1] }
    : { amount: tag[1], paymentRequest: tag[2] };
}

/** Options for {@linkcode buildJobFeedback}. */
export interface JobFeedbackOptions {
  /** The request the feedback is about. */
  request: Pick<NostrEvent, "id" | "pubkey">;
  /** What the feedback reports; `payment-required` asks for `amount` to be paid. */
  status: FeedbackStatus;
  /** Human-readable extra info, the second value of the `status` tag. */
  extraInfo?: string;
  /** With `payment-required`: what to pay and how. */
  amount?: JobAmount;
  /** Partial results or other payload. */
  content?: string;
  /** Unix seconds; default now. */
  createdAt?: number;
}

/**
 * Builds a job feedback event (kind 7000).
 *
 * @example
 * ```ts
 * import { buildJobFeedback, parseJobFeedback } from "./nip90_job.ts";
 * import assert from "node:assert/strict";
 * const request = { id: "e".repeat(64), pubkey: "c".repeat(64) };
 * const paymentRequest = "g.town.provider.spsp";
 * const template = buildJobFeedback({
 *   request,
 *   status: "payment-required",
 *   amount: { amount: "4200", paymentRequest },
 * });
 * assert.equal(parseJobFeedback(template).amount?.amount, "4200");
 * ```
 */
export function buildJobFeedback(options: JobFeedbackOptions): EventTemplate {
  if (!STATUSES.includes(options.status)) {
    throw new Nip90JobError(`status "${options.status}" is not one of ${STATUSES.join(", ")}`);
  }
  const status = ["status", options.status];
  if (options.extraInfo !== undefined) status.push(options.extraInfo);
  const tags: string[][] = [status];
  if (options.amount !== undefined) tags.push(amountTag(options.amount));
  tags.push(["e", options.request.id], ["p", options.request.pubkey]);
  return {
    kind: JOB_FEEDBACK_KIND,
    created_at: options.createdAt ?? now(),
    tags,
    content: options.content ?? "",
  };
}

/** Job feedback as read by {@linkcode parseJobFeedback}. */
export interface ParsedJobFeedback {
  /** Normalised status (`payment_required` reads as `payment-required`). */
  status: FeedbackStatus;
  /** Human-readable detail, the second value of the `status` tag. */
  extraInfo?: string;
  /** With `payment-required`: what to pay and how, from the `amount` tag. */
  amount?: JobAmount;
  /** The `e` tag: id of the job request (64 hex when well-formed). */
  requestId?: string;
  /** The `p` tag: pubkey of the customer who posted the job. */
  customer?: string;
  /** Partial results or other payload; often empty. */
  content: string;
  /** Tags that were ignored because they were malformed, with why. */
  warnings: string[];
}

/**
 * Reads job feedback tolerantly. A missing or unknown status is an error: feedback without a
 * status the reader understands cannot be acted on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildJobFeedback, parseJobFeedback } from "./nip90_job.ts";
 *
 * const request = { id: "e".repeat(64), pubkey: "c".repeat(64) };
 * const amount = { amount: "4200", paymentRequest: "g.town.provider.spsp" };
 * const fb = parseJobFeedback(buildJobFeedback({ request, status: "payment-required", amount }));
 * assert.deepEqual([fb.status, fb.amount?.amount], ["payment-required", "4200"]); // then pay it
 * ```
 */
export function parseJobFeedback(
  event: Pick<NostrEvent, "kind" | "tags" | "content">,
): ParsedJobFeedback {
  if (event.kind !== JOB_FEEDBACK_KIND) {
    throw new Nip90JobError(`kind ${event.kind} is not job feedback (7000)`);
  }
  const statusTag = event.tags.find((t) => t[0] === "status");
  if (statusTag === undefined || statusTag[1] === undefined) {
    throw new Nip90JobError("job feedback has no status tag");
  }
  const said = statusTag[1].trim().toLowerCase().replaceAll("_", "-");
  // A `busy` status (not NIP-90's) reads as the `error` refusal it is (protocol/busy_feedback.ts).
  const busy = said === "busy";
  const status = busy ? "error" : said;
  if (!STATUSES.includes(status)) {
    throw new Nip90JobError(`job feedback status "${statusTag[1].slice(0, 64)}" is unknown`);
  }
  const fb: ParsedJobFeedback = {
    status: status as FeedbackStatus,
    content: event.content,
    warnings: [],
  };
  if (statusTag[2] !== undefined && statusTag[2] !== "") fb.extraInfo = statusTag[2];
  if (busy && !fb.extraInfo?.toLowerCase().startsWith("busy:")) {
    fb.extraInfo = `busy: ${fb.extraInfo ?? "provider busy"}`;
  }
  for (const tag of event.tags) {
    if (tag[0] === "e" && fb.requestId === undefined && tag[1] !== undefined) fb.requestId = tag[1];
    else if (tag[0] === "p" && fb.customer === undefined && tag[1] !== undefined) {
      fb.customer = tag[1];
    } else if (tag[0] === "amount") readAmount(tag, fb);
  }
  return fb;
}
