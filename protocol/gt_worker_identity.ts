/**
 * A Gas Town worker's identity on Nostr (docs/PROTOCOL.md "Gas Town workers"): the kind 0 its own
 * key signs, naming its Gas Town address and its town, with the binding its Mayor (the profile's
 * main key) signed; and the Mayor's revocation of a key it retired.
 *
 * The binding is a Nostr event the Mayor signs and nobody publishes: kind
 * {@linkcode GT_BINDING_KIND} (ephemeral: a relay would not keep it), `created_at` the time it was
 * made, tags `["p", <worker>]`, `["gt", <address>]`, `["gt-town", <town>]`,
 * `["rotation", "<n>"]`, content empty. The worker's kind 0 carries it as
 * `["gt-mayor", <mayor>, "<rotation>", "<created_at>", <sig>]` beside `["gt", <address>]` and
 * `["gt-town", <town>]`: a reader rebuilds the binding from the kind 0 alone and checks the
 * Mayor's signature with the same code as any event's (`verifyEvent`), so a kind 0 that claims an
 * address or a Mayor it was not given fails.
 *
 * @module
 */
import type { EventTemplate, NostrEvent } from "./nostr_event.ts";
import { computeEventId, verifyEvent } from "./event_verifier.ts";
import { ProtocolError } from "./protocol_error.ts";

/** The kind of the binding the Mayor signs (20000-29999: ephemeral; it is never published). */
export const GT_BINDING_KIND = 27_235;
/** The kind of a Mayor's revocation of a worker's retired key (regular: relays keep it). */
export const GT_REVOCATION_KIND = 4_235;

/** What a worker's kind 0 states, once its Mayor's signature checked. */
export interface WorkerIdentity {
  /** The worker's public key. */
  pubkey: string;
  /** Its Gas Town address. */
  address: string;
  /** Its town (the relay URL it posts through). */
  town: string;
  /** The Mayor that vouches for it. */
  mayor: string;
  /** The rotation of its key. */
  rotation: number;
  /** When the Mayor signed the binding, seconds. */
  vouchedAt: number;
}

/** Why a kind 0 does not prove a worker's identity. */
export type WorkerIdentityReason = "not-a-worker" | "bad-binding" | "bad-mayor-sig";

