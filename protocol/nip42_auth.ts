/**
 * NIP-42's answer to a relay's challenge: a kind 22242 event naming the relay and the challenge,
 * signed by the reader's key (in its worker: protocol/node_signer.ts). A town serves private
 * events (gift wraps) only to a connection that answered as their recipient
 * (docs/PROTOCOL.md "Private events: NIP-42 AUTH").
 *
 * @module
 */
import type { EventTemplate, NostrEvent } from "./nostr_event.ts";
import type { NodeSigner } from "./node_signer.ts";

/** NIP-42's kind of the answer. */
export const NIP42_AUTH_KIND = 22242;

/**
 * The unsigned answer to `challenge` from the relay at `relayUrl`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { authTemplate } from "./nip42_auth.ts";
 *
 * const t = authTemplate("c0ffee", "wss://town.example", 1_700_000_000);
 * assert(t.kind === 22242 && t.tags[1][1] === "c0ffee");
 * ```
 */
export function authTemplate(challenge: string, relayUrl: string, nowSec?: number): EventTemplate {
  return {
    kind: NIP42_AUTH_KIND,
    created_at: nowSec ?? Math.floor(Date.now() / 1000),
    tags: [["relay", relayUrl], ["challenge", challenge]],
    content: "",
  };
}

/**
 * What a NIP-01 client's `authenticate` option takes: answers each challenge with `signer`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localNodeSigner } from "@turnpike/turnpike";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { authenticateWith } from "./nip42_auth.ts";
 *
 * const authenticate = authenticateWith(localNodeSigner(generateSecretKey()));
 * const answer = await authenticate("c0ffee", "wss://town.example");
 * assert.equal(answer.kind, 22242);
 * ```
 */
export function authenticateWith(
  signer: Pick<NodeSigner, "signEvent">,
): (challenge: string, relayUrl: string) => Promise<NostrEvent> {
  return (challenge, relayUrl) => signer.signEvent(authTemplate(challenge, relayUrl));
}
