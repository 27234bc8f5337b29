/**
 * `turnpike requester`: a long-running requester. It resumes the profile's in-flight jobs
 * (re-subscribes from their last seen time, pays nothing twice, runs no callback twice,
 * continues chains) and follows them until Ctrl-C / SIGTERM. Jobs are posted with
 * `turnpike job submit` (from this process's state dir). One long-running role per state dir:
 * a second one on it exits 1 naming the first's pid (`state/state_dir_lock.ts`).
 *
 * @module
 */
import type { Command } from "commander";
import { stopSignal } from "./stop_signal.ts";
import { holdStateDir } from "./hold_state_dir.ts";
import {
  addRequesterConnectionOptions,
  loadRequesterConfig,
  openRequester,
  type RequesterCliOptions,
} from "./job_command.ts";

/**
 * Registers `turnpike requester`.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerRequesterCommand(new Command("turnpike"));
 * ```
 */
export function registerRequesterCommand(program: Command): void {
  addRequesterConnectionOptions(
    program.command("requester").description(
      "run a requester: resume and follow in-flight jobs (Ctrl-C stops it)",
    ),
  ).action(async (_o: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<RequesterCliOptions>();
    const json = opts.output === "json";
    // Listening before anything starts: a Ctrl-C during start-up stops it cleanly too.
    const stopped = stopSignal();
    const config = await loadRequesterConfig(opts, cmd);
    // Before the passphrase prompt and the first write; held until the requester has closed.
    // `job submit` and the other short-lived commands do not take it and keep working.
    await using _lock = await holdStateDir(config.stateDir, "requester");
    const req = await openRequester(opts, cmd, {
      config,
      onProgress: (p) =>
        console.log(
          json
            ? JSON.stringify(p)
            : `${p.jobId.slice(0, 12)} ${p.status}${p.detail ? `  ${p.detail}` : ""}`,
        ),
    });
    const line = { event: "requester-up", pubkey: req.pubkey, following: req.activeJobs };
    console.log(
      json
        ? JSON.stringify(line)
        : `requester up: ${req.pubkey}, following ${req.activeJobs} job(s)`,
    );
    await stopped;
    await req.close();
  });
}
