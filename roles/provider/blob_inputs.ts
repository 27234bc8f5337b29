/**
 * A job's blob inputs on the provider's side (docs/PROTOCOL.md "Blobs in jobs"): checked with a
 * `HEAD` before the provider asks to be paid (missing or too large: the job is refused with a
 * reason, nobody pays), then downloaded and verified after the payment and before the sandbox
 * starts (the sandbox has no network). Downloads land in a cache by sha256 (`<state
 * dir>/blob-cache/`), so a job re-run after a restart, or another job on the same context,
 * does not fetch twice; a partial download is never taken for a whole one.
 *
 * @module
 */
import { blobInputsOf, type JobBlobInput } from "../../protocol/job_blobs.ts";
import {
  BlossomError,
  downloadBlob,
  headBlobUrl,
  type TransferProgress,
} from "../../transport/blossom_client.ts";

/** Default largest input blob a provider takes: 256 MiB (the town's default blob limit). */
export const DEFAULT_MAX_INPUT_BYTES = 256 * 1024 * 1024;

/** A blob input that cannot be used; the message is for the requester's error feedback. */
export class BlobInputError extends Error {
  override name = "BlobInputError";
}

/** Options for {@linkcode checkBlobInputs} and {@linkcode fetchBlobInputs}. */
export interface BlobInputOptions {
  /** Largest blob, and largest sum of a job's blobs. */
  maxBytes: number;
  /** Where verified blobs are kept, by sha256. */
  cacheDir?: string;
  onProgress?: (sha256: string, done: number, total: number) => void;
}

/**
 * The request's blob inputs, each found (`HEAD`) and within the size limit.
 *
 * @example
 * ```ts
 * const inputs = await checkBlobInputs(request.tags, { maxBytes: DEFAULT_MAX_INPUT_BYTES });
 * ```
 * @throws {BlobInputError} with the reason.
 */
export async function checkBlobInputs(
  tags: readonly string[][],
  o: BlobInputOptions,
): Promise<JobBlobInput[]> {
  const inputs = blobInputsOf(tags);
  let total = 0;
  for (const input of inputs) {
    let head;
    try {
      head = await headBlobUrl(input.url);
    } catch (err) {
      throw new BlobInputError(
        `input blob ${input.url} cannot be reached: ${(err as Error).message}`,
      );
    }
    if (head === undefined) throw new BlobInputError(`input blob ${input.url} is not stored there`);
    total += head.size;
    if (head.size > o.maxBytes || total > o.maxBytes) {
      throw new BlobInputError(
        `input blob ${input.sha256.slice(0, 12)} is ${head.size} bytes; this provider takes ` +
          `at most ${o.maxBytes} bytes of input per job`,
      );
    }
  }
  return inputs;
}

/**
 * Downloads (or finds in the cache) and verifies each blob input; returns the files for the
 * sandbox, named by sha256.
 *
 * @example
 * ```ts
 * const files = await fetchBlobInputs(inputs, { maxBytes, cacheDir: `${stateDir}/blob-cache` });
 * await sandbox.run({ ...job, files });
 * ```
 * @throws {BlobInputError} with the reason (missing, too large, sha256 mismatch).
 */
export async function fetchBlobInputs(
  inputs: readonly JobBlobInput[],
  o: BlobInputOptions & { cacheDir: string },
): Promise<{ path: string; name: string }[]> {
  await Deno.mkdir(o.cacheDir, { recursive: true, mode: 0o700 });
  const files: { path: string; name: string }[] = [];
  for (const input of inputs) {
    const path = `${o.cacheDir}/${input.sha256}`;
    const cached = await Deno.stat(path).catch(() => null);
    if (cached === null) {
      const progress: TransferProgress | undefined = o.onProgress &&
        ((done, total) => o.onProgress!(input.sha256, done, total));
      try {
        await downloadBlob({
          url: input.url,
          sha256: input.sha256,
          maxBytes: o.maxBytes,
          to: path,
          onProgress: progress,
        });
      } catch (err) {
        const why = err instanceof BlossomError ? err.message : String(err);
        throw new BlobInputError(`input blob ${input.sha256.slice(0, 12)} refused: ${why}`);
      }
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
 * await pruneBlobCache(`${stateDir}/blob-cache`, 24 * 3600_000);
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
