/**
 * What `turnpike beads sync` keeps in the profile per rig (`<state dir>/beads/<rig>.json`,
 * written atomically): each bead's merged state, what `bd` showed after the last sync, the event
 * of each member merged into it, the `created_at` of this profile's last version of it, and the
 * outbox: events signed and not yet known stored. The outbox is written before its events are
 * sent and emptied once they are stored, so a sync killed in between sends the same events again
 * (a town answers a stored one `duplicate` and takes no fee) and signs nothing new for them.
 *
 * @module
 */
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { writeFileAtomic } from "../../state/atomic_file.ts";
import type { BeadState, BeadView } from "./bead_state.ts";

/** One bead as the sync keeps it. */
export interface BeadRecord {
  /** The merged state. */
  state: BeadState;
  /** What `bd` showed after the last sync (none: not in `bd` yet). */
  seen?: BeadView;
  /** The event of each member merged, by author. */
  merged: Record<string, string>;
  /** `created_at` of this profile's last version (the next is later). */
  publishedAt?: number;
}

/** A rig's sync file. */
export interface BeadSyncFile {
  v: 1;
  rig: string;
  beads: Record<string, BeadRecord>;
  outbox: NostrEvent[];
}

/**
 * The path of a rig's sync file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { beadSyncPath } from "./bead_sync_file.ts";
 *
 * assert.equal(beadSyncPath("/home/me/.turnpike/alice", "myrig"), "/home/me/.turnpike/alice/beads/myrig.json");
 * ```
 */
export function beadSyncPath(stateDir: string, rig: string): string {
  return `${stateDir}/beads/${rig}.json`;
}

/**
 * A rig's sync file, empty when there is none yet.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readBeadSyncFile } from "./bead_sync_file.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const file = await readBeadSyncFile(stateDir, "myrig");
 * assert.deepEqual(file, { v: 1, rig: "myrig", beads: {}, outbox: [] });
 * await Deno.remove(stateDir);
 * ```
 */
export async function readBeadSyncFile(stateDir: string, rig: string): Promise<BeadSyncFile> {
  try {
    return JSON.parse(await Deno.readTextFile(beadSyncPath(stateDir, rig)));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { v: 1, rig, beads: {}, outbox: [] };
    throw err;
  }
}

/**
 * Writes a rig's sync file atomically.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readBeadSyncFile, writeBeadSyncFile } from "./bead_sync_file.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const file = { v: 1 as const, rig: "myrig", beads: {}, outbox: [] };
 * await writeBeadSyncFile(stateDir, file);
 * assert.deepEqual(await readBeadSyncFile(stateDir, "myrig"), file);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function writeBeadSyncFile(stateDir: string, file: BeadSyncFile): Promise<void> {
  await Deno.mkdir(`${stateDir}/beads`, { recursive: true });
  await writeFileAtomic(beadSyncPath(stateDir, file.rig), JSON.stringify(file));
}
