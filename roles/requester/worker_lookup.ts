/**
 * Who a Gas Town worker's key is, read from the towns (docs/PROTOCOL.md "Gas Town workers"): its
 * newest kind 0 with its Mayor's binding checked (protocol/gt_worker_identity.ts), and whether
 * that Mayor revoked the key since (a retired key's earlier signatures stay checkable, it is only
 * no longer current). Also a Mayor's roster: the `p` tags of its newest kind 3 (NIP-02).
 *
 * @module
 */
import {
  GT_REVOCATION_KIND,
  readWorkerIdentity,
  type WorkerIdentity,
  WorkerIdentityError,
} from "../../protocol/gt_worker_identity.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { queryRelays } from "../../transport/relay_query_many.ts";

/** A worker's identity and whether its key is current. */
export interface WorkerWhois extends WorkerIdentity {
  /** False once its Mayor revoked the key. */
  current: boolean;
  /** The revocation, when there is one: its id, when, and the key that replaced this one. */
  revoked?: { id: string; at: number; replacedBy: string };
}

const newest = (events: NostrEvent[]) =>
  events.reduce<NostrEvent | undefined>(
    (best, e) => best === undefined || e.created_at > best.created_at ? e : best,
    undefined,
  );

/**
 * The worker `pubkey` on `relays`: its newest kind 0, checked, and its Mayor's revocation if any.
 *
 * It reads towns: no example that runs here: tests/e2e/gastown_worker_keys_test.ts.
 * @throws {WorkerIdentityError} when it has no kind 0 naming a worker, or its binding fails.
 * @throws {RelayQueryError} when no relay could be read.
 */
export async function lookUpWorker(relays: string[], pubkey: string): Promise<WorkerWhois> {
  const profiles = await queryRelays(relays, [{ kinds: [0], authors: [pubkey] }]);
  const profile = newest(profiles.events);
  if (profile === undefined) {
    throw new WorkerIdentityError(
      "not-a-worker",
      `no kind 0 of ${pubkey.slice(0, 12)} on the towns`,
    );
  }
  const identity = readWorkerIdentity(profile);
  const revocations = await queryRelays(relays, [
    { kinds: [GT_REVOCATION_KIND], authors: [identity.mayor], "#p": [pubkey] },
  ]);
  const revocation = newest(
    revocations.events.filter((e) =>
      e.tags.some((t) => t[0] === "gt" && t[1] === identity.address)
    ),
  );
  if (revocation === undefined) return { ...identity, current: true };
  const replacedBy = revocation.tags.find((t) => t[0] === "replaced-by")?.[1] ?? "";
  return {
    ...identity,
    current: false,
    revoked: { id: revocation.id, at: revocation.created_at, replacedBy },
  };
}

/**
 * `mayor`'s roster on `relays`: the pubkeys its newest kind 3 follows, in order (none without one).
 *
 * It reads towns: no example that runs here: tests/e2e/gastown_worker_keys_test.ts.
 * @throws {RelayQueryError} when no relay could be read.
 */
export async function readRoster(relays: string[], mayor: string): Promise<string[]> {
  return (await readRosterList(relays, mayor)).pubkeys;
}

/**
 * `mayor`'s roster on `relays` and its list's `created_at` (undefined without one): a new list
 * must be later, or the towns keep the one of lower id at the same second (NIP-01).
 *
 * It reads towns: no example that runs here: tests/e2e/gastown_worker_keys_test.ts.
 * @throws {RelayQueryError} when no relay could be read.
 */
export async function readRosterList(
  relays: string[],
  mayor: string,
): Promise<{ pubkeys: string[]; createdAt?: number }> {
  const { events } = await queryRelays(relays, [{ kinds: [3], authors: [mayor] }]);
  const list = newest(events);
  const pubkeys = [
    ...new Set(
      (list?.tags ?? []).filter((t) => t[0] === "p" && /^[0-9a-f]{64}$/.test(t[1] ?? ""))
        .map((t) => t[1]),
    ),
  ];
  return list === undefined ? { pubkeys } : { pubkeys, createdAt: list.created_at };
}
