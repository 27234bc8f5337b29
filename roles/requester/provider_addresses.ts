/**
 * The ILP addresses providers announce: a provider's newest kind 10032 (`protocol/peer_info.ts`)
 * on the requester's towns, what the payer checks an invoice's destination against
 * (`protocol/invoice_destination.ts`). Answers are kept for `maxAgeMs`; a caller whose invoice
 * does not match the kept address asks again with `fresh` (the provider may have announced a new
 * one since), so a kept answer never refuses a payment a fresh one would allow.
 *
 * Only events signed by the provider count: the relay query verifies each event's signature and
 * its match to the filter (`authors`), and drops the rest.
 *
 * @module
 */
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { parsePeerInfo, PEER_INFO_KIND, PeerInfoError } from "../../protocol/peer_info.ts";
import { queryRelays } from "../../transport/relay_query_many.ts";

/** How long an announced address is kept before it is read again, ms. */
export const PROVIDER_ADDRESS_MAX_AGE_MS = 60_000;

/** Options for {@linkcode ProviderAddresses}. */
export interface ProviderAddressesOptions {
  /** The towns' relay URLs to read (all of them: a provider announces on every town it uses). */
  relays: () => readonly string[];
  /** How long an answer is kept, ms (default {@linkcode PROVIDER_ADDRESS_MAX_AGE_MS}). */
  maxAgeMs?: number;
  /** One read's time limit, ms (default the relay query's). */
  timeoutMs?: number;
}

/**
 * Reads and keeps providers' announced ILP addresses.
 *
 * It reads towns: no example that runs here: tests/e2e/requester_job_flow_test.ts.
 */
export class ProviderAddresses {
  #o: ProviderAddressesOptions;
  #kept = new Map<string, { address: string | undefined; atMs: number }>();

  constructor(options: ProviderAddressesOptions) {
    this.#o = options;
  }

  /**
   * The provider's announced ILP address, undefined when it announces none (or only malformed
   * ones). `fresh`: read the towns even when an answer is kept.
   *
   * @throws {RelayQueryError} when no town could be read.
   */
  async of(pubkey: string, options: { fresh?: boolean } = {}): Promise<string | undefined> {
    const maxAge = this.#o.maxAgeMs ?? PROVIDER_ADDRESS_MAX_AGE_MS;
    const kept = this.#kept.get(pubkey);
    if (!options.fresh && kept !== undefined && Date.now() - kept.atMs < maxAge) {
      return kept.address;
    }
    const { events } = await queryRelays(
      this.#o.relays(),
      [{ kinds: [PEER_INFO_KIND], authors: [pubkey], limit: 1 }],
      { timeoutMs: this.#o.timeoutMs, maxEvents: 10, maxBytes: 256 * 1024 },
    );
    const address = addressOf(events);
    // Bounded: one entry per provider paid within the last maxAge is all that is needed.
    for (const [key, entry] of this.#kept) {
      if (Date.now() - entry.atMs >= maxAge) this.#kept.delete(key);
    }
    this.#kept.set(pubkey, { address, atMs: Date.now() });
    return address;
  }
}

/** The address of the newest well-formed announcement (replaceable: the newest one counts). */
function addressOf(events: readonly NostrEvent[]): string | undefined {
  const newest = [...events].sort((a, b) => b.created_at - a.created_at);
  for (const event of newest) {
    try {
      return parsePeerInfo(event).ilpAddress;
    } catch (err) {
      if (!(err instanceof PeerInfoError)) throw err;
      // A malformed announcement tells nothing; an older well-formed one still does.
    }
  }
  return undefined;
}
