/**
 * The trust this profile gives each counterparty, read from the receipts it already signed
 * (roles/receipts/receipt_ledger.ts, protocol/trust_score.ts): no passphrase, nothing signed, so a
 * listing (`providers`) can show it. A profile with no state dir or no receipts trusts no one yet.
 * With its towns, the roster's NIP-85 assertions are combined in (protocol/roster_trust.ts,
 * docs/PROTOCOL.md "Trust assertions (NIP-85)").
 *
 * @module
 */
import { readWalletFile, walletFilePath } from "../identity/wallet_file.ts";
import { type TrustScore, trustScores } from "../protocol/trust_score.ts";
import { type CombinedTrust, combineTrust, noReceiptsScore } from "../protocol/roster_trust.ts";
import { readReceipts } from "../roles/receipts/receipt_ledger.ts";
import { readRosterAssertions } from "../roles/requester/roster_assertions.ts";

/** Options for {@linkcode rosterTrust}. */
export interface RosterTrustOptions {
  /** The profile's state dir (its wallet, its receipts). */
  stateDir: string;
  /** The towns its roster and the roster's assertions are read from. */
  relays: string[];
  /** The own scores, when the caller has them (signed just now); else read from the book. */
  scores?: ReadonlyMap<string, TrustScore>;
  /** Only these counterparties; every one with a receipt or a roster assertion without. */
  subjects?: string[];
  /** Told when no town could be read: the own part stands alone. */
  onUnread?: (err: Error) => void;
}

/**
 * Each counterparty's trust from the profile's receipts and its roster's assertions, by pubkey.
 *
 * It reads the roster's assertions from a town, so it has no example that runs here:
 * tests/e2e/trust_assertions_test.ts
 */
export async function rosterTrust(o: RosterTrustOptions): Promise<Map<string, CombinedTrust>> {
  // The book is read (each line's signature checked) only when the caller has not just done so.
  const own = o.scores === undefined
    ? await ownScores(o.stateDir)
    : { pubkey: await walletPubkey(o.stateDir), scores: o.scores };
  const scores = own.scores;
  const trust = new Map<string, CombinedTrust>();
  if (own.pubkey === null) return trust;
  let read: Awaited<ReturnType<typeof readRosterAssertions>> = { roster: [], assertions: [] };
  if (o.relays.length > 0) {
    try {
      read = await readRosterAssertions({
        relays: o.relays,
        reader: own.pubkey,
        subjects: o.subjects,
      });
    } catch (err) {
      o.onUnread?.(err as Error);
    }
  }
  const roster = new Set(read.roster);
  const subjects = o.subjects ??
    [...new Set([...scores.keys(), ...read.assertions.map((a) => a.subject)])];
  for (const who of subjects) {
    const score = scores.get(who) ?? noReceiptsScore(who);
    trust.set(who, combineTrust(score, read.assertions, { roster, self: own.pubkey }));
  }
  return trust;
}

const walletPubkey = (stateDir: string) =>
  readWalletFile(walletFilePath(stateDir)).then((w) => w.pubkey, () => null);

async function ownScores(
  stateDir: string,
): Promise<{ pubkey: string | null; scores: ReadonlyMap<string, TrustScore> }> {
  const pubkey = await walletPubkey(stateDir);
  if (pubkey === null) return { pubkey, scores: new Map() };
  const { receipts } = await readReceipts(stateDir, pubkey);
  return { pubkey, scores: trustScores(receipts.map((s) => s.receipt), { nowMs: Date.now() }) };
}
