/**
 * The profile's node serves its commands (docs/ARCHITECTURE.md "The profile's node"): one
 * running {@linkcode Requester} (the key in its signer worker, the town link, the channel, the
 * job feed) answers `job submit|wait|cancel` and `dm send` from any number of short-lived
 * commands over a Unix socket in the state dir, the way `docker` talks to `dockerd`. The channel
 * then has one writer whatever the number of commands, and jobs are followed and paid whether
 * or not a command waits for them.
 *
 * Requests and replies are NDJSON (`node_wire.ts`). A request is one line with an `op`:
 *
 * | op       | replies                                                                        |
 * |----------|--------------------------------------------------------------------------------|
 * | `hello`  | `hello` (pid, pubkey, settings, jobs in flight, clients)                       |
 * | `submit` | `upload`/`transfer` per blob, `record` once posted, with `wait`: `progress`... `chain` |
 * | `wait`   | `record`, `progress`..., `chain` (the records from the job to its chain's last)  |
 * | `cancel` | `record` (with `deletion`: the kind 5's id, whose fee the payment log has)       |
 * | `dm`     | `sent`                                                                         |
 * | `gt`     | `gt`: a roster, trust assertions or bead events published, a key rotated        |
 * | `stop`   | `stopping`; the node then closes                                               |
 *
 * While a `submit` with `wait` or a `wait` follows a job in flight, `waiting` lines come every 5 s
 * between the others (job_heartbeat.ts).
 *
 * Every reply ends with `done` or `error` (the error object the command prints). A client that
 * goes away stops getting lines; the job goes on. A request that comes once the node has decided
 * to stop (idle, `stop`, its state dir removed) is refused with {@linkcode NodeStoppingError}
 * before anything is done, and the close lets that line out: the command starts the next node
 * and sends it there, where without it a command that found the node a moment before its idle
 * stop had its connection cut and could not tell whether its job was posted.
 *
 * The requests that pay or send (`submit`, `cancel`, `late-result`, `dm`) carry `proof`, the
 * command's proof that its user knows the wallet's passphrase
 * (`identity/passphrase_proof.ts`); one without it, or with another, is refused with
 * {@linkcode PassphraseProofError} before anything is done: the unlocked wallet spends only for
 * whoever holds the passphrase, not for every process that can reach the socket. A `wait` only
 * reads (the node follows and pays its jobs whether or not a command waits): it needs no proof,
 * so a Mayor follows a job with no passphrase (docs/AGENTS.md "Following any job").
 *
 * Limits: {@linkcode NodeServerOptions.maxClients} connections at once, a request line within
 * {@linkcode REQUEST_TIMEOUT_MS} of connecting, lines capped by `node_wire.ts`. When every slot
 * is taken, a new connection closes the oldest one that has not sent its request yet (a command
 * sends its line at once), so connections that only hold a slot cannot keep the commands out.
 * Uploads are read only from the files a command staged (node_uploads.ts).
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import type { JobProgress, Requester } from "./requester_node.ts";
import type { JobSpec } from "./job_spec.ts";
import { type RequesterJobRecord, TERMINAL_JOB_STATUSES } from "../../state/jobs/job_record.ts";
import { encodeNodeLine, nodeSocketPath, readNodeLines, REQUEST_TIMEOUT_MS } from "./node_wire.ts";
import { checkStagedUpload } from "./node_uploads.ts";
import { type HeartbeatOptions, startHeartbeat } from "./job_heartbeat.ts";
import { proofMatches } from "../../identity/passphrase_proof.ts";
import type { GtNodeAction } from "./worker_desk.ts";

/**
 * A request that came after the node decided to stop (idle, `stop`, its state dir removed):
 * refused before anything is done, so the command may send it to the next node.
 */
export class NodeStoppingError extends RoleError {
  /** `"NodeStoppingError"`: explicit so it survives bundling. */
  override name = "NodeStoppingError";
  /** Says why the node stops. */
  constructor(readonly reason: NodeStopReason) {
    super(`the profile's node is stopping (${reason}): the request was not served`);
  }
}