/** A kind 0 that names no worker, or whose Mayor's signature does not check. */
export class WorkerIdentityError extends ProtocolError {
  /** `"WorkerIdentityError"`: explicit so it survives bundling. */
  override name = "WorkerIdentityError";
  /** Why, one token. */
  readonly reason: WorkerIdentityReason;
  /** `reason`: the token; `message`: in words. */
  constructor(reason: WorkerIdentityReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** Options for {@linkcode workerBinding}. */
export interface WorkerBindingOptions {
  /** The worker's public key. */
  worker: string;
  address: string;
  town: string;
  rotation: number;
  /** Seconds; default now. */
  createdAt?: number;
}

/**
 * The binding the Mayor signs (see the module doc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { workerBinding } from "./gt_worker_identity.ts";
 *
 * const t = workerBinding({ worker: "ab".repeat(32), address: "mayor", town: "ws://t", rotation: 0 });
 * assert.deepEqual(t.tags[1], ["gt", "mayor"]);
 * ```
 */
export function workerBinding(o: WorkerBindingOptions): EventTemplate {
  return {
    kind: GT_BINDING_KIND,
    created_at: o.createdAt ?? Math.floor(Date.now() / 1000),
    tags: [["p", o.worker], ["gt", o.address], ["gt-town", o.town], [
      "rotation",
      String(o.rotation),
    ]],
    content: "",
  };
}

/**
 * The worker's kind 0 template: its address, its town and `binding`, the Mayor's signed
 * {@linkcode workerBinding}. Signed by the worker's own key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
 * import { readWorkerIdentity, workerBinding, workerProfile } from "./gt_worker_identity.ts";
 *
 * const mayor = generateSecretKey(), worker = generateSecretKey();
 * const address = "myrig/polecats/p1", town = "ws://127.0.0.1:7100";
 * const binding = finalizeEvent(
 *   workerBinding({ worker: getPublicKey(worker), address, town, rotation: 0 }),
 *   mayor,
 * );
 * const kind0 = finalizeEvent(workerProfile(binding), worker);
 * assert.equal(readWorkerIdentity(kind0).mayor, getPublicKey(mayor));
 * ```
 */
export function workerProfile(binding: NostrEvent): EventTemplate {
  const tag = (name: string) => binding.tags.find((t) => t[0] === name)?.[1] ?? "";
  const address = tag("gt"), town = tag("gt-town");
  return {
    kind: 0,
    created_at: Math.floor(Date.now() / 1000),
    tags: [
      ["gt", address],
      ["gt-town", town],
      ["gt-mayor", binding.pubkey, tag("rotation"), String(binding.created_at), binding.sig],
    ],
    content: JSON.stringify({
      name: address,
      about: `Gas Town worker ${address} at ${town}, vouched for by its Mayor ${binding.pubkey}`,
    }),
  };
}

/**
 * The identity a worker's kind 0 proves: its binding rebuilt from its tags and the Mayor's
 * signature over it checked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { readWorkerIdentity } from "./gt_worker_identity.ts";
 *
 * const plain = finalizeEvent({ kind: 0, created_at: 1, tags: [], content: "{}" }, generateSecretKey());
 * assert.throws(() => readWorkerIdentity(plain), /names no Gas Town worker/);
 * ```
 * @throws {WorkerIdentityError} when it names no worker or the Mayor's signature fails.
 */
export function readWorkerIdentity(event: NostrEvent): WorkerIdentity {
  const tag = (name: string) => event.tags.find((t) => t[0] === name);
  const address = tag("gt")?.[1], town = tag("gt-town")?.[1], mayorTag = tag("gt-mayor");
  if (event.kind !== 0 || address === undefined || town === undefined || mayorTag === undefined) {
    throw new WorkerIdentityError("not-a-worker", "the kind 0 names no Gas Town worker");
  }
  const [, mayor, rotationText, createdText, sig] = mayorTag;
  const rotation = Number(rotationText), vouchedAt = Number(createdText);
  if (
    !/^[0-9a-f]{64}$/.test(mayor ?? "") || !/^[0-9a-f]{128}$/.test(sig ?? "") ||
    !Number.isSafeInteger(rotation) || rotation < 0 || !Number.isSafeInteger(vouchedAt)
  ) {
    throw new WorkerIdentityError("bad-binding", "the kind 0's gt-mayor tag is malformed");
  }
  const unsigned = {
    ...workerBinding({ worker: event.pubkey, address, town, rotation, createdAt: vouchedAt }),
    pubkey: mayor,
  };
  try {
    verifyEvent({ ...unsigned, id: computeEventId(unsigned), sig });
  } catch {
    throw new WorkerIdentityError(
      "bad-mayor-sig",
      `the Mayor ${mayor.slice(0, 12)} did not sign this binding of ${address}`,
    );
  }
  return { pubkey: event.pubkey, address, town, mayor, rotation, vouchedAt };
}

/** Options for {@linkcode workerRevocation}. */
export interface WorkerRevocationOptions {
  /** The retired key. */
  retired: string;
  address: string;
  /** The retired key's rotation. */
  rotation: number;
  /** The key that replaces it. */
  replacedBy: string;
}

/**
 * The Mayor's revocation of a worker's retired key: kind {@linkcode GT_REVOCATION_KIND},
 * `["p", <retired>]`, `["gt", <address>]`, `["rotation", "<n>"]`, `["replaced-by", <new>]`.
 * Results signed before it stay verifiable: the retired key's kind 0 and binding still check.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { workerRevocation } from "./gt_worker_identity.ts";
 *
 * const r = workerRevocation({ retired: "ab".repeat(32), address: "mayor", rotation: 0, replacedBy: "cd".repeat(32) });
 * assert.deepEqual(r.tags[0], ["p", "ab".repeat(32)]);
 * ```
 */
export function workerRevocation(o: WorkerRevocationOptions): EventTemplate {
  return {
    kind: GT_REVOCATION_KIND,
    created_at: Math.floor(Date.now() / 1000),
    tags: [
      ["p", o.retired],
      ["gt", o.address],
      ["rotation", String(o.rotation)],
      ["replaced-by", o.replacedBy],
    ],
    content: `${o.address}: key ${o.rotation} retired`,
  };
}
