/**
 * A town that chooses to (`[town] publish_trust`, config/town_trust_publish.ts) publishes its
 * trust of its channel-less peers as NIP-85 assertions (kind 30382, docs/PROTOCOL.md "Trust
 * assertions (NIP-85)"): signed by the town's key, about each peer's `[[town.peers]] pubkey`,
 * the rank its credit history gives (state/payments/credit_rank.ts). They go straight into the
 * town's own store, as its kind 10032 does: its own events, so no payment. At start and every
 * interval the ranks are compared with what the store holds of the town's own and only those
 * that changed are signed again (roles/receipts/trust_publication.ts, the comparison every
 * publisher uses).
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import type { EventStore } from "../../state/events/event_store.ts";
import { asTownStore, type TownStore } from "../../state/events/town_store.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { newestAssertions, TRUST_ASSERTION_KIND } from "../../protocol/trust_assertion.ts";
import type { TownSettings } from "../../config/town_settings.ts";
import type { PeerCredit } from "../../state/payments/peer_credit.ts";
import { creditRank } from "../../state/payments/credit_rank.ts";
import { inDefault } from "../../state/payments/credit_line.ts";
import { answerTrustAction, changedRanks } from "../receipts/trust_publication.ts";
import type { TownClosers } from "./town_stop.ts";

/** The town's own assertion was not stored. */
export class TownTrustPublishError extends RoleError {
  override name = "TownTrustPublishError";
}

/** Options for {@linkcode publishTownTrust}. */
export interface TownTrustPublishOptions {
  /** The town's store (SQLite or shared): read for its own assertions, written with new ones. */
  store: EventStore | TownStore;
  /** The town's key. */
  signer: Pick<NodeSigner, "pubkey" | "signEvent">;
  config: Pick<TownSettings, "peers" | "peerChannels" | "peerCreditLimit" | "peerCreditLine">;
  /** The credit counts, where each peer's standing is. */
  credit: Pick<PeerCredit, "standing">;
  /** Whether an account settles over a channel (a channel learnt from its claims included). */
  hasChannel?: (account: string) => boolean;
  /** The clock (unix ms). Default Date.now. */
  now?: () => number;
}

/** What one publication did. */
export interface TownTrustPublished {
  /** The assertions signed and stored. */
  sent: { subject: string; rank: number; event: string }[];
  /** Peers whose published rank is still right. */
  unchanged: number;
  /** Channel-less peers skipped: no `pubkey` configured. */
  noPubkey: number;
}

/**
 * Compares each channel-less peer's rank with the town's published one and stores those that
 * changed. A peer the town never asserted is asserted once it has a history: repaid use, or a
 * credit episode past its grace (a default, rank 0); one asserted before is asserted again at 0
 * once its history is gone (a default erases it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey, getPublicKey } from "nostr-tools/pure";
 * import { localNodeSigner } from "../../identity/local_node_signer.ts";
 * import { openEventStore } from "../../state/events/event_store.ts";
 * import { publishTownTrust } from "./town_trust_publish.ts";
 *
 * const store = openEventStore({ path: ":memory:" });
 * const peer = getPublicKey(generateSecretKey());
 * const options = {
 *   store,
 *   signer: localNodeSigner(generateSecretKey()),
 *   config: {
 *     peers: [{ account: "child", token: "t", pubkey: peer }, { account: "anon", token: "u" }],
 *     peerCreditLimit: 5_000n,
 *     peerCreditLine: { ceiling: 20_000n, graceMs: 60_000 },
 *   },
 *   credit: { standing: () => Promise.resolve({ repaid: 15_000n, mark: 0n }) },
 * };
 * const first = await publishTownTrust(options);
 * assert.deepEqual([first.sent[0].rank, first.noPubkey], [50, 1]);
 * assert.equal((await publishTownTrust(options)).sent.length, 0);
 * store.close();
 * ```
 */
export async function publishTownTrust(o: TownTrustPublishOptions): Promise<TownTrustPublished> {
  const { config } = o;
  const learned = config.peerCreditLine;
  const channels = new Set((config.peerChannels ?? []).map((c) => c.account));
  const peers = config.peers.filter((p) =>
    !channels.has(p.account) && !(o.hasChannel?.(p.account) ?? false) &&
    (p.creditLimit ?? config.peerCreditLimit) !== undefined
  );
  const keyed = peers.filter((p) => p.pubkey !== undefined);
  const result = { sent: [], unchanged: 0, noPubkey: peers.length - keyed.length };
  if (learned === undefined || keyed.length === 0) return result;
  const store = asTownStore(o.store);
  const subjects = keyed.map((p) => p.pubkey!);
  const rows = await store.query(
    [{ kinds: [TRUST_ASSERTION_KIND], authors: [o.signer.pubkey], "#d": subjects }],
    { limit: subjects.length },
  );
  const own = newestAssertions(rows.map((r) => JSON.parse(r.json) as NostrEvent));
  const published = new Map(own.map((a) => [a.subject, a.rank]));
  const now = o.now?.() ?? Date.now();
  const ranks = new Map<string, number>();
  for (const peer of keyed) {
    const standing = await o.credit.standing(peer.account);
    const floor = (peer.creditLimit ?? config.peerCreditLimit)!;
    // A newcomer (nothing repaid, no default) has given the town nothing to say yet.
    if (
      standing.repaid === 0n && !inDefault(standing, learned, now) && !published.has(peer.pubkey!)
    ) continue;
    ranks.set(peer.pubkey!, creditRank(standing, { floor, ...learned }, now));
  }
  const changed = changedRanks(ranks, published);
  result.unchanged = ranks.size - changed.length;
  if (changed.length === 0) return result;
  const answer = await answerTrustAction({ do: "assert", ranks: changed }, {
    signer: o.signer,
    after: new Map(own.map((a) => [a.subject, a.createdAt])),
    write: async (event) => {
      const { status } = await store.insert(event);
      if (status !== "stored" && status !== "replaced") {
        throw new TownTrustPublishError(
          `the town's assertion ${event.id} was not stored: ${status}`,
        );
      }
    },
  });
  return { ...result, sent: answer.asserted as TownTrustPublished["sent"] };
}

/** Options for {@linkcode startTownTrustPublisher}. */
export interface TownTrustPublisherOptions extends TownTrustPublishOptions {
  /** How often to publish again, ms. */
  intervalMs: number;
  closers: TownClosers;
  log: (line: string) => void;
}

/**
 * Publishes once (awaited: a start-up step) and then every `intervalMs` until the town stops;
 * the first run is logged, and each later one that sent something.
 *
 * A step of startTownNode: tests/e2e/town_trust_publish_test.ts.
 */
export async function startTownTrustPublisher(o: TownTrustPublisherOptions): Promise<void> {
  const run = async (first: boolean) => {
    try {
      const r = await publishTownTrust(o);
      if (!first && r.sent.length === 0) return;
      o.log(
        `trust: ${r.sent.length} assertions sent, ${r.unchanged} unchanged, ` +
          `${r.noPubkey} peers without a pubkey`,
      );
    } catch (err) {
      o.log(`trust: not published: ${err instanceof Error ? err.message : err}`);
    }
  };
  await run(true);
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => run(false));
  }, o.intervalMs);
  o.closers.add(async () => {
    clearInterval(timer);
    await running;
  });
}
