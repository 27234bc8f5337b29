/**
 * The town's books per BTP peer: `<state dir>/peer_ledger.jsonl`, append-only, one JSON line per
 * event, fsynced before `append` resolves (lines arriving together share one write + fsync). What
 * the town owes each peer it forwards payments to (providers now, peer towns later), what it
 * has paid them with channel claims, and what reached the chain (docs/ARCHITECTURE.md "The
 * town's books per peer").
 *
 * Nothing forwarded that is not on record, nothing recorded twice:
 *
 * ```
 *   packet state   none --forward--> in flight --fulfilled--> owed (counted once)
 *                                        \-------rejected---> none (may be forwarded again)
 *
 *   1. `forward` line (account, condition, amount)  -- fsynced --  before the PREPARE leaves
 *   2. the child answers
 *   3. `fulfilled` line (with the fulfillment)      -- fsynced --  before the FULFILL is relayed
 *      `rejected` line                                            before the REJECT is relayed
 * ```
 *
 * A crash between 1 and 3 leaves the packet in doubt: the child may have fulfilled it. It is not
 * counted as owed, nor forgotten: it is listed (`inDoubt`) until the peer shows the fulfillment
 * (its SHA-256 is the condition, so only the party that was paid can produce it), which records
 * it owed, once ({@linkcode PeerLedger.prove}). A packet is identified by its account and
 * execution condition; a second `fulfilled` for the same packet is ignored when read and refused
 * when written. A fulfilled packet the books have let go of (below) that is forwarded again is a
 * new packet: its payer sent (and paid the town) a second PREPARE, and its child is owed twice.
 *
 * Payouts: an `opened` line names the channel the town pays the peer over (its deposit),
 * `claimed` lines carry the cumulative amount of the newest claim the town signed to the
 * peer (what the peer can take on chain), `settled` lines what a channel paid out on chain. A
 * SIGKILL mid-append can leave a partial last line; it is skipped when reading (counted in
 * `skippedLines`) and the next append starts on a fresh line.
 *
 * Bounded in memory, however long the town runs: the balances, and the packets
 * state/payments/ledger_packets.ts holds (each account's newest answered ones, every one in flight
 * or in doubt); the file is read a chunk at a time (state/line_file.ts). docs/SCALE.md "A town's
 * books after a long run".
 *
 * @module
 */
import {
  checkPeerLedgerEntry,
  emptyPeerBalance,
  type InDoubtOutcome,
  type PeerBalance,
  type PeerLedgerEntry,
  PeerLedgerError,
} from "./peer_ledger_entry.ts";
import { readLineFile } from "../line_file.ts";
import { LedgerPackets, type PacketDetail, type PacketStanding } from "./ledger_packets.ts";
import {
  decodePeerLedgerState,
  PEER_LEDGER_CHECKPOINT_FORMAT,
  PEER_LEDGER_CHECKPOINT_NAME,
  type PeerLedgerState,
} from "./peer_ledger_checkpoint.ts";
import { LineFileCheckpoints } from "../line_file_checkpoint.ts";
import { LineAppender } from "../line_appender.ts";
import { bytesToHex as toHex } from "@noble/hashes/utils.js";
import { sha256 } from "@noble/hashes/sha2.js";

export {
  type InDoubtOutcome,
  type PeerBalance,
  type PeerLedgerEntry,
  PeerLedgerError,
  type PeerLedgerEvent,
} from "./peer_ledger_entry.ts";

/** Options for {@linkcode openPeerLedger}. */
export interface PeerLedgerOptions {
  stateDir: string;
  /** Clock (unix ms). Default Date.now. */
  now?: () => number;
  /**
   * Answered packets held per account (state/payments/ledger_packets.ts); older ones are
   * forgotten from memory. Default 1,024, what a provider asks about at most.
   */
  keepAnswered?: number;
  /**
   * Lines between two checkpoints (state/line_file_checkpoint.ts: a start reads only
   * the lines after the last one); at least four times the packets the last one held. 0: none.
   * Default 100,000.
   */
  checkpointLines?: number;
  /**
   * A reader beside the running town (`town balances`): reads from the checkpoint, writes none.
   * Nothing may be appended then.
   */
  readOnly?: boolean;
}

