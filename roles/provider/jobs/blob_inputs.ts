/**
 * A job's blob inputs on the provider's side (docs/PROTOCOL.md "Blobs in jobs"): checked with a
 * `HEAD` before the provider asks to be paid (missing or too large: the job is refused with a
 * reason, nobody pays), then downloaded and verified after the payment and before the sandbox
 * starts (the sandbox has no network). Downloads land in a cache by sha256 (`<state
 * dir>/blob-cache/`), so a job re-run after a restart, or another job on the same context,
 * does not fetch twice; a partial download is never taken for a whole one.
 *
 * A blob input is looked for at its URL first, then on each other town the request names in
 * its `relays` tag (`<town's HTTP URL>/<sha256>`, at most {@linkcode MAX_BLOB_MIRRORS}): a
 * requester puts its inputs on every town it posts the job to, so the death of one town does
 * not cost the job its input. Whichever server answers, the bytes must hash to the sha256.
 *
 * A failure that may pass (no server answered, or each answered 5xx or 429: a town restarting)
 * is tried again with backoff for up to `retryForMs` (default {@linkcode BLOB_RETRY_FOR_MS})
 * before the input is refused; a blob not stored, too large or not matching its hash is refused
 * at once.
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";
import { blobInputsOf, type JobBlobInput } from "../../../protocol/job_blobs.ts";
import {
  BlobWriteError,
  BlossomError,
  downloadBlob,
  headBlobUrl,
  type TransferProgress,
} from "../../../transport/blossom_client.ts";
import { blobServerOf } from "../../../transport/relay_info.ts";
import { backoffDelay, sleep } from "../../../protocol/backoff.ts";

/** Most other towns (of the request's `relays` tag) a blob input is looked for on. */
export const MAX_BLOB_MIRRORS = 4;

/** How long a `HEAD` of one blob URL may take before the next URL is tried. */
export const BLOB_HEAD_TIMEOUT_MS = 10_000;

/** Default largest input blob a provider takes: 256 MiB (the town's default blob limit). */
export const DEFAULT_MAX_INPUT_BYTES = 256 * 1024 * 1024;

/** How long a blob input no server answers for (a town restarting) is tried again by default. */
export const BLOB_RETRY_FOR_MS = 20_000;

/** A blob input that cannot be used; the message is for the requester's error feedback. */
export class BlobInputError extends RoleError {
  override name = "BlobInputError";
  /** Every server failed in a way that may pass (no answer, 5xx, 429): worth trying again. */
  readonly passing: boolean;
  constructor(message: string, options: { passing?: boolean } = {}) {
    super(message);
    this.passing = options.passing ?? false;
  }
}

/** A download failure that may pass: no answer at all, or the server busy or failing. */
function isPassing(err: unknown): boolean {
  return err instanceof BlossomError &&
    (err.status === 0 || err.status === 429 || err.status >= 500);
}

/** `attempt` again while it fails with a passing {@linkcode BlobInputError}, up to `forMs`. */
async function retryPassing<T>(forMs: number, attempt: () => Promise<T>): Promise<T> {
  const until = Date.now() + forMs;
  for (let n = 0;; n++) {
    try {
      return await attempt();
    } catch (err) {
      const wait = backoffDelay(n, { initialMs: 250, maxMs: 4_000 });
      if (!(err instanceof BlobInputError && err.passing) || Date.now() + wait > until) throw err;
      await sleep(wait);
    }
  }
}

/** Options for {@linkcode checkBlobInputs} and {@linkcode fetchBlobInputs}. */
export interface BlobInputOptions {
  /** Largest blob, and largest sum of a job's blobs. */
  maxBytes: number;
  /** Where verified blobs are kept, by sha256. */
  cacheDir?: string;
  /** How long a failure that may pass is tried again (default {@linkcode BLOB_RETRY_FOR_MS}). */
  retryForMs?: number;
  onProgress?: (sha256: string, done: number, total: number) => void;
}