/** Why the node stops. */
export type NodeStopReason = "stop" | "idle" | "state dir removed";

/** A paying request without the proof of the wallet's passphrase, or with a wrong one. */
export class PassphraseProofError extends RoleError {
  /** `"PassphraseProofError"`: explicit so it survives bundling. */
  override name = "PassphraseProofError";
  /** Whether the request carried no proof at all (else a wrong one). */
  readonly missing: boolean;
  /** Says which: no proof, or one that does not match the passphrase the node unlocked with. */
  constructor(missing: boolean) {
    super(
      missing
        ? "the request carries no proof of the wallet's passphrase"
        : "wrong passphrase: it is not the one the profile's node unlocked the wallet with",
    );
    this.missing = missing;
  }
}

/** The requests that need the proof of the passphrase. */
const PROVEN_OPS: ReadonlySet<string> = new Set(["submit", "cancel", "late-result", "dm", "gt"]);

/** A blob input the node publishes before posting the job. */
export interface NodeUpload {
  /**
   * The file the command staged in `<state dir>/uploads/` (node_uploads.ts): the node reads no
   * other path.
   */
  path: string;
  /** Name shown in progress lines. */
  name: string;
}

/** A `submit` request. */
export interface NodeSubmitRequest {
  op: "submit";
  spec: JobSpec;
  uploads: NodeUpload[];
  /** Follow the job (and its chain) to its end. */
  wait: boolean;
  /** The proof of the wallet's passphrase (`identity/passphrase_proof.ts`). */
  proof?: string;
  /** The command's price ceiling and `--accept-price` (checked per request). */
  priceCeiling?: bigint;
  acceptPrice?: boolean;
}

/** Every request a node answers. */
export type NodeRequest =
  | { op: "hello" }
  | NodeSubmitRequest
  | { op: "wait"; id: string; proof?: string }
  | { op: "cancel"; id: string; proof?: string }
  | { op: "late-result"; id: string; proof?: string }
  | { op: "dm"; recipient: string; text: string; replyTo?: string; proof?: string }
  | { op: "gt"; action: GtNodeAction; proof?: string }
  | { op: "stop" };

/** What `hello` answers. */
export interface NodeHello {
  type: "hello";
  pid: number;
  pubkey: string;
  /** The node's resolved settings, as compared by a client (`settingsKey` of the CLI). */
  settings: Record<string, unknown>;
  activeJobs: number;
  clients: number;
  /** Started in the background by a command (stops itself when idle). */
  background: boolean;
  /** Its command line's arguments (to start it again the same way). */
  args: string[];
  startedAt: string;
}

/** Options for {@linkcode serveNode}. */
export interface NodeServerOptions {
  requester: Requester;
  stateDir: string;
  /** The node's settings as a client compares them (no secrets). */
  settings: Record<string, unknown>;
  /**
   * The proof of the passphrase the wallet was unlocked with (`identity/passphrase_proof.ts`):
   * every `submit`, `cancel`, `late-result` and `dm` must carry it.
   */
  proof: string;
  /** Started by a command: stops itself after {@linkcode idleMs} with nothing to do. */
  background: boolean;
  /** Idle time before a background node stops (default 300 s). */
  idleMs?: number;
  /** The error object a client prints for an error (the CLI maps its own error classes). */
  describeError: (err: unknown) => Record<string, unknown>;
  /**
   * Checks a submit before anything is paid (the price ceiling per command); returns warning
   * lines for the command's stderr.
   */
  checkSubmit?: (request: NodeSubmitRequest) => string[];
  /** Told when the node should stop: `stop` asked, idle, or its state dir removed. */
  onStop: (reason: NodeStopReason) => void;
  /** Most connections at once (default 256). */
  maxClients?: number;
  /** Period of the `waiting` lines to a following command (default job_heartbeat.ts). */
  heartbeatMs?: number;
  /** A provider's silence, for the `waiting` lines (roles/requester/provider_liveness.ts). */
  providerSilence?: HeartbeatOptions["providerSilence"];
}

