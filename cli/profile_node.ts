/**
 * The commands' side of the profile's node (docs/ARCHITECTURE.md "The profile's node"): find
 * the node on `<state dir>/node.sock`, start one in the background when none runs (the wallet
 * unlocked once, in the node, with the passphrase this command read), send it a request and
 * read its reply lines. A node started with other settings than this command's (another town,
 * channel, spend policy...) is replaced when it has nothing in flight; else the command stops
 * with `node-busy` naming the settings that differ.
 *
 * Every paying command proves the passphrase to the node, running or not: the command reads the
 * passphrase, checks it against the wallet file and derives its proof
 * (`identity/passphrase_proof.ts`, Argon2id: about half a second), and every `submit`,
 * `cancel`, `late-result` and `dm` it sends carries the proof, which the node compares with the
 * one it derived at its unlock. A missing or wrong passphrase fails `passphrase` here, before any
 * request.
 *
 * The background node is `turnpike requester --background`: its output goes to
 * `<state dir>/node.log`, it runs in a session of its own (`setsid`), it ignores SIGINT and SIGHUP (a Ctrl-C in the shell that started it
 * stops the command, not the node), and it stops by itself after `node_idle_timeout` seconds
 * with no job in flight and no command connected, or on `turnpike node stop`.
 *
 * @module
 */
import { sleep } from "../protocol/backoff.ts";
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import type { PassphraseFlags } from "./node_identity.ts";
import { selfCommand } from "./self_command.ts";
import { NODE_LOCK_LABELS } from "./hold_state_dir.ts";
import type { NodeHello, NodeRequest } from "../roles/requester/node_server.ts";
import {
  callNode,
  mayAskNextNode,
  NODE_LOG_FILE,
  nodeError,
  provePassphrase,
} from "./node_call.ts";
import { stateDirLockPath } from "../state/state_dir_lock.ts";
import { type LockHolder, readLockHolder } from "../state/process_lock.ts";
import type { RequesterSettings } from "../config/requester_settings.ts";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { terminalText } from "./terminal_text.ts";

/** The lock a command holds while it starts the profile's node (released when it answers). */
const NODE_START_LOCK_FILE = "node.start.lock";

/** How long `node stop` waits for the node to let go of the state dir. */
const NODE_STOP_TIMEOUT_MS = 60_000;

/** A node log past this size is moved to `node.log.1` when the next node starts. */
const NODE_LOG_ROTATE_BYTES = 8 * 1024 * 1024;

/** How long a command waits for a node it started (unlock, town link, channel) to answer. */
const NODE_START_TIMEOUT_MS = 120_000;

/**
 * The settings a node and a command must agree on to share it: the resolved requester config
 * without what is checked per request (price ceiling, `--accept-price`) and the node's own idle
 * time; the BTP token as its SHA-256.
 *
 * It compares with a running node's hello, so it has no example that runs here:
 * tests/unit/roles/requester/node_stopping_test.ts
 */
export function nodeSettings(config: RequesterSettings): Record<string, unknown> {
  const { priceCeiling: _c, acceptPrice: _a, nodeIdleTimeoutS: _i, btpToken, ...rest } = config;
  const plain = JSON.parse(
    JSON.stringify(rest, (_k, v) => typeof v === "bigint" ? v.toString() : v),
  ) as Record<string, unknown>;
  return { ...plain, btpToken: bytesToHex(sha256(new TextEncoder().encode(btpToken))) };
}

/** The settings whose values differ between two {@linkcode nodeSettings}. */
function differingSettings(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}

/**
 * The node's `hello`, or undefined when no node answers on the socket.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nodeHello } from "./profile_node.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const hello = await nodeHello(stateDir);
 * assert(hello === undefined); // no node serves this profile
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function nodeHello(stateDir: string): Promise<NodeHello | undefined> {
  try {
    for await (const line of callNode(stateDir, { op: "hello" })) {
      if (line.type === "hello") return line as unknown as NodeHello;
    }
  } catch (err) {
    if (isNodeGone(err)) return undefined;
    throw err;
  }
  return undefined;
}

/** Whether the error says no node serves (none there, or one stopping). */
function isNodeGone(err: unknown): boolean {
  return err instanceof CliError &&
    (err.code === "node-unreachable" || err.code === "node-stopping");
}

