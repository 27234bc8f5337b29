/**
 * NIP-89 handler announcements (kind 31990, addressable): a provider says which job kinds it
 * serves (one `k` tag per kind) under an identifier (`d` tag), with metadata in the content:
 *
 * ```json
 * { "name": "mayor-beta", "about": "builds and tests", "price": { "amount": "10",
 *   "assetCode": "USD", "assetScale": 6, "per": "job" }, "paymentMethods": ["ilp"],
 *   "encryption": ["nip44", "nip04"],
 *   "skills": [{ "name": "ci-run", "kinds": [5600], "price": "10" }] }
 * ```
 *
 * `skills` is this project's addition (clients that do not know it ignore it): the skill behind
 * each kind and its own price, so a requester can name a job by skill and check its bid before
 * paying anything; `price` stays the cheapest of them for clients that read only that.
 *
 * @module
 */
import { type HandlerModelPreset, readHandlerModels } from "./handler_models.ts";
import {
  type HandlerBill,
  type HandlerModel,
  readHandlerBill,
  readHandlerModel,
} from "./handler_bill.ts";
import { ProtocolError } from "./protocol_error.ts";
import type { EventTemplate, NostrEvent } from "./nostr_event.ts";

/** Kind of handler announcements. */
export const HANDLER_KIND = 31990;
/** Largest content accepted, in characters. */
export const MAX_HANDLER_CONTENT = 64 * 1024;

/** A price in an ILP asset's base units. */
export interface HandlerPrice {
  /** Base units of the asset, a non-negative decimal integer string. */
  amount: string;
  /** Code of the asset priced in, e.g. `USD` or `M2M`. */
  assetCode?: string;
  /** Decimal places of the asset's base unit, 0-255. */
  assetScale?: number;
  /** What the amount is for: `job`, `byte`, `second`... */
  per?: string;
}

/** Announcement metadata (the content JSON). */
export interface HandlerMetadata {
  /** Display name of the handler (the provider). */
  name: string;
  /** Short description of what the provider does. */
  about?: string;
  /** URL of an avatar image. */
  picture?: string;
  /** Advertised price; the actual one comes with `payment-required` feedback. */
  price?: HandlerPrice;
  /** Payment methods accepted; this project uses `ilp`. */
  paymentMethods?: string[];
  /** Encryption schemes understood for encrypted jobs: `nip44`, `nip04`. */
  encryption?: string[];
  /** The skills behind the kinds, each with its price (base units of `price`'s asset). */
  skills?: HandlerSkill[];
}

/** One skill of an announcement. */
export interface HandlerSkill {
  /** The skill's name (what `job submit <name>` accepts). */
  name: string;
  /** Request kinds it serves. */
  kinds: number[];
  /** Its price per job, base units, a decimal integer string. */
  price: string;
  /**
   * An agent-task skill's presets (docs/PROTOCOL.md "agent-task (kind 5603)"): each one's name,
   * price and most model spend per job, base units, and `host: true` for a host preset (run
   * outside the sandbox: docs/OPERATIONS.md "Host presets"), and `timeout`, the agent's wall time
   * in seconds when announced (a requester's default job timeout: docs/AGENTS.md); a malformed
   * list is left out.
   */
  agents?: {
    name: string;
    price: string;
    budget: string;
    host?: boolean;
    timeout?: number;
    /** The model's token prices, paid by the provider out of the price (handler_bill.ts). */
    model?: HandlerModel;
  }[];
  /**
   * An agent-task skill that takes a new base as a delta from a base sent before (docs/PROTOCOL.md
   * "A new base as a delta"): true; absent, a requester sends every base whole.
   */
  repoDeltas?: true;
  /** How `price` is billed: its parts (protocol/handler_bill.ts). */
  bill?: HandlerBill;
  /** A text-generation skill's model presets (protocol/handler_models.ts). */
  models?: HandlerModelPreset[];
}

