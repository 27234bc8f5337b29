/**
 * One pass of `turnpike beads sync` (docs/AGENTS.md "Beads across machines", docs/PROTOCOL.md
 * "Beads as events"), in this order, so a pass killed anywhere loses nothing and pays nothing
 * twice (roles/beads/bead_sync_file.ts):
 *
 * 1. the outbox a killed pass left is sent again (a stored event is a free `duplicate`);
 * 2. `bd`'s beads are read and what changed since the last pass is written as new versions
 *    (roles/beads/bead_state.ts), before anything is read from the towns, so concurrent edits
 *    meet on their versions and not on which machine synced first;
 * 3. each changed bead's state is sealed to the members and signed, the events put in the
 *    outbox and the file written, then the events published through the profile's node;
 * 4. the members' events are read from the towns and merged (an event merged once is skipped);
 * 5. `bd` is made to show the merged beads: fields and labels first, then, once every bead
 *    exists, dependencies and comments.
 *
 * A pass with no change in `bd` and none on the towns writes nothing and pays nothing.
 *
 * @module
 */
import { beadAddress, beadTemplate } from "../../protocol/bead_event.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { type BdCli, issueView, SYNCED_FIELDS } from "./bd_cli.ts";
import {
  type BeadView,
  commentsByKey,
  mergeBeads,
  recordLocalChanges,
  viewOf,
} from "./bead_state.ts";
import { BeadSealError, cachedConversationKeys, openBead, sealBead } from "./bead_seal.ts";
import {
  type BeadRecord,
  type BeadSyncFile,
  readBeadSyncFile,
  writeBeadSyncFile,
} from "./bead_sync_file.ts";
import type { PublishedBead } from "./bead_publish.ts";
import type { RigBeadsRead } from "./rig_beads_read.ts";

/** Options for {@linkcode syncBeadsOnce}. */
export interface BeadSyncOptions {
  rig: string;
  /** The profile's state dir (the sync file). */
  stateDir: string;
  /** The profile's key: signs, and opens the members' events. */
  signer: Pick<NodeSigner, "pubkey" | "signEvent" | "conversationKey">;
  /** The rig's members (hex), this profile included or not: each event is sealed to them all. */
  members: string[];
  bd: BdCli;
  /** Pays for and stores events (through the profile's node). */
  publish: (events: NostrEvent[]) => Promise<PublishedBead[]>;
  /** Reads the members' events of the rig from the towns. */
  read: (authors: string[]) => Promise<RigBeadsRead>;
  /** Told of each event published. */
  onPublished?: (bead: string, published: PublishedBead) => void;
  /** Told of each bead written into `bd` (how many `bd` commands). */
  onWritten?: (bead: string, commands: number) => void;
  /** Told of a bead that could not be written into `bd` or an event that could not be opened. */
  onSkipped?: (bead: string, reason: string) => void;
  /** Seconds (tests). */
  now?: () => number;
}

/** What one pass did. */
export interface BeadSyncSummary {
  /** Beads in `bd` after the pass. */
  beads: number;
  /** Beads changed in `bd` since the last pass (published). */
  published: number;
  /** Events of the outbox sent again. */
  resent: number;
  /** Members' events merged. */
  merged: number;
  /** Beads written into `bd`. */
  written: number;
  /** `bd` commands that changed something. */
  bdCommands: number;
  /** Milliseconds spent waiting for `bd` (reads and writes). */
  bdMs: number;
  /** Bytes of the events published, and what they cost (base units). */
  bytes: number;
  cost: bigint;
  /** Bytes read from the towns. */
  readBytes: number;
}

const sameView = (x: BeadView, y: BeadView): boolean =>
  SYNCED_FIELDS.every((k) => x.fields[k] === y.fields[k]) &&
  x.labels.join("\n") === y.labels.join("\n") && x.deps.join("\n") === y.deps.join("\n") &&
  Object.keys(commentsByKey(x.comments)).sort().join("\n") ===
    Object.keys(commentsByKey(y.comments)).sort().join("\n");

/**
 * Runs one pass; see the module doc. It runs `bd` and pays a town: no example that runs here:
 * tests/e2e/beads_sync_test.ts.
 */