/**
 * Asks the node to stop and waits until it has (its state dir lock released). False when no
 * node answered; a node that is not serving commands (`node up`, an older `requester`) is sent
 * SIGTERM through the pid in its lock file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stopProfileNode } from "./profile_node.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * assert.equal(await stopProfileNode(stateDir), false); // no node running
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function stopProfileNode(stateDir: string): Promise<boolean> {
  let asked = false;
  try {
    for await (const _ of callNode(stateDir, { op: "stop" })) asked = true;
  } catch (err) {
    if (!isNodeGone(err)) throw err;
  }
  const holder = await lockHolder(stateDir);
  if (!asked && holder === undefined) return false;
  // Only a node is sent SIGTERM: never another command that holds the lock for a moment.
  if (!asked && holder?.pid !== undefined && NODE_LOCK_LABELS.includes(holder.label ?? "")) {
    Deno.kill(holder.pid, "SIGTERM");
  }
  const deadline = Date.now() + NODE_STOP_TIMEOUT_MS;
  while ((await lockHolder(stateDir)) !== undefined) {
    if (Date.now() > deadline) {
      throw new CliError(
        `the profile's node did not stop within ${NODE_STOP_TIMEOUT_MS / 1000} s`,
        {
          context: `pid ${holder?.pid ?? "unknown"}`,
          code: "node-busy",
          suggestion: "it may be finishing a payment; try again, or kill it (its jobs resume)",
        },
      );
    }
    await sleep(50);
  }
  return true;
}

/** Who holds the state dir's lock, or undefined when nobody does. */
async function lockHolder(stateDir: string): Promise<LockHolder | undefined> {
  return await readLockHolder(stateDirLockPath(stateDir));
}

/** What {@linkcode ensureProfileNode} needs from the command. */
export interface EnsureProfileNodeOptions extends PassphraseFlags {
  config: RequesterSettings;
  /** The command, for its connection flags (handed on to a node it starts). */
  cmd: Command;
  /** The requester connection options' attribute names (`relayUrl`...). */
  connectionOptions: readonly string[];
  /** Human lines on stderr (starting, waiting). */
  quiet?: boolean;
}

/**
 * Makes sure a node with this command's settings serves the profile: the running one, or one
 * started in the background (the passphrase read here and handed to it on its stdin). The
 * passphrase is read and proven first, node running or not; {@linkcode callNode} then sends its
 * proof with every paying request.
 *
 * It starts the profile's node (a process), so it has no example that runs here:
 * tests/unit/roles/requester/node_stopping_test.ts
 * @throws {CliError} `node-busy` when a node with other settings has jobs in flight;
 * `passphrase` without a passphrase or with a wrong one; `no-identity` without a wallet.
 */
export async function ensureProfileNode(o: EnsureProfileNodeOptions): Promise<NodeHello> {
  const stateDir = o.config.stateDir;
  await provePassphrase(stateDir, o);
  const wanted = nodeSettings(o.config);
  let hello = await nodeHello(stateDir);
  if (hello !== undefined && differingSettings(hello.settings, wanted).length === 0) return hello;
  // One command at a time starts (or replaces) the node, holding this lock until it answers;
  // the others wait here, then find it.
  using _starting = await startLock(stateDir);
  hello = await nodeHello(stateDir);
  if (hello === undefined) {
    const holder = await lockHolder(stateDir);
    if (holder !== undefined && !/^requester/.test(holder.label ?? "")) {
      throw new CliError(`state dir in use by pid ${holder.pid ?? "unknown"}`, {
        context: stateDir,
        code: "node-busy",
        suggestion: `the \`turnpike ${holder.label ?? "?"}\` there does not serve job ` +
          "commands: use another --profile, or stop it first",
      });
    }
    // A node starting (its town link not up yet) or stopping: wait for it to answer or go.
    if (holder !== undefined) hello = await waitForNode(stateDir, undefined, o.quiet);
    if (hello === undefined) return await startBackgroundNode({ ...o, stateDir });
  }
  const differ = differingSettings(hello.settings, wanted);
  if (differ.length === 0) return hello;
  if (hello.activeJobs > 0 || !hello.background) {
    throw new CliError(
      `the profile's node (pid ${hello.pid}) runs with other settings: ${differ.join(", ")}`,
      {
        context: stateDir,
        code: "node-busy",
        suggestion: hello.background
          ? `it follows ${hello.activeJobs} job(s): run this command without the flags that ` +
            "differ, or `turnpike node stop` (its jobs resume at the next command)"
          : "that node runs in the foreground (`turnpike requester`): stop it, or use its settings",
        fields: { settings: differ, pid: hello.pid, activeJobs: hello.activeJobs },
      },
    );
  }
  if (!o.quiet) console.error(`node: restarting the profile's node for ${differ.join(", ")}`);
  await stopProfileNode(stateDir);
  return await startBackgroundNode({ ...o, stateDir });
}

