/**
 * A Gas Town bead on Nostr (docs/PROTOCOL.md "Beads as events"): one parameterized-replaceable
 * event per bead and author, kind {@linkcode BEAD_KIND}, `d` = `<rig>/<bead id>`, so a town keeps
 * each member's latest view of each bead and nothing else. The tags say only where the bead
 * belongs: `["d", "<rig>/<id>"]`, `["b", "<rig>/<bucket>"]` (one of 16 buckets by the id's
 * SHA-256, so a reader can page a large rig in REQs under the town's limit), and one
 * `["p", <member>]` per member of the rig (a town that lists the kind as private serves it only to
 * them). The content is the author's whole view of the bead, sealed (roles/beads/bead_seal.ts).
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { EventTemplate, NostrEvent } from "./nostr_event.ts";
import { ProtocolError } from "./protocol_error.ts";

/** The bead kind (30000-39999: parameterized replaceable, one per author and `d`). */
export const BEAD_KIND = 30_235;
/** How many buckets a rig's beads are spread over (the `b` tag). */
export const BEAD_BUCKETS = 16;

const RIG = /^[A-Za-z0-9._-]{1,64}$/;
const BEAD_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** A rig name or bead id that cannot go in a tag, or an event that is not a bead. */
export class BeadEventError extends ProtocolError {
  /** `"BeadEventError"`: explicit so it survives bundling. */
  override name = "BeadEventError";
}

/**
 * Checks a rig's name (letters, digits, `.`, `_`, `-`; at most 64).
 *
 * @example
 * ```ts
 * import { checkRig } from "./bead_event.ts";
 *
 * checkRig("myrig"); // ok; checkRig("my rig") throws
 * ```
 * @throws {BeadEventError} when it is not.
 */
export function checkRig(rig: string): void {
  if (!RIG.test(rig)) throw new BeadEventError(`"${rig.slice(0, 70)}" is not a rig name`);
}

/**
 * The bucket of a bead id: the first hex digit of its SHA-256.
 *
 * @example
 * ```ts
 * import { beadBucket } from "./bead_event.ts";
 *
 * beadBucket("gt-1"); // one of "0".."f"
 * ```
 */
export function beadBucket(id: string): string {
  return bytesToHex(sha256(new TextEncoder().encode(id))).slice(0, 1);
}

/**
 * The `b` tag values of a rig, one per bucket (a reader's filters).
 *
 * @example
 * ```ts
 * import { rigBuckets } from "./bead_event.ts";
 *
 * rigBuckets("myrig").length; // 16
 * ```
 */
export function rigBuckets(rig: string): string[] {
  return Array.from({ length: BEAD_BUCKETS }, (_, i) => `${rig}/${i.toString(16)}`);
}

/** Options for {@linkcode beadTemplate}. */
export interface BeadTemplateOptions {
  rig: string;
  /** The bead's id in `bd`. */
  id: string;
  /** The rig's members (hex pubkeys), each a `p` tag. */
  members: string[];
  /** The sealed content. */
  content: string;
  /** Seconds; a replaceable event needs each version later than the last. */
  createdAt: number;
}

/**
 * The unsigned bead event.
 *
 * @example
 * ```ts
 * import { beadTemplate } from "./bead_event.ts";
 *
 * const t = beadTemplate({ rig: "myrig", id: "gt-1", members: [], content: "", createdAt: 1 });
 * t.tags[0]; // ["d", "myrig/gt-1"]
 * ```
 * @throws {BeadEventError} when the rig or the id cannot go in a tag.
 */
export function beadTemplate(options: BeadTemplateOptions): EventTemplate {
  checkRig(options.rig);
  if (!BEAD_ID.test(options.id)) {
    throw new BeadEventError(`"${options.id.slice(0, 70)}" is not a bead id`);
  }
  return {
    kind: BEAD_KIND,
    created_at: options.createdAt,
    tags: [
      ["d", `${options.rig}/${options.id}`],
      ["b", `${options.rig}/${beadBucket(options.id)}`],
      ...options.members.map((p) => ["p", p]),
    ],
    content: options.content,
  };
}

/**
 * The rig and bead id a bead event names.
 *
 * @example
 * ```ts
 * import { beadAddress, beadTemplate } from "./bead_event.ts";
 *
 * const t = beadTemplate({ rig: "myrig", id: "gt-1", members: [], content: "", createdAt: 1 });
 * beadAddress(t); // { rig: "myrig", id: "gt-1" }
 * ```
 * @throws {BeadEventError} when it is not a bead event.
 */
export function beadAddress(event: EventTemplate | NostrEvent): { rig: string; id: string } {
  const d = event.tags.find((t) => t[0] === "d")?.[1] ?? "";
  const slash = d.indexOf("/");
  const [rig, id] = [d.slice(0, slash), d.slice(slash + 1)];
  if (event.kind !== BEAD_KIND || slash < 0 || !RIG.test(rig) || !BEAD_ID.test(id)) {
    throw new BeadEventError(`not a bead event (kind ${event.kind}, d "${d.slice(0, 70)}")`);
  }
  return { rig, id };
}
