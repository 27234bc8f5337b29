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
 * Bounded in memory, however long the town runs (docs/SCALE.md "A town's books after a long
 * run"): the balances, every packet in flight or in doubt, and of the answered ones (fulfilled,
 * rejected) each account's newest {@linkcode PeerLedgerOptions.keepAnswered}; an older answered
 * packet is forgotten from memory (its lines stay in the file). A provider asks about its newest
 * payments only (roles/provider/payments/owed_questions.ts), which stay held. Of a packet not
 * held, {@linkcode PeerLedger.packetState} says `unknown` once the account has forgotten any, and
 * {@linkcode PeerLedger.forgottenUpTo} tells when the newest forgotten one was forwarded: a
 * question about a packet forwarded after that has an exact answer. The file is read a chunk at a
 * time (state/line_file.ts), and forgetting happens in the order of its lines, so a replay holds
 * what the run that wrote them held.
 *
 * @module
 */
import { StateError } from "../state_error.ts";
import { readLineFile } from "../line_file.ts";
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
  /**
   * Answered packets held per account, newest first (module doc); older ones are forgotten from
   * memory. Default {@linkcode DEFAULT_KEEP_ANSWERED}, what a provider asks about at most.
   */
  keepAnswered?: number;
}

/**
 * Answered packets a ledger holds per account by default: the most payments a provider asks
 * about after a restart (roles/provider/payments/owed_questions.ts `MAX_OWED_ASKED`).
 *
 * @example
 * ```ts
 * import { DEFAULT_KEEP_ANSWERED } from "./peer_ledger.ts";
 *
 * if (DEFAULT_KEEP_ANSWERED < 1024) throw new Error("fewer than a provider asks about");
 * ```
 */
export const DEFAULT_KEEP_ANSWERED = 1024;

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

/**
 * Where a forwarded packet stands on the books ({@linkcode PeerLedger.packetState}); `unknown`:
 * not held, and the account has answered packets this ledger no longer holds.
 */
export type PacketStanding = "in-flight" | "in-doubt" | "fulfilled" | "rejected" | "unknown";

/** A packet not answered yet; `at`: when it was forwarded (unix ms). */
type LivePacket = { state: "in-flight" | "in-doubt"; amount: bigint; at: number };

/**
 * One account's packets, by condition (a map per account: the condition's hash is computed once
 * per string, where an `account condition` key would be hashed again at each lookup).
 */
