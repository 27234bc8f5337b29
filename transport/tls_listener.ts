/**
 * A TLS listener whose certificate can be replaced while it runs, for a certificate renewed on
 * disk (docs/OPERATIONS.md "A town on the internet"): connections accepted before keep the TLS
 * session they have; connections accepted after get the new certificate.
 *
 * Why two sockets on one port: `Deno.listenTls` (and `Deno.serve`) take the certificate once, at
 * listen time, and Deno 2.9.6 has no way to change it on a running listener nor a server-side
 * `startTls` over an accepted TCP connection. So the listener binds with `SO_REUSEPORT`
 * (`--unstable-net`, deno.json), and a replacement binds a second listener on the same port with
 * the new certificate, then closes the first: closing a listener ends only its accepting, never
 * the connections it accepted. A connection the kernel had queued on the old socket in the instant
 * between the last accept and the close is reset (the client connects again); Linux 5.14+ moves
 * such connections to the new socket with the sysctl `net.ipv4.tcp_migrate_req=1`.
 *
 * Because `SO_REUSEPORT` would let a second process bind the same port without an error, the
 * listener first binds the port without it and lets it go (a port in use is refused with
 * `AddrInUse`, as a plain listener is), unless `shared` says processes share the port on purpose.
 *
 * @module
 */

/** A certificate chain and its private key, PEM. */
export interface TlsKeyPair {
  /** The certificate chain, PEM (the server's first, then its intermediates). */
  cert: string;
  /** The private key, PEM (PKCS#8, RSA or EC). */
  key: string;
}

/** Options for {@linkcode ReloadableTlsListener}. */
export interface ReloadableTlsListenerOptions {
  hostname: string;
  /** 0 picks a free port (kept across replacements). */
  port: number;
  keyPair: TlsKeyPair;
  /** Other processes share the port on purpose (no exclusive check). */
  shared?: boolean;
}

/**
 * Accepts TLS connections; {@linkcode ReloadableTlsListener.replace} swaps the certificate.
 *
 * @example
 * ```ts
 * import { ReloadableTlsListener } from "./tls_listener.ts";
 *
 * declare const pem: { cert: string; key: string; newCert: string; newKey: string };
 * const listener = new ReloadableTlsListener({ hostname: "127.0.0.1", port: 0, keyPair: pem });
 * listener.replace({ cert: pem.newCert, key: pem.newKey });
 * listener.close();
 * ```
 */
export class ReloadableTlsListener {
  /** The bound address (the port stays the same across replacements). */
  readonly addr: Deno.NetAddr;
  #current: Deno.TlsListener;
  #closed = false;

  /** Binds; throws `Deno.errors.AddrInUse` when another socket holds the port. */
  constructor(options: ReloadableTlsListenerOptions) {
    let port = options.port;
    if (!options.shared) {
      const probe = Deno.listen({ hostname: options.hostname, port });
      port = (probe.addr as Deno.NetAddr).port;
      probe.close();
    }
    this.#current = Deno.listenTls({
      hostname: options.hostname,
      port,
      reusePort: true,
      ...options.keyPair,
    });
    this.addr = this.#current.addr;
  }

  /** The next connection (its handshake runs on its first read or write). */
  async accept(): Promise<Deno.TlsConn> {
    for (;;) {
      const listener = this.#current;
      try {
        return await listener.accept();
      } catch (err) {
        // The old socket closed by a replacement: accept on the new one.
        if (this.#closed || listener === this.#current) throw err;
      }
    }
  }

  /**
   * Listens with `keyPair` from now on. Throws (and keeps the old certificate) when the pair is
   * not a usable certificate and key.
   */
  replace(keyPair: TlsKeyPair): void {
    if (this.#closed) throw new Deno.errors.BadResource("the listener is closed");
    const next = Deno.listenTls({
      hostname: this.addr.hostname,
      port: this.addr.port,
      reusePort: true,
      ...keyPair,
    });
    const old = this.#current;
    this.#current = next;
    old.close();
  }

  /** Stops accepting (connections accepted stay open). */
  close(): void {
    this.#closed = true;
    this.#current.close();
  }
}
