/**
 * A town's start-up step that links it to its parent connector, when one is configured: the link
 * dialled here, or on a shared store the one link the town's processes take turns holding
 * (roles/town/btp/shared_parent_link.ts); the town then takes the address and asset the parent's
 * IL-DCP answered (docs/OPERATIONS.md).
 *
 * @module
 */
import type { TownSettings } from "../../config/town_settings.ts";
import type { PostgresPeerRoutes } from "../../state/postgres/postgres_peer_routes.ts";
import { connectParentLink, type ParentLink } from "./btp/btp_parent_link.ts";
import type { BtpRouter, ElsewhereRoute } from "./btp/btp_router.ts";
import { startSharedParentLink, UPLINK_ROUTE } from "./btp/shared_parent_link.ts";
import type { LateBound } from "./late_bound.ts";
import type { TownAddress } from "./town_address.ts";
import type { TownClosers } from "./town_stop.ts";

/** Options for {@linkcode linkTownToParent}. */
export interface TownParentOptions {
  /** The parent connector; absent: no link, the configured address stays. */
  parent: TownSettings["parent"];
  /** The shared PostgreSQL store, if any. */
  storeUrl: string | undefined;
  /** The route to the town's other processes (a shared store). */
  elsewhere: ((account: string) => Promise<ElsewhereRoute | undefined>) | undefined;
  /** Routes the packets the parent sends. */
  router: BtpRouter;
  /** Bound here: the parent link while this process holds it. */
  parentLink: LateBound<() => ParentLink | undefined>;
  /** Which process holds each BTP peer, once open: told when this one takes or drops the link. */
  peerRoutes: LateBound<PostgresPeerRoutes>;
  /** Learns the parent's IL-DCP answer. */
  address: TownAddress;
  closers: TownClosers;
  log: (line: string) => void;
}

// Loaded by URL on a shared store only: a SQLite town neither reads nor evaluates the PostgreSQL
// wrappers (docs/SCALE.md "An idle town's memory"; as cli/lazy_import.ts).
const POSTGRES_UPLINK = new URL("../../state/postgres/postgres_uplink.ts", import.meta.url);

/**
 * Dials the parent (or takes turns at it with the town's other processes), binds `parentLink`
 * and has `address` learn the parent's IL-DCP answer. Nothing without a parent.
 *
 * It is a step of startTownNode (its example starts a town here), with a parent connector: no
 * example that runs here: tests/e2e/town_network_test.ts.
 */
export async function linkTownToParent(options: TownParentOptions): Promise<void> {
  const { parent, storeUrl, elsewhere, router, parentLink, peerRoutes, closers, log } = options;
  if (!parent) return;
  const { url, token } = parent;
  const connect = () =>
    connectParentLink({
      url,
      authToken: token,
      onPrepare: (prepare) => router.routePrepare({ kind: "parent" }, prepare),
    });
  if (storeUrl !== undefined && elsewhere) {
    // A connector's account takes one connection: one process dials, the others send
    // their parent-bound packets to it (roles/town/btp/shared_parent_link.ts).
    const { openPostgresUplink } = await (import(POSTGRES_UPLINK.href) as Promise<
      typeof import("../../state/postgres/postgres_uplink.ts")
    >);
    const lock = await openPostgresUplink({ url: storeUrl });
    closers.add(() => lock.close());
    const shared = await startSharedParentLink({
      lock,
      connect,
      log,
      onChange: () => peerRoutes.current?.changed(UPLINK_ROUTE),
    });
    parentLink.bind(() => shared.current());
    closers.add(() => shared.close());
    options.address.learn(shared.ildcp);
    return;
  }
  const link = await connect();
  parentLink.bind(() => link);
  closers.add(() => link.close());
  options.address.learn(link.ildcp);
}
