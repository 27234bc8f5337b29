/**
 * The town's SPSP responder: answers a kind 23194 request (NIP-44, `p` = the town) with a
 * signed kind 23195 response carrying `<town>.relay.<tag>` and the 32-byte shared secret
 * derived for that tag (see spsp_secrets.ts). Requests are rate-limited per requester pubkey,
 * per BTP account they arrive from and in total (fresh pubkeys cost nothing to make, so the
 * pubkey limit alone does not bound the signing work), each answered T05 with which limit.
 * Requests within those limits are also paced: they are answered one at a time, in arrival
 * order, and each answer's decryption, encryption and signing are charged to a budget of
 * event-loop time (`millisPerSecond`, at most 20 ms back to back) and wait for it, so a burst of
 * them delays `/health` and other connections by about 20 ms, not by the whole burst's work.
 * What is charged is the time the signer's calls hold the event loop (an in-process key signs
 * inside the call; a worker signer only posts a message), not an answer's wall time: charged
 * their wall time, concurrent answers were each charged their wait behind the others, and one
 * burst of 64 silenced SPSP for a minute and a half. The queue is bounded in length (`maxQueued`) and in
 * time (`queueTimeoutMs`): a request that cannot be answered by then is refused T05 "town busy"
 * rather than left without a reply (docs/OPERATIONS.md "A town's limits").
 *
 * How a request reaches the town: inside an ILP PREPARE to the town's address (free: a sender
 * cannot pay before it has a secret). The write pipeline verifies the event first, then calls
 * {@linkcode SpspResponder.respond}; the response goes back in the FULFILL (or F99 REJECT) data
 * as TOON and is published live to subscribers of `{kinds: [23195], "#p": [requester]}`.
 *
 * @module
 */
import { ILP_ERROR } from "../../../protocol/ilp_packet.ts";
import type { NodeSigner } from "../../../protocol/node_signer.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import {
  parseSpspRequest,
  SPSP_REQUEST_KIND,
  SpspMessageError,
} from "../../../protocol/spsp_message.ts";
import { buildSpspResponse } from "../../../protocol/spsp_message.ts";
import { TokenBucket } from "../token_bucket.ts";
import type { SpspSecrets } from "./spsp_secrets.ts";
import { TownWriteRejection } from "../write/write_rejection.ts";
import { invalidInputRejection } from "../write/invalid_input_rejection.ts";

/** Options for {@linkcode SpspResponder}. */
export interface SpspResponderOptions {
  /** The town's key (decrypts requests, signs responses). */
  signer: NodeSigner;
  secrets: SpspSecrets;
  /** The town's current ILP address (it may be learnt from a parent later). */
  townAddress: () => string;
  assetCode?: string;
  assetScale?: number;
  /** Sustained requests per minute per pubkey. Default 60. */
  requestsPerMinute?: number;
  /** Burst per pubkey. Default 20. */
  burst?: number;
  /** Pubkeys tracked for rate limiting before the table is reset. Default 10,000. */
  maxTrackedPubkeys?: number;
  /** Sustained requests per minute per BTP account. Default 600. */
  perAccountPerMinute?: number;
  /** Sustained requests per minute in total. Default 3000. */
  totalPerMinute?: number;
  /** Milliseconds per second of the event loop spent answering, all requests. Default 200. */
  millisPerSecond?: number;
  /** Requests waiting for their turn at most; more are refused T05 at once. Default 256. */
  maxQueued?: number;
  /** Longest a request waits for its turn before it is refused T05. Default 5 s. */
  queueTimeoutMs?: number;
  /** Monotonic clock in milliseconds (tests). */
  now?: () => number;
  /**
   * A town on several processes: the per-account and total limits held town-wide in shared
   * buckets (state/postgres/postgres_rate_buckets.ts), with the town's whole limits. While the buckets
   * cannot be reached, `perAccountPerMinute` and `totalPerMinute` (this process's share) apply.
   */
  shared?: SharedSpspLimits;
}

/** Buckets every process of the town takes from: state/postgres/postgres_rate_buckets.ts fits. */
export interface SharedRateBuckets {
  /** Takes a token from `key`'s bucket; false when it is empty. */
  take(key: string, ratePerSecond: number, capacity: number): Promise<boolean>;
}

/** The town-wide SPSP limits and where they are counted. */
export interface SharedSpspLimits {
  buckets: SharedRateBuckets;
  /** The town's whole limit per BTP account. */
  perAccountPerMinute: number;
  /** The town's whole limit. */
  totalPerMinute: number;
}

/** Most milliseconds of answering work done back to back. */
const SPSP_BURST_MILLIS = 20;
/**
 * What an answer costs the event loop besides its signer calls (JSON, NIP-44 with a known
 * conversation key, the secret's HMAC): charged to every answer.
 */
const BASE_CHARGE_MILLIS = 0.5;

