/**
 * The private fetch listener of a town process on a shared store (docs/OPERATIONS.md "A town on
 * several machines"): `GET /<sha256>` answers the bytes of a blob this process holds, from its
 * own directory, for the town's other processes (state/blobs/shared_blob_store.ts fetches through it
 * and checks the hash). It never fetches onwards (no loops between processes), takes no
 * uploads, and answers at most `maxStreams` downloads at once (503 beyond). Its own port per
 * process: the public port is shared by the processes on a host (SO_REUSEPORT), so a request to
 * it could reach a process without the bytes. Blobs are public on the town's HTTP port anyway;
 * the listener adds no secret, but belongs on an address only the town's hosts reach.
 *
 * The same listener takes the packets the town's other processes forward to a BTP peer
 * connected to this one: `POST /ilp`, authenticated with a MAC from the town's key
 * (roles/town/btp/process_forward.ts), and their questions about payments in doubt, `POST
 * /in-doubt` (roles/town/btp/process_in_doubt.ts). Without `blobs` (processes sharing one blob
 * directory) it serves only these.
 *
 * @module
 */
import type { BlobStore } from "../../../state/blobs/blob_store.ts";
import { IN_DOUBT_PATH } from "../btp/process_in_doubt.ts";

/** Options for {@linkcode startBlobPeerListener}. */
export interface BlobPeerListenerOptions {
  /** The bytes this process holds; absent: no blob fetches here. */
  blobs?: BlobStore;
  /**
   * Answers `POST /ilp` and `POST /in-doubt`, packets and questions from the town's other
   * processes; absent: 404.
   */
  forward?: (request: Request) => Promise<Response>;
  /** Address to bind (the host's address the town's other hosts reach). */
  hostname: string;
  /** Port; 0 (default) a free one. */
  port?: number;
  /** The URL other processes use, when it is not `http://hostname:port` (NAT, containers). */
  publicUrl?: string;
  /** Downloads at once. Default 16. */
  maxStreams?: number;
}

/** A running listener. */
export interface BlobPeerListener {
  /** The URL recorded as this process's fetch URL. */
  url: string;
  port: number;
  close(): Promise<void>;
}

const BLOB_PATH = /^\/([0-9a-f]{64})$/;

/**
 * Starts the listener.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startBlobPeerListener } from "./blob_peer_listener.ts";
 * import { openBlobStore } from "../../../state/blobs/blob_store.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const local = await openBlobStore({ dir });
 * const peer = startBlobPeerListener({ blobs: local, hostname: "127.0.0.1" }); // a free port
 * assert.match(peer.url, /^http:\/\/127\.0\.0\.1:\d+/);
 * await peer.close();
 * local.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function startBlobPeerListener(options: BlobPeerListenerOptions): BlobPeerListener {
  const maxStreams = options.maxStreams ?? 16;
  let streams = 0;
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port ?? 0,
    onListen: () => {},
  }, async (request) => {
    const path = new URL(request.url).pathname;
    if ((path === "/ilp" || path === IN_DOUBT_PATH) && options.forward) {
      return await options.forward(request);
    }
    const match = BLOB_PATH.exec(path);
    const blobs = options.blobs;
    if (
      blobs === undefined || match === null ||
      (request.method !== "GET" && request.method !== "HEAD")
    ) {
      await request.body?.cancel().catch(() => {});
      return new Response(`${blobs ? "GET /<sha256>" : "POST /ilp"} only\n`, { status: 404 });
    }
    const record = blobs.get(match[1]);
    if (record === undefined) return new Response("not held here\n", { status: 404 });
    const headers = { "content-length": String(record.size) };
    if (request.method === "HEAD") return new Response(null, { headers });
    if (streams >= maxStreams) return new Response("busy; retry\n", { status: 503 });
    let file: Deno.FsFile;
    try {
      file = await Deno.open(blobs.path(record.sha256));
    } catch {
      return new Response("not held here\n", { status: 404 });
    }
    streams++;
    let done = false;
    const release = () => {
      if (!done) streams--;
      done = true;
    };
    const body = file.readable.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({ flush: release }),
    );
    request.signal.addEventListener("abort", release);
    return new Response(body, { headers });
  });
  const host = options.hostname.includes(":") ? `[${options.hostname}]` : options.hostname;
  return {
    url: options.publicUrl ?? `http://${host}:${server.addr.port}`,
    port: server.addr.port,
    close: () => server.shutdown(),
  };
}
