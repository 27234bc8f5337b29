/**
 * A town's TLS certificate (config/town_tls.ts): read from its files at start, served on both
 * ports (NIP-01/HTTP and BTP), and read again on SIGHUP for a renewal: new connections get the
 * new certificate, open ones keep theirs (transport/tls_listener.ts says how). A reload that
 * fails (a file half written, a key that does not match) keeps the old certificate and says why.
 *
 * @module
 */
import type { TownTls } from "../../config/town_tls.ts";
import { certificateFingerprint, readTlsKeyPair } from "../../transport/tls_key_pair.ts";
import type { TlsKeyPair } from "../../transport/tls_listener.ts";

/** A port that serves the certificate. */
export interface CertificateHolder {
  replaceCertificate(keyPair: TlsKeyPair): void;
}

/** The town's certificate, as served now. */
export class TownCertificate {
  readonly #files: TownTls;
  #keyPair: TlsKeyPair;
  #fingerprint: string;
  readonly #holders: CertificateHolder[] = [];

  private constructor(files: TownTls, keyPair: TlsKeyPair, fingerprint: string) {
    this.#files = files;
    this.#keyPair = keyPair;
    this.#fingerprint = fingerprint;
  }

  /**
   * Reads the certificate and key files.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TownCertificate } from "./town_certificate.ts";
   *
   * await assert.rejects(
   *   TownCertificate.load({ certFile: "/nonexistent.pem", keyFile: "/nonexistent.key" }),
   *   (err: { code?: string }) => err.code === "tls-key-pair",
   * );
   * ```
   * @throws {TlsKeyPairError} when a file cannot be read or holds no PEM of its kind.
   */
  static async load(files: TownTls): Promise<TownCertificate> {
    const keyPair = await readTlsKeyPair(files.certFile, files.keyFile);
    return new TownCertificate(files, keyPair, await certificateFingerprint(keyPair.cert));
  }

  /** The certificate and key, PEM. */
  get keyPair(): TlsKeyPair {
    return this.#keyPair;
  }

  /** The served certificate's SHA-256 fingerprint (`openssl x509 -fingerprint -sha256`). */
  get fingerprint(): string {
    return this.#fingerprint;
  }

  /** Serves the certificate on `holder` too from now on, reloads included. */
  serveOn(holder: CertificateHolder): void {
    this.#holders.push(holder);
  }

  /**
   * Reads the files again and serves them to new connections on every port; the new
   * fingerprint. On failure the old certificate stays on every port.
   */
  async reload(): Promise<string> {
    const keyPair = await readTlsKeyPair(this.#files.certFile, this.#files.keyFile);
    const fingerprint = await certificateFingerprint(keyPair.cert);
    const done: CertificateHolder[] = [];
    try {
      for (const holder of this.#holders) {
        holder.replaceCertificate(keyPair);
        done.push(holder);
      }
    } catch (err) {
      for (const holder of done) holder.replaceCertificate(this.#keyPair);
      throw err;
    }
    this.#keyPair = keyPair;
    this.#fingerprint = fingerprint;
    return fingerprint;
  }
}
