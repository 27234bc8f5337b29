/**
 * A provider's `node up` holds its profile's state dir (one writer of its payment log and
 * channel), so its profile's `turnpike trust publish` asks it, as a requester profile's command
 * asks that profile's node (docs/ARCHITECTURE.md "The profile's node"): one NDJSON request per
 * connection on `<state dir>/provider.sock` (0600), `{op: "gt", action, proof}` with a
 * {@linkcode TrustPublishAction}, answered by a `gt` line then `done`, or an `error` line. The
 * request carries the proof of the wallet's passphrase (`identity/passphrase_proof.ts`): the
 * node pays for whoever knows it, not for every process that reaches the socket.
 *
 * Limits, as the requester's node socket has them: {@linkcode MAX_TRUST_CLIENTS} connections at
 * once (one more is closed unanswered), the request line within `REQUEST_TIMEOUT_MS` of
 * connecting and capped by `node_wire.ts`.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import { encodeNodeLine, readNodeLines, REQUEST_TIMEOUT_MS } from "../requester/node_wire.ts";
import { proofMatches } from "../../identity/passphrase_proof.ts";
import {
  answerTrustAction,
  type TrustPublishAction,
  type TrustPublisher,
} from "../receipts/trust_publication.ts";

/** Connections served at once; `trust publish` makes one. */
export const MAX_TRUST_CLIENTS = 16;

/** A request the socket does not serve, or without the passphrase's proof. */
export class TrustSocketRequestError extends RoleError {
  override name = "TrustSocketRequestError";
}

/** Options for {@linkcode serveTrustSocket}. */
export interface TrustSocketOptions extends TrustPublisher {
  stateDir: string;
  /** The proof of the passphrase the wallet was unlocked with. */
  proof: string;
}

/**
 * The socket's path in a state dir.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trustSocketPath } from "./trust_socket.ts";
 *
 * assert.equal(trustSocketPath("/home/me/.turnpike/beta/"), "/home/me/.turnpike/beta/provider.sock");
 * ```
 */
export function trustSocketPath(stateDir: string): string {
  return `${stateDir.replace(/\/+$/, "")}/provider.sock`;
}

/**
 * Serves `trust publish` on the state dir's socket until disposed (the socket's path removed).
 *
 * @example
 * ```ts
 * import { serveTrustSocket } from "./trust_socket.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * {
 *   await using _served = await serveTrustSocket({
 *     stateDir,
 *     proof: "ab".repeat(32),
 *     signer: { signEvent: () => Promise.reject(new Error("no key here")) },
 *     write: () => Promise.resolve(),
 *   });
 * }
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function serveTrustSocket(o: TrustSocketOptions): Promise<AsyncDisposable> {
  const path = trustSocketPath(o.stateDir);
  // A socket left by a provider that was killed: this node holds the state dir now.
  await Deno.remove(path).catch(() => {});
  const listener = Deno.listen({ transport: "unix", path });
  await Deno.chmod(path, 0o600);
  const open = new Set<Promise<void>>();
  const accepting = (async () => {
    for await (const conn of listener) {
      if (open.size >= MAX_TRUST_CLIENTS) {
        conn.close();
        continue;
      }
      const served = answer(conn, o).finally(() => open.delete(served));
      open.add(served);
    }
  })().catch(() => {/* the listener closed */});
  return {
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      await Promise.allSettled(open);
      await Deno.remove(path).catch(() => {});
    },
  };
}

async function answer(conn: Deno.UnixConn, o: TrustSocketOptions): Promise<void> {
  const writer = conn.writable.getWriter();
  const send = (line: object) => writer.write(new TextEncoder().encode(encodeNodeLine(line)));
  // A client that connects and says nothing is let go (its read then ends in an error).
  const deadline = setTimeout(() => conn.close(), REQUEST_TIMEOUT_MS);
  try {
    const { value: request } = await readNodeLines(conn.readable).next();
    clearTimeout(deadline);
    try {
      const action = checked(request, o.proof);
      await send({ type: "gt", ...await answerTrustAction(action, o) });
      await send({ type: "done" });
    } catch (err) {
      await send({ type: "error", error: { message: (err as Error).message } });
    }
  } catch {
    // a client that sent garbage or went away: nothing to answer
  } finally {
    clearTimeout(deadline);
    await writer.close().catch(() => {});
  }
}

function checked(request: Record<string, unknown> | undefined, proof: string): TrustPublishAction {
  if (!proofMatches(proof, request?.proof)) {
    throw new TrustSocketRequestError("the request carries no proof of the wallet's passphrase");
  }
  const action = request?.action as { do?: unknown } | undefined;
  if (request?.op !== "gt" || (action?.do !== "assert" && action?.do !== "rank-services")) {
    throw new TrustSocketRequestError("the provider's node serves `trust publish` only");
  }
  return action as TrustPublishAction;
}