/**
 * Sends a request to the profile's node as {@linkcode callNode} does, with a node made sure of
 * first ({@linkcode ensureProfileNode}); a node that refuses it because it is stopping (its idle
 * time ran out as the command found it) did nothing, nor one gone before the request reached it,
 * so the request goes to the next node.
 *
 * It asks the profile's node (a process), so it has no example that runs here:
 * tests/unit/roles/requester/node_stopping_test.ts
 * @throws {CliError} as {@linkcode ensureProfileNode} and {@linkcode callNode} do;
 * `node-stopping` when every node tried was stopping.
 */
export async function* callProfileNode(
  o: EnsureProfileNodeOptions,
  request: NodeRequest,
): AsyncGenerator<Record<string, unknown>> {
  for (let tries = 1;; tries++) {
    await ensureProfileNode(o);
    let answered = false;
    try {
      for await (const line of callNode(o.config.stateDir, request)) {
        answered = true;
        yield line;
      }
      return;
    } catch (err) {
      // Nothing was done by a node that refused as it stopped, or that the request never reached
      // (it went between the command's `hello` and the request): the next node gets it.
      if (!mayAskNextNode(err, answered, tries)) throw err;
      if (!o.quiet) console.error("node: the profile's node was stopping; asking the next one");
    }
  }
}

/**
 * Starts the profile's node again in the background as it was started before (its `hello`'s
 * arguments), after a command that had to stop it, such as `channel close`.
 *
 * It stops and starts the profile's node (a process), so it has no example that runs here:
 * tests/e2e/profile_node_test.ts
 */
export async function restartProfileNode(
  stateDir: string,
  stopped: NodeHello,
  passphrase: PassphraseFlags,
): Promise<NodeHello> {
  return await startBackgroundNode({
    ...passphrase,
    stateDir,
    connectionOptions: [],
    args: stopped.args,
  });
}

/** Takes the start lock, waiting for a command that holds it. */
async function startLock(stateDir: string): Promise<Deno.FsFile> {
  await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const file = await Deno.open(`${stateDir}/${NODE_START_LOCK_FILE}`, {
    create: true,
    write: true,
    mode: 0o600,
  });
  await file.lock(true);
  return file;
}

async function startBackgroundNode(
  o: PassphraseFlags & {
    stateDir: string;
    cmd?: Command;
    connectionOptions: readonly string[];
    quiet?: boolean;
    /** The node's whole argument list (a restart); default built from the command's flags. */
    args?: readonly string[];
  },
): Promise<NodeHello> {
  const stateDir = o.stateDir;
  // The same "no identity" and "passphrase" errors as every command, before spawning.
  const { passphrase } = await provePassphrase(stateDir, o);
  const logPath = `${stateDir}/${NODE_LOG_FILE}`;
  const size = await Deno.stat(logPath).then((s) => s.size, () => 0);
  if (size > NODE_LOG_ROTATE_BYTES) await Deno.rename(logPath, `${logPath}.1`).catch(() => {});
  const logFrom = size > NODE_LOG_ROTATE_BYTES ? 0 : size;
  const args = o.args !== undefined ? [...o.args] : [
    "--state-dir",
    stateDir,
    "--output",
    "json",
    "requester",
    "--background",
    "--passphrase-fd",
    "0",
  ];
  for (const name of o.cmd === undefined || o.args !== undefined ? [] : o.connectionOptions) {
    if (o.cmd!.getOptionValueSource(name) !== "cli") continue;
    const option = o.cmd!.options.find((opt) => opt.attributeName() === name);
    const value = o.cmd!.getOptionValue(name);
    if (!option?.long || /passphrase|non-interactive/.test(option.long)) continue;
    if (value === true) args.push(option.long);
    else if (Array.isArray(value)) { for (const v of value) args.push(option.long, String(v)); }
    else if (value !== undefined && value !== false) args.push(option.long, String(value));
  }
  const [exe, ...rest] = selfCommand(args);
  // `sh` sends the node's output to its log, appended (Deno.Command has no file redirection),
  // and `setsid` puts the node in a session of its own: a harness that kills this command's
  // process group (a timeout, a tool's cleanup) does not take the node and its jobs with it.
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'log=$1; shift; if command -v setsid >/dev/null; then exec setsid "$@" >>"$log" 2>&1; ' +
      'else exec "$@" >>"$log" 2>&1; fi',
      "sh",
      logPath,
      exe,
      ...rest,
    ],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  // A node that dies at once closes its stdin: reported below from its log, not as a bug here.
  await writer.write(new TextEncoder().encode(`${passphrase}\n`)).catch(() => {});
  await writer.close().catch(() => {});
  child.unref();
  if (!o.quiet) {
    console.error(`node: starting the profile's node (pid ${child.pid}, log ${logPath})`);
  }
  const hello = await waitForNode(stateDir, { child, logPath, logFrom }, o.quiet);
  if (hello === undefined) throw await startFailure(stateDir, { logPath, logFrom });
  return hello;
}

