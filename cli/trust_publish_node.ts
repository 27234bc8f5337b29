/**
 * Which node `trust publish` asks to sign and pay for its assertions: a provider's `node up` when
 * one holds the profile's state dir (on its socket, roles/provider/trust_socket.ts), else the
 * profile's requester node (found or started, cli/profile_node.ts).
 *
 * @module
 */
import type { Command } from "commander";
import type { RequesterSettings } from "../config/requester_settings.ts";
import type { RequesterCliOptions } from "./job_read_command.ts";
import type { NodeRequest } from "../roles/requester/node_server.ts";
import { callRequesterNode } from "./job_command.ts";
import { callNode, provePassphrase } from "./node_call.ts";
import { stateDirLockPath } from "../state/state_dir_lock.ts";
import { readLockHolder } from "../state/process_lock.ts";
import { trustSocketPath } from "../roles/provider/trust_socket.ts";

/** Sends one request to the node and yields its reply lines (`done` not included). */
export type TrustNodeCall = (request: NodeRequest) => AsyncGenerator<Record<string, unknown>>;

/**
 * The call to the node that serves this profile's `trust publish`.
 *
 * It asks the profile's node (a process), so it has no example that runs here:
 * tests/e2e/provider_trust_publish_test.ts
 */
export async function trustPublishNode(
  opts: RequesterCliOptions,
  config: RequesterSettings,
  cmd: Command,
): Promise<TrustNodeCall> {
  const holder = await readLockHolder(stateDirLockPath(config.stateDir));
  if (holder?.label !== "node up") return (r) => callRequesterNode(opts, config, cmd, r);
  // The request carries the proof of the passphrase, as a requester node's does.
  await provePassphrase(config.stateDir, opts);
  return (r) => callNode(config.stateDir, r, trustSocketPath(config.stateDir));
}
