/**
 * Routing of the PREPAREs that reach the town (from a BTP child or from the parent connector):
 *
 * - past `maxPreparesInFlight` PREPAREs this process is still answering -> T03 at once, before
 *   any work (docs/SCALE.md "Graceful overload": refused early rather than queued to time out);
 * - once the town is stopping ({@linkcode BtpRouter.drain}) -> T03 at once: the PREPAREs already
 *   in flight are answered before the sockets close (docs/OPERATIONS.md "Stopping a town");
 * - from a child that is behind on reading the town's answers (more than its high-water mark
 *   waiting to be sent to it, transport/slow_consumer_guard.ts) -> T05, before any work;
 * - `peer.config` from a child -> IL-DCP answer `<town>.<account>` (RFC 31);
 * - expired (or under `minLocalExpiryMs` left) -> R02, before any work;
 * - amount over the child's max packet amount -> F08 with RFC 27's amount data;
 * - the town's address, `<town>.relay` or `<town>.relay.<tag>...` -> the write pipeline;
 * - `<town>.<account>...` with that child connected -> forwarded over its socket (expiry less
 *   `forwardExpiryMarginMs`, as connectors do), the reply relayed after checking a FULFILL
 *   against the condition (F05 otherwise); with `forwardBooks`, a paid packet is on the town's
 *   books per peer before it leaves and its answer before the answer is relayed
 *   (state/payments/peer_ledger.ts), and a packet over the peer's credit is refused T04; so is a packet
 *   for a child that is behind on reading (no bandwidth to it: not queued);
 * - `<town>.<account>...` with that child connected to another process of the town (a shared
 *   store, `elsewhere`) -> forwarded to that process (expiry less the margin; the FULFILL checked
 *   as above), which forwards it to the child on its own books: this process keeps none, the
 *   payer's side is on its claim gate as for any packet (roles/town/btp/process_forward.ts);
 * - `<town>.<account>...` with that child connected nowhere -> T01 for a configured peer (away
 *   for a while: its payer tries again, `configuredChild`), F02 for any other account;
 * - a packet another process forwarded (`process` source) -> only a child connected here, or
 *   out of the parent link when this process holds it (the others send their parent-bound
 *   packets here), never another process (no loops); anything else F02;
 * - anything else -> the parent, when there is one and the packet did not come from it: over
 *   the link when this process holds it, else to the process that does (`uplinkElsewhere`,
 *   roles/town/btp/shared_parent_link.ts); else F02.
 *
 * @module
 */
import {
  decodeIlpPrepare,
  decodeIlpReply,
  encodeIlpPrepare,
  encodeIlpReply,
  ILP_ERROR,
  type IlpErrorCode,
  IlpPacketError,
  type IlpPrepare,
  type IlpReply,
} from "../../../protocol/ilp_packet.ts";
import { encodeIldcpResponse, ILDCP_DESTINATION } from "../../../protocol/ildcp.ts";
import type { BtpPeerAccount } from "./btp_accounts.ts";
import { conditionMatches, parseWriteDestination } from "../spsp/spsp_secrets.ts";
import type { WritePipeline, WriteReply } from "../write/write_pipeline.ts";
import { amountTooLargeData } from "../write/write_rejection.ts";