export async function syncBeadsOnce(options: BeadSyncOptions): Promise<BeadSyncSummary> {
  const { rig, stateDir } = options;
  const me = options.signer.pubkey;
  const keys = cachedConversationKeys(options.signer);
  const members = [...new Set([me, ...options.members])];
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const file = await readBeadSyncFile(stateDir, rig);
  const summary: BeadSyncSummary = {
    beads: 0,
    published: 0,
    resent: file.outbox.length,
    merged: 0,
    written: 0,
    bdCommands: 0,
    bdMs: 0,
    bytes: 0,
    cost: 0n,
    readBytes: 0,
  };
  const save = () => writeBeadSyncFile(stateDir, file);
  const send = async (f: BeadSyncFile) => {
    if (f.outbox.length === 0) return;
    const published = await options.publish(f.outbox);
    for (const [i, p] of published.entries()) {
      summary.bytes += p.bytes;
      summary.cost += BigInt(p.cost);
      options.onPublished?.(beadAddress(f.outbox[i]).id, p);
    }
    f.outbox = [];
    await save();
  };
  // 1. What a killed pass signed and may not have sent.
  await send(file);

  // 2. bd's changes since the last pass, as new versions.
  const bdStart = options.bd.ms;
  const issues = await options.bd.showAll();
  const views = new Map([...issues].map(([id, issue]) => [id, issueView(issue)]));
  const changed: string[] = [];
  for (const [id, view] of views) {
    const record: BeadRecord = file.beads[id] ??
      { state: { f: {}, l: {}, d: {}, m: {} }, merged: {} };
    // A member's bead a killed pass created in bd before noting so: bd is brought to the merged
    // state below, its half-written values not taken for edits.
    const unnoted = record.seen === undefined && Object.keys(record.state.f).length > 0;
    const local = recordLocalChanges({ state: record.state, now: view, seen: record.seen, me });
    record.seen = view;
    file.beads[id] = record;
    if (unnoted) continue;
    if (!local.changed) continue;
    record.state = local.state;
    changed.push(id);
  }

  // 3. Sealed, signed, kept, then sent.
  for (const id of changed) {
    const record = file.beads[id];
    const createdAt = Math.max(now(), (record.publishedAt ?? 0) + 1);
    const event = await options.signer.signEvent(beadTemplate({
      rig,
      id,
      members,
      content: await sealBead(record.state, members, keys),
      createdAt,
    }));
    record.publishedAt = createdAt;
    record.merged[me] = event.id;
    file.outbox.push(event);
  }
  summary.published = changed.length;
  await save();
  await send(file);

  // 4. The members' events, merged.
  const read = await options.read(members);
  summary.readBytes = read.bytes;
  for (const event of read.events) {
    let id: string;
    try {
      ({ id } = beadAddress(event));
    } catch {
      continue;
    }
    const record: BeadRecord = file.beads[id] ??= {
      state: { f: {}, l: {}, d: {}, m: {} },
      merged: {},
    };
    if (event.pubkey === me) {
      record.publishedAt = Math.max(record.publishedAt ?? 0, event.created_at);
    }
    if (record.merged[event.pubkey] === event.id) continue;
    try {
      record.state = mergeBeads(record.state, await openBead(event, keys));
    } catch (err) {
      if (!(err instanceof BeadSealError)) throw err;
      options.onSkipped?.(id, err.message);
      continue;
    }
    record.merged[event.pubkey] = event.id;
    summary.merged++;
  }

  // 5. bd made to show the merged beads.
  const before = options.bd.writes;
  const wants = new Map<string, BeadView>();
  for (const [id, record] of Object.entries(file.beads)) {
    const want = viewOf(record.state);
    const had = views.get(id);
    if (want.fields.title === undefined) continue;
    if (had !== undefined && sameView(want, had)) continue;
    wants.set(id, want);
  }
  const failed = new Set<string>();
  const commands = new Map<string, number>();
  for (const pass of ["fields", "links"] as const) {
    for (const [id, want] of wants) {
      if (failed.has(id)) continue;
      const record = file.beads[id];
      const had = record.seen === undefined ? undefined : views.get(id);
      const start = options.bd.writes;
      try {
        if (pass === "fields") await options.bd.writeFields(id, want, had);
        else await options.bd.writeLinks(id, want, had);
      } catch (err) {
        failed.add(id);
        options.onSkipped?.(id, (err as Error).message);
        continue;
      }
      commands.set(id, (commands.get(id) ?? 0) + options.bd.writes - start);
      if (pass === "fields" && had === undefined) {
        // Created: its links are written against an empty bead.
        const created = { fields: want.fields, labels: want.labels, deps: [], comments: [] };
        views.set(id, created);
        record.seen = created;
      }
      if (pass === "links") {
        record.seen = want;
        summary.written++;
        options.onWritten?.(id, commands.get(id)!);
      }
    }
  }
  summary.bdCommands = options.bd.writes - before;
  summary.bdMs = Math.round(options.bd.ms - bdStart);
  summary.beads = Object.values(file.beads).filter((r) => r.seen !== undefined).length;
  await save();
  return summary;
}