/** A running node socket. */
export interface NodeServer extends AsyncDisposable {
  /** The requester's progress lines, fanned out to the clients following those jobs. */
  publish(progress: JobProgress): void;
  /**
   * A line for every command connected now (alerts, a channel opened or topped up): the node
   * acts for all of them.
   */
  broadcast(line: string): void;
  /** Stops listening and ends every connection. */
  close(): Promise<void>;
}

/** Lines written to a connection and not yet taken by its client, at most. */
const MAX_UNSENT_LINES = 4096;

/** How long a closing node still accepts the connections queued before its socket's path went. */
const QUEUED_DRAIN_MS = 200;

/** How long a closing node waits for its refusals to be read before closing their connections. */
const REFUSAL_FLUSH_MS = 2_000;

const DEFAULT_IDLE_MS = 300_000;

/**
 * Listens on `<state dir>/node.sock` (a stale socket of a dead node is replaced: the caller
 * holds the state dir's lock, so no live node owns it) and serves the requester.
 *
 * It serves a running requester: no example that runs here:
 * tests/unit/roles/requester/node_server_test.ts.
 */
export async function serveNode(options: NodeServerOptions): Promise<NodeServer> {
  const path = nodeSocketPath(options.stateDir);
  await Deno.remove(path).catch(() => {});
  const listener = Deno.listen({ transport: "unix", path });
  await Deno.chmod(path, 0o600);
  const req = options.requester;
  const followers = new Set<{ ids: Set<string>; send: (line: unknown) => void }>();
  // Each running agent-task's last spend line, for a `wait` that comes after it (bounded).
  const lastSpend = new Map<string, JobProgress>();
  const conns = new Set<Deno.Conn>();
  /** Connections that have not sent their request line yet, oldest first. */
  const pending = new Set<Deno.Conn>();
  /** Each connection's service, until it ends. */
  const serving = new Map<Deno.Conn, Promise<void>>();
  /** Connections being told the node stops: the close lets their error line out first. */
  const refusing = new Set<Deno.Conn>();
  /** The senders of the connections in a request other than `hello`. */
  const listeners = new Set<(line: unknown) => void>();
  const startedAt = new Date().toISOString();
  const maxClients = options.maxClients ?? 256;
  let closed = false;
  let idleSince = Date.now();
  const idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  // Set the moment the node decides to stop: a request after it is refused, not cut off midway
  // by the close that follows (a command that found the node a moment before starts another).
  let stopping: NodeStopReason | undefined;
  const stopNode = (reason: NodeStopReason) => {
    stopping ??= reason;
    options.onStop(reason);
  };
  const idleTimer = setInterval(() => {
    if (closed) return;
    try {
      Deno.statSync(options.stateDir);
    } catch {
      return stopNode("state dir removed");
    }
    if (!options.background) return;
    // A command in a request (or a job in flight) keeps the node; a `hello` alone (`node
    // status`, a command checking before it asks) does not, or polling would keep it forever.
    if (listeners.size > 0 || req.activeJobs > 0) idleSince = Date.now();
    else if (Date.now() - idleSince >= idleMs) stopNode("idle");
  }, Math.min(1_000, Math.max(50, idleMs / 4)));

  // `waiting` lines for the jobs a command follows (job_heartbeat.ts).
  const heartbeat = (ids: Set<string>, send: (line: unknown) => void) =>
    startHeartbeat({
      ids,
      send,
      read: (id) => req.repo.read(id),
      townReachable: () => req.townReachable,
      everyMs: options.heartbeatMs,
      providerSilence: options.providerSilence,
    });

  const closeConn = (c: Deno.Conn) => {
    try {
      c.close();
    } catch {
      // closed already
    }
  };

  const serveConn = async (conn: Deno.Conn) => {
    const writer = conn.writable.getWriter();
    let open = true;
    let unsent = 0;
    const send = (line: unknown) => {
      if (!open) return;
      // A client that stops reading (a suspended `job wait`) is let go, not buffered for.
      if (unsent >= MAX_UNSENT_LINES) {
        open = false;
        conn.close();
        return;
      }
      unsent++;
      writer.write(new TextEncoder().encode(encodeNodeLine(line))).then(
        () => unsent--,
        () => open = false,
      );
    };
    const timer = setTimeout(() => conn.close(), REQUEST_TIMEOUT_MS);
    let follower: { ids: Set<string>; send: (line: unknown) => void } | undefined;
    let stopBeat: (() => void) | undefined;
    try {
      const lines = readNodeLines(conn.readable);
      const first = await lines.next().finally(() => pending.delete(conn));
      clearTimeout(timer);
      if (first.done) return;
      const request = first.value as unknown as NodeRequest;
      if (request.op !== "hello") {
        listeners.add(send);
        idleSince = Date.now();
      }
      try {
        if (stopping !== undefined) {
          refusing.add(conn);
          throw new NodeStoppingError(stopping);
        }
        if (PROVEN_OPS.has(request.op)) {
          const given = (request as { proof?: unknown }).proof;
          if (!proofMatches(options.proof, given)) {
            throw new PassphraseProofError(given === undefined);
          }
        }
        if (request.op === "hello") {
          send(
            {
              type: "hello",
              pid: Deno.pid,
              pubkey: req.pubkey,
              settings: options.settings,
              activeJobs: req.activeJobs,
              clients: conns.size,
              background: options.background,
              args: Deno.args,
              startedAt,
            } satisfies NodeHello,
          );
        } else if (request.op === "submit") {
          for (const line of options.checkSubmit?.(request) ?? []) send({ type: "log", line });
          // Every path checked before any is published: a refused one publishes nothing.
          const paths: string[] = [];
          for (const u of request.uploads) {
            paths.push(await checkStagedUpload(options.stateDir, u.path));
          }
          const uploadInvoices: string[] = [];
          for (const [i, u] of request.uploads.entries()) {
            const published = await req.publishBlob(
              paths[i],
              (done, total) => send({ type: "transfer", name: u.name, done, total }),
            );
            // The asset rides along: the client prints the amount in its units with its code.
            const { assetCode, assetScale } = req.town;
            send({ type: "upload", name: u.name, ...published, assetCode, assetScale });
            (request.spec.blobs ??= []).push({ url: published.url, sha256: published.sha256 });
            uploadInvoices.push(...(published.invoices ?? []));
          }
          const ids = new Set<string>();
          if (request.wait) followers.add(follower = { ids, send });
          if (request.wait) stopBeat = heartbeat(ids, send);
          // Followed from the moment its id exists: its `sent` line is the first one.
          const record = await req.submit(request.spec, {
            onCreated: (id) => ids.add(id),
            uploadInvoices,
          });
          send({ type: "record", record });
          if (follower) send({ type: "chain", records: await followChain(req, record.id) });
        } else if (request.op === "wait") {
          follower = { ids: new Set([request.id]), send };
          followers.add(follower);
          stopBeat = heartbeat(follower.ids, send);
          const record = await req.repo.read(request.id);
          send({ type: "record", record });
          const spent = lastSpend.get(request.id);
          if (spent) send({ type: "progress", progress: spent });
          send({ type: "chain", records: await followChain(req, request.id) });
        } else if (request.op === "cancel") {
          let deletion: string | undefined;
          const record = await req.cancel(request.id, { onDeletion: (id) => deletion = id });
          // The payment log has the deletion's fee once this answers: the command reads it.
          await req.payments.flush();
          send({ type: "record", record, deletion });
        } else if (request.op === "late-result") {
          const record = await req.lateResult(request.id);
          // The payment log has the delivery's payment once this answers: the command reads it.
          await req.payments.flush();
          send({ type: "record", record });
        } else if (request.op === "dm") {
          send({ type: "sent", id: await req.sendDirectMessage(request) });
        } else if (request.op === "gt") {
          send({ type: "gt", ...await req.workers.answer(request.action) });
        } else if (request.op === "stop") {
          send({ type: "stopping", pid: Deno.pid });
          send({ type: "done" });
          await writer.close().catch(() => {});
          open = false;
          stopNode("stop");
          return;
        } else {
          throw new Error(`unknown request ${JSON.stringify((request as { op: unknown }).op)}`);
        }
        send({ type: "done" });
      } catch (err) {
        send({ type: "error", error: options.describeError(err) });
      }
    } catch {
      // a client that sent garbage or went away: nothing to answer
    } finally {
      clearTimeout(timer);
      stopBeat?.();
      listeners.delete(send);
      if (follower) followers.delete(follower);
      if (open) await writer.close().catch(() => {});
      open = false;
      conns.delete(conn);
      pending.delete(conn);
      refusing.delete(conn);
      closeConn(conn);
    }
  };

  const accepting = (async () => {
    for await (const conn of listener) {
      if (!closed && conns.size >= maxClients && pending.size > 0) {
        // The oldest connection still silent makes room: it has had its chance to ask.
        const oldest = pending.values().next().value!;
        pending.delete(oldest);
        conns.delete(oldest);
        closeConn(oldest);
      }
      // While the node closes, a connection still comes in (one the kernel queued before the
      // socket's path went): it is served, that is refused `node-stopping`, not reset.
      if (conns.size >= maxClients) {
        conn.close();
        continue;
      }
      conns.add(conn);
      pending.add(conn);
      serving.set(conn, serveConn(conn).finally(() => serving.delete(conn)));
    }
  })().catch(() => {});

  const close = async () => {
    if (closed) return;
    closed = true;
    stopping ??= "stop";
    clearInterval(idleTimer);
    // No new connection from here (a command then finds no node and starts the next one); those
    // the kernel queued before are accepted for a moment and refused, so none is reset unread.
    await Deno.remove(path).catch(() => {});
    // A connection yet to send its request, or being refused, is answered (`node-stopping`), not
    // cut: its command then knows nothing was done. One in a request is cut (the job goes on).
    for (const c of conns) if (!pending.has(c) && !refusing.has(c)) closeConn(c);
    await new Promise((resolve) => setTimeout(resolve, QUEUED_DRAIN_MS));
    listener.close();
    await accepting;
    // A refusal is one short line; a client that sends nothing or does not read is closed after
    // a moment.
    const answering = [...conns];
    const late = setTimeout(() => answering.forEach(closeConn), REFUSAL_FLUSH_MS);
    await Promise.all(answering.map((c) => serving.get(c)));
    clearTimeout(late);
  };
  return {
    publish(progress) {
      if (progress.spend) {
        lastSpend.delete(progress.jobId);
        lastSpend.set(progress.jobId, progress);
        if (lastSpend.size > 1000) lastSpend.delete(lastSpend.keys().next().value!);
      } else if ((TERMINAL_JOB_STATUSES as readonly string[]).includes(progress.status)) {
        lastSpend.delete(progress.jobId);
      }
      const prev = req.previousInChain(progress.jobId);
      for (const f of followers) {
        if (!f.ids.has(progress.jobId) && !(prev !== undefined && f.ids.has(prev))) continue;
        f.ids.add(progress.jobId);
        f.send({ type: "progress", progress });
      }
    },
    broadcast(line) {
      for (const send of listeners) send({ type: "log", line });
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The chain from `id` to its last job, once ended, with the payment log written. */
async function followChain(req: Requester, id: string): Promise<RequesterJobRecord[]> {
  const chain = await req.waitForChain(id);
  await req.payments.flush();
  return chain;
}