/** Somewhere a packet can be sent: a child's connection or the parent link. */
export interface IlpNextHop {
  /** Sends ILP packet bytes, resolves with the reply's bytes. */
  request(packet: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /**
   * What waits to be sent to the hop and its high-water mark, when the hop can tell (a child's
   * socket, roles/town/btp/btp_peer_connection.ts): over it the hop is behind on reading.
   */
  backlog?(): { bytes: number; highWaterBytes: number };
}

/**
 * The town's books per peer for the packets forwarded to a child (roles/town/btp/peer_books.ts):
 * `before` resolves once the packet is on record, or with the REJECT to answer instead (the
 * peer's credit limit); `after` once the child's answer is on record. `sentExpiresAt`: the expiry
 * the packet leaves with (the margin taken off), which tells it from another packet of the same
 * condition.
 */
export interface ForwardBooks {
  before(account: string, prepare: IlpPrepare, sentExpiresAt: Date): Promise<IlpReply | undefined>;
  after(account: string, prepare: IlpPrepare, reply: IlpReply): Promise<void>;
}

/** Where a packet came from: a child, the parent, or another process of the town. */
export type PacketSource =
  | { kind: "child"; account: BtpPeerAccount }
  | { kind: "parent" }
  | { kind: "process" };

/**
 * A child connected to another process of the town: the hop to that process, or why not (a
 * T-code REJECT: the process is not heard from, the database cannot say, too many in flight).
 */
export type ElsewhereRoute =
  | { hop: IlpNextHop }
  | { code: IlpErrorCode; message: string };

/**
 * Furthest expiry accepted by default (5 minutes).
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_EXPIRY_MS } from "./btp_router.ts";
 *
 * if (DEFAULT_MAX_EXPIRY_MS !== 300_000) throw new Error("changed");
 * ```
 */
export const DEFAULT_MAX_EXPIRY_MS = 300_000;

/** Options for {@linkcode createBtpRouter}. */
export interface BtpRouterOptions {
  townAddress: () => string;
  assetCode: string;
  assetScale: number;
  pipeline: WritePipeline;
  /** The connection of a child account, when connected. */
  child: (account: string) => IlpNextHop | undefined;
  /**
   * The route to a child connected to another process of the town (a shared store:
   * roles/town/btp/process_forward.ts); undefined: connected to no other process either.
   */
  elsewhere?: (account: string) => Promise<ElsewhereRoute | undefined>;
  /**
   * Whether an account is one of the town's configured peers: one connected nowhere now is away
   * for a while (restarting, reconnecting after the town's own restart), refused T01 so its payer
   * sends the payment again within the invoice's time; an account nobody configured is F02.
   * Default: none is.
   */
  configuredChild?: (account: string) => boolean;
  /** The parent link, when configured, up and held by this process. */
  parent?: () => IlpNextHop | undefined;
  /**
   * The process of the town that holds its parent link, when another one does (a shared
   * store: roles/town/btp/shared_parent_link.ts); undefined: none holds it now.
   */
  uplinkElsewhere?: () => Promise<ElsewhereRoute | undefined>;
  /** Taken off the expiry of forwarded packets. Default 1000 ms. */
  forwardExpiryMarginMs?: number;
  /** Least time left for a packet the town handles itself. Default 100 ms. */
  minLocalExpiryMs?: number;
  /** Clock (tests). Default Date.now. */
  now?: () => number;
  /**
   * Most a PREPARE paying the town itself (a write or a blob) may carry: more is refused F08
   * (the price of the largest write or blob is far less, and an overpayment would be kept).
   * Default no cap.
   */
  maxWriteAmount?: bigint;
  /**
   * Furthest a PREPARE's expiry may be in the future; further is refused F00 (no honest sender
   * asks to hold a payment for hours). Default 5 minutes.
   */
  maxExpiryMs?: number;
  /**
   * Most PREPAREs this process answers at once; past it a new one is refused T03 `town busy`
   * at once (the sender tries again later). Default {@linkcode DEFAULT_MAX_PREPARES_IN_FLIGHT}.
   */
  maxPreparesInFlight?: number;
  /** Books per peer of the paid packets forwarded to children; none: kept on no books. */
  forwardBooks?: ForwardBooks;
  /** Told when a child's answer could not be put on the books (the answer is relayed). */
  onBooksError?: (account: string, err: Error) => void;
  /**
   * Told of each paid PREPARE the town fulfilled for itself (a write or a blob), before the
   * FULFILL leaves: the town's payment log. A failure there turns the FULFILL into T00.
   */
  onIncome?: (
    from: string,
    prepare: IlpPrepare,
    reply: WriteReply & { type: "fulfill" },
  ) => Promise<void>;
}

/** Default of {@linkcode BtpRouterOptions.maxPreparesInFlight}. */
export const DEFAULT_MAX_PREPARES_IN_FLIGHT = 1024;

/** The router. */
export interface BtpRouter {
  /** Answers the bytes of one ILP packet with the bytes of the reply (never throws). */
  route(source: PacketSource, packet: Uint8Array): Promise<Uint8Array>;
  /** Answers a decoded PREPARE. */
  routePrepare(source: PacketSource, prepare: IlpPrepare): Promise<IlpReply>;
  /**
   * Stops taking PREPAREs (each new one is refused T03 `town shutting down`, which a payer sends
   * again later: no money moved) and resolves once every PREPARE already in flight is answered,
   * or after `timeoutMs`, with how many were still in flight then.
   */
  drain(timeoutMs: number): Promise<number>;
}

/**
 * Builds the router.
 *
 * It routes between connected peers: no example that runs here:
 * tests/unit/roles/town/btp_router_away_test.ts.
 */
export function createBtpRouter(options: BtpRouterOptions): BtpRouter {
  const now = options.now ?? Date.now;
  const margin = options.forwardExpiryMarginMs ?? 1000;
  const minLocal = options.minLocalExpiryMs ?? 100;
  const reject = (
    code: IlpErrorCode,
    message: string,
    data: Uint8Array = new Uint8Array(0),
  ) =>
    ({
      type: "reject",
      code,
      triggeredBy: options.townAddress(),
      message,
      data,
    }) as IlpReply;

  /** T04 for a hop that is behind on reading: the packet would only wait in the town's memory. */
  const behind = (hop: IlpNextHop): IlpReply | undefined => {
    const backlog = hop.backlog?.();
    if (backlog === undefined || backlog.bytes <= backlog.highWaterBytes) return undefined;
    return reject(
      ILP_ERROR.insufficientLiquidity,
      `next hop is not reading: ${backlog.bytes} bytes wait to be sent to it (high-water mark ` +
        `${backlog.highWaterBytes}); try again later`,
    );
  };

  /** The expiry a packet is forwarded with: the margin taken off, as connectors do. */
  const sentExpiry = (prepare: IlpPrepare) => new Date(prepare.expiresAt.getTime() - margin);

  const forward = async (hop: IlpNextHop, prepare: IlpPrepare): Promise<IlpReply> => {
    const refused = behind(hop);
    if (refused) return refused;
    const expiresAt = sentExpiry(prepare);
    const left = expiresAt.getTime() - now();
    if (left <= 0) {
      return reject(ILP_ERROR.insufficientTimeout, "insufficient timeout to forward the packet");
    }
    let replyBytes: Uint8Array;
    try {
      // The next hop gives the packet up at `expiresAt`; its answer is awaited half the margin
      // longer, so a FULFILL it sent in time is not lost in transit (docs/PROTOCOL.md "Expiry").
      replyBytes = await hop.request(
        encodeIlpPrepare({ ...prepare, expiresAt }),
        left + Math.floor(margin / 2),
      );
    } catch (err) {
      return now() >= expiresAt.getTime()
        ? reject(ILP_ERROR.transferTimedOut, "transfer timed out")
        : reject(
          ILP_ERROR.peerUnreachable,
          `peer unreachable: ${(err as Error).message}`.slice(0, 200),
        );
    }
    let reply: IlpReply;
    try {
      reply = decodeIlpReply(replyBytes);
    } catch {
      return reject(ILP_ERROR.internalError, "next hop answered an invalid ILP packet");
    }
    if (
      reply.type === "fulfill" && !conditionMatches(reply.fulfillment, prepare.executionCondition)
    ) {
      return reject(
        ILP_ERROR.wrongCondition,
        "fulfillment from the next hop does not match the condition",
      );
    }
    return reply;
  };

  /** Forwards to a child with the packet and its answer on the town's books (module doc). */
  const forwardOnBooks = async (
    account: string,
    hop: IlpNextHop,
    prepare: IlpPrepare,
  ): Promise<IlpReply> => {
    const books = options.forwardBooks;
    if (!books || prepare.amount === "0") return await forward(hop, prepare);
    let refused = behind(hop);
    if (refused) return refused;
    try {
      refused = await books.before(account, prepare, sentExpiry(prepare));
    } catch (err) {
      return reject(
        ILP_ERROR.internalError,
        `cannot record the payment: ${(err as Error).message}`.slice(0, 200),
      );
    }
    if (refused) return refused;
    const reply = await forward(hop, prepare);
    try {
      await books.after(account, prepare, reply);
    } catch (err) {
      // The child's answer is not on record: the packet stays in flight on the books (in doubt
      // after a restart, resolved by the child's fulfillment, state/payments/peer_ledger.ts). The answer
      // is relayed as it is: a FULFILL means the child was paid, and the sender did pay.
      options.onBooksError?.(account, err as Error);
    }
    return reply;
  };

  const routePrepare = async (source: PacketSource, prepare: IlpPrepare): Promise<IlpReply> => {
    const town = options.townAddress();
    const unread = source.kind === "child"
      ? options.child(source.account.account)?.backlog?.()
      : undefined;
    if (unread !== undefined && unread.bytes > unread.highWaterBytes) {
      return reject(
        ILP_ERROR.rateLimited,
        `rate-limited: ${unread.bytes} bytes of answers to this account unread (high-water ` +
          `mark ${unread.highWaterBytes}); read them before sending more`,
      );
    }
    if (prepare.destination === ILDCP_DESTINATION) {
      if (source.kind !== "child") {
        return reject(ILP_ERROR.unreachable, `no IL-DCP for the ${source.kind}`);
      }
      return {
        type: "fulfill",
        fulfillment: new Uint8Array(32),
        data: ildcpData(`${town}.${source.account.account}`, options),
      };
    }
    const left = prepare.expiresAt.getTime() - now();
    if (left <= 0) return reject(ILP_ERROR.insufficientTimeout, "packet expired");
    const maxExpiryMs = options.maxExpiryMs ?? DEFAULT_MAX_EXPIRY_MS;
    if (left > maxExpiryMs) {
      return reject(
        ILP_ERROR.badRequest,
        `expiry ${prepare.expiresAt.toISOString()} is more than ${maxExpiryMs / 1000} s away`,
      );
    }
    if (source.kind === "child" && BigInt(prepare.amount) > source.account.maxPacketAmount) {
      return reject(
        ILP_ERROR.amountTooLarge,
        `amount ${prepare.amount} over this peer's max packet amount ${source.account.maxPacketAmount}`,
        amountTooLargeData(BigInt(prepare.amount), source.account.maxPacketAmount),
      );
    }
    if (source.kind === "process" && !prepare.destination.startsWith(town + ".")) {
      // Another process's parent-bound packet: out of the link held here, never further.
      const link = options.parent?.();
      if (!link) {
        return reject(ILP_ERROR.unreachable, `no route to ${prepare.destination} from a process`);
      }
      return await forward(link, prepare);
    }
    const write = parseWriteDestination(prepare.destination, town);
    if (write && source.kind === "process") {
      return reject(ILP_ERROR.unreachable, "a forwarded packet is only for a peer connected here");
    }
    const maxWrite = options.maxWriteAmount;
    if (write && maxWrite !== undefined && BigInt(prepare.amount) > maxWrite) {
      return reject(
        ILP_ERROR.amountTooLarge,
        `amount ${prepare.amount} over the town's max packet amount ${maxWrite}`,
        amountTooLargeData(BigInt(prepare.amount), maxWrite),
      );
    }
    if (write) {
      if (left < minLocal) {
        return reject(ILP_ERROR.insufficientTimeout, `less than ${minLocal} ms left before expiry`);
      }
      const reply = await options.pipeline.handle(
        prepare,
        write,
        source.kind === "child" ? source.account.account : undefined,
      );
      if (reply.type === "fulfill" && prepare.amount !== "0" && options.onIncome) {
        const from = source.kind === "child" ? source.account.account : "parent";
        try {
          await options.onIncome(from, prepare, reply);
        } catch (err) {
          return reject(
            ILP_ERROR.internalError,
            `cannot record the payment: ${(err as Error).message}`,
          );
        }
      }
      return reply;
    }
    if (prepare.destination.startsWith(town + ".")) {
      const account = prepare.destination.slice(town.length + 1).split(".")[0];
      if (source.kind === "child" && source.account.account === account) {
        return reject(ILP_ERROR.unreachable, "no route back to the sender");
      }
      const hop = options.child(account);
      if (hop) return await forwardOnBooks(account, hop, prepare);
      // Connected to another process of the town: that process keeps the books of the child.
      const route = source.kind === "process" ? undefined : await options.elsewhere?.(account);
      // (A packet another process forwarded gets F02 as before: that process asks again.)
      if (
        route === undefined && source.kind !== "process" && options.configuredChild?.(account)
      ) {
        return reject(
          ILP_ERROR.peerUnreachable,
          `peer unreachable: ${account} is not connected now (a configured peer); try again`,
        );
      }
      return await viaProcess(route, prepare, `: ${account} not connected`);
    }
    if (source.kind === "parent") {
      return reject(ILP_ERROR.unreachable, `no route to ${prepare.destination}`);
    }
    const parent = options.parent?.();
    if (parent) return await forward(parent, prepare);
    return await viaProcess(await options.uplinkElsewhere?.(), prepare, "");
  };

  /** To another process of the town, or why not (none: F02, `no route to ...<why>`). */
  const viaProcess = async (
    route: ElsewhereRoute | undefined,
    prepare: IlpPrepare,
    why: string,
  ): Promise<IlpReply> => {
    if (route === undefined) {
      return reject(ILP_ERROR.unreachable, `no route to ${prepare.destination}${why}`);
    }
    if ("code" in route) return reject(route.code, route.message.slice(0, 200));
    return await forward(route.hop, prepare);
  };

  // Graceful overload: a bound on the PREPAREs being answered, refused T03 past it.
  const maxInFlight = options.maxPreparesInFlight ?? DEFAULT_MAX_PREPARES_IN_FLIGHT;
  let inFlight = 0;
  // A stopping town: new PREPAREs refused, the drain told when the last one in flight is answered.
  let draining = false;
  let drained: (() => void) | undefined;
  const admitPrepare = async (source: PacketSource, prepare: IlpPrepare): Promise<IlpReply> => {
    if (draining) {
      return reject(ILP_ERROR.connectorBusy, "town shutting down; send it again later");
    }
    if (inFlight >= maxInFlight) {
      return reject(
        ILP_ERROR.connectorBusy,
        `town busy: ${inFlight} packets in flight here, max ${maxInFlight}; send it again later`,
      );
    }
    inFlight++;
    try {
      return await routePrepare(source, prepare);
    } finally {
      if (--inFlight === 0) drained?.();
    }
  };

  return {
    routePrepare: admitPrepare,
    async drain(timeoutMs) {
      draining = true;
      if (inFlight > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          drained = resolve;
          timer = setTimeout(resolve, timeoutMs);
        });
        clearTimeout(timer);
      }
      return inFlight;
    },
    async route(source, packet) {
      let prepare: IlpPrepare;
      try {
        prepare = decodeIlpPrepare(packet);
      } catch (err) {
        const message = err instanceof IlpPacketError ? err.message : "invalid packet";
        return encodeIlpReply(reject(ILP_ERROR.invalidPacket, message.slice(0, 200)));
      }
      try {
        return encodeIlpReply(await admitPrepare(source, prepare));
      } catch (err) {
        return encodeIlpReply(
          reject(ILP_ERROR.internalError, `internal error: ${(err as Error).message}`),
        );
      }
    },
  };
}

function ildcpData(clientAddress: string, options: BtpRouterOptions): Uint8Array {
  // encodeIldcpResponse builds the whole FULFILL; the router returns decoded replies.
  const reply = decodeIlpReply(encodeIldcpResponse({
    clientAddress,
    assetCode: options.assetCode,
    assetScale: options.assetScale,
  }));
  return reply.type === "fulfill" ? reply.data : new Uint8Array(0);
}
