/**
 * The packets a town's books per peer hold in memory (state/payments/peer_ledger.ts), bounded
 * however long the town runs (docs/SCALE.md "A town's books after a long run"): every packet in
 * flight or in doubt, and of the answered ones (fulfilled, rejected) each account's newest
 * `keepAnswered`. An older answered packet is forgotten (its lines stay in the ledger's file);
 * once an account has forgotten any, a packet not held is `unknown`, and
 * {@linkcode LedgerPackets.forgottenUpTo} tells when the newest forgotten one was forwarded.
 * Forgetting follows the order of the calls, which is the order of the file's lines: a replay
 * holds what the run that wrote them held.
 *
 * @module
 */

/**
 * Where a forwarded packet stands on the books; `unknown`: not held, and the account has
 * answered packets the books no longer hold.
 */
export type PacketStanding = "in-flight" | "in-doubt" | "fulfilled" | "rejected" | "unknown";

/**
 * A packet not answered yet; `at`: when it was forwarded (unix ms); `expiresAt`: the expiry of
 * the PREPARE as forwarded (unix ms), when its line says it.
 */
export interface LivePacket {
  state: "in-flight" | "in-doubt";
  amount: bigint;
  at: number;
  expiresAt?: number;
}

/**
 * Answered packets held per account by default: the most payments a provider asks about after a
 * restart (roles/provider/payments/owed_questions.ts `MAX_OWED_ASKED`).
 *
 * @example
 * ```ts
 * import { DEFAULT_KEEP_ANSWERED } from "./ledger_packets.ts";
 *
 * if (DEFAULT_KEEP_ANSWERED < 1024) throw new Error("fewer than a provider asks about");
 * ```
 */
export const DEFAULT_KEEP_ANSWERED = 1024;

/**
 * One account's packets, by condition (a map per account: a condition's hash is computed once
 * per string, where an `account condition` key would be hashed again at each lookup).
 */
interface AccountPackets {
  live: Map<string, LivePacket>;
  /** The newest answered ones. */
  answered: Map<string, Answered>;
  /**
   * The order they were answered in (`[condition, seq]`), from `head` on, oldest first; an
   * entry whose `seq` is not the map's (forwarded again since, or answered again) is passed
   * over. Kept apart from the map's own order: taking a map's first key walks past every entry
   * deleted before it until the map is rehashed (V8). Compacted once it holds more than twice
   * `keepAnswered` (and 64) past `head`.
   */
  order: [string, number][];
  head: number;
  /** The next answer's `seq`. */
  next: number;
  /**
   * When the newest answered packet no longer held was forwarded (unix ms). It only grows (a
   * failed write that held a packet again leaves it: a larger one only makes answers warier).
   */
  forgottenUpTo?: number;
}

/** An answered packet held: `code` is when it was forwarded (unix ms) * 2, + 1 when fulfilled. */
interface Answered {
  code: number;
  /** Its place in the account's answers (unique per account). */
  seq: number;
  /** The expiry of the PREPARE as forwarded (unix ms), when its line said it. */
  expiresAt?: number;
  /** Rejected because the peer showed it fulfilled another packet of the condition. */
  paidElsewhere?: true;
}

/**
 * What the books know of a packet beyond its standing (roles/town/btp/owed_answers.ts): the
 * expiry of its PREPARE as forwarded (unix ms, when its line said it), and whether it was
 * recorded rejected because the peer fulfilled another packet of the condition (a payment in
 * doubt proven by another process's packet, state/payments/peer_ledger.ts `prove`).
 */
export interface PacketDetail {
  expiresAt?: number;
  paidElsewhere: boolean;
}

/**
 * The packets held, as JSON for a checkpoint (state/payments/peer_ledger.ts): per account its
 * live packets (`[condition, state, amount, at]`, and `expiresAt` when known) and its answered ones
 * oldest first (`[condition, code]`, then `expiresAt` when known and `1` when paid elsewhere,
 * `expiresAt` `null` when only that is said), in the order they were held, so that forgetting
 * goes on as before.
 */
export interface LedgerPacketsRecord {
  [account: string]: {
    live: [string, LivePacket["state"], string, number, number?][];
    answered: [string, number, (number | null)?, 1?][];
    forgottenUpTo?: number;
  };
}

/** Options for {@linkcode LedgerPackets}. */
export interface LedgerPacketsOptions {
  /** Answered packets held per account. Default {@linkcode DEFAULT_KEEP_ANSWERED}. */
  keepAnswered?: number;
}

/**
 * The packets held; each change returns what undoes it (a ledger line whose write failed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LedgerPackets } from "./ledger_packets.ts";
 *
 * const packets = new LedgerPackets({ keepAnswered: 1 });
 * const [a, b] = ["aa".repeat(32), "bb".repeat(32)];
 * packets.forward("beta", a, { state: "in-flight", amount: 5n, at: 1_000 });
 * packets.answer("beta", a, true);
 * packets.forward("beta", b, { state: "in-flight", amount: 5n, at: 2_000 });
 * packets.answer("beta", b, false); // a is let go
 * assert.equal(packets.state("beta", a), "unknown");
 * assert.equal(packets.state("beta", b), "rejected");
 * assert.equal(packets.forgottenUpTo("beta"), 1_000);
 * ```
 */
