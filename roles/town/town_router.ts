/**
 * A town's start-up step that makes its router (roles/town/btp/btp_router.ts): packets paying the
 * town go to the write pipeline and its income, those to a child to the BTP peer, here or at the
 * process of the town that holds it (a shared store), on the books of what the town owes it, the
 * others to the parent (docs/ARCHITECTURE.md "The roles"). The BTP server, the parent link and
 * the peer routes start after it: it reaches them through {@linkcode LateBound} cells.
 *
 * @module
 */
import { DEFAULT_TOWN_PAYOUTS, type TownSettings } from "../../config/town_settings.ts";
import type { PeerBalance } from "../../state/payments/peer_ledger.ts";
import type { PostgresPeerRoutes } from "../../state/postgres/postgres_peer_routes.ts";
import { townWriteEntry } from "../../state/payments/town_write_entry.ts";
import type { ParentLink } from "./btp/btp_parent_link.ts";
import { type BtpRouter, createBtpRouter, type ElsewhereRoute } from "./btp/btp_router.ts";
import type { BtpServer } from "./btp/btp_server.ts";
import { createPeerBooks } from "./btp/peer_books.ts";
import { createProcessForwarder } from "./btp/process_forward.ts";
import { UPLINK_ROUTE } from "./btp/shared_parent_link.ts";
import { LateBound } from "./late_bound.ts";
import type { TownAddress } from "./town_address.ts";
import type { TownBooks } from "./town_books.ts";
import type { PaidFor, WritePipeline } from "./write/write_pipeline.ts";

/** Options for {@linkcode createTownRouter}. */
export interface TownRouterOptions {
  config: Pick<TownSettings, "maxPacketAmount" | "pricing" | "maxEventBytes" | "payouts" | "peers">;
  pipeline: WritePipeline;
  address: TownAddress;
  books: Pick<TownBooks, "income" | "ledger" | "paidOnce">;
  /** Base units per MiB of blob, and the largest blob: they size the largest write's price. */
  blobPricePerMiB: bigint;
  maxBlobBytes: number;
  /** The key the town's processes forward packets with (a shared store only). */
  forwardKey: Uint8Array | undefined;
  /** Told after each payment forwarded to a peer is on the books. */
  onOwed: ((balance: PeerBalance) => void) | undefined;
  log: (line: string) => void;
}

/** What {@linkcode createTownRouter} made. */
export interface TownRouter {
  router: BtpRouter;
  /** The route to a child or the parent link held by another process (a shared store). */
  elsewhere: ((account: string) => Promise<ElsewhereRoute | undefined>) | undefined;
  /** The most a PREPARE paying the town itself may carry. */
  maxWriteAmount: bigint;
  /** To bind once the BTP server is started: the children connected here. */
  btp: LateBound<BtpServer>;
  /** To bind once linked: the parent link while this process holds it. */
  parentLink: LateBound<() => ParentLink | undefined>;
  /** To bind once open: which process holds each BTP peer (a shared store). */
  peerRoutes: LateBound<PostgresPeerRoutes>;
}

/**
 * Makes the router, the forwarder to the town's other processes, and the cells of what the
 * router reaches that later steps start.
 *
 * It is a step of startTownNode (its example starts a town here): no example that runs here:
 * tests/unit/protocol/town_client_test.ts.
 */
export function createTownRouter(options: TownRouterOptions): TownRouter {
  const { config, pipeline, address, books: { income, ledger }, forwardKey, log } = options;
  const btp = new LateBound<BtpServer>();
  const parentLink = new LateBound<() => ParentLink | undefined>();
  const peerRoutes = new LateBound<PostgresPeerRoutes>();
  const payouts = config.payouts ?? DEFAULT_TOWN_PAYOUTS;
  const configuredPeers = new Set(config.peers.map((p) => p.account));
  const maxWriteAmount = config.maxPacketAmount ??
    largestWritePrice(config, options.blobPricePerMiB, options.maxBlobBytes);
  const elsewhere = forwardKey && createProcessForwarder({
    key: forwardKey,
    holder: (account) => peerRoutes.current?.holder(account) ?? Promise.resolve(undefined),
  });
  const router = createBtpRouter({
    townAddress: () => address.ilpAddress,
    assetCode: address.assetCode,
    assetScale: address.assetScale,
    pipeline,
    maxWriteAmount,
    onIncome: async (from, prepare, reply) => {
      // The pipeline's FULFILLs carry what they paid for; any other is read from its data.
      const paidFor = reply.paidFor ??
        JSON.parse(new TextDecoder().decode(reply.data)) as PaidFor;
      await income.append(townWriteEntry({
        direction: "in",
        kind: paidFor.sha256 !== undefined ? "blob" : "write",
        event: paidFor.eventId === undefined ? undefined : { id: paidFor.eventId },
        sha256: paidFor.sha256,
        amount: prepare.amount,
        asset: address.assetCode,
        scale: address.assetScale,
        peer: from,
      }));
    },
    child: (account) => btp.current?.peer(account),
    configuredChild: (account) => configuredPeers.has(account),
    elsewhere,
    parent: () => parentLink.current?.(),
    uplinkElsewhere: elsewhere && (() => elsewhere(UPLINK_ROUTE)),
    forwardBooks: createPeerBooks({
      ledger,
      maxOwed: () => payouts.maxOwed,
      triggeredBy: () => address.ilpAddress,
      onOwed: options.onOwed,
      paidOnce: options.books.paidOnce,
    }),
    onBooksError: (account, err) => log(`peer ${account}: answer not on the books: ${err.message}`),
  });
  return { router, elsewhere, maxWriteAmount, btp, parentLink, peerRoutes };
}

/**
 * The town's max packet amount for what is paid to itself, unless configured: twice the price
 * of the largest write (every TOON byte at the highest per-byte price) or of the largest blob,
 * whichever is more. An honest write never comes near it; 2^64-1 is refused F08.
 */
function largestWritePrice(
  config: Pick<TownSettings, "pricing" | "maxEventBytes">,
  blobPricePerMiB: bigint,
  maxBlobBytes: number,
): bigint {
  const perByte = [
    config.pricing?.pricePerByte ?? 10n,
    ...Object.values(config.pricing?.kindPricePerByte ?? {}),
  ].reduce((a, b) => (b > a ? b : a), 0n);
  const event = perByte * BigInt(config.maxEventBytes);
  const blob = blobPricePerMiB * BigInt(Math.ceil(maxBlobBytes / (1024 * 1024)));
  return 2n * (event > blob ? event : blob);
}
