/**
 * Where the reference peers live: `harness/peers/`, an npm prefix (its `package.json` and lockfile
 * pin `ilp-connector`, `ilp-plugin-btp` and `@nostr-relay/*`) that `deno task setup` installs into
 * `harness/peers/node_modules` (tools/npm_prefix_install.ts), beside `nostr_relay.mjs`, the relay's
 * entry. They run under Node as independent implementations the interop tests and the benches
 * talk to; nothing imports them. They sit in harness/ because harness/ starts them and bench/ and
 * harness/ import nothing under tests/ (docs/ARCHITECTURE.md "Layers").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { REFERENCE_PEERS_DIR } from "./reference_peers.ts";
 *
 * const manifest = JSON.parse(
 *   await Deno.readTextFile(new URL("package.json", REFERENCE_PEERS_DIR)),
 * );
 * assert.ok("ilp-connector" in manifest.dependencies);
 * ```
 *
 * @module
 */

/** The reference peers' npm prefix: run `node` there so it resolves their packages. */
export const REFERENCE_PEERS_DIR: URL = new URL("./peers/", import.meta.url);