interface AccountPackets {
  /** In flight or in doubt. */
  live: Map<string, LivePacket>;
  /**
   * The newest answered ones, oldest first: when forwarded (unix ms) * 2, + 1 when fulfilled (a
   * rejected one may be forwarded again).
   */
  answered: Map<string, number>;
  /** When the newest answered packet no longer held was forwarded (unix ms). */
  forgottenUpTo?: number;
}

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
  #keepAnswered: number;
  #packets = new Map<string, AccountPackets>();
  /** Newest claim per account and channel. */
  #claims = new Map<string, bigint>();
  #balances = new Map<string, PeerBalance>();
  #loaded = false;
  readonly #file: LineAppender;

  constructor(options: PeerLedgerOptions) {
    this.path = `${options.stateDir.replace(/\/+$/, "")}/${LEDGER_NAME}`;
    this.#now = options.now ?? Date.now;
    this.#keepAnswered = Math.max(1, options.keepAnswered ?? DEFAULT_KEEP_ANSWERED);
    this.#file = new LineAppender(this.path);
  }

  /** Replays the file; called by {@linkcode openPeerLedger}. */
  async load(): Promise<void> {
    const read = await readLineFile(this.path, (line) => {
      try {
        const entry = JSON.parse(line) as PeerLedgerEntry;
        validateEntry(entry);
        this.#apply(entry);
      } catch {
        this.skippedLines++;
      }
    }, { maxLine: MAX_LINE });
    this.skippedLines += read?.tooLong ?? 0;
    // What was in flight when the last process stopped has no answer on record.
    for (const { live } of this.#packets.values()) {
      for (const packet of live.values()) packet.state = "in-doubt";
    }
    for (const b of this.#balances.values()) {
      b.inDoubt += b.inFlight;
      b.inFlight = 0n;
    }
    this.#file.needsNewline = read !== undefined && !read.endsInNewline;
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
    return [...this.#packets].flatMap(([account, { live }]) =>
      [...live].filter(([, p]) => p.state === "in-doubt").map(([condition, p]) => ({
        account,
        condition,
        amount: p.amount,
      }))
    );
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
    const packets = this.#packets.get(account);
    if (packets === undefined) return undefined;
    const live = packets.live.get(condition);
    if (live !== undefined) return live.state;
    const answered = packets.answered.get(condition);
    if (answered !== undefined) return answered % 2 === 1 ? "fulfilled" : "rejected";
    return packets.forgottenUpTo === undefined ? undefined : "unknown";
  }

  /**
   * When the newest answered packet to `account` this ledger no longer holds was forwarded
   * (unix ms, this town's clock), or undefined when it holds every one: of a packet forwarded
   * after it, {@linkcode PeerLedger.packetState} is exact (`unknown` is never forwarded).
   */
  forgottenUpTo(account: string): number | undefined {
    return this.#packets.get(account)?.forgottenUpTo;
  }

  /** Answered packets held now, all accounts (bounded by `keepAnswered` each). */
  answeredHeld(): number {
    let n = 0;
    for (const { answered } of this.#packets.values()) n += answered.size;
    return n;
  }

  /**
   * Records a PREPARE about to be forwarded to `account`; resolves once on disk.
   * @throws {PeerLedgerError} when that packet is already in flight, in doubt or fulfilled.
   */
  forward(account: string, condition: string, amount: bigint): Promise<void> {
    const state = this.packetState(account, condition);
    if (state === "in-flight" || state === "in-doubt" || state === "fulfilled") {
      return Promise.reject(
        new PeerLedgerError(`packet ${condition.slice(0, 16)} to ${account} is already ${state}`),
      );
    }
    return this.#append({ event: "forward", account, condition, amount: String(amount) });
  }

  /** Records the peer's FULFILL of a forwarded packet; resolves once on disk. */
  fulfilled(account: string, condition: string, fulfillment: string): Promise<void> {
    const packet = this.#packets.get(account)?.live.get(condition);
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
    const packet = this.#packets.get(account)?.live.get(condition);
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
    const packet = this.#packets.get(account)?.live.get(condition);
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
    switch (entry.event) {
      case "forward": {
        const packets = this.#packetsOf(entry.account);
        const condition = entry.condition!;
        const answered = packets.answered.get(condition);
        // In flight, in doubt or fulfilled already: the line changes nothing.
        if (packets.live.has(condition) || (answered !== undefined && answered % 2 === 1)) {
          return () => {};
        }
        // Rejected before: forwarded again (a retry of the same invoice), not an answered one.
        packets.answered.delete(condition);
        packets.live.set(condition, { state: "in-flight", amount, at: Date.parse(entry.ts) });
        b.inFlight += amount;
        return () => {
          packets.live.delete(condition);
          if (answered !== undefined) packets.answered.set(condition, answered);
          b.inFlight -= amount;
        };
      }
      case "fulfilled": {
        const packets = this.#packetsOf(entry.account);
        const condition = entry.condition!;
        const prior = packets.live.get(condition);
        // Counted once: a FULFILL line of a packet not in flight or in doubt changes nothing.
        if (prior === undefined) return () => {};
        packets.live.delete(condition);
        const unanswer = this.#answer(packets, condition, prior.at * 2 + 1);
        const from = prior.state === "in-doubt" ? "inDoubt" : "inFlight";
        b[from] -= prior.amount;
        b.owed += prior.amount;
        b.packets++;
        return () => {
          unanswer();
          packets.live.set(condition, prior);
          b[from] += prior.amount;
          b.owed -= prior.amount;
          b.packets--;
        };
      }
      case "rejected": {
        const packets = this.#packetsOf(entry.account);
        const condition = entry.condition!;
        const prior = packets.live.get(condition);
        if (prior?.state !== "in-flight") return () => {};
        packets.live.delete(condition);
        const unanswer = this.#answer(packets, condition, prior.at * 2);
        b.inFlight -= prior.amount;
        return () => {
          unanswer();
          packets.live.set(condition, prior);
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
  #packetsOf(account: string): AccountPackets {
    let packets = this.#packets.get(account);
    if (packets === undefined) {
      this.#packets.set(account, packets = { live: new Map(), answered: new Map() });
    }
    return packets;
  }

  /**
   * Holds an answered packet (`code`: see {@linkcode AccountPackets}) among its account's
   * newest, forgetting the oldest past `keepAnswered`; returns what undoes both.
   */
  #answer(packets: AccountPackets, condition: string, code: number): () => void {
    const { answered } = packets;
    answered.set(condition, code);
    if (answered.size <= this.#keepAnswered) return () => answered.delete(condition);
    const oldest = answered.keys().next().value!;
    const oldestCode = answered.get(oldest)!;
    answered.delete(oldest);
    const before = packets.forgottenUpTo;
    packets.forgottenUpTo = Math.max(before ?? 0, Math.floor(oldestCode / 2));
    // Undone after a failed write: the forgotten one is held again (as the newest: the file
    // has no line that forgot it).
    return () => {
      answered.delete(condition);
      answered.set(oldest, oldestCode);
      packets.forgottenUpTo = before;
    };
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
