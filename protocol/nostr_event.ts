/**
 * The Nostr event shape (NIP-01) shared by every codec and stage.
 *
 * @module
 */

/** A signed Nostr event (NIP-01). */
export interface NostrEvent {
  id: string;
  pubkey: string;
  created_at: number;
  kind: number;
  tags: string[][];
  content: string;
  sig: string;
}

/** An event before signing: what a job source produces and the signer consumes. */
export interface EventTemplate {
  kind: number;
  created_at: number;
  tags: string[][];
  content: string;
}