/** Polls the socket until the node answers; a node that exits first is reported with its error. */
async function waitForNode(
  stateDir: string,
  started: { child: Deno.ChildProcess; logPath: string; logFrom: number } | undefined,
  quiet?: boolean,
): Promise<NodeHello | undefined> {
  let exited: Deno.CommandStatus | undefined;
  started?.child.status.then((s) => exited = s);
  const deadline = Date.now() + NODE_START_TIMEOUT_MS;
  let said = Date.now();
  for (let wait = 20; Date.now() < deadline; wait = Math.min(wait * 2, 250)) {
    const hello = await nodeHello(stateDir);
    if (hello !== undefined) {
      if (started) await relayNodeLog(started.logPath, started.logFrom, quiet);
      return hello;
    }
    if (started !== undefined && exited !== undefined) {
      // Another node may hold the state dir (one the user started meanwhile): it answers soon.
      if ((await lockHolder(stateDir)) === undefined) throw await startFailure(stateDir, started);
      started = undefined;
    } else if (started === undefined && (await lockHolder(stateDir)) === undefined) {
      return undefined; // the node that held it stopped without answering: start one
    }
    if (!quiet && Date.now() - said > 5_000) {
      said = Date.now();
      console.error("node: waiting for the profile's node (unlocking, connecting to the town)...");
    }
    await sleep(wait);
  }
  throw new CliError(`the profile's node did not answer within ${NODE_START_TIMEOUT_MS / 1000} s`, {
    context: `${stateDir}/${NODE_LOG_FILE}`,
    code: "node-unreachable",
    suggestion: "read the node's log; `turnpike node stop` and try again",
  });
}

/** The error of a node that exited before answering, from the last `Error:` lines of its log. */
async function startFailure(
  stateDir: string,
  started: { logPath: string; logFrom: number } | undefined,
): Promise<CliError> {
  const text = started ? await readFrom(started.logPath, started.logFrom) : "";
  const lines = text.split("\n");
  const json = lines.filter((l) => l.startsWith('{"type":"error"')).pop();
  if (json) {
    try {
      return nodeError(JSON.parse(json));
    } catch {
      // not the error object: the text lines below
    }
  }
  const error = lines.filter((l) => l.startsWith("Error: ")).pop();
  const suggestion = lines.filter((l) => l.startsWith("Suggestion: ")).pop();
  return new CliError(
    error ? error.slice("Error: ".length) : "the profile's node stopped while starting",
    {
      context: `${stateDir}/${NODE_LOG_FILE}`,
      code: "node-failed",
      suggestion: suggestion?.slice("Suggestion: ".length),
    },
  );
}

/** Copies what the node printed while starting (a channel opened, warnings) to stderr. */
async function relayNodeLog(path: string, from: number, quiet?: boolean): Promise<void> {
  if (quiet) return;
  for (const line of (await readFrom(path, from)).split("\n")) {
    // The node's own banner lines are not this command's news.
    if (line.trim() === "" || /^(\{|Network: |requester up: )/.test(line)) continue;
    console.error(terminalText(line));
  }
}

async function readFrom(path: string, from: number): Promise<string> {
  const bytes = await Deno.readFile(path).catch(() => new Uint8Array());
  return new TextDecoder().decode(bytes.subarray(from));
}
