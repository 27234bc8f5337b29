/**
 * What a profile's node does when its `trust publish` asks (docs/PROTOCOL.md "Trust assertions
 * (NIP-85)"): signs each rank as a kind 30382 assertion, or its rank services as a kind 10040
 * list, and writes them as paid writes on its towns. One answer for every key that publishes: a
 * requester profile's node (roles/requester/worker_desk.ts), a provider's `node up`
 * (roles/provider/trust_socket.ts) and a town into its own store
 * (roles/town/town_trust_publish.ts). With it, the one comparison of ranks with what the key
 * already published ({@linkcode changedRanks}), so that an unchanged rank is never sent again.
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
  /**
   * When the key's newest assertion of each subject was made (unix seconds): a new one is dated
   * after it, since a replacement in the same second may lose to the one it replaces (NIP-01).
   */
  after?: ReadonlyMap<string, number>;
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
    const now = Math.floor(Date.now() / 1000);
    const createdAt = Math.max(now, (o.after?.get(subject) ?? 0) + 1);
    const event = await o.signer.signEvent(trustAssertionEvent({ subject, rank, createdAt }));
    await o.write(event);
    asserted.push({ subject, rank: assertedRank(rank), event: event.id });
  }
  return { asserted };
}

/** An assertion to send: its subject and whole-number rank. */
export interface RankToAssert {
  subject: string;
  rank: number;
}

/**
 * The ranks that differ from what the towns have (or that they lack), in `ranks`' order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { changedRanks } from "./trust_publication.ts";
 *
 * const [x, y] = ["cd".repeat(32), "ef".repeat(32)];
 * const sent = changedRanks(new Map([[x, 29.4], [y, 12]]), new Map([[x, 29]]));
 * assert(sent.length === 1 && sent[0].subject === y);
 * ```
 */
export function changedRanks(
  ranks: ReadonlyMap<string, number>,
  published: ReadonlyMap<string, number>,
): RankToAssert[] {
  const changed: RankToAssert[] = [];
  for (const [subject, score] of ranks) {
    const rank = assertedRank(score);
    if (published.get(subject) !== rank) changed.push({ subject, rank });
  }
  return changed;
}