const LEDGER_NAME = "peer_ledger.jsonl";
const MAX_LINE = 4 * 1024;
/**
 * Opens the ledger, replaying its lines (forwards with no outcome become in doubt).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir(); // the town's
 * const ledger = await openPeerLedger({ stateDir });
 * assert.equal(ledger.balance("beta").owed, 0n);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function openPeerLedger(options: PeerLedgerOptions): Promise<PeerLedger> {
  const ledger = new PeerLedger(options);
  await ledger.load();
  return ledger;
}

/**
 * The town's books per peer; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * const conditionHex = "ab".repeat(32);
 * const fulfillmentHex = "cd".repeat(32);
 * const ledger = await openPeerLedger({ stateDir });
 * await ledger.forward("beta", conditionHex, 2500n); // before the PREPARE leaves
 * await ledger.fulfilled("beta", conditionHex, fulfillmentHex); // before the FULFILL is relayed
 * assert.equal(ledger.balance("beta").owed, 2500n);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export class PeerLedger {
  readonly path: string;
  /** Unreadable lines met while loading (partial last lines after a crash). */
  skippedLines = 0;
  #now: () => number;
  #packets: LedgerPackets;
  /** Newest claim per account and channel. */
  #claims = new Map<string, bigint>();
  #balances = new Map<string, PeerBalance>();
  #loaded = false;
  readonly #file: LineAppender;
  readonly #checkpoints: LineFileCheckpoints;

  constructor(options: PeerLedgerOptions) {
    const stateDir = options.stateDir.replace(/\/+$/, "");
    this.path = `${stateDir}/${LEDGER_NAME}`;
    this.#now = options.now ?? Date.now;
    this.#packets = new LedgerPackets({ keepAnswered: options.keepAnswered });
    this.#file = new LineAppender(this.path);
    // In-doubt packets from before the last start may be in a checkpoint where a reading of the
    // file would have them in flight: no line written since tells the two apart (a `rejected` or
    // `fulfilled` line answers either the same way; each ends in doubt at the next start).
    this.#checkpoints = new LineFileCheckpoints({
      path: `${stateDir}/${PEER_LEDGER_CHECKPOINT_NAME}`,
      linesPath: this.path,
      appender: this.#file,
      every: options.checkpointLines ?? 100_000,
      readOnly: options.readOnly,
      snapshot: () => ({ state: this.#state(), entries: this.#packets.held() }),
    });
  }

  /**
   * Replays the file, from its last checkpoint when there is one it still begins with; called by
   * {@linkcode openPeerLedger}.
   */
  async load(): Promise<void> {
    const checkpoint = await this.#checkpoints.read();
    const state = decodePeerLedgerState(checkpoint?.state);
    let offset = 0;
    if (checkpoint !== undefined && state?.keepAnswered === this.#packets.keepAnswered) {
      try {
        // First: it throws on packets this module did not write, before anything is replaced.
        this.#packets.restore(state.packets);
        this.skippedLines = state.skippedLines;
        this.#balances = new Map(state.balances.map((b) => [b.account, b]));
        this.#claims = new Map(state.claims);
        offset = checkpoint.offset;
      } catch {
        // Not one of ours after all: the whole file is read, as without a checkpoint.
      }
    }
    const read = await readLineFile(this.path, (line) => {
      try {
        const entry = JSON.parse(line) as PeerLedgerEntry;
        checkPeerLedgerEntry(entry);
        this.#apply(entry);
      } catch {
        this.skippedLines++;
      }
    }, { maxLine: MAX_LINE, offset });
    this.skippedLines += read?.tooLong ?? 0;
    // A long reading leaves a checkpoint, taken before what was in flight turns in doubt, as a
    // reading of the same lines would hold it.
    this.#checkpoints.opened(read);
    // What was in flight when the last process stopped has no answer on record.
    this.#packets.allInDoubt();
    for (const b of this.#balances.values()) {
      b.inDoubt += b.inFlight;
      b.inFlight = 0n;
    }
    this.#file.needsNewline = read !== undefined && !read.endsInNewline;
    this.#loaded = true;
  }

  /** Resolves once every line appended is written (or failed) and no checkpoint is being written. */
  async flush(): Promise<void> {
    await this.#file.flush();
    await this.#checkpoints.flush();
  }

  /** Every peer on record, by account name. */
  balances(): PeerBalance[] {
    return [...this.#balances.values()].map((b) => ({ ...b }))
      .sort((a, b) => a.account.localeCompare(b.account));
  }

  /** One peer's balance (zeros for a peer never paid). */
  balance(account: string): PeerBalance {
    return { ...this.#balances.get(account) ?? emptyPeerBalance(account) };
  }

  /** What the town owes the peer beyond its newest claim, in flight and in doubt included. */
  exposure(account: string): bigint {
    const b = this.balance(account);
    return b.owed - b.claimed + b.inFlight + b.inDoubt;
  }

  /** Packets forwarded before a crash with no answer on record (account, condition, amount). */
  inDoubt(): { account: string; condition: string; amount: bigint }[] {
    return this.#packets.inDoubt();
  }

  /**
   * Where a packet forwarded to `account` stands on these books (roles/town/btp/owed_answers.ts):
   * `fulfilled`, `in-flight` (this run), `in-doubt` (forwarded before a crash, no answer),
   * `rejected` (its last answer), or undefined when never forwarded here.
   */
  packetState(account: string, condition: string): PacketStanding | undefined {
    return this.#packets.state(account, condition);
  }

  /** A held packet's expiry, and whether another packet was paid ({@linkcode prove}). */
  packetDetail(account: string, condition: string): PacketDetail | undefined {
    return this.#packets.detail(account, condition);
  }

  /**
   * When the newest answered packet to `account` no longer held was forwarded (unix ms), or
   * undefined: of a packet forwarded after it, `packetState` is exact (`unknown`: never forwarded).
   */
  forgottenUpTo(account: string): number | undefined {
    return this.#packets.forgottenUpTo(account);
  }

  /** Answered packets held now, all accounts (bounded by `keepAnswered` each). */
  answeredHeld(): number {
    return this.#packets.answeredHeld();
  }

  /** The fulfilled packets held (roles/town/btp/paid_once.ts records them again at a start). */
  fulfilledHeld(): { account: string; condition: string }[] {
    return this.#packets.fulfilledHeld();
  }

  /**
   * Records a PREPARE about to be forwarded to `account`, with the expiry it leaves with (which
   * tells it from another packet of the same condition after a crash, {@linkcode prove});
   * resolves once on disk.
   * @throws {PeerLedgerError} when that packet is already in flight, in doubt or fulfilled.
   */
  forward(account: string, condition: string, amount: bigint, expiresAt?: Date): Promise<void> {
    const state = this.packetState(account, condition);
    if (state === "in-flight" || state === "in-doubt" || state === "fulfilled") {
      return Promise.reject(
        new PeerLedgerError(`packet ${condition.slice(0, 16)} to ${account} is already ${state}`),
      );
    }
    return this.#append({
      event: "forward",
      account,
      condition,
      amount: String(amount),
      ...(expiresAt === undefined ? {} : { expiresAt: expiresAt.toISOString() }),
    });
  }

  /** Records the peer's FULFILL of a forwarded packet; resolves once on disk. */
  fulfilled(account: string, condition: string, fulfillment: string): Promise<void> {
    const packet = this.#packets.live(account, condition);
    if (packet?.state !== "in-flight") {
      return Promise.reject(
        new PeerLedgerError(`packet ${condition.slice(0, 16)} to ${account} is not in flight`),
      );
    }
    return this.#append({
      event: "fulfilled",
      account,
      condition,
      amount: String(packet.amount),
      fulfillment,
    });
  }

  /** Records the peer's REJECT (or no answer) of a forwarded packet; resolves once on disk. */
  rejected(account: string, condition: string, code?: string): Promise<void> {
    const packet = this.#packets.live(account, condition);
    if (packet?.state !== "in-flight") return Promise.resolve();
    return this.#append({
      event: "rejected",
      account,
      condition,
      amount: String(packet.amount),
      ...(code === undefined ? {} : { code }),
    });
  }

  /**
   * Resolves a packet in doubt with the fulfillment the peer shows (its SHA-256 is the
   * condition): owed, unless another packet of the condition was the one paid (a peer fulfills
   * an invoice once), recorded `rejected`: the peer says it fulfilled a PREPARE of another expiry
   * (`expiresAt`; without one on either side, an older peer or line, the expiry tells nothing),
   * or on a town of several processes `claim` (roles/town/btp/paid_once.ts) names the books of
   * another process that holds the condition (`paidBy`; undefined: owed here).
   */
  async prove(
    account: string,
    fulfillment: Uint8Array,
    expiresAt?: string,
    claim?: (condition: string) => Promise<string | undefined>,
  ): Promise<InDoubtOutcome> {
    const condition = toHex(sha256(fulfillment));
    const packet = this.#packets.live(account, condition);
    if (packet?.state !== "in-doubt") return { kind: "none" };
    const sent = packet.expiresAt;
    const another = sent !== undefined && expiresAt !== undefined && Date.parse(expiresAt) !== sent;
    const paidBy = another ? undefined : await claim?.(condition);
    if (another || paidBy !== undefined) {
      await this.#append({
        event: "rejected",
        account,
        condition,
        amount: String(packet.amount),
        ...(sent === undefined ? {} : { expiresAt: new Date(sent).toISOString() }),
        ...(another ? { paidExpiresAt: expiresAt } : { paidBy }),
      });
      return { kind: "another-packet", amount: packet.amount };
    }
    await this.#append({
      event: "fulfilled",
      account,
      condition,
      amount: String(packet.amount),
      fulfillment: toHex(fulfillment),
      proven: true,
    });
    return { kind: "owed", amount: packet.amount };
  }

  /** Records a claim the town signed to the peer (its cumulative amount); resolves once on disk. */
  claimed(account: string, channelId: string, nonce: bigint, cumulative: bigint): Promise<void> {
    return this.#append({
      event: "claimed",
      account,
      channelId,
      nonce: String(nonce),
      amount: String(cumulative),
    });
  }

  /** Records the channel the town pays the peer over (opened or topped up to `deposit`). */
  opened(account: string, channelId: string, deposit: bigint): Promise<void> {
    return this.#append({ event: "opened", account, channelId, amount: String(deposit) });
  }

  /** Records what a channel paid out to the peer on chain; resolves once on disk. */
  settled(account: string, channelId: string, amount: bigint): Promise<void> {
    return this.#append({ event: "settled", account, channelId, amount: String(amount) });
  }

  #append(fields: Omit<PeerLedgerEntry, "ts">): Promise<void> {
    if (!this.#loaded) return Promise.reject(new PeerLedgerError("the ledger is not loaded"));
    const entry = { ts: new Date(this.#now()).toISOString(), ...fields } as PeerLedgerEntry;
    try {
      checkPeerLedgerEntry(entry);
    } catch (err) {
      return Promise.reject(err);
    }
    const line = JSON.stringify(entry) + "\n";
    if (line.length > MAX_LINE) {
      return Promise.reject(new PeerLedgerError("ledger entry is too long"));
    }
    // Applied now, so a second call for the same packet sees it before the write lands; a
    // failed write is rolled back below.
    const undo = this.#apply(entry);
    const written = this.#file.append(line);
    written.then(() => this.#checkpoints.written(), () => {
      undo();
      this.#checkpoints.failed();
    });
    return written;
  }

  /** What a checkpoint holds (state/payments/peer_ledger_checkpoint.ts). */
  #state(): PeerLedgerState {
    return {
      format: PEER_LEDGER_CHECKPOINT_FORMAT,
      keepAnswered: this.#packets.keepAnswered,
      skippedLines: this.skippedLines,
      balances: this.balances(),
      claims: [...this.#claims],
      packets: this.#packets.toRecord(),
    };
  }

  #balance(account: string): PeerBalance {
    let b = this.#balances.get(account);
    if (!b) this.#balances.set(account, b = emptyPeerBalance(account));
    return b;
  }

  /** Applies a line to the balances; returns what undoes it. */
  #apply(entry: PeerLedgerEntry): () => void {
    const b = this.#balance(entry.account);
    const amount = BigInt(entry.amount);
    const [account, condition] = [entry.account, entry.condition!];
    switch (entry.event) {
      case "forward": {
        // In flight, in doubt or fulfilled already: the line changes nothing.
        const undo = this.#packets.forward(account, condition, {
          state: "in-flight",
          amount,
          at: Date.parse(entry.ts),
          ...(entry.expiresAt === undefined ? {} : { expiresAt: Date.parse(entry.expiresAt) }),
        });
        if (undo === undefined) return () => {};
        b.inFlight += amount;
        return () => {
          undo();
          b.inFlight -= amount;
        };
      }
      case "fulfilled": {
        // Counted once: a FULFILL line of a packet not in flight or in doubt changes nothing.
        const prior = this.#packets.live(account, condition);
        const undo = this.#packets.answer(account, condition, true);
        if (prior === undefined || undo === undefined) return () => {};
        const from = prior.state === "in-doubt" ? "inDoubt" : "inFlight";
        b[from] -= prior.amount;
        b.owed += prior.amount;
        b.packets++;
        return () => {
          undo();
          b[from] += prior.amount;
          b.owed -= prior.amount;
          b.packets--;
        };
      }
      case "rejected": {
        // Of a packet in flight (its peer's REJECT), or in doubt (its peer fulfilled another
        // packet of the condition, `prove`; in flight when the file is read from its start).
        const prior = this.#packets.live(account, condition);
        if (prior === undefined) return () => {};
        const elsewhere = entry.paidExpiresAt !== undefined || entry.paidBy !== undefined;
        const undo = this.#packets.answer(account, condition, false, elsewhere)!;
        const from = prior.state === "in-doubt" ? "inDoubt" : "inFlight";
        b[from] -= prior.amount;
        return () => {
          undo();
          b[from] += prior.amount;
        };
      }
      case "opened": {
        const before = { id: b.payoutChannel, deposit: b.payoutDeposit };
        b.payoutChannel = entry.channelId;
        b.payoutDeposit = amount;
        return () => {
          b.payoutChannel = before.id;
          b.payoutDeposit = before.deposit;
        };
      }
      case "claimed": {
        // Cumulative per channel; the peer's total is the sum over its channels.
        const channel = `${entry.account} ${entry.channelId}`;
        const prev = this.#claims.get(channel) ?? 0n;
        if (amount <= prev) return () => {};
        this.#claims.set(channel, amount);
        b.claimed += amount - prev;
        return () => {
          this.#claims.set(channel, prev);
          b.claimed -= amount - prev;
        };
      }
      case "settled": {
        b.settled += amount;
        return () => b.settled -= amount;
      }
    }
  }
}