/** Most skills read from one announcement. */
export const MAX_HANDLER_SKILLS = 256;

/** A parsed announcement. */
export interface HandlerAnnouncement {
  /** The `d` tag: identifier that makes the announcement addressable (replaceable per d). */
  d: string;
  /** Job request kinds served (one `k` tag each), normally 5000-5999. */
  kinds: number[];
  /** The content JSON. */
  metadata: HandlerMetadata;
}

/** Options for {@linkcode buildHandlerAnnouncement}. */
export interface HandlerAnnouncementOptions extends HandlerAnnouncement {
  /** Unix seconds; default now. */
  createdAt?: number;
}

/** An announcement that is malformed. */
export class Nip89HandlerError extends ProtocolError {
  /** `"Nip89HandlerError"`: explicit so it survives bundling. */
  override name = "Nip89HandlerError";
}

/**
 * Builds a kind 31990 template.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const template = buildHandlerAnnouncement({ d: "mayor-beta", kinds: [5600], metadata: { name: "mayor-beta",
 *   paymentMethods: ["ilp"], price: { amount: "10", per: "job" } } });
 * assert.equal(template.kind, HANDLER_KIND); // 31990
 * ```
 */
export function buildHandlerAnnouncement(options: HandlerAnnouncementOptions): EventTemplate {
  if (options.d === "") throw new Nip89HandlerError("d tag is empty");
  const metadata = checkMetadata(options.metadata);
  for (const k of options.kinds) checkKind(k);
  return {
    kind: HANDLER_KIND,
    created_at: options.createdAt ?? Math.floor(Date.now() / 1000),
    tags: [["d", options.d], ...options.kinds.map((k) => ["k", String(k)])],
    content: JSON.stringify(metadata),
  };
}

function checkKind(k: number): void {
  if (!Number.isInteger(k) || k < 0 || k > 65535) {
    throw new Nip89HandlerError(`kind ${k} is not 0..65535`);
  }
}

/**
 * Reads a kind 31990 announcement. Unparseable `k` values are skipped; the `d` tag and a
 * metadata `name` are required.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const event = buildHandlerAnnouncement({ d: "mayor-beta", kinds: [5600], metadata: { name: "mayor-beta",
 *   paymentMethods: ["ilp"], price: { amount: "10", per: "job" } } });
 * const { kinds, metadata } = parseHandlerAnnouncement(event);
 * assert.deepEqual([kinds, metadata.name], [[5600], "mayor-beta"]);
 * ```
 */
export function parseHandlerAnnouncement(
  event: Pick<NostrEvent, "kind" | "tags" | "content">,
): HandlerAnnouncement {
  if (event.kind !== HANDLER_KIND) throw new Nip89HandlerError(`kind ${event.kind} is not 31990`);
  const d = event.tags.find((t) => t[0] === "d")?.[1];
  if (d === undefined) throw new Nip89HandlerError("announcement has no d tag");
  const kinds: number[] = [];
  for (const t of event.tags) {
    if (t[0] !== "k" || t[1] === undefined || !/^\d{1,5}$/.test(t[1])) continue;
    const k = Number(t[1]);
    if (k <= 65535 && !kinds.includes(k)) kinds.push(k);
  }
  if (event.content.length > MAX_HANDLER_CONTENT) {
    throw new Nip89HandlerError(`content over ${MAX_HANDLER_CONTENT} characters`);
  }
  let value: unknown;
  try {
    value = JSON.parse(event.content);
  } catch {
    throw new Nip89HandlerError("content is not JSON");
  }
  return { d, kinds, metadata: checkMetadata(value) };
}

