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
 * when written.
 *
 * Payouts: an `opened` line names the channel the town pays the peer over (its deposit),
 * `claimed` lines carry the cumulative amount of the newest claim the town signed to the
 * peer (what the peer can take on chain), `settled` lines what a channel paid out on chain. A
 * SIGKILL mid-append can leave a partial last line; it is skipped when reading (counted in
 * `skippedLines`) and the next append starts on a fresh line.
 *
 * @module
 */
import { StateError } from "../state_error.ts";
import { readOptionalTextFile } from "../optional_text_file.ts";
import { LineAppender } from "../line_appender.ts";
import { bytesToHex as toHex } from "@noble/hashes/utils.js";
import { sha256 } from "@noble/hashes/sha2.js";

/** What a ledger line records. */
export type PeerLedgerEvent =
  | "forward"
  | "fulfilled"
  | "rejected"
  | "opened"
  | "claimed"
  | "settled";

/** One line of the peer ledger. */
export interface PeerLedgerEntry {
  /** ISO 8601 time. */
  ts: string;
  event: PeerLedgerEvent;
  /** The BTP account (`<town>.<account>`). */
  account: string;
  /** The packet's execution condition (hex), for packet events. */
  condition?: string;
  /** Base units, decimal string: the packet's amount, or the claim's cumulative amount. */
  amount: string;
  /** Hex fulfillment, for `fulfilled`. */
  fulfillment?: string;
  /** `fulfilled` lines written from a peer's proof after a crash. */
  proven?: boolean;
  /** The channel, for `claimed` and `settled`. */
  channelId?: string;
  /** The claim's nonce, for `claimed`. */
  nonce?: string;
  /**
   * The ILP reject code relayed, for `rejected`: `R00` when the town gave the packet up at its
   * expiry (a FULFILL after it is the peer's loss, docs/PROTOCOL.md "Expiry").
   */
  code?: string;
}

/** What the town and one peer stand at. */
export interface PeerBalance {
  account: string;
  /** Fulfilled packets forwarded to the peer: what the town owes it in all. */
  owed: bigint;
  /** Claims signed to the peer: the newest one's cumulative amount, summed over its channels. */
  claimed: bigint;
  /** Paid out to the peer on chain. */
  settled: bigint;
  /** Forwarded and not answered yet (this run). */
  inFlight: bigint;
  /** Forwarded before a crash with no answer on record: owed only once proven. */
  inDoubt: bigint;
  /** Fulfilled packets. */
  packets: number;
  /** The channel the town pays the peer over, once opened. */
  payoutChannel?: string;
  /** The town's deposit in it. */
  payoutDeposit: bigint;
}

/** Options for {@linkcode openPeerLedger}. */
export interface PeerLedgerOptions {
  stateDir: string;
  /** Clock (unix ms). Default Date.now. */
  now?: () => number;
}

/** A ledger line is malformed, or would record a packet twice: nothing was written. */
export class PeerLedgerError extends StateError {
  override name = "PeerLedgerError";
}

const LEDGER_NAME = "peer_ledger.jsonl";
const MAX_LINE = 4 * 1024;
const EVENTS: readonly PeerLedgerEvent[] = [
  "forward",
  "fulfilled",
  "rejected",
  "opened",
  "claimed",
  "settled",
];

/** Where a forwarded packet stands on the books ({@linkcode PeerLedger.packetState}). */
export type PacketStanding = "in-flight" | "in-doubt" | "fulfilled" | "rejected";

