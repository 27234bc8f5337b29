/**
 * `job wait` of a job still in flight (cli/job_read_command.ts reads one that has ended): the
 * profile's node follows it and this command prints its lines. Following only reads (the node
 * follows and pays its jobs whether or not a command waits, roles/requester/node_server.ts), so
 * it needs no passphrase while the node runs; only a node that has to be started (to resume the
 * job, and pay it) needs the wallet's key. With no passphrase source the command does not prompt:
 * it says what to do (docs/AGENTS.md "Following any job").
 *
 * @module
 */
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { callNode, mayAskNextNode } from "./node_call.ts";
import { nodeHello } from "./profile_node.ts";
import { lazyImport } from "./lazy_import.ts";
import { networkField } from "./network_line.ts";
import { printWaiting, progressPrinter } from "./job_progress_print.ts";
import { printOutcome, type RequesterCliOptions } from "./job_read_command.ts";
import type { RequesterSettings } from "../config/requester_settings.ts";
import type { RequesterJobRecord } from "../state/jobs/job_record.ts";
import type { JobProgress } from "../roles/requester/requester_node.ts";

/** The options `job wait` follows a job with. */
export interface FollowJobOptions extends RequesterCliOptions {
  /** Exit 0 when the job is done even if its report says it failed. */
  ignoreVerdict?: boolean;
}

/**
 * Whether the command was given a passphrase it can read without asking (a file, a descriptor,
 * `TURNPIKE_PASSPHRASE_FILE`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasPassphraseSource } from "./job_follow.ts";
 *
 * assert.ok(hasPassphraseSource({ passphraseFile: "/run/secrets/pw" }, () => undefined));
 * assert.ok(!hasPassphraseSource({}, () => undefined));
 * ```
 */
export function hasPassphraseSource(
  opts: Pick<RequesterCliOptions, "passphraseFile" | "passphraseFd">,
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): boolean {
  return opts.passphraseFile !== undefined || opts.passphraseFd !== undefined ||
    !!env("TURNPIKE_PASSPHRASE_FILE");
}

/**
 * Follows a job in flight through the profile's node and prints its lines: the running node's,
 * with no passphrase; else a node started with the passphrase given (never a prompt); else
 * `node-unreachable`, saying how to start it.
 *
 * It follows a job on the profile's node and town, so it has no example that runs here:
 * tests/e2e/followed_job_liveness_test.ts
 * @throws {CliError} `node-unreachable` when no node runs and no passphrase source is given; as
 * `printOutcome` for a job that did not end `done`.
 */
export async function followJob(
  id: string,
  opts: FollowJobOptions,
  config: RequesterSettings,
  cmd: Command,
): Promise<void> {
  const json = opts.output === "json";
  const network = networkField(config.network);
  const progress = progressPrinter(json);
  for await (const line of waitLines(id, opts, config, cmd)) {
    if (line.type === "record" && !json) {
      console.error(`job ${id} ${(line.record as RequesterJobRecord | null)?.status}`);
    } else if (line.type === "progress") progress(line.progress as JobProgress);
    else if (line.type === "waiting") printWaiting(line, json);
    else if (line.type === "chain") {
      await printOutcome(config.stateDir, line.records as RequesterJobRecord[], {
        json,
        network,
        ignoreVerdict: opts.ignoreVerdict,
      });
    }
  }
}

/**
 * The node's lines for a `wait`: the running node's (no proof needed); a node that was stopping
 * or went before it read the request did nothing, so the next one is asked.
 */
async function* waitLines(
  id: string,
  opts: FollowJobOptions,
  config: RequesterSettings,
  cmd: Command,
): AsyncGenerator<Record<string, unknown>> {
  const request = { op: "wait" as const, id };
  for (let tries = 1; (await nodeHello(config.stateDir)) !== undefined; tries++) {
    let answered = false;
    try {
      for await (const line of callNode(config.stateDir, request)) {
        answered = true;
        yield line;
      }
      return;
    } catch (err) {
      if (!mayAskNextNode(err, answered, tries)) throw err;
    }
  }
  if (hasPassphraseSource(opts)) {
    const { callRequesterNode } = await lazyImport<typeof import("./job_command.ts")>(
      new URL("./job_command.ts", import.meta.url),
    );
    return yield* callRequesterNode(opts, config, cmd, request);
  }
  throw new CliError(`job ${id} is in flight and the profile's node is not running`, {
    context: config.stateDir,
    code: "node-unreachable",
    suggestion: "the node follows and pays the job once started with the wallet's key: " +
      `\`turnpike job wait ${id.slice(0, 12)} --passphrase-file <file>\` ` +
      "(or --passphrase-fd, TURNPIKE_PASSPHRASE_FILE) starts it and follows the job",
  });
}
