/**
 * The errors configuration loading reports: which key, which source, what was wrong.
 *
 * @module
 */
import { TurnpikeError } from "../protocol/turnpike_error.ts";

/** Where a setting's value came from. */
export type SettingSource =
  | { kind: "flag"; name: string }
  | { kind: "env"; name: string }
  | { kind: "file"; path: string; key: string }
  | { kind: "default" };

/**
 * Describes a source for an error message (`flag --relay-url`, `env CROSSTOWN_RELAY_URL`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(describeSource({ kind: "env", name: "TURNPIKE_BTP_PORT" }), "env TURNPIKE_BTP_PORT");
 * ```
 */
export function describeSource(source: SettingSource): string {
  switch (source.kind) {
    case "flag":
      return `flag --${source.name}`;
    case "env":
      return `env ${source.name}`;
    case "file":
      return `${source.path}: ${source.key}`;
    case "default":
      return "default";
  }
}

/**
 * An error of the config layer (docs/ARCHITECTURE.md "Errors"): the base of
 * {@linkcode ConfigError} and of the layer's other error classes. Not itself a `ConfigError`,
 * which the commands catch as "a setting is bad".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError, ConfigLayerError } from "./config_error.ts";
 *
 * assert.ok(new ConfigError("must be an integer") instanceof ConfigLayerError);
 * ```
 */
export abstract class ConfigLayerError extends TurnpikeError {}

/** Options for {@linkcode ConfigError}. */
export interface ConfigErrorOptions {
  /** The setting, in its camelCase name (`relayUrl`), when one is at fault. */
  key?: string;
  /** Where the bad value came from. */
  source?: SettingSource;
  /** Underlying error (TOML parse error, URL error), kept as `Error.cause`. */
  cause?: unknown;
}

/**
 * A configuration value is missing or invalid. The message names the key and its source.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const err = new ConfigError("must be an integer 0-65535", {
 *   key: "btpPort",
 *   source: { kind: "env", name: "TURNPIKE_BTP_PORT" },
 * });
 * assert.equal(err.message, "must be an integer 0-65535 (btpPort from env TURNPIKE_BTP_PORT)");
 * ```
 */
export class ConfigError extends ConfigLayerError {
  /** `"ConfigError"`: explicit so it survives bundling, for logs and matching. */
  override name = "ConfigError";
  /** The setting at fault, in its camelCase name, when one is. */
  key?: string;
  /** Where the bad value came from, when known. */
  source?: SettingSource;
  /** Appends the key and its source to `message`, e.g. `... (btpPort from env X)`. */
  constructor(message: string, options: ConfigErrorOptions = {}) {
    const where = [
      options.key,
      options.source ? `from ${describeSource(options.source)}` : undefined,
    ].filter((x) => x !== undefined).join(" ");
    super(where ? `${message} (${where})` : message, { cause: options.cause });
    this.key = options.key;
    this.source = options.source;
  }
}

/**
 * A non-loopback relay or connector URL is not `wss://` (or `btp+wss://`) and insecure URLs were
 * not allowed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const err = new InsecureUrlError("ws://relay.example.com is not encrypted", { key: "relayUrl" });
 * assert.ok(err instanceof ConfigError); // caught with every other bad setting
 * assert.equal(err.key, "relayUrl");
 * ```
 */
export class InsecureUrlError extends ConfigError {
  /** `"InsecureUrlError"`: explicit so it survives bundling. */
  override name = "InsecureUrlError";
}
