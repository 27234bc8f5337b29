/**
 * `turnpike requester`: the profile's node in the foreground (docs/ARCHITECTURE.md "The
 * profile's node"). It resumes the profile's in-flight jobs (re-subscribes from their last seen
 * time, pays nothing twice, runs no callback twice, continues chains), follows and pays them,
 * and serves the profile's commands (`job submit|wait|cancel`, `dm send`) on
 * `<state dir>/node.sock` until Ctrl-C / SIGTERM / `turnpike node stop`. One node per state
 * dir: a second one exits 1 naming the first's pid (`state/state_dir_lock.ts`).
 *
 * `--background` is how a command starts the node when none runs (`profile_node.ts`): the
 * passphrase comes on stdin, SIGINT and SIGHUP are ignored, and it stops by itself after
 * `node_idle_timeout` seconds with nothing in flight and no command connected.
 *
 * The node keeps the proof of the passphrase it unlocked the wallet with
 * (`identity/passphrase_proof.ts`) and serves a paying request only with the same proof: a
 * command with a wrong passphrase, or none, fails `passphrase` while the node runs too.
 *
 * @module
 */
import { type Command, Option } from "commander";
import { stopSignal } from "./stop_signal.ts";
import { holdStateDir } from "./hold_state_dir.ts";
import { cliErrorJson } from "./cli_error.ts";
import type { LoadNodeSignerOptions } from "./node_identity.ts";
import { asCliError, openRequester } from "./job_command.ts";
import {
  addRequesterConnectionOptions,
  loadRequesterConfig,
  type RequesterCliOptions,
} from "./job_read_command.ts";
import { nodeSettings } from "./profile_node.ts";
import { checkTownPrice } from "../roles/requester/town_link.ts";
import { type NodeServer, serveNode } from "../roles/requester/node_server.ts";
import { providerLiveness } from "../roles/requester/provider_liveness.ts";
import { passphraseError } from "./passphrase_error.ts";
import { jsonLine } from "./json_line.ts";
import { progressLine } from "./job_report.ts";
import { terminalText } from "./terminal_text.ts";

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
      "run the profile's node in the foreground: follow and pay its jobs, serve its commands " +
        "(Ctrl-C stops it)",
    ),
  ).addOption(new Option("--background", "started by a command: stop when idle").hideHelp())
    .action(async (_o: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<RequesterCliOptions & { background?: boolean }>();
      const background = opts.background === true;
      const json = opts.output === "json";
      // Listening before anything starts: a Ctrl-C during start-up stops it cleanly too. In the
      // background only SIGTERM stops it: a Ctrl-C meant for the command that started it, or a
      // closed terminal, must not end the jobs it follows.
      const stopped = background ? ignoreTerminalSignals() : stopSignal();
      const config = await loadRequesterConfig(opts, cmd);
      // Before the passphrase prompt and the first write; held until the node has closed.
      await using _lock = await holdStateDir(config.stateDir, "requester");
      let server: NodeServer | undefined;
      let proof: string | undefined;
      // Handed on to the wallet's unlock (openRequester passes its options to it).
      const unlock: RequesterCliOptions & Pick<LoadNodeSignerOptions, "onPassphraseProof"> = {
        ...opts,
        onPassphraseProof: (p) => proof = p,
      };
      const req = await openRequester(unlock, cmd, {
        config,
        warn: (line) => {
          console.error(terminalText(line));
          server?.broadcast(line);
        },
        onProgress: (p) => {
          server?.publish(p);
          console.log(
            json ? jsonLine("progress", { ...progressLine(p) }) : terminalText(
              `${p.jobId.slice(0, 12)} ${p.status}${p.detail ? `  ${p.detail}` : ""}`,
            ),
          );
        },
      });
      const stop = Promise.withResolvers<string>();
      try {
        if (proof === undefined) throw new Error("the wallet was unlocked without its proof");
        server = await serveNode({
          requester: req,
          stateDir: config.stateDir,
          settings: nodeSettings(config),
          proof,
          background,
          idleMs: config.nodeIdleTimeoutS * 1000,
          describeError: (err) => cliErrorJson(asCliError(passphraseError(err))),
          checkSubmit: (request) => {
            const warnings: string[] = [];
            checkTownPrice(req.town.pricePerByte, {
              priceCeiling: request.priceCeiling ?? config.priceCeiling,
              acceptPrice: request.acceptPrice ?? config.acceptPrice,
              alert: (kind, message, details) => req.raiseAlert(kind, message, details),
              warn: (line) => warnings.push(line),
            });
            return warnings;
          },
          onStop: (reason) => stop.resolve(reason),
          providerSilence: providerLiveness({
            relays: [config.relayUrl, ...(config.moreTowns ?? []).map((t) => t.relayUrl)],
          }),
        });
        const line = {
          event: "requester-up",
          pubkey: req.pubkey,
          following: req.activeJobs,
          pid: Deno.pid,
          socket: `${config.stateDir}/node.sock`,
        };
        console.log(
          json
            ? jsonLine("requester-up", line)
            : `requester up: ${req.pubkey}, following ${req.activeJobs} ` +
              `job(s), serving the profile's commands (pid ${Deno.pid})`,
        );
        const why = await Promise.race([stopped, stop.promise]);
        console.error(`requester: stopping (${why})`);
      } finally {
        await server?.close();
        await req.close();
      }
    });
}

/** SIGINT and SIGHUP ignored (listened to, nothing done); resolves on SIGTERM. */
function ignoreTerminalSignals(): Promise<string> {
  const ignore = () => {};
  Deno.addSignalListener("SIGINT", ignore);
  Deno.addSignalListener("SIGHUP", ignore);
  return new Promise((resolve) => {
    const onTerm = () => {
      Deno.removeSignalListener("SIGTERM", onTerm);
      resolve("SIGTERM");
    };
    Deno.addSignalListener("SIGTERM", onTerm);
  });
}
