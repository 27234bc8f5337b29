/**
 * `turnpike beads sync --rig <rig> [--once | --follow]`: a rig's beads shared through the
 * profile's towns (docs/AGENTS.md "Beads across machines", docs/PROTOCOL.md "Beads as events").
 * Reads `bd`'s JSON, publishes the beads changed since the last pass (paid writes by the
 * profile's node), reads the members' beads from the towns (free reads), merges them by their
 * versions and writes the result back with `bd`'s CLI (roles/beads/bead_sync.ts).
 *
 * The rig's members, to whom each bead is sealed and whose beads are read: this profile, every
 * `--member`, with `--roster` the Mayor's roster (its kind 3), and the worker keys this profile
 * introduced for the rig (`gt/introduced.json`, addresses `<rig>/...`).
 *
 * @module
 */
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { callRequesterNode } from "./job_command.ts";
import {
  addRequesterConnectionOptions,
  loadRequesterConfig,
  type RequesterCliOptions,
} from "./job_read_command.ts";
import { recipientHex } from "./dm_command.ts";
import { printJsonLine } from "./json_line.ts";
import { loadNodeSigner } from "./node_identity.ts";
import { stopSignal } from "./stop_signal.ts";
import { BeadEventError, checkRig } from "../protocol/bead_event.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import { authenticateWith } from "../protocol/nip42_auth.ts";
import { BdCli, BdCommandError } from "../roles/beads/bd_cli.ts";
import type { PublishedBead } from "../roles/beads/bead_publish.ts";
import { type BeadSyncSummary, syncBeadsOnce } from "../roles/beads/bead_sync.ts";
import { readRigBeads } from "../roles/beads/rig_beads_read.ts";
import { readIntroducedWorkers } from "../roles/requester/worker_desk.ts";
import { readRoster } from "../roles/requester/worker_lookup.ts";
import type { RequesterSettings } from "../config/requester_settings.ts";

interface BeadsSyncOptions extends RequesterCliOptions {
  rig: string;
  once?: boolean;
  follow?: boolean;
  interval: string;
  member?: string[];
  roster?: boolean;
  bd?: string;
}

/** Bytes of events handed to the node in one request (its lines are capped at 1 MiB). */
const PUBLISH_BATCH_BYTES = 512 * 1024;

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * Registers `turnpike beads ...`.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * import { registerBeadsCommand } from "./beads_command.ts";
 *
 * registerBeadsCommand(new Command("turnpike"));
 * ```
 */
export function registerBeadsCommand(program: Command): void {
  const beads = program.command("beads").description(
    "Gas Town beads shared through the towns, encrypted to the rig's members",
  );
  addRequesterConnectionOptions(
    beads.command("sync")
      .description("publish bd's changed beads, read the members', merge, write back into bd")
      .requiredOption("--rig <rig>", "the rig whose beads are synced")
      .option("--once", "one pass, then exit (the default)")
      .option("--follow", "a pass every --interval until stopped")
      .option("--interval <seconds>", "between passes with --follow", "5")
      .option("--member <npub>", "a member of the rig (repeatable)", collect)
      .option("--roster", "the Mayor's roster (its kind 3) are members too")
      .option("--bd <path>", "the bd to run (default $TURNPIKE_BD, else bd on PATH)"),
  ).action(async (_o: unknown, cmd: Command) => {
    await sync(cmd.optsWithGlobals<BeadsSyncOptions>(), cmd);
  });
}

const towns = (config: RequesterSettings) => [
  config.relayUrl,
  ...(config.moreTowns ?? []).map((t) => t.relayUrl),
];

async function sync(opts: BeadsSyncOptions, cmd: Command): Promise<void> {
  try {
    checkRig(opts.rig);
  } catch (err) {
    if (!(err instanceof BeadEventError)) throw err;
    throw new CliError(err.message, { exitCode: ExitCode.Usage });
  }
  const interval = Number(opts.interval);
  if (!(interval > 0)) {
    throw new CliError(`--interval must be seconds above 0, got ${opts.interval}`, {
      exitCode: ExitCode.Usage,
    });
  }
  const json = opts.output === "json";
  const config = await loadRequesterConfig(opts, cmd);
  const signer = await loadNodeSigner({
    ...opts,
    stateDir: config.stateDir,
    who: "the rig member",
  });
  try {
    const members = new Set((opts.member ?? []).map(recipientHex));
    if (opts.roster) {
      for (const p of await readRoster(towns(config), signer.pubkey)) members.add(p);
    }
    for (const [key, w] of Object.entries(await readIntroducedWorkers(config.stateDir))) {
      if (w.address.startsWith(`${opts.rig}/`)) members.add(key);
    }
    const bd = new BdCli({ bd: opts.bd ?? Deno.env.get("TURNPIKE_BD") ?? "bd" });
    const publish = async (events: NostrEvent[]): Promise<PublishedBead[]> => {
      const out: PublishedBead[] = [];
      for (const batch of batches(events)) {
        const request = { op: "gt" as const, action: { do: "publish" as const, events: batch } };
        for await (const line of callRequesterNode(opts, config, cmd, request)) {
          if (line.type === "gt") out.push(...line.published as PublishedBead[]);
        }
      }
      return out;
    };
    const pass = async (): Promise<BeadSyncSummary> => {
      const start = performance.now();
      const summary = await syncBeadsOnce({
        rig: opts.rig,
        stateDir: config.stateDir,
        signer,
        members: [...members],
        bd,
        publish,
        read: (authors) =>
          readRigBeads({
            relays: towns(config),
            rig: opts.rig,
            authors,
            authenticate: authenticateWith(signer),
          }),
        onPublished: (bead, p) => {
          if (json) printJsonLine("bead-published", { rig: opts.rig, bead, ...p });
        },
        onWritten: (bead, commands) => {
          if (json) printJsonLine("bead-written", { rig: opts.rig, bead, commands });
        },
        onSkipped: (bead, reason) => {
          if (json) printJsonLine("bead-skipped", { rig: opts.rig, bead, reason });
          else console.error(`${bead}: ${reason}`);
        },
      });
      const ms = Math.round(performance.now() - start);
      if (json) printJsonLine("beads-synced", { rig: opts.rig, ...summary, ms });
      else {
        console.log(
          `${opts.rig}: ${summary.beads} beads; published ${summary.published} ` +
            `(${summary.bytes} bytes, cost ${summary.cost}), merged ${summary.merged}, ` +
            `wrote ${summary.written} into bd (${summary.bdCommands} commands) in ${ms} ms`,
        );
      }
      return summary;
    };
    try {
      await pass();
      if (!opts.follow) return;
      const stopped = stopSignal();
      let stop = false;
      stopped.then(() => stop = true);
      while (!stop) {
        await Promise.race([stopped, new Promise((r) => setTimeout(r, interval * 1000))]);
        if (!stop) await pass();
      }
    } catch (err) {
      if (!(err instanceof BdCommandError)) throw err;
      throw new CliError(err.message, { code: "bd-failed", cause: err });
    }
  } finally {
    signer.close();
  }
}

/** `events` in runs of at most {@linkcode PUBLISH_BATCH_BYTES} of JSON. */
function batches(events: NostrEvent[]): NostrEvent[][] {
  const out: NostrEvent[][] = [];
  let size = 0;
  for (const e of events) {
    const n = JSON.stringify(e).length;
    if (out.length === 0 || size + n > PUBLISH_BATCH_BYTES) {
      out.push([]);
      size = 0;
    }
    out.at(-1)!.push(e);
    size += n;
  }
  return out;
}