export class LedgerPackets {
  /** Answered packets held per account (at least 1). */
  readonly keepAnswered: number;
  #accounts = new Map<string, AccountPackets>();

  constructor(options: LedgerPacketsOptions = {}) {
    this.keepAnswered = Math.max(1, options.keepAnswered ?? DEFAULT_KEEP_ANSWERED);
  }

  /** Where a packet stands, or undefined when it was never forwarded. */
  state(account: string, condition: string): PacketStanding | undefined {
    const packets = this.#accounts.get(account);
    if (packets === undefined) return undefined;
    const live = packets.live.get(condition);
    if (live !== undefined) return live.state;
    const answered = packets.answered.get(condition);
    if (answered !== undefined) return answered.code % 2 === 1 ? "fulfilled" : "rejected";
    return packets.forgottenUpTo === undefined ? undefined : "unknown";
  }

  /** The packet's expiry and how it was answered, or undefined when not held. */
  detail(account: string, condition: string): PacketDetail | undefined {
    const packets = this.#accounts.get(account);
    const held = packets?.live.get(condition) ?? packets?.answered.get(condition);
    if (held === undefined) return undefined;
    return {
      ...(held.expiresAt === undefined ? {} : { expiresAt: held.expiresAt }),
      paidElsewhere: "paidElsewhere" in held && held.paidElsewhere === true,
    };
  }

  /** The packet when in flight or in doubt. */
  live(account: string, condition: string): LivePacket | undefined {
    return this.#accounts.get(account)?.live.get(condition);
  }

  /** When the newest answered packet to `account` no longer held was forwarded (unix ms). */
  forgottenUpTo(account: string): number | undefined {
    return this.#accounts.get(account)?.forgottenUpTo;
  }

  /**
   * A packet forwarded: live from now (a rejected one held is no longer an answered one).
   * Undefined, and nothing changed, when it is live or fulfilled already.
   */
  forward(account: string, condition: string, packet: LivePacket): (() => void) | undefined {
    const packets = this.#of(account);
    const answered = packets.answered.get(condition);
    if (packets.live.has(condition) || (answered !== undefined && answered.code % 2 === 1)) {
      return undefined;
    }
    packets.answered.delete(condition);
    packets.live.set(condition, packet);
    return () => {
      packets.live.delete(condition);
      if (answered !== undefined) packets.answered.set(condition, answered);
    };
  }

  /**
   * A live packet answered: held among its account's newest answered, the oldest past
   * `keepAnswered` forgotten. Undefined, and nothing changed, when it is not live.
   * `paidElsewhere`: rejected because the peer fulfilled another packet of the condition.
   */
  answer(
    account: string,
    condition: string,
    fulfilled: boolean,
    paidElsewhere = false,
  ): (() => void) | undefined {
    const packets = this.#accounts.get(account);
    const prior = packets?.live.get(condition);
    if (packets === undefined || prior === undefined) return undefined;
    const { answered, live } = packets;
    live.delete(condition);
    const entry: Answered = { code: prior.at * 2 + (fulfilled ? 1 : 0), seq: packets.next++ };
    if (prior.expiresAt !== undefined) entry.expiresAt = prior.expiresAt;
    if (paidElsewhere && !fulfilled) entry.paidElsewhere = true;
    answered.set(condition, entry);
    packets.order.push([condition, entry.seq]);
    if (packets.order.length - packets.head > 2 * this.keepAnswered + 64) compact(packets);
    if (answered.size <= this.keepAnswered) {
      return () => {
        answered.delete(condition);
        live.set(condition, prior);
      };
    }
    const [oldest, oldestEntry] = oldestOf(packets);
    answered.delete(oldest);
    packets.forgottenUpTo = Math.max(packets.forgottenUpTo ?? 0, Math.floor(oldestEntry.code / 2));
    // Undone after a failed write: the forgotten one is held again (as the newest: the file has
    // no line that forgot it); `forgottenUpTo` stays.
    return () => {
      answered.delete(condition);
      live.set(condition, prior);
      answered.set(oldest, oldestEntry);
      packets.order.push([oldest, oldestEntry.seq]);
    };
  }

  /** Every live packet in doubt (what was in flight when the last process stopped). */
  allInDoubt(): void {
    for (const { live } of this.#accounts.values()) {
      for (const packet of live.values()) packet.state = "in-doubt";
    }
  }

  /** The packets in doubt. */
  inDoubt(): { account: string; condition: string; amount: bigint }[] {
    return [...this.#accounts].flatMap(([account, { live }]) =>
      [...live].filter(([, p]) => p.state === "in-doubt").map(([condition, p]) => ({
        account,
        condition,
        amount: p.amount,
      }))
    );
  }

