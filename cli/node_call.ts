/**
 * One request from a command to the profile's node (docs/ARCHITECTURE.md "The profile's node"):
 * the passphrase's proof the paying requests carry, the request sent on `<state dir>/node.sock`,
 * its reply lines read, and, when it goes no further, what became of the request: read by no node
 * (sent again without harm, cli/profile_node.ts `callProfileNode`), or read and not answered (its
 * effect unknown). Finding or starting the node is cli/profile_node.ts's.
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import { ExitCode, type ExitCodeValue } from "./exit_codes.ts";
import { isErrorCode } from "./error_codes.ts";
import type { PassphraseFlags } from "./node_identity.ts";
import type { ProvenPassphrase } from "./node_passphrase.ts";
import { lazyImport } from "./lazy_import.ts";
import type { NodeRequest } from "../roles/requester/node_server.ts";
import { encodeNodeLine, nodeSocketPath, readNodeLines } from "../roles/requester/node_wire.ts";

/** The node's output file in the state dir. */
export const NODE_LOG_FILE = "node.log";

/** The passphrase proven (or being proven) by this process, per state dir. */
const proven = new Map<string, Promise<ProvenPassphrase>>();

/** The requests that carry the proof (roles/requester/node_server.ts). */
const PROVEN_OPS: ReadonlySet<string> = new Set(["submit", "cancel", "late-result", "dm", "gt"]);

/**
 * Reads the passphrase and proves it (cli/node_passphrase.ts), once per process and state dir:
 * a command may start it early, while it does something else; `ensureProfileNode`
 * (profile_node.ts) then waits for it, and its error (`no-identity`, `passphrase`) comes there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { provePassphrase } from "./node_call.ts";
 * import { CliError } from "./cli_error.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // no wallet: `no-identity`
 * const refused = await provePassphrase(stateDir, { nonInteractive: true }).catch((e) => e);
 * assert(refused instanceof CliError && refused.code === "no-identity");
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function provePassphrase(
  stateDir: string,
  flags: PassphraseFlags,
): Promise<ProvenPassphrase> {
  let had = proven.get(stateDir);
  if (had === undefined) {
    // Loaded here: `node status` needs none of the wallet's code (docs/SCALE.md "A command's start").
    had = lazyImport<typeof import("./node_passphrase.ts")>(
      new URL("./node_passphrase.ts", import.meta.url),
    ).then(({ readPassphraseProof }) => readPassphraseProof(stateDir, flags));
    proven.set(stateDir, had);
  }
  return had;
}

/**
 * Sends one request to the node and yields its reply lines up to the last (`done` not
 * included); an `error` line becomes the {@linkcode CliError} it describes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { callNode, requestUndelivered } from "./node_call.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // no node serves it: the request is not delivered
 * const lines: unknown[] = [];
 * const err = await (async () => {
 *   for await (const line of callNode(stateDir, { op: "wait", id: "ab".repeat(32) })) lines.push(line);
 * })().catch((e) => e);
 * assert(requestUndelivered(err) && lines.length === 0);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 * @throws {CliError} with the node's error, or `node-unreachable` when it is not there.
 */
export async function* callNode(
  stateDir: string,
  request: NodeRequest,
  /** The socket, when not the requester node's (a provider's: roles/provider/trust_socket.ts). */
  socket: string = nodeSocketPath(stateDir),
): AsyncGenerator<Record<string, unknown>> {
  const proof = PROVEN_OPS.has(request.op)
    ? (await proven.get(stateDir)?.catch(() => undefined))?.proof
    : undefined;
  const sent: object = PROVEN_OPS.has(request.op) && proof !== undefined && !("proof" in request)
    ? { ...request, proof }
    : request;
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: socket });
  } catch (err) {
    throw fated(
      new CliError("the profile's node is not running", {
        context: socket,
        code: "node-unreachable",
        cause: err,
      }),
      "unread",
    );
  }
  try {
    const writer = conn.writable.getWriter();
    try {
      await writer.write(new TextEncoder().encode(encodeNodeLine(sent)));
    } catch (err) {
      throw fated(
        new CliError("the profile's node closed the connection", {
          context: socket,
          code: "node-unreachable",
          cause: err,
        }),
        "unread",
      );
    }
    writer.releaseLock();
    const lines = readNodeLines(conn.readable);
    while (true) {
      let next: IteratorResult<Record<string, unknown>>;
      try {
        next = await lines.next();
      } catch (err) {
        // A connection reset (the node killed, or closing) is the node going away too.
        if (CONNECTION_LOST.some((e) => err instanceof e)) throw wentAway(stateDir, err);
        throw err;
      }
      if (next.done) throw wentAway(stateDir);
      const line = next.value;
      if (line.type === "done") return;
      if (line.type === "error") throw nodeError(line.error);
      yield line;
    }
  } finally {
    try {
      conn.close();
    } catch {
      // closed already
    }
  }
}

