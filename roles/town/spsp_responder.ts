/**
 * The town's SPSP responder: answers a kind 23194 request (NIP-44, `p` = the town) with a
 * signed kind 23195 response carrying `<town>.relay.<tag>` and the 32-byte shared secret
 * derived for that tag (see spsp_secrets.ts). Requests are rate-limited per requester pubkey,
 * per BTP account they arrive from and in total (fresh pubkeys cost nothing to make, so the
 * pubkey limit alone does not bound the signing work), each answered T05 with which limit.
 * Requests within those limits are also paced: their decryption, encryption and signing are
 * charged to a budget of event-loop time (`millisPerSecond`, at most 20 ms back to back) and
 * wait for it, so a burst of them delays `/health` and other connections by about 20 ms, not
 * by the whole burst's work (docs/OPERATIONS.md "Limits").
 *
 * How a request reaches the town: inside an ILP PREPARE to the town's address (free: a sender
 * cannot pay before it has a secret). The write pipeline verifies the event first, then calls
 * {@linkcode SpspResponder.respond}; the response goes back in the FULFILL (or F99 REJECT) data
 * as TOON and is published live to subscribers of `{kinds: [23195], "#p": [requester]}`.
 *
 * @module
 */
import { ILP_ERROR } from "../../protocol/ilp_packet.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import {
  parseSpspRequest,
  SPSP_REQUEST_KIND,
  SpspMessageError,
} from "../../protocol/spsp_message.ts";
import { buildSpspResponse } from "../../protocol/spsp_message.ts";
import { TokenBucket } from "./token_bucket.ts";
import type { SpspSecrets } from "./spsp_secrets.ts";
import { TownWriteRejection } from "./write_rejection.ts";
import { invalidInputRejection } from "./invalid_input_rejection.ts";

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
  /** Monotonic clock in milliseconds (tests). */
  now?: () => number;
}

/** Most milliseconds of answering work done back to back. */
const SPSP_BURST_MILLIS = 20;

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
 * const responder = new SpspResponder({ signer, secrets, townAddress: () => "g.town" });
 * const response = responder.respond(verifiedRequestEvent); // kind 23195, signed by the town
 * ```
 */
export class SpspResponder {
  readonly #o: SpspResponderOptions;
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #accounts = new Map<string, TokenBucket>();
  readonly #total: TokenBucket;
  readonly #time: TokenBucket;
  /** The town's pubkey: requests addressed (`p` tag) to it are the responder's. */
  readonly pubkey: string;

  constructor(options: SpspResponderOptions) {
    this.#o = options;
    this.pubkey = options.signer.pubkey;
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
    this.#throttle(request.pubkey, options.account);
    await this.#time.untilPositive();
    const started = performance.now();
    try {
      return await this.#answer(request);
    } finally {
      this.#time.charge(performance.now() - started);
    }
  }

  async #answer(request: NostrEvent): Promise<NostrEvent> {
    let parsed;
    try {
      parsed = await parseSpspRequest(request, this.#o.signer);
    } catch (err) {
      throw invalidInputRejection(err, { inputError: SpspMessageError, what: "SPSP request" });
    }
    const grant = this.#o.secrets.grant(this.#o.townAddress());
    const template = await buildSpspResponse({
      signer: this.#o.signer,
      request,
      destinationAccount: grant.destinationAccount,
      sharedSecret: grant.sharedSecret,
      assetCode: this.#o.assetCode,
      assetScale: this.#o.assetScale,
      requestId: parsed.requestId,
    });
    return await this.#o.signer.signEvent(template);
  }

  /** Takes from the pubkey's, then the account's, then the total bucket; T05 naming the one. */
  #throttle(pubkey: string, account: string | undefined): void {
    const o = this.#o;
    const byPubkey = this.#bucket(this.#buckets, pubkey, o.requestsPerMinute ?? 60, o.burst);
    if (!byPubkey.take()) {
      throw new TownWriteRejection(
        ILP_ERROR.rateLimited,
        "rate-limited: too many SPSP requests from this pubkey",
      );
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
