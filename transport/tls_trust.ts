/**
 * The certificate authorities a client trusts besides the system's, for a town whose certificate
 * a private CA signed (`ca_file`, docs/OPERATIONS.md "A town on the internet"). One list per
 * process (a worker gets it in its options: stages/relay_source.ts `caCerts`), used by every
 * TLS client here: the WebSocket of transport/nodelay_websocket.ts (`Deno.startTls` with
 * `caCerts`), Deno's built-in `WebSocket` and `fetch` (a `Deno.createHttpClient({ caCerts })`
 * passed as their `client`).
 *
 * A certificate the client does not trust fails Deno's handshake with `InvalidData` and a
 * message `invalid peer certificate: <reason>` (rustls' words; the only form Deno gives it in):
 * {@linkcode untrustedCertificate} turns it into a {@linkcode TlsTrustError} that names the
 * problem and the setting that fixes it.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import { TransportError } from "./transport_error.ts";

/** The server's certificate is not trusted (unknown issuer, expired, wrong name...). */
export class TlsTrustError extends TransportError {
  override name = "TlsTrustError";
}

/** The CA file cannot be read, holds no PEM certificate, or a block that is not one. */
export class CaFileError extends TransportError {
  override name = "CaFileError";
}

let trusted: readonly string[] = [];
let httpClient: Deno.HttpClient | undefined;

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
/** rustls' words for a certificate it refused, as Deno reports them. */
const UNTRUSTED = /invalid peer certificate: ?([^\n]*)/i;

/**
 * Trusts the certificates of a PEM file (one or several CAs) in this process from now on, besides
 * the system's and those trusted before.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trustCaFile } from "./tls_trust.ts";
 *
 * const file = await Deno.makeTempFile();
 * try {
 *   await assert.rejects(trustCaFile(file), { code: "ca-file" }); // empty: no CA
 * } finally {
 *   await Deno.remove(file);
 * }
 * ```
 * @throws {CaFileError} naming the file when it cannot be read, holds no certificate, or holds a
 * block that does not parse as one.
 */
export async function trustCaFile(file: string): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    throw new CaFileError(`cannot read the CA file ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const certs = text.match(CERT_BLOCK);
  if (certs === null) throw new CaFileError(`the CA file ${file} holds no PEM certificate`);
  certs.forEach((pem, i) => {
    try {
      new X509Certificate(pem); // parsed here, so a broken block is named before any handshake
    } catch (err) {
      throw new CaFileError(
        `the CA file ${file}: certificate ${i + 1} is not a valid X.509 certificate ` +
          `(${(err as Error).message})`,
        { cause: err },
      );
    }
  });
  trustCaCerts(certs);
}

/**
 * Trusts these PEM certificates in this process from now on (a worker is handed the list).
 *
 * @example
 * ```ts
 * import { trustCaCerts, trustedCaCerts } from "./tls_trust.ts";
 *
 * trustCaCerts(trustedCaCerts()); // nothing new: the list stays as it is
 * ```
 */
export function trustCaCerts(pems: readonly string[]): void {
  const fresh = pems.filter((p) => !trusted.includes(p));
  if (fresh.length === 0) return;
  trusted = [...trusted, ...fresh];
  httpClient?.close();
  httpClient = undefined;
}

/**
 * The extra CAs trusted in this process (empty: the system's only).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trustedCaCerts } from "./tls_trust.ts";
 *
 * assert.deepEqual(trustedCaCerts(), []); // none trusted yet: the system's only
 * ```
 */
export function trustedCaCerts(): readonly string[] {
  return trusted;
}

/**
 * What `fetch` and the built-in `WebSocket` take to trust the extra CAs: `{ client }`, or `{}`
 * when there are none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trustedClient } from "./tls_trust.ts";
 *
 * const init: RequestInit = { method: "HEAD", ...trustedClient() };
 * assert(!("client" in init)); // no extra CA: fetch's own client
 * ```
 */
export function trustedClient(): { client?: Deno.HttpClient } {
  if (trusted.length === 0) return {};
  httpClient ??= Deno.createHttpClient({ caCerts: [...trusted] });
  return { client: httpClient };
}

/**
 * A {@linkcode TlsTrustError} for `target` when `err` (or its causes) is a refused certificate,
 * else undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { untrustedCertificate } from "./tls_trust.ts";
 *
 * const err = new TypeError("fetch failed", {
 *   cause: new Error("client error (Connect): invalid peer certificate: UnknownIssuer"),
 * });
 * const trust = untrustedCertificate(err, "https://town.example");
 * assert(trust?.message.includes("UnknownIssuer") && trust.message.includes("ca_file"));
 * assert.equal(untrustedCertificate(new Error("connection refused"), "x"), undefined);
 * ```
 */
export function untrustedCertificate(err: unknown, target: string): TlsTrustError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof TlsTrustError) return e;
    const reason = UNTRUSTED.exec(e.message)?.[1]?.trim();
    if (reason === undefined) continue;
    return new TlsTrustError(
      `the TLS certificate of ${target} is not trusted (invalid peer certificate: ${reason}); ` +
        "if a private CA signed it, set ca_file in config.toml (or TURNPIKE_CA_FILE) to that " +
        "CA's PEM file",
      { cause: err },
    );
  }
  return undefined;
}