/** A request waiting for its turn to be answered. */
interface SpspWaiter {
  start: () => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Options for {@linkcode SpspResponder.respond}. */
export interface SpspRespondOptions {
  /** The BTP account the request came from (undefined: the parent). */
  account?: string;
}

/**
 * Answers SPSP requests.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { SpspResponder } from "./spsp_responder.ts";
 * import { deriveSpspSeed, SpspSecrets } from "./spsp_secrets.ts";
 * import { localNodeSigner } from "../../../identity/local_node_signer.ts";
 * import { buildSpspRequest, parseSpspResponse } from "../../../protocol/spsp_message.ts";
 *
 * using town = localNodeSigner(generateSecretKey());
 * using payer = localNodeSigner(generateSecretKey());
 * const secrets = new SpspSecrets({ seed: await deriveSpspSeed(town) });
 * const responder = new SpspResponder({ signer: town, secrets, townAddress: () => "g.town" });
 * const request = await payer.signEvent(
 *   await buildSpspRequest({ signer: payer, receiverPubkey: town.pubkey }),
 * );
 * const response = await responder.respond(request); // kind 23195, signed by the town
 * assert.equal(response.pubkey, town.pubkey);
 * const grant = await parseSpspResponse(response, payer);
 * assert(grant.destinationAccount.startsWith("g.town."));
 * ```
 */
export class SpspResponder {
  readonly #o: SpspResponderOptions;
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #accounts = new Map<string, TokenBucket>();
  readonly #total: TokenBucket;
  readonly #time: TokenBucket;
  readonly #now: () => number;
  /** The signer, its calls timed into `#spent`. */
  readonly #signer: NodeSigner;
  #spent = 0;
  /** Requests waiting for their turn, a line per BTP account, served in turn. */
  readonly #lines = new Map<string, SpspWaiter[]>();
  #queued = 0;
  #answering = false;
  /** The town's pubkey: requests addressed (`p` tag) to it are the responder's. */
  readonly pubkey: string;