/**
 * What became of the request of a {@linkcode callNode} error that went no further: `unread`, no
 * node read it (no node on the socket, or the connection closed before the write); `unanswered`,
 * a node read it and went away before its last line.
 */
const FATE = new WeakMap<CliError, "unread" | "unanswered">();

/** Marks `err` with what became of its request. */
function fated(err: CliError, fate: "unread" | "unanswered"): CliError {
  FATE.set(err, fate);
  return err;
}

/**
 * Whether {@linkcode callNode} failed before any node read its request (no node on the socket,
 * or the connection closed before the request was written): sending it again does nothing twice.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { callNode, requestUndelivered } from "./node_call.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // no node serves it
 * const err = await callNode(stateDir, { op: "hello" }).next().catch((e) => e);
 * assert.ok(requestUndelivered(err));
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function requestUndelivered(err: unknown): boolean {
  return err instanceof CliError && FATE.get(err) === "unread";
}

/** How many nodes a request is offered to when each one was stopping as it came. */
export const STOPPING_TRIES = 5;

/**
 * Whether a request that failed may be sent to the next node: nothing was done (no node read
 * it, or the node refused it as it stopped), no line of it was answered, and it has been offered
 * fewer than {@linkcode STOPPING_TRIES} times.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { callNode, mayAskNextNode } from "./node_call.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // no node serves it
 * const err = await callNode(stateDir, { op: "hello" }).next().catch((e) => e);
 * assert.ok(mayAskNextNode(err, false, 1));
 * assert.ok(!mayAskNextNode(err, true, 1)); // a line came: what it did is known to the node
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function mayAskNextNode(err: unknown, answered: boolean, tries: number): boolean {
  const nothingDone = requestUndelivered(err) ||
    (err instanceof CliError && err.code === "node-stopping");
  return nothingDone && !answered && tries < STOPPING_TRIES;
}

/**
 * Whether {@linkcode callNode} failed after a node read its request, before its last line (the
 * node killed, or gone mid-request): what the request did is unknown (a job may be on record).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { callNode, requestUnanswered } from "./node_call.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // no node serves it: nothing was read
 * const err = await callNode(stateDir, { op: "hello" }).next().catch((e) => e);
 * assert.ok(!requestUnanswered(err));
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function requestUnanswered(err: unknown): boolean {
  return err instanceof CliError && FATE.get(err) === "unanswered";
}

/** The errors of a socket whose other end went away. */
const CONNECTION_LOST = [
  Deno.errors.ConnectionReset,
  Deno.errors.ConnectionAborted,
  Deno.errors.BrokenPipe,
  Deno.errors.UnexpectedEof,
];

/** The node's connection ended before its last line (`node-unreachable`). */
function wentAway(stateDir: string, cause?: unknown): CliError {
  return fated(
    new CliError("the profile's node went away before answering", {
      context: `${stateDir}/${NODE_LOG_FILE}`,
      code: "node-unreachable",
      suggestion: "run the command again (a new node resumes the jobs on record)",
      cause,
    }),
    "unanswered",
  );
}

/**
 * The CliError an error line of the node describes (`cliErrorJson`'s shape), as the command
 * prints it: its message, context, suggestion, code, exit status and fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nodeError } from "./node_call.ts";
 *
 * const err = nodeError({ type: "error", message: "no job ab12", code: "no-job", exit: 2 });
 * assert.equal(err.code, "no-job");
 * ```
 */
export function nodeError(described: unknown): CliError {
  const { type: _t, message, context, suggestion, code, exit, ...fields } =
    (described ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => typeof v === "string" ? v : undefined;
  return new CliError(str(message) ?? "the profile's node failed", {
    context: str(context),
    suggestion: str(suggestion),
    code: isErrorCode(code) ? code : undefined,
    exitCode: (typeof exit === "number" ? exit : ExitCode.Failure) as ExitCodeValue,
    fields: Object.keys(fields).length > 0 ? fields : undefined,
  });
}
