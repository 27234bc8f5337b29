/**
 * A result blob fetched by its hash from the requester's own towns, never from the URL the
 * provider's tag names (docs/PROTOCOL.md "Blobs in jobs"): the tag is the provider's word, and
 * a URL of its choice would make the requester download from anywhere, as much as that server
 * sends. Each town is asked for `<town's HTTP URL>/<sha256>` in turn (Blossom BUD-01: the hash
 * is the address); the first that answers with bytes of that hash, within `maxBytes` (checked
 * on the Content-Length before reading and on every chunk while streaming), wins.
 *
 * @module
 */
import {
  BlossomError,
  downloadBlob,
  type TransferProgress,
} from "../../transport/blossom_client.ts";
import { RoleError } from "../role_error.ts";

/** No town of the profile had the blob (each town's answer is in the message). */
export class TownBlobFetchError extends RoleError {
  override name = "TownBlobFetchError";
}

/** Options of {@linkcode fetchBlobFromTowns}. */
export interface FetchBlobFromTownsOptions {
  /** The profile's towns' Blossom servers (their HTTP URLs), tried in order. */
  servers: readonly string[];
  sha256: string;
  /** Bytes the blob may have, refused past them before or while reading. */
  maxBytes: number;
  /** Where it is written, only once its bytes hash to `sha256`. */
  to: string;
  signal?: AbortSignal;
  onProgress?: TransferProgress;
}

/**
 * Downloads a blob by hash from the first of `servers` that has it; its size.
 *
 * It fetches from towns: no example that runs here: tests/e2e/blob_job_test.ts.
 * @throws {TownBlobFetchError} when no town answered with it.
 */
export async function fetchBlobFromTowns(o: FetchBlobFromTownsOptions): Promise<number> {
  if (!/^[0-9a-f]{64}$/.test(o.sha256)) {
    throw new TownBlobFetchError(`not a sha256: ${JSON.stringify(o.sha256)}`);
  }
  if (o.servers.length === 0) throw new TownBlobFetchError("the profile names no town");
  const answers: string[] = [];
  for (const server of o.servers) {
    const url = `${server.replace(/\/+$/, "")}/${o.sha256}`;
    try {
      const { size } = await downloadBlob({
        url,
        sha256: o.sha256,
        maxBytes: o.maxBytes,
        to: o.to,
        signal: o.signal,
        onProgress: o.onProgress,
      });
      return size;
    } catch (err) {
      if (!(err instanceof BlossomError)) throw err;
      answers.push(err.message);
    }
  }
  throw new TownBlobFetchError(`no town of the profile has it: ${answers.join("; ")}`);
}