/**
 * The request's blob inputs, each with the URLs it may be fetched from: its own, then
 * `<server>/<sha256>` on each town of the `relays` tag (at most {@linkcode MAX_BLOB_MIRRORS}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blobInputsWithMirrors } from "./blob_inputs.ts";
 *
 * const sha256 = "ab".repeat(32);
 * const tags = [["i", `http://a/${sha256}`, "url"], ["x", sha256], ["relays", "ws://b"]];
 * assert.deepEqual(blobInputsWithMirrors(tags), [
 *   { url: `http://a/${sha256}`, sha256, mirrors: [`http://b/${sha256}`] },
 * ]);
 * ```
 */
export function blobInputsWithMirrors(tags: readonly string[][]): JobBlobInput[] {
  const servers: string[] = [];
  for (const relay of tags.find((t) => t[0] === "relays")?.slice(1) ?? []) {
    try {
      if (!/^wss?:\/\//.test(relay)) continue;
      const server = blobServerOf(relay);
      if (!servers.includes(server)) servers.push(server);
    } catch {
      // not a URL: skipped
    }
  }
  return blobInputsOf(tags).map((input) => {
    const mirrors = servers.map((s) => `${s}/${input.sha256}`)
      .filter((u) => u !== input.url && !input.url.startsWith(`${u}.`))
      .slice(0, MAX_BLOB_MIRRORS);
    return mirrors.length > 0 ? { ...input, mirrors } : input;
  });
}

/**
 * The request's blob inputs, each found (`HEAD`, at its URL or else a mirror: the one found
 * first becomes its `url`) and within the size limit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256 } from "@noble/hashes/sha2.js";
 * import { bytesToHex } from "@noble/hashes/utils.js";
 * import { BlobInputError, checkBlobInputs, DEFAULT_MAX_INPUT_BYTES } from "./blob_inputs.ts";
 *
 * // A Blossom server in-process on port 0 holding one blob.
 * const blob = new TextEncoder().encode("a project");
 * const hash = bytesToHex(sha256(blob));
 * await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) =>
 *   new URL(req.url).pathname === `/${hash}`
 *     ? new Response(req.method === "HEAD" ? null : blob, { headers: { "content-length": `${blob.length}` } })
 *     : new Response(null, { status: 404 }));
 * const url = `http://127.0.0.1:${server.addr.port}/${hash}`;
 * const inputs = await checkBlobInputs([["i", url, "url"], ["x", hash]], { maxBytes: DEFAULT_MAX_INPUT_BYTES });
 * assert.deepEqual(inputs, [{ url, sha256: hash }]);
 * await assert.rejects(checkBlobInputs([["i", url, "url"], ["x", hash]], { maxBytes: 4 }), BlobInputError);
 * ```
 * @throws {BlobInputError} with the reason.
 */
export async function checkBlobInputs(
  tags: readonly string[][],
  o: BlobInputOptions,
): Promise<JobBlobInput[]> {
  const inputs = blobInputsWithMirrors(tags);
  const found: JobBlobInput[] = [];
  let total = 0;
  for (const input of inputs) {
    const urls = [input.url, ...(input.mirrors ?? [])];
    const { head, at } = await retryPassing(o.retryForMs ?? BLOB_RETRY_FOR_MS, async () => {
      const why: string[] = [];
      let unreachable = 0;
      for (const [i, url] of urls.entries()) {
        try {
          const head = await headBlobUrl(url, {
            signal: AbortSignal.timeout(BLOB_HEAD_TIMEOUT_MS),
          });
          if (head !== undefined) return { head, at: i };
          why.push(`${url}: not stored there`);
        } catch (err) {
          if (isPassing(err) || !(err instanceof BlossomError)) unreachable++;
          why.push(`${url}: cannot be reached: ${(err as Error).message}`);
        }
      }
      throw new BlobInputError(
        urls.length === 1
          ? `input blob ${why[0]}`
          : `input blob ${input.sha256.slice(0, 12)} found on none of ${urls.length} towns: ${
            why.join("; ")
          }`,
        { passing: unreachable === urls.length },
      );
    });
    total += head.size;
    if (head.size > o.maxBytes || total > o.maxBytes) {
      throw new BlobInputError(
        `input blob ${input.sha256.slice(0, 12)} is ${head.size} bytes; this provider takes ` +
          `at most ${o.maxBytes} bytes of input per job`,
      );
    }
    const rest = urls.filter((_, i) => i !== at);
    found.push({
      url: urls[at],
      sha256: input.sha256,
      ...(rest.length > 0 ? { mirrors: rest } : {}),
    });
  }
  return found;
}

/**
 * Downloads (or finds in the cache) and verifies each blob input, from its URL or else from
 * each of its mirrors in turn; returns the files for the sandbox, named by sha256.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256 } from "@noble/hashes/sha2.js";
 * import { bytesToHex } from "@noble/hashes/utils.js";
 * import { DEFAULT_MAX_INPUT_BYTES, fetchBlobInputs } from "./blob_inputs.ts";
 *
 * // A Blossom server in-process on port 0 holding one blob.
 * const blob = new TextEncoder().encode("a project");
 * const hash = bytesToHex(sha256(blob));
 * await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () =>
 *   new Response(blob));
 * const inputs = [{ url: `http://127.0.0.1:${server.addr.port}/${hash}`, sha256: hash }];
 * const stateDir = await Deno.makeTempDir();
 * const cacheDir = `${stateDir}/blob-cache`;
 * const files = await fetchBlobInputs(inputs, { maxBytes: DEFAULT_MAX_INPUT_BYTES, cacheDir });
 * assert.deepEqual(files, [{ path: `${cacheDir}/${hash}`, name: hash }]); // for the sandbox's job
 * assert.equal(await Deno.readTextFile(files[0].path), "a project");
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 * @throws {BlobInputError} with the reason (missing, too large, sha256 mismatch) from every URL.
 * @throws {BlobWriteError} when the cache cannot hold it (this machine's fault, not the blob's).
 */
export async function fetchBlobInputs(
  inputs: readonly JobBlobInput[],
  o: BlobInputOptions & { cacheDir: string },
): Promise<{ path: string; name: string }[]> {
  await Deno.mkdir(o.cacheDir, { recursive: true, mode: 0o700 }).catch((err) => {
    throw new BlobWriteError(o.cacheDir, err);
  });
  const files: { path: string; name: string }[] = [];
  for (const input of inputs) {
    const path = `${o.cacheDir}/${input.sha256}`;
    const cached = await Deno.stat(path).catch(() => null);
    if (cached === null) {
      const progress: TransferProgress | undefined = o.onProgress &&
        ((done, total) => o.onProgress!(input.sha256, done, total));
      await retryPassing(o.retryForMs ?? BLOB_RETRY_FOR_MS, async () => {
        const why: string[] = [];
        let passing = 0;
        for (const url of [input.url, ...(input.mirrors ?? [])]) {
          try {
            await downloadBlob({
              url,
              sha256: input.sha256,
              maxBytes: o.maxBytes,
              to: path,
              onProgress: progress,
            });
            return;
          } catch (err) {
            // This disk's failure, not the blob's nor its servers': the caller's to answer for.
            if (err instanceof BlobWriteError) throw err;
            if (isPassing(err)) passing++;
            why.push(err instanceof BlossomError ? err.message : String(err));
            // Over the limit is over it wherever the bytes come from.
            if (err instanceof BlossomError && err.status === 413) break;
          }
        }
        throw new BlobInputError(
          `input blob ${input.sha256.slice(0, 12)} refused: ${why.join("; ")}`,
          { passing: passing === why.length },
        );
      });
    }
    files.push({ path, name: input.sha256 });
  }
  return files;
}

/**
 * Removes cached blobs older than `maxAgeMs` (by modification time); returns how many went.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pruneBlobCache } from "./blob_inputs.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/old`, "x");
 * await Deno.utime(`${dir}/old`, new Date(0), new Date(0));
 * await Deno.writeTextFile(`${dir}/new`, "x");
 * assert.equal(await pruneBlobCache(dir, 24 * 3600_000), 1);
 * assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["new"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function pruneBlobCache(dir: string, maxAgeMs: number): Promise<number> {
  let removed = 0;
  const cutoff = Date.now() - maxAgeMs;
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      const st = await Deno.lstat(path).catch(() => null);
      // Leftover partial downloads go too: nothing resumes them.
      if (st !== null && ((st.mtime?.getTime() ?? 0) < cutoff || entry.name.endsWith(".part"))) {
        await Deno.remove(path).catch(() => {});
        removed++;
      }
    }
  } catch {
    // no cache yet
  }
  return removed;
}
