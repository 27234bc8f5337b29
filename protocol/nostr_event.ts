/**
 * The Nostr event shape (NIP-01) shared by every codec and stage.
 *
 * @module
 */

/** A signed Nostr event (NIP-01). */
export interface NostrEvent {
  /** SHA-256 of the NIP-01 serialization, 64 lowercase hex chars. */
  id: string;
  /** Author's public key, x-only, 64 lowercase hex chars. */
  pubkey: string;
  /** Unix seconds, as claimed by the author. */
  created_at: number;
  /** Event kind, integer 0-65535 (NIP-90 jobs 5000-5999, results 6000-6999). */
  kind: number;
  /** Tags in order; each a non-empty array whose first element is the tag name. */
  tags: string[][];
  /** Arbitrary text; its meaning depends on the kind. */
  content: string;
  /** BIP-340 Schnorr signature of `id`, 128 lowercase hex chars. */
  sig: string;
}

/** An event before signing: what a job source produces and the signer consumes. */
export interface EventTemplate {
  /** Event kind, integer 0-65535. */
  kind: number;
  /** Unix seconds. */
  created_at: number;
  /** Tags in order; each a non-empty array whose first element is the tag name. */
  tags: string[][];
  /** Arbitrary text; its meaning depends on the kind. */
  content: string;
}
