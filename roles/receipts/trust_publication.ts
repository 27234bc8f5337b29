/**
 * What a profile's node does when its `trust publish` asks (docs/PROTOCOL.md "Trust assertions
 * (NIP-85)"): signs each rank as a kind 30382 assertion, or its rank services as a kind 10040
 * list, and writes them as paid writes on its towns. One answer for both nodes that serve it: a
 * requester profile's (roles/requester/worker_desk.ts) and a provider's `node up`
 * (roles/provider/trust_socket.ts).
 *
 * @module
 */
import type { EventTemplate, NostrEvent } from "../../protocol/nostr_event.ts";
import { assertedRank, trustAssertionEvent } from "../../protocol/trust_assertion.ts";
import { type RankService, trustProviderListEvent } from "../../protocol/trust_provider_list.ts";

/** A publication `trust publish` asks of the profile's node. */
export type TrustPublishAction =
  /** Publish NIP-85 assertions (kind 30382): each subject's rank. */
  | { do: "assert"; ranks: { subject: string; rank: number }[] }
  /** Publish the profile's NIP-85 rank services (kind 10040). */
  | { do: "rank-services"; services: RankService[] };

/** The node's key and its paid write, for {@linkcode answerTrustAction}. */
export interface TrustPublisher {
  signer: { signEvent(template: EventTemplate): Promise<NostrEvent> };
  /** Stores a signed event on the profile's towns (a paid write). */
  write(event: NostrEvent): Promise<unknown>;
}

/**
 * Signs and writes what `action` asks; the answer is the `gt` line `trust publish` reads:
 * `{asserted: [{subject, rank, event}]}` or `{services, event}`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey, type NostrEvent } from "nostr-tools/pure";
 * import { answerTrustAction } from "./trust_publication.ts";
 *
 * const key = generateSecretKey();
 * const written: NostrEvent[] = [];
 * const answer = await answerTrustAction(
 *   { do: "assert", ranks: [{ subject: "cd".repeat(32), rank: 41.6 }] },
 *   {
 *     signer: { signEvent: (t) => Promise.resolve(finalizeEvent(t, key)) },
 *     write: (e) => Promise.resolve(written.push(e)),
 *   },
 * );
 * assert.deepEqual(answer, { asserted: [{ subject: "cd".repeat(32), rank: 42, event: written[0].id }] });
 * ```
 */
export async function answerTrustAction(
  action: TrustPublishAction,
  o: TrustPublisher,
): Promise<Record<string, unknown>> {
  if (action.do === "rank-services") {
    const list = await o.signer.signEvent(trustProviderListEvent(action.services));
    await o.write(list);
    return { services: action.services, event: list.id };
  }
  const asserted = [];
  for (const { subject, rank } of action.ranks) {
    const event = await o.signer.signEvent(trustAssertionEvent({ subject, rank }));
    await o.write(event);
    asserted.push({ subject, rank: assertedRank(rank), event: event.id });
  }
  return { asserted };
}
