/**
 * A server's certificate and key read from their PEM files (the town's `tls_cert` and `tls_key`,
 * docs/OPERATIONS.md "A town on the internet"), checked before they are served, and the
 * certificate's SHA-256 fingerprint as `openssl x509 -noout -fingerprint -sha256` prints it, for
 * the log line that says which certificate is being served.
 *
 * @module
 */
import { TransportError } from "./transport_error.ts";
import type { TlsKeyPair } from "./tls_listener.ts";

/** A certificate or key file that cannot be read or holds no PEM of its kind. */
export class TlsKeyPairError extends TransportError {
  override name = "TlsKeyPairError";
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/;
const KEY_BLOCK = /-----BEGIN ((RSA |EC )?PRIVATE KEY)-----[\s\S]*?-----END \1-----/;

/**
 * Reads the certificate chain and the private key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTlsKeyPair } from "./tls_key_pair.ts";
 *
 * const bad = await Deno.makeTempFile();
 * try {
 *   await assert.rejects(readTlsKeyPair(bad, bad), { code: "tls-key-pair" }); // empty: no PEM
 * } finally {
 *   await Deno.remove(bad);
 * }
 * ```
 * @throws {TlsKeyPairError} naming the file when it cannot be read or holds no PEM of its kind.
 */
export async function readTlsKeyPair(certFile: string, keyFile: string): Promise<TlsKeyPair> {
  const read = async (file: string, what: string, block: RegExp) => {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (err) {
      throw new TlsKeyPairError(`cannot read the TLS ${what} ${file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!block.test(text)) throw new TlsKeyPairError(`${file} holds no PEM ${what}`);
    return text;
  };
  return {
    cert: await read(certFile, "certificate", CERT_BLOCK),
    key: await read(keyFile, "private key", KEY_BLOCK),
  };
}

/**
 * The SHA-256 fingerprint of the first certificate of a PEM chain, as `AB:CD:...` (upper case,
 * colons), the form `openssl x509 -noout -fingerprint -sha256` prints.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { certificateFingerprint } from "./tls_key_pair.ts";
 *
 * const pem = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
 * const fingerprint = await certificateFingerprint(pem);
 * assert(fingerprint.startsWith("AE:4B:32:80"), fingerprint); // SHA-256 of 00 01 02
 * ```
 * @throws {TlsKeyPairError} when the text holds no certificate.
 */
export async function certificateFingerprint(pem: string): Promise<string> {
  const body = CERT_BLOCK.exec(pem)?.[1];
  if (body === undefined) throw new TlsKeyPairError("no PEM certificate");
  const der = Uint8Array.from(atob(body.replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return [...digest].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
}
