/**
 * The `[store]` table of a town on several processes (docs/OPERATIONS.md "A town on several
 * machines"): the PostgreSQL URL, the blob directory the processes on one host share and the
 * address of each process's private listener, read by config/town_settings.ts.
 *
 * @module
 */
import { ConfigError } from "./config_error.ts";

function townError(message: string, key: string): ConfigError {
  return new ConfigError(message, { key });
}

/** `--store-blobs-dir`, `TURNPIKE_STORE_BLOBS_DIR` or `[store] blobs_dir`: an absolute path. */
export function blobsDir(value: unknown): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (typeof value !== "string" || !value.startsWith("/")) {
    throw townError(
      "store blobs_dir must be an absolute path (the blob directory the town's processes on " +
        "this host share)",
      "storeBlobsDir",
    );
  }
  return value;
}

/** `[store] blob_peer_host`, `blob_peer_port`, `blob_peer_url` (and their variables). */
export function blobPeer(
  host: unknown,
  port: unknown,
  url: unknown,
): { host: string; port: number; url?: string } {
  if (host !== undefined && (typeof host !== "string" || !/^[\w.:-]+$/.test(host))) {
    throw townError("store blob_peer_host must be a host name or an IP address", "storeBlobPeer");
  }
  const p = port === undefined || port === "" ? 0 : Number(port);
  if (!Number.isInteger(p) || p < 0 || p > 65535) {
    throw townError("store blob_peer_port must be a port number (0: a free one)", "storeBlobPeer");
  }
  if (
    url !== undefined && url !== "" &&
    (typeof url !== "string" || !/^https?:\/\/[^\s/]+$/.test(url))
  ) {
    throw townError(
      "store blob_peer_url must be http://host:port (no path): how the town's other processes " +
        "reach this one's blob listener",
      "storeBlobPeer",
    );
  }
  return {
    host: host === undefined || host === "" ? "127.0.0.1" : host as string,
    port: p,
    url: url === undefined || url === "" ? undefined : url as string,
  };
}

/** `--store`, `TURNPIKE_STORE_URL` or `[store] url`: a PostgreSQL URL, or nothing. */
export function storeUrl(value: unknown): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (typeof value !== "string" || !/^postgres(ql)?:\/\/[^\s]+$/.test(value)) {
    throw townError(
      "store must be a PostgreSQL URL (postgres://user@host:port/database); " +
        "leave it unset for the embedded SQLite store",
      "storeUrl",
    );
  }
  return value;
}
