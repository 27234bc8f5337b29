/**
 * The parent link of a town on several processes (docs/OPERATIONS.md "A town on several
 * machines", "The parent link"): one process at a time holds it, by the store's advisory lock
 * (state/postgres/postgres_uplink.ts), and dials the parent; the others route their parent-bound packets
 * to that process (roles/town/btp/btp_router.ts `uplinkElsewhere`). Every `intervalMs` each
 * process asks the lock again: a process that gets it (the holder was killed, or there was none)
 * dials; a holder that lost it (its database connection was replaced while another process took
 * the lock) closes its link at once, so two links never stay up together.
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";
import type { IldcpResponse } from "../../../protocol/ildcp.ts";
import type { ParentLink } from "./btp_parent_link.ts";

/**
 * The name the holder's parent link goes by in the town's peer routes
 * (state/postgres/postgres_peer_routes.ts): no account can be named so (config/town_peers.ts).
 */
export const UPLINK_ROUTE = "(parent)";

/** The lock and the learnt address: `PostgresUplink` fits. */
export interface UplinkLock {
  tryHold(): Promise<boolean>;
  saveAddress(ildcp: IldcpResponse): Promise<void>;
  address(): Promise<IldcpResponse | undefined>;
}

/** Options for {@linkcode startSharedParentLink}. */
export interface SharedParentLinkOptions {
  lock: UplinkLock;
  /** Dials the parent and runs IL-DCP (`connectParentLink` with the town's settings). */
  connect: () => Promise<ParentLink>;
  /** Told when this process starts or stops holding the link. */
  onChange?: (link: ParentLink | undefined) => void;
  /** Between two asks of the lock. Default 1 s. */
  intervalMs?: number;
  /**
   * Longest wait at start for the town's address when another process holds the link and has
   * not saved it yet. Default 60 s.
   */
  addressWaitMs?: number;
  log?: (line: string) => void;
}

/** The process's side of the town's parent link. */
export interface SharedParentLink {
  /** The town's address and asset: learnt over the link here, or saved by the holder. */
  ildcp: IldcpResponse;
  /** The link, while this process holds it. */
  current(): ParentLink | undefined;
  /** Stops asking and closes the link if held (the lock goes with the store's session). */
  close(): Promise<void>;
}

/** Raised when no process could say the town's address in time. */
export class SharedParentLinkError extends RoleError {
  override name = "SharedParentLinkError";
}

/**
 * Takes the link if no process holds it, else learns the town's address from the store; then
 * keeps asking the lock.
 *
 * It needs PostgreSQL and a parent: no example that runs here:
 * tests/unit/state/postgres/shared_parent_link_test.ts.
 */
export async function startSharedParentLink(
  options: SharedParentLinkOptions,
): Promise<SharedParentLink> {
  const log = options.log ?? (() => {});
  let held: ParentLink | undefined;
  let closed = false;
  const take = async (): Promise<ParentLink> => {
    const link = await options.connect();
    held = link;
    await options.lock.saveAddress(link.ildcp).catch((err) =>
      log(`parent link: the town's address not saved: ${(err as Error).message}`)
    );
    options.onChange?.(link);
    return link;
  };
  const drop = async (why: string) => {
    const link = held;
    held = undefined;
    if (link === undefined) return;
    options.onChange?.(undefined);
    log(`parent link: closed here (${why})`);
    await link.close().catch(() => {});
  };
  let ildcp: IldcpResponse;
  if (await options.lock.tryHold()) {
    ildcp = (await take()).ildcp;
    log("parent link: held by this process");
  } else {
    const waitMs = options.addressWaitMs ?? 60_000;
    const started = Date.now();
    let saved = await options.lock.address();
    while (saved === undefined) {
      if (Date.now() - started > waitMs) {
        throw new SharedParentLinkError(
          `another process of this town holds its parent link and has not said the town's ` +
            `address in ${Math.round(waitMs / 1000)} s; is it up?`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
      saved = await options.lock.address();
    }
    ildcp = saved;
    log("parent link: held by another process of this town; parent-bound packets go there");
  }
  // One ask at a time: a slow database delays the next instead of stacking them.
  let asking: Promise<void> | undefined;
  const ask = async () => {
    let holds: boolean;
    try {
      holds = await options.lock.tryHold();
    } catch (err) {
      // The database cannot say: a holder keeps its link (no other process can take the lock
      // from the same database), a process without one waits.
      log(`parent link: cannot ask the lock: ${(err as Error).message}`);
      return;
    }
    if (closed) return;
    if (!holds) return await drop("another process of this town holds it now");
    if (held !== undefined) return;
    try {
      await take();
      log("parent link: taken over by this process");
    } catch (err) {
      log(`parent link: cannot dial the parent: ${(err as Error).message}`);
    }
  };
  const timer = setInterval(() => {
    if (asking === undefined && !closed) asking = ask().finally(() => asking = undefined);
  }, options.intervalMs ?? 1_000);
  Deno.unrefTimer(timer);
  return {
    ildcp,
    current: () => held,
    close: async () => {
      closed = true;
      clearInterval(timer);
      await asking;
      await drop("the process stops");
    },
  };
}