function checkMetadata(value: unknown): HandlerMetadata {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Nip89HandlerError("metadata is not an object");
  }
  const v = value as Record<string, unknown>;
  if (typeof v.name !== "string" || v.name === "") {
    throw new Nip89HandlerError("metadata has no name");
  }
  const out: HandlerMetadata = { name: v.name };
  for (const key of ["about", "picture"] as const) {
    if (v[key] === undefined) continue;
    if (typeof v[key] !== "string") throw new Nip89HandlerError(`metadata ${key} is not a string`);
    out[key] = v[key];
  }
  for (const key of ["paymentMethods", "encryption"] as const) {
    const list = v[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || !list.every((x) => typeof x === "string")) {
      throw new Nip89HandlerError(`metadata ${key} is not a list of strings`);
    }
    out[key] = [...list];
  }
  if (v.price !== undefined) out.price = checkPrice(v.price);
  if (v.skills !== undefined) out.skills = checkSkills(v.skills);
  return out;
}

function checkSkills(value: unknown): HandlerSkill[] {
  if (!Array.isArray(value) || value.length > MAX_HANDLER_SKILLS) {
    throw new Nip89HandlerError(`skills is not a list of at most ${MAX_HANDLER_SKILLS}`);
  }
  return value.map((item) => {
    const s = item as Record<string, unknown>;
    if (
      typeof item !== "object" || item === null || typeof s.name !== "string" ||
      !/^[a-z0-9][a-z0-9-]{0,63}$/.test(s.name) || typeof s.price !== "string" ||
      !/^\d{1,20}$/.test(s.price) || !Array.isArray(s.kinds) || s.kinds.length > 64
    ) {
      throw new Nip89HandlerError("a skill is not {name, kinds, price}");
    }
    for (const k of s.kinds) checkKind(k as number);
    const skill: HandlerSkill = { name: s.name, kinds: [...s.kinds as number[]], price: s.price };
    const agents = s.agents;
    const preset = (a: Record<string, unknown>) =>
      typeof a === "object" && a !== null && typeof a.name === "string" &&
      /^[a-z0-9][a-z0-9_-]{0,63}$/.test(a.name) && /^\d{1,30}$/.test(String(a.price)) &&
      /^\d{1,30}$/.test(String(a.budget)) &&
      (a.timeout === undefined ||
        (Number.isInteger(a.timeout) && (a.timeout as number) > 0 &&
          (a.timeout as number) <= 86_400));
    if (Array.isArray(agents) && agents.length <= 64 && agents.every(preset)) {
      skill.agents = agents.map((a) => ({
        name: a.name,
        price: String(a.price),
        budget: String(a.budget),
        ...(a.host === true ? { host: true } : {}),
        ...(a.timeout === undefined ? {} : { timeout: a.timeout as number }),
        ...optional("model", readHandlerModel(a.model)),
      }));
    }
    if (s.repoDeltas === true) skill.repoDeltas = true;
    Object.assign(skill, optional("bill", readHandlerBill(s.bill)));
    Object.assign(skill, optional("models", readHandlerModels(s.models)));
    return skill;
  });
}

/** `{ [key]: value }`, or nothing when `value` is undefined. */
function optional<K extends string, V>(key: K, value: V | undefined): { [k in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [k in K]?: V };
}

function checkPrice(value: unknown): HandlerPrice {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Nip89HandlerError("price is not an object");
  }
  const p = value as Record<string, unknown>;
  if (typeof p.amount !== "string" || !/^\d+$/.test(p.amount)) {
    throw new Nip89HandlerError("price amount is not an integer string");
  }
  const price: HandlerPrice = { amount: p.amount };
  if (p.assetCode !== undefined) {
    if (typeof p.assetCode !== "string") {
      throw new Nip89HandlerError("price assetCode is not a string");
    }
    price.assetCode = p.assetCode;
  }
  if (p.assetScale !== undefined) {
    const s = p.assetScale;
    if (typeof s !== "number" || !Number.isInteger(s) || s < 0 || s > 255) {
      throw new Nip89HandlerError("price assetScale is not 0..255");
    }
    price.assetScale = s;
  }
  if (p.per !== undefined) {
    if (typeof p.per !== "string") throw new Nip89HandlerError("price per is not a string");
    price.per = p.per;
  }
  return price;
}
