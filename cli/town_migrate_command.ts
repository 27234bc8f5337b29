/**
 * `turnpike town migrate --to postgres://...`: copies a town's SQLite event store
 * (`<state dir>/town-events.sqlite`) into a PostgreSQL store, so the town can go on as several
 * processes on it (docs/OPERATIONS.md, "A town on several machines"), with its blob index
 * (blobs, owners, paid allowances: state/postgres/postgres_blob_index.ts; the bytes stay in the state
 * dir, whose process is recorded as their holder when it starts on the store) and the claim
 * books of its payment channel peers (the newest claim of each channel file:
 * state/postgres/postgres_claim_books.ts). It holds the state dir (the town must be stopped) and can be
 * run again: events already copied count as duplicates, rows already there are kept (a book
 * only moves to a newer claim). SPSP grants need no copy: their secrets derive from the town's
 * key and the destination's tag alone.
 *
 * @module
 */
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { holdStateDir } from "./hold_state_dir.ts";
import { settingsFlagsFrom } from "./settings_flags.ts";
import { loadSettings } from "../config/settings.ts";
import { openEventStore } from "../state/events/event_store.ts";
import { copyEventStore } from "../state/events/event_store_copy.ts";
import { pathExists } from "../state/path_exists.ts";
import { openBlobStore } from "../state/blobs/blob_store.ts";
import type { PostgresBlobIndex } from "../state/postgres/postgres_blob_index.ts";
import { listChannels } from "../state/channels/channel_file.ts";
import type { ClaimBook } from "../state/channels/channel_book.ts";
import type { GlobalOptions } from "./global_options.ts";
import { printJsonLine } from "./json_line.ts";
import { lazyImport } from "./lazy_import.ts";

interface TownMigrateOptions extends GlobalOptions {
  to: string;
}

/**
 * The PostgreSQL wrappers the migration uses, loaded when it runs: `town up` registers this
 * command and a SQLite town does not load them (docs/SCALE.md "An idle town's memory").
 */
function postgresModules() {
  return Promise.all([
    lazyImport<typeof import("../state/postgres/postgres_event_store.ts")>(
      new URL("../state/postgres/postgres_event_store.ts", import.meta.url),
    ),
    lazyImport<typeof import("../state/postgres/postgres_blob_index.ts")>(
      new URL("../state/postgres/postgres_blob_index.ts", import.meta.url),
    ),
    lazyImport<typeof import("../state/postgres/postgres_claim_books.ts")>(
      new URL("../state/postgres/postgres_claim_books.ts", import.meta.url),
    ),
  ]);
}

/**
 * Adds `migrate` under `town`.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 *
 * const program = new Command("turnpike");
 * registerTownMigrate(program.command("town"));
 * ```
 */
export function registerTownMigrate(town: Command): void {
  town.command("migrate")
    .description("copy this town's SQLite events into a PostgreSQL store (town stopped)")
    .requiredOption("--to <url>", "postgres://user@host:port/db")
    .action(async (_o: unknown, cmd: Command) => {
      await townMigrate(cmd.optsWithGlobals<TownMigrateOptions>(), cmd);
    });
}

async function townMigrate(opts: TownMigrateOptions, cmd: Command): Promise<void> {
  const [{ openPostgresEventStore, PostgresStoreError, redactUrl }] = await postgresModules();
  if (!/^postgres(ql)?:\/\/\S+$/.test(opts.to)) {
    throw new CliError(`--to must be a PostgreSQL URL, got "${redactUrl(opts.to)}"`, {
      exitCode: ExitCode.Usage,
    });
  }
  const loaded = await loadSettings({ flags: settingsFlagsFrom(opts, cmd, []) });
  const stateDir = loaded.settings.stateDir;
  const path = `${stateDir}/town-events.sqlite`;
  if (!(await pathExists(path))) {
    throw new CliError(`no town event store at ${path}`, {
      suggestion: "pick the town's profile (--profile / --state-dir)",
      exitCode: ExitCode.Usage,
    });
  }
  await using _lock = await holdStateDir(stateDir, "town migrate");
  const source = openEventStore({ path });
  let target;
  try {
    target = await openPostgresEventStore({ url: opts.to });
  } catch (err) {
    source.close();
    if (!(err instanceof PostgresStoreError)) throw err;
    throw new CliError(err.message, {
      suggestion: "start it (`turnpike db up`) or check the URL",
      cause: err,
    });
  }
  try {
    const started = performance.now();
    const { read, outcomes } = await copyEventStore(source, target, {
      onProgress: (n) => {
        if (opts.output !== "json" && n % 10_000 === 0) console.error(`${n} events read`);
      },
    });
    const blobs = await copyBlobIndex(stateDir, target.sql);
    const books = await copyClaimBooks(stateDir, opts.to);
    const seconds = (performance.now() - started) / 1000;
    if (opts.output === "json") {
      printJsonLine("town-migrated", {
        event: "town-migrated",
        read,
        outcomes,
        blobs,
        books,
        seconds,
      });
    } else {
      console.log(
        `Copied ${read} events from ${path} to ${redactUrl(opts.to)} in ${seconds.toFixed(1)} s: ` +
          Object.entries(outcomes).map(([k, v]) => `${v} ${k}`).join(", "),
      );
      console.log(
        `Copied the blob index (${blobs.blobs} blobs, ${blobs.owners} owners, ` +
          `${blobs.allowances} paid allowances; the bytes stay in ${stateDir}/blobs) and ` +
          `${books} channel books`,
      );
      console.log(`Next: turnpike town up --store ${redactUrl(opts.to)} (each process)`);
    }
  } finally {
    source.close();
    await target.close();
  }
}

/** The blob index of the state dir's blob store into the database's (the bytes stay). */
async function copyBlobIndex(
  stateDir: string,
  sql: Parameters<typeof PostgresBlobIndex.open>[0],
): Promise<{ blobs: number; owners: number; allowances: number }> {
  if (!(await pathExists(`${stateDir}/blobs/index.sqlite`))) {
    return { blobs: 0, owners: 0, allowances: 0 };
  }
  const local = await openBlobStore({ dir: `${stateDir}/blobs` });
  try {
    const rows = local.exportRows();
    const [, { PostgresBlobIndex: BlobIndex }] = await postgresModules();
    await (await BlobIndex.open(sql)).importRows(rows);
    return {
      blobs: rows.blobs.length,
      owners: rows.owners.length,
      allowances: rows.allowances.length,
    };
  } finally {
    local.close();
  }
}

/**
 * The newest claim each channel file holds from its peer into the shared books (as the town
 * resumes from it: what was forwarded counts as claimed); a book already newer is kept.
 */
async function copyClaimBooks(stateDir: string, url: string): Promise<number> {
  const received = (await listChannels(stateDir)).filter((r) =>
    r.receivedNonce > 0n || r.peerWithdrawn > 0n
  );
  if (received.length === 0) return 0;
  const [, , { openPostgresClaimBooks }] = await postgresModules();
  const books = await openPostgresClaimBooks({ url });
  try {
    for (const r of received) {
      const seed: ClaimBook = {
        channelId: r.channelId,
        nonce: r.receivedNonce,
        claimed: r.received,
        signature: r.receivedSignature,
        forwarded: r.received,
        peerWithdrawn: r.peerWithdrawn,
      };
      await books.update(r.channelId, seed, (prev) =>
        prev.nonce >= seed.nonce ? prev : {
          ...seed,
          forwarded: prev.forwarded > seed.forwarded ? prev.forwarded : seed.forwarded,
        });
    }
    return received.length;
  } finally {
    await books.close();
  }
}