  /** The packets held, for a checkpoint. */
  toRecord(): LedgerPacketsRecord {
    const record: LedgerPacketsRecord = {};
    for (const [account, packets] of this.#accounts) {
      record[account] = {
        live: [...packets.live].map(([c, p]) =>
          p.expiresAt === undefined
            ? [c, p.state, String(p.amount), p.at]
            : [c, p.state, String(p.amount), p.at, p.expiresAt]
        ),
        answered: heldInOrder(packets).map(([c]) => answeredRecord(c, packets.answered.get(c)!)),
        ...(packets.forgottenUpTo === undefined ? {} : { forgottenUpTo: packets.forgottenUpTo }),
      };
    }
    return record;
  }

  /**
   * Holds what a checkpoint recorded (replacing what is held); throws a `TypeError` or
   * `SyntaxError` on a record this module did not write.
   */
  restore(record: LedgerPacketsRecord): void {
    const accounts = new Map<string, AccountPackets>();
    for (const [account, { live, answered, forgottenUpTo }] of Object.entries(record)) {
      const held = answered.map(([c, code, expiresAt, elsewhere], seq): [string, Answered] => {
        if (typeof c !== "string" || !Number.isSafeInteger(code)) throw new TypeError("bad answer");
        if (expiresAt != null && !Number.isSafeInteger(expiresAt)) {
          throw new TypeError("bad expiry");
        }
        if (elsewhere !== undefined && elsewhere !== 1) throw new TypeError("bad answer");
        const entry: Answered = { code, seq };
        if (expiresAt != null) entry.expiresAt = expiresAt;
        if (elsewhere === 1) entry.paidElsewhere = true;
        return [c, entry];
      });
      const packets: AccountPackets = {
        live: new Map(live.map(([c, state, amount, at, expiresAt]) => {
          if (state !== "in-flight" && state !== "in-doubt") throw new TypeError("bad state");
          if (typeof c !== "string" || !Number.isSafeInteger(at)) throw new TypeError("bad packet");
          if (expiresAt !== undefined && !Number.isSafeInteger(expiresAt)) {
            throw new TypeError("bad expiry");
          }
          return [c, {
            state,
            amount: BigInt(amount),
            at,
            ...(expiresAt === undefined ? {} : { expiresAt }),
          }];
        })),
        answered: new Map(held),
        order: held.map(([c, { seq }]) => [c, seq]),
        head: 0,
        next: held.length,
      };
      if (Number.isSafeInteger(forgottenUpTo)) packets.forgottenUpTo = forgottenUpTo;
      accounts.set(account, packets);
    }
    this.#accounts = accounts;
  }

  /** Packets held now, live and answered, all accounts. */
  held(): number {
    let n = 0;
    for (const { answered, live } of this.#accounts.values()) n += answered.size + live.size;
    return n;
  }

  /** The fulfilled packets held, all accounts. */
  fulfilledHeld(): { account: string; condition: string }[] {
    const out: { account: string; condition: string }[] = [];
    for (const [account, { answered }] of this.#accounts) {
      for (const [condition, { code }] of answered) {
        if (code % 2 === 1) out.push({ account, condition });
      }
    }
    return out;
  }

  /** Answered packets held now, all accounts. */
  answeredHeld(): number {
    let n = 0;
    for (const { answered } of this.#accounts.values()) n += answered.size;
    return n;
  }

  #of(account: string): AccountPackets {
    let packets = this.#accounts.get(account);
    if (packets === undefined) {
      this.#accounts.set(
        account,
        packets = {
          live: new Map(),
          answered: new Map(),
          order: [],
          head: 0,
          next: 0,
        },
      );
    }
    return packets;
  }
}

/** An answered packet as a checkpoint holds it (`LedgerPacketsRecord`). */
function answeredRecord(
  condition: string,
  { code, expiresAt, paidElsewhere }: Answered,
): [string, number, (number | null)?, 1?] {
  if (paidElsewhere) return [condition, code, expiresAt ?? null, 1];
  return expiresAt === undefined ? [condition, code] : [condition, code, expiresAt];
}

/** The oldest answered packet still held (there is one: the map is past `keepAnswered`). */
function oldestOf(packets: AccountPackets): [string, Answered] {
  for (;;) {
    const [condition, seq] = packets.order[packets.head++];
    const held = packets.answered.get(condition);
    if (held?.seq === seq) return [condition, held];
  }
}

/** The order without what it has passed or no longer holds. */
function compact(packets: AccountPackets): void {
  packets.order = heldInOrder(packets);
  packets.head = 0;
}

/** The answered packets held, oldest first (`[condition, seq]`). */
function heldInOrder(packets: AccountPackets): [string, number][] {
  return packets.order.slice(packets.head).filter(([c, seq]) =>
    packets.answered.get(c)?.seq === seq
  );
}