  constructor(options: SpspResponderOptions) {
    this.#o = options;
    this.pubkey = options.signer.pubkey;
    this.#now = options.now ?? (() => performance.now());
    this.#signer = this.#timedSigner(options.signer);
    const perMinute = options.totalPerMinute ?? 3000;
    this.#total = new TokenBucket({
      ratePerSecond: perMinute / 60,
      capacity: Math.max(1, perMinute / 6),
      now: options.now,
    });
    const millisPerSecond = options.millisPerSecond ?? 200;
    this.#time = new TokenBucket({
      ratePerSecond: millisPerSecond,
      capacity: Math.min(SPSP_BURST_MILLIS, millisPerSecond),
      now: options.now,
    });
  }

  /** True for a kind 23194 addressed to the town (others are ordinary paid, relayed events). */
  isForTown(event: NostrEvent): boolean {
    return event.kind === SPSP_REQUEST_KIND &&
      event.tags.some((t) => t[0] === "p" && t[1] === this.pubkey);
  }

  /**
   * The signed 23195 answer to a verified 23194 event. Throws {@linkcode TownWriteRejection}:
   * T05 over the rate limit, F06 for a request that is not SPSP to this town.
   */
  async respond(request: NostrEvent, options: SpspRespondOptions = {}): Promise<NostrEvent> {
    if (request.kind !== SPSP_REQUEST_KIND) {
      throw new TownWriteRejection(
        ILP_ERROR.unexpectedPayment,
        `invalid SPSP request: kind ${request.kind}`,
      );
    }
    await this.#throttle(request.pubkey, options.account);
    const maxQueued = this.#o.maxQueued ?? 256;
    if (this.#queued >= maxQueued) {
      throw new TownWriteRejection(
        ILP_ERROR.rateLimited,
        `rate-limited: town busy (${maxQueued} SPSP requests waiting); retry later`,
      );
    }
    await this.#turn(options.account ?? "");
    try {
      this.#spent = BASE_CHARGE_MILLIS;
      try {
        return await this.#answer(request);
      } finally {
        this.#time.charge(this.#spent);
      }
    } finally {
      this.#answering = false;
      this.#next();
    }
  }

  /**
   * Resolves when this request may be answered (nothing else is being answered and the time
   * budget is positive); rejects T05 when that is not so within `queueTimeoutMs`. Accounts take
   * turns, so one account's burst does not make another's handshake wait behind all of it.
   */
  #turn(account: string): Promise<void> {
    const timeoutMs = this.#o.queueTimeoutMs ?? 5000;
    return new Promise<void>((resolve, reject) => {
      const waiter: SpspWaiter = {
        start: () => {
          clearTimeout(waiter.timer);
          resolve();
        },
        timer: setTimeout(() => {
          const line = this.#lines.get(account);
          const at = line?.indexOf(waiter) ?? -1;
          if (line === undefined || at < 0) return; // already started
          line.splice(at, 1);
          if (line.length === 0) this.#lines.delete(account);
          this.#queued--;
          reject(
            new TownWriteRejection(
              ILP_ERROR.rateLimited,
              `rate-limited: town busy (SPSP request not answered within ${timeoutMs} ms); ` +
                "retry later",
            ),
          );
        }, timeoutMs),
      };
      const line = this.#lines.get(account);
      if (line) line.push(waiter);
      else this.#lines.set(account, [waiter]);
      this.#queued++;
      this.#next();
    });
  }

  /** Starts the next waiter (the next account's oldest) once the time budget allows. */
  #next(): void {
    if (this.#answering || this.#queued === 0) return;
    this.#answering = true;
    void this.#time.untilPositive().then(() => {
      const [account, line] = this.#lines.entries().next().value ?? [];
      if (account === undefined || line === undefined) {
        this.#answering = false;
        return;
      }
      const waiter = line.shift()!;
      this.#lines.delete(account);
      // The account goes to the back of the rotation.
      if (line.length > 0) this.#lines.set(account, line);
      this.#queued--;
      waiter.start();
    });
  }

  async #answer(request: NostrEvent): Promise<NostrEvent> {
    let parsed;
    try {
      parsed = await parseSpspRequest(request, this.#signer);
    } catch (err) {
      throw invalidInputRejection(err, { inputError: SpspMessageError, what: "SPSP request" });
    }
    const grant = this.#o.secrets.grant(this.#o.townAddress());
    const template = await buildSpspResponse({
      signer: this.#signer,
      request,
      destinationAccount: grant.destinationAccount,
      sharedSecret: grant.sharedSecret,
      assetCode: this.#o.assetCode,
      assetScale: this.#o.assetScale,
      requestId: parsed.requestId,
    });
    return await this.#signer.signEvent(template);
  }

  /**
   * `signer` with the time each call takes to return its promise added to `#spent`: the part
   * of its work done on this thread (answers run one at a time, so nothing else is counted).
   */
  #timedSigner(signer: NodeSigner): NodeSigner {
    const timed = <A extends unknown[], R>(f: (...args: A) => R) => (...args: A): R => {
      const started = this.#now();
      try {
        return f.apply(signer, args);
      } finally {
        this.#spent += this.#now() - started;
      }
    };
    return {
      pubkey: signer.pubkey,
      evmAddress: signer.evmAddress,
      evm: signer.evm,
      signEvent: timed(signer.signEvent),
      conversationKey: timed(signer.conversationKey),
      nip04Decrypt: timed(signer.nip04Decrypt),
      derivedSecret: timed(signer.derivedSecret),
      worker: timed(signer.worker),
      close: () => signer.close(),
      [Symbol.dispose]: () => signer[Symbol.dispose](),
    };
  }

  /** Takes from the pubkey's, then the account's, then the total bucket; T05 naming the one. */
  async #throttle(pubkey: string, account: string | undefined): Promise<void> {
    const o = this.#o;
    const byPubkey = this.#bucket(this.#buckets, pubkey, o.requestsPerMinute ?? 60, o.burst);
    if (!byPubkey.take()) {
      throw new TownWriteRejection(
        ILP_ERROR.rateLimited,
        "rate-limited: too many SPSP requests from this pubkey",
      );
    }
    if (o.shared !== undefined) {
      try {
        return await this.#throttleShared(o.shared, account);
      } catch (err) {
        if (err instanceof TownWriteRejection) throw err;
        // The shared buckets cannot be reached: this process's share of the limits holds.
      }
    }
    const perAccount = o.perAccountPerMinute ?? 600;
    if (
      account !== undefined &&
      !this.#bucket(this.#accounts, account, perAccount, perAccount / 6).take()
    ) {
      throw new TownWriteRejection(
        ILP_ERROR.rateLimited,
        `rate-limited: too many SPSP requests from account ${account} ` +
          `(${perAccount} per minute)`,
      );
    }
    if (!this.#total.take()) {
      throw new TownWriteRejection(
        ILP_ERROR.rateLimited,
        `rate-limited: the town answers at most ${o.totalPerMinute ?? 3000} SPSP requests ` +
          "per minute; retry later",
      );
    }
  }

  /** The account's and the total bucket of the whole town; T05 naming the one. */
  async #throttleShared(shared: SharedSpspLimits, account: string | undefined): Promise<void> {
    const perAccount = shared.perAccountPerMinute;
    if (
      account !== undefined &&
      !(await shared.buckets.take(`spsp:account:${account}`, perAccount / 60, perAccount / 6))
    ) {
      throw new TownWriteRejection(
        ILP_ERROR.rateLimited,
        `rate-limited: too many SPSP requests from account ${account} ` +
          `(${perAccount} per minute, town-wide)`,
      );
    }
    const total = shared.totalPerMinute;
    if (!(await shared.buckets.take("spsp:total", total / 60, total / 6))) {
      throw new TownWriteRejection(
        ILP_ERROR.rateLimited,
        `rate-limited: the town answers at most ${total} SPSP requests per minute; retry later`,
      );
    }
  }

  #bucket(
    table: Map<string, TokenBucket>,
    key: string,
    perMinute: number,
    burst = 20,
  ): TokenBucket {
    let bucket = table.get(key);
    if (!bucket) {
      if (table.size >= (this.#o.maxTrackedPubkeys ?? 10_000)) table.clear();
      bucket = new TokenBucket({
        ratePerSecond: perMinute / 60,
        capacity: Math.max(1, burst),
        now: this.#o.now,
      });
      table.set(key, bucket);
    }
    return bucket;
  }
}
