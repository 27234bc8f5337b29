/**
 * A town's start-up step that, on a shared store, lets the town's other processes reach the BTP
 * peers connected here: they are recorded town-wide (state/postgres/postgres_peer_routes.ts), with the
 * parent link while this process holds it, and the packets the others forward to them are taken
 * on the private listener (roles/town/btp/process_forward.ts, docs/OPERATIONS.md "A town on
 * several machines"); so are the questions about payments in doubt, and this process's own
 * payments in doubt are asked of their peers wherever they are connected
 * (roles/town/btp/process_in_doubt.ts).
 *
 * @module
 */
import type { PostgresConnectionCounts } from "../../state/postgres/postgres_connection_counts.ts";
import type { PostgresEventStore } from "../../state/postgres/postgres_event_store.ts";
import type { PostgresPeerRoutes } from "../../state/postgres/postgres_peer_routes.ts";
import type { ParentLink } from "./btp/btp_parent_link.ts";
import type { BtpRouter } from "./btp/btp_router.ts";
import type { BtpServer } from "./btp/btp_server.ts";
import { createForwardHandler } from "./btp/process_forward.ts";
import {
  createInDoubtHandler,
  IN_DOUBT_PATH,
  startInDoubtResolver,
} from "./btp/process_in_doubt.ts";
import type { PeerBalance, PeerLedger } from "../../state/payments/peer_ledger.ts";
import type { PaidOnce } from "./btp/paid_once.ts";
import { UPLINK_ROUTE } from "./btp/shared_parent_link.ts";
import type { LateBound } from "./late_bound.ts";
import type { ForwardedPackets } from "./town_private_listener.ts";
import type { TownClosers } from "./town_stop.ts";

/** Options for {@linkcode routePeersAcrossProcesses}. */
export interface TownProcessRoutesOptions {
  postgresStore: PostgresEventStore;
  /** This process's entry in the town's process registry. */
  connectionCounts: PostgresConnectionCounts;
  /** This process's private listener, where the others forward packets. */
  privateUrl: string;
  /** From `deriveForwardKey`. */
  forwardKey: Uint8Array;
  btp: BtpServer;
  router: BtpRouter;
  /** The parent link while this process holds it (unbound: no parent). */
  parentLink: LateBound<() => ParentLink | undefined>;
  /** Bound here: the peer routes. */
  peerRoutes: LateBound<PostgresPeerRoutes>;
  /** Bound here: the private listener's handler of forwarded packets. */
  forwarded: LateBound<ForwardedPackets>;
  /** This process's books: its payments in doubt are asked of their peers. */
  ledger: PeerLedger;
  /** A condition is owed by one process's books (roles/town/btp/paid_once.ts). */
  paidOnce: PaidOnce | undefined;
  /** Told after each payment in doubt proven. */
  onOwed: ((balance: PeerBalance) => void) | undefined;
  closers: TownClosers;
  log: (line: string) => void;
}

// Loaded by URL on a shared store only: a SQLite town neither reads nor evaluates the PostgreSQL
// wrappers (docs/SCALE.md "An idle town's memory"; as cli/lazy_import.ts).
const POSTGRES_PEER_ROUTES = new URL(
  "../../state/postgres/postgres_peer_routes.ts",
  import.meta.url,
);

/**
 * Opens the peer routes and binds the handler of the packets forwarded to this process.
 *
 * It is a step of startTownNode (its example starts a town here) on a shared store (PostgreSQL): no
 * example that runs here: tests/e2e/town_process_forward_test.ts.
 */
export async function routePeersAcrossProcesses(options: TownProcessRoutesOptions): Promise<void> {
  const { btp, router, parentLink } = options;
  // Peers connected here are found by the other processes, which forward their packets
  // to this process's private listener (roles/town/btp/process_forward.ts).
  const { PostgresPeerRoutes: Routes } = await (import(POSTGRES_PEER_ROUTES.href) as Promise<
    typeof import("../../state/postgres/postgres_peer_routes.ts")
  >);
  const routes = await Routes.open(options.postgresStore.sql, {
    process: options.connectionCounts.process,
    url: options.privateUrl,
    // The parent link too, while held here: the others send parent-bound packets here.
    connected: () => parentLink.current?.() ? [...btp.peers(), UPLINK_ROUTE] : btp.peers(),
    log: options.log,
  });
  options.peerRoutes.bind(routes);
  options.closers.add(() => routes.close());
  const packets = createForwardHandler({
    key: options.forwardKey,
    route: (packet) => router.route({ kind: "process" }, packet),
  });
  const questions = createInDoubtHandler({ key: options.forwardKey, peer: (a) => btp.peer(a) });
  options.forwarded.bind((request) =>
    new URL(request.url).pathname === IN_DOUBT_PATH ? questions(request) : packets(request)
  );
  // Payments left in doubt here by a crash, their peer perhaps on another process for good.
  const resolver = startInDoubtResolver({
    ledger: options.ledger,
    key: options.forwardKey,
    peer: (a) => btp.peer(a),
    holder: (a) => routes.holder(a),
    onOwed: options.onOwed,
    paidOnce: options.paidOnce,
    log: options.log,
  });
  options.closers.add(() => resolver.close());
}
