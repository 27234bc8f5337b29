/**
 * `turnpike town migrate --to postgres://...`: copies a town's SQLite event store
 * (`<state dir>/town-events.sqlite`) into a PostgreSQL store, so the town can go on as several
 * processes on it (docs/OPERATIONS.md, "A town on several machines"). It holds the state dir
 * (the town must be stopped) and can be run again: events already copied count as duplicates.
 * SPSP grants need no copy (they derive from the town's key); the blob index and the channel
 * books stay per process (a town on a shared store takes neither), so they are not copied.
 *
 * @module
 */
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { holdStateDir } from "./hold_state_dir.ts";
import { settingsFlagsFrom } from "./settings_flags.ts";
import { loadSettings } from "../config/settings.ts";
import { openEventStore } from "../state/event_store.ts";
import { copyEventStore } from "../state/event_store_copy.ts";
import { pathExists } from "../state/path_exists.ts";
import {
  openPostgresEventStore,
  PostgresStoreError,
  redactUrl,
} from "../state/postgres_event_store.ts";

interface TownMigrateOptions {
  to: string;
  output?: "text" | "json" | "csv";
  stateDir?: string;
  profile?: string;
}

/**
 * Adds `migrate` under `town`.
 *
 * @example
 * ```ts
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
    const seconds = (performance.now() - started) / 1000;
    if (opts.output === "json") {
      console.log(JSON.stringify({ event: "town-migrated", read, outcomes, seconds }));
    } else {
      console.log(
        `Copied ${read} events from ${path} to ${redactUrl(opts.to)} in ${seconds.toFixed(1)} s: ` +
          Object.entries(outcomes).map(([k, v]) => `${v} ${k}`).join(", "),
      );
      console.log(`Next: turnpike town up --store ${redactUrl(opts.to)} (each process)`);
    }
  } finally {
    source.close();
    await target.close();
  }
}
