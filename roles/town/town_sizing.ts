/**
 * The first step of a town's start-up: the limits this process enforces. The open-file limit is
 * raised and sizes the connection caps unless configured; on several processes each enforces
 * its share of the town-wide limits (roles/town/town_share.ts), except connections per address,
 * counted town-wide in the database (docs/OPERATIONS.md "A town on several machines").
 *
 * @module
 */
import {
  DEFAULT_TOWN_LIMITS,
  resolveTownLimits,
  type TownLimits,
} from "../../config/town_limits.ts";
import type { TownSettings } from "../../config/town_settings.ts";
import { type OpenFileLimit, raiseOpenFileLimit } from "../../transport/open_file_limit.ts";
import { shareOfTownLimits } from "./town_share.ts";

/** What {@linkcode sizeTownLimits} decided. */
export interface TownSizing {
  /** The open-file limit after raising it; undefined where it cannot be read. */
  fileLimit: OpenFileLimit | undefined;
  /** The town-wide limits (held town-wide in the database on a shared store). */
  townLimits: TownLimits;
  /** What this process enforces itself. */
  limits: TownLimits;
  /**
   * Connections per address the other processes may hold while the database cannot be reached
   * (each process then holds to its share of the cap).
   */
  unknownElsewhere: number;
}

/**
 * Raises the open-file limit and resolves the limits this process enforces; logs the open-file
 * limit and the connection cap.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sizeTownLimits } from "./town_sizing.ts";
 *
 * const lines: string[] = [];
 * const { limits } = sizeTownLimits({ limits: { maxConnections: 100 } }, false, (l) => lines.push(l));
 * assert(limits.maxConnections <= 100); // at most what the open-file limit allows
 * assert(lines.length > 0);
 * ```
 */
export function sizeTownLimits(
  config: Pick<TownSettings, "limits" | "storeProcesses">,
  onSharedStore: boolean,
  log: (line: string) => void,
): TownSizing {
  const fileLimit = raiseOpenFileLimit();
  const townLimits = resolveTownLimits(sizedToFiles(config.limits ?? {}, fileLimit));
  const shares = shareOfTownLimits(townLimits, onSharedStore ? config.storeProcesses ?? 1 : 1);
  // On a shared store connections per address are counted town-wide (a slot taken in the
  // database at accept, state/postgres/postgres_connection_counts.ts): each takes the full cap.
  const limits = onSharedStore
    ? { ...shares, maxConnectionsPerAddress: townLimits.maxConnectionsPerAddress }
    : shares;
  if (fileLimit) {
    log(
      `open files: ${fileLimit.soft} (hard ${fileLimit.hard}); ` +
        `${limits.maxConnections} connections per port`,
    );
  }
  // While the database cannot be reached each process holds to its share of the cap.
  const unknownElsewhere = limits.maxConnectionsPerAddress - shares.maxConnectionsPerAddress;
  return { fileLimit, townLimits, limits, unknownElsewhere };
}

/**
 * The connection cap of each port, unless configured: at most a third of the open-file limit
 * each, so both ports full still leave descriptors for the store, blobs and outbound links.
 */
function sizedToFiles(
  overrides: Partial<TownLimits>,
  fileLimit: OpenFileLimit | undefined,
): Partial<TownLimits> {
  if (overrides.maxConnections !== undefined || fileLimit === undefined) return overrides;
  const share = Math.floor((fileLimit.soft - 128) / 3);
  return {
    ...overrides,
    maxConnections: Math.max(16, Math.min(DEFAULT_TOWN_LIMITS.maxConnections, share)),
  };
}