type PacketState = { state: "in-flight" | "in-doubt" | "fulfilled"; amount: bigint };

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
  #packets = new Map<string, PacketState>();
  /** Packets whose last answer was a REJECT (forgotten by `#packets`, so they may go again). */
  #rejected = new Set<string>();
  /** Newest claim per account and channel. */
  #claims = new Map<string, bigint>();
  #balances = new Map<string, PeerBalance>();
  #loaded = false;
  readonly #file: LineAppender;

  constructor(options: PeerLedgerOptions) {
    this.path = `${options.stateDir.replace(/\/+$/, "")}/${LEDGER_NAME}`;
    this.#now = options.now ?? Date.now;
    this.#file = new LineAppender(this.path);
  }

  /** Replays the file; called by {@linkcode openPeerLedger}. */
  async load(): Promise<void> {
    const text = await readText(this.path);
    for (const line of text.split("\n")) {
      if (line === "") continue;
      try {
        const entry = JSON.parse(line) as PeerLedgerEntry;
        validateEntry(entry);
        this.#apply(entry);
      } catch {
        this.skippedLines++;
      }
    }
    // What was in flight when the last process stopped has no answer on record.
    for (const [key, packet] of this.#packets) {
      if (packet.state !== "in-flight") continue;
      this.#packets.set(key, { state: "in-doubt", amount: packet.amount });
      const b = this.#balance(key.slice(0, key.indexOf(" ")));
      b.inFlight -= packet.amount;
      b.inDoubt += packet.amount;
    }
    this.#file.needsNewline = text.length > 0 && !text.endsWith("\n");
    this.#loaded = true;
  }

  /** Every peer on record, by account name. */
  balances(): PeerBalance[] {
    return [...this.#balances.values()].map((b) => ({ ...b }))
      .sort((a, b) => a.account.localeCompare(b.account));
  }

  /** One peer's balance (zeros for a peer never paid). */
  balance(account: string): PeerBalance {
    return { ...this.#balances.get(account) ?? emptyBalance(account) };
  }

  /** What the town owes the peer beyond its newest claim, in flight and in doubt included. */
  exposure(account: string): bigint {
    const b = this.balance(account);
    return b.owed - b.claimed + b.inFlight + b.inDoubt;
  }

  /** Packets forwarded before a crash with no answer on record (account, condition, amount). */
  inDoubt(): { account: string; condition: string; amount: bigint }[] {
    return [...this.#packets].filter(([, p]) => p.state === "in-doubt").map(([key, p]) => ({
      account: key.slice(0, key.indexOf(" ")),
      condition: key.slice(key.indexOf(" ") + 1),
      amount: p.amount,
    }));
  }

  /**
   * Where a packet forwarded to `account` stands on these books (roles/town/btp/owed_answers.ts):
   * `fulfilled`, `in-flight` (this run), `in-doubt` (forwarded before a crash, no answer),
   * `rejected` (its last answer), or undefined when never forwarded here.
   */
  packetState(
    account: string,
    condition: string,
  ): PacketStanding | undefined {
    const key = `${account} ${condition}`;
    return this.#packets.get(key)?.state ?? (this.#rejected.has(key) ? "rejected" : undefined);
  }

  /**
   * Records a PREPARE about to be forwarded to `account`; resolves once on disk.
   * @throws {PeerLedgerError} when that packet is already in flight, in doubt or fulfilled.
   */
  forward(account: string, condition: string, amount: bigint): Promise<void> {
    const state = this.#packets.get(`${account} ${condition}`)?.state;
    if (state !== undefined) {
      return Promise.reject(
        new PeerLedgerError(`packet ${condition.slice(0, 16)} to ${account} is already ${state}`),
      );
    }
    return this.#append({ event: "forward", account, condition, amount: String(amount) });
  }

  /** Records the peer's FULFILL of a forwarded packet; resolves once on disk. */
  fulfilled(account: string, condition: string, fulfillment: string): Promise<void> {
    const packet = this.#packets.get(`${account} ${condition}`);
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
    const packet = this.#packets.get(`${account} ${condition}`);
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
   * Resolves a packet in doubt with the fulfillment the peer shows: recorded owed when its
   * SHA-256 is the packet's condition. Returns the amount recorded (0 when nothing matched).
   */
  async prove(account: string, fulfillment: Uint8Array): Promise<bigint> {
    const condition = toHex(sha256(fulfillment));
    const packet = this.#packets.get(`${account} ${condition}`);
    if (packet?.state !== "in-doubt") return 0n;
    await this.#append({
      event: "fulfilled",
      account,
      condition,
      amount: String(packet.amount),
      fulfillment: toHex(fulfillment),
      proven: true,
    });
    return packet.amount;
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
      validateEntry(entry);
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
    written.catch(undo);
    return written;
  }

  #balance(account: string): PeerBalance {
    let b = this.#balances.get(account);
    if (!b) this.#balances.set(account, b = emptyBalance(account));
    return b;
  }

  /** Applies a line to the balances; returns what undoes it. */
  #apply(entry: PeerLedgerEntry): () => void {
    const b = this.#balance(entry.account);
    const amount = BigInt(entry.amount);
    const key = `${entry.account} ${entry.condition}`;
    const prior = this.#packets.get(key);
    const restore = () => {
      if (prior) this.#packets.set(key, prior);
      else this.#packets.delete(key);
    };
    switch (entry.event) {
      case "forward": {
        if (prior !== undefined) return () => {};
        this.#packets.set(key, { state: "in-flight", amount });
        const wasRejected = this.#rejected.delete(key);
        b.inFlight += amount;
        return () => {
          restore();
          if (wasRejected) this.#rejected.add(key);
          b.inFlight -= amount;
        };
      }
      case "fulfilled": {
        // Counted once: a second FULFILL line of the same packet changes nothing.
        if (prior === undefined || prior.state === "fulfilled") return () => {};
        this.#packets.set(key, { state: "fulfilled", amount: prior.amount });
        const from = prior.state === "in-doubt" ? "inDoubt" : "inFlight";
        b[from] -= prior.amount;
        b.owed += prior.amount;
        b.packets++;
        return () => {
          restore();
          b[from] += prior.amount;
          b.owed -= prior.amount;
          b.packets--;
        };
      }
      case "rejected": {
        if (prior?.state !== "in-flight") return () => {};
        this.#packets.delete(key);
        this.#rejected.add(key);
        b.inFlight -= prior.amount;
        return () => {
          restore();
          this.#rejected.delete(key);
          b.inFlight += prior.amount;
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

function emptyBalance(account: string): PeerBalance {
  return {
    account,
    owed: 0n,
    claimed: 0n,
    settled: 0n,
    inFlight: 0n,
    inDoubt: 0n,
    packets: 0,
    payoutDeposit: 0n,
  };
}

function validateEntry(e: PeerLedgerEntry): void {
  const fail = (msg: string): never => {
    throw new PeerLedgerError(msg);
  };
  if (typeof e !== "object" || e === null) fail("entry is not an object");
  if (typeof e.ts !== "string" || Number.isNaN(Date.parse(e.ts))) fail("bad ts");
  if (!EVENTS.includes(e.event)) fail("bad event");
  if (typeof e.account !== "string" || !/^[A-Za-z0-9_~-]{1,64}$/.test(e.account)) {
    fail("bad account");
  }
  if (typeof e.amount !== "string" || !/^(0|[1-9][0-9]{0,77})$/.test(e.amount)) fail("bad amount");
  const packet = e.event === "forward" || e.event === "fulfilled" || e.event === "rejected";
  if (packet && (typeof e.condition !== "string" || !/^[0-9a-f]{64}$/.test(e.condition))) {
    fail("bad condition");
  }
  if (e.event === "fulfilled" && !/^[0-9a-f]{64}$/.test(e.fulfillment ?? "")) {
    fail("bad fulfillment");
  }
  if (!packet && !/^0x[0-9a-f]{64}$/.test(e.channelId ?? "")) fail("bad channelId");
  if (e.event === "claimed" && !/^[1-9][0-9]{0,77}$/.test(e.nonce ?? "")) fail("bad nonce");
  if (e.code !== undefined && !/^[FTR][0-9]{2}$/.test(e.code)) fail("bad code");
}

/** A file's text, empty when it does not exist yet. */
async function readText(path: string): Promise<string> {
  return await readOptionalTextFile(path) ?? "";
}
