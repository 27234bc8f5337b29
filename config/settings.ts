/**
 * Node settings with one precedence rule: CLI flags > environment > `<state dir>/config.toml` >
 * defaults. Every value is validated and remembers its source, so an error names the key and
 * where the bad value came from.
 *
 * Environment names (first match wins, left to right):
 *
 * | setting           | TOML key            | environment                                                                |
 * | ----------------- | ------------------- | -------------------------------------------------------------------------- |
 * | `profile`         | (none)              | `TURNPIKE_PROFILE`                                                         |
 * | `stateDir`        | (none)              | `TURNPIKE_STATE_DIR` (`TURNPIKE_HOME` replaces `~/.turnpike`)              |
 * | `role`            | `role`              | `TURNPIKE_ROLE`                                                            |
 * | `network`         | `network`           | `TURNPIKE_NETWORK`, `GASTOWN_CROSSTOWN_NETWORK`                            |
 * | `host`            | `host`              | `TURNPIKE_HOST`, `GASTOWN_CROSSTOWN_HOST`                                  |
 * | `townPort`        | `town_port`         | `TURNPIKE_TOWN_PORT`, `GASTOWN_CROSSTOWN_TOWN_PORT`                        |
 * | `btpPort`         | `btp_port`          | `TURNPIKE_BTP_PORT`, `GASTOWN_CROSSTOWN_BTP_PORT`                          |
 * | `relayUrl`        | `relay_url`         | `TURNPIKE_RELAY_URL`, `CROSSTOWN_RELAY_URL`, `GASTOWN_CROSSTOWN_RELAY_URL` |
 * | `connectorBtpUrl` | `connector_btp_url` | `TURNPIKE_CONNECTOR_BTP_URL`, `CROSSTOWN_CONNECTOR_BTP`, `GASTOWN_CROSSTOWN_CONNECTOR_BTP` |
 * | `pricePerByte`    | `price_per_byte`    | `TURNPIKE_PRICE_PER_BYTE`, `GASTOWN_CROSSTOWN_PRICE_PER_BYTE`              |
 * | `priceCeiling`    | `price_ceiling`     | `TURNPIKE_PRICE_CEILING`, `GASTOWN_CROSSTOWN_PRICE_CEILING`                |
 * | `allowInsecure`   | `allow_insecure`    | `TURNPIKE_ALLOW_INSECURE`, `GASTOWN_CROSSTOWN_ALLOW_INSECURE`              |
 * | `caFile`          | `ca_file`           | `TURNPIKE_CA_FILE` (extra CAs trusted for `wss://`/`btp+wss://`/`https://`) |
 * | `mainnet`         | `mainnet`           | `TURNPIKE_MAINNET` (move real funds: a mainnet or unknown chain id)        |
 * | `btpToken`        | `btp_token`         | `TURNPIKE_BTP_TOKEN` (older files: `[requester]` / `[provider]` `btp_token`) |
 * | `chain`           | (none)              | `TURNPIKE_CHAIN`                                                           |
 * | `rpcUrl`          | `[chains."<id>"] rpc_url` | `TURNPIKE_RPC_URL` (`GASTOWN_BASE_SEPOLIA_RPC`: Base Sepolia's only) |
 * | `tokenNetwork`    | `[chains."<id>"] token_network` | `TURNPIKE_TOKEN_NETWORK`                             |
 * | `token`           | `[chains."<id>"] token` | `TURNPIKE_TOKEN`                                                   |
 *
 * The chain settings live in the `[chains."<id>"]` tables of the file; a flag or environment
 * value is laid over the table of `chain` (default: the file's only chain table, else
 * `evm:base:84532` on the testnet network and `evm:base:31337` otherwise) in `sections.chains`,
 * so every part reading a chain table sees the same precedence.
 *
 * Network: the label of the chains the profile is set up for (config/known_chains.ts: Base
 * Sepolia `testnet`, Base `mainnet`, an unknown chain id `unknown`), else the `network` setting,
 * else `local` (mainnet is never a default). Defaults: host `127.0.0.1`, town NIP-01/HTTP port
 * 7100, BTP port 3000, relay `ws://<host>:<townPort>`, connector `btp+ws://<host>:<btpPort>`,
 * price 10 base units per byte, price ceiling 100 per byte, insecure URLs refused off loopback;
 * no BTP token and no role. Tables in config.toml (`[chain]`, ...) are not interpreted here; they are handed on in
 * `sections` for the parts that own them.
 *
 * @module
 */
import { parse as parseToml, TomlError } from "smol-toml";
import { ConfigError, type SettingSource } from "./config_error.ts";
import { booleanSetting, filePathSetting, uint64Setting, urlSetting } from "./setting_codecs.ts";
// Where it was first exported; the URL codec's rule (config/setting_codecs.ts).
export { isLoopbackHost } from "./setting_codecs.ts";
import { DEFAULT_PROFILE, type EnvReader, resolveStateDir } from "./state_dir.ts";
import { townArrayAsTable } from "./town_array.ts";
import { plainRelayArrayAsTable } from "./plain_relays.ts";
import { trustSettingsCaFile } from "./ca_file.ts";
import { type ChainNetwork, networkOfChains } from "./known_chains.ts";

/**
 * Which network the node is on; shown prominently, mainnet never the default. `unknown` is a
 * chain id outside config/known_chains.ts's table (treated as real funds); it is derived, never
 * chosen.
 */
export type Network = ChainNetwork;

/** The networks the `network` setting may name, in the order they are listed in messages. */
export const NETWORKS: readonly Network[] = ["local", "testnet", "mainnet"];

/** What a profile is for (`turnpike init --role`): tells `chain up` what a state dir needs. */
export type Role = "requester" | "provider" | "town";

/** The roles, in the order they are listed in messages. */
export const ROLES: readonly Role[] = ["requester", "provider", "town"];

/** Validated settings. Amounts are bigint base units (ILP amounts are uint64). */
export interface TurnpikeSettings {
  /** Profile name; one path segment (`[A-Za-z0-9._-]`, max 64), default `default`. */
  profile: string;
  /** Absolute state directory (`~/.turnpike/<profile>` unless overridden). */
  stateDir: string;
  /** The network the node runs on; `local` unless chosen explicitly. */
  network: Network;
  /** Interface (IP or host name) the town binds and local URLs point to. */
  host: string;
  /** TCP port of the town's NIP-01 WebSocket / HTTP listener (0-65535, 0 = ephemeral). */
  townPort: number;
  /** TCP port of the BTP server (0-65535, 0 = ephemeral). */
  btpPort: number;
  /** NIP-01 relay URL (`ws://` or `wss://`); `wss://` required off loopback. */
  relayUrl: string;
  /** BTP peer URL (`btp+ws://` or `btp+wss://`); encrypted required off loopback. */
  connectorBtpUrl: string;
  /** Price the town charges per byte of TOON-encoded event, in base units. */
  pricePerByte: bigint;
  /** Highest price per byte this node agrees to pay, in base units. */
  priceCeiling: bigint;
  /** Allow unencrypted `ws://` / `btp+ws://` URLs to non-loopback hosts. */
  allowInsecure: boolean;
  /** A PEM file of CAs trusted besides the system's, for a town with a private CA's certificate. */
  caFile?: string;
  /** Move funds on a chain of real funds (mainnet or an unknown chain id): `--mainnet`. */
  mainnet: boolean;
  /** BTP `auth_token` of this node's account on its town; absent: none (or in the URL). */
  btpToken?: string;
  /** The role the profile was made for (`turnpike init`); absent: not said. */
  role?: Role;
  /** The chain the flag/environment chain settings below apply to (`evm:base:<id>`). */
  chain?: string;
  /** JSON-RPC URL of that chain (flag or environment; the file has it in the chain table). */
  rpcUrl?: string;
  /** Its TokenNetwork contract (flag or environment). */
  tokenNetwork?: string;
  /** Its ERC-20 token (flag or environment). */
  token?: string;
}

/** A setting's name. */
export type SettingKey = keyof TurnpikeSettings;

/** Values given as CLI flags (commander hands strings; typed values are accepted too). */
export type SettingsFlags = { [K in SettingKey]?: string | number | bigint | boolean };

/** Settings plus where each value came from. */
export interface LoadedSettings {
  /** The validated values. */
  settings: TurnpikeSettings;
  /** Where each value came from (flag, env, file or default), for error messages. */
  sources: Record<SettingKey, SettingSource>;
  /** Path of the config file read, when there was one. */
  configFile?: string;
  /** TOML tables (`[name]`) of the config file, uninterpreted. */
  sections: Record<string, Record<string, unknown>>;
}

/** Options for {@linkcode loadSettings}. */
export interface LoadSettingsOptions {
  /** Values from CLI flags; they win over every other source. */
  flags?: SettingsFlags;
  /** Environment; default `Deno.env.get`. */
  env?: EnvReader;
  /** Config file to read instead of `<state dir>/config.toml`. */
  configFile?: string;
  /** false: no config file is read (flags, environment, defaults only). Default true. */
  readFile?: boolean;
}

/** A role's setting by flag, environment variable or `[table]` key; see {@linkcode roleSettingPicker}. */
export type RoleSettingPicker = (
  flag: unknown,
  envName: string | undefined,
  key: string,
) => unknown;

/**
 * The one precedence of a role's own settings (`[provider]`, `[requester]`, `[town]` tables):
 * the flag, else a non-empty environment variable, else the table's key; undefined when none
 * gives it. The top-level settings follow the same order through {@linkcode loadSettings}.
 *
 * @example
 * ```ts
 * const pick = roleSettingPicker(await loadSettings(), "provider");
 * const skillsDir = pick(undefined, "TURNPIKE_SKILLS_DIR", "skills_dir");
 * ```
 */
export function roleSettingPicker(
  loaded: LoadedSettings,
  table: string,
  env: EnvReader = (name) => Deno.env.get(name),
): RoleSettingPicker {
  const values = loaded.sections[table] ?? {};
  return (flag, envName, key) => {
    if (flag !== undefined) return flag;
    const fromEnv = envName === undefined ? undefined : env(envName);
    if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
    return values[key];
  };
}

/** Largest config file read (it is hand-written: anything bigger is a mistake). */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

type ValueKind = "string" | "port" | "amount" | "boolean" | "network" | "url" | "role" | "path";

interface KeySpec {
  kind: ValueKind;
  toml?: string;
  /** Tables that held the key before it moved to the top level: read when it is absent there. */
  tables?: string[];
  env: string[];
  flag: string;
}

const KEYS: Record<SettingKey, KeySpec> = {
  profile: { kind: "string", env: ["TURNPIKE_PROFILE"], flag: "profile" },
  stateDir: { kind: "string", env: ["TURNPIKE_STATE_DIR"], flag: "state-dir" },
  role: { kind: "role", toml: "role", env: ["TURNPIKE_ROLE"], flag: "role" },
  network: {
    kind: "network",
    toml: "network",
    env: ["TURNPIKE_NETWORK", "GASTOWN_CROSSTOWN_NETWORK"],
    flag: "network",
  },
  host: {
    kind: "string",
    toml: "host",
    env: ["TURNPIKE_HOST", "GASTOWN_CROSSTOWN_HOST"],
    flag: "host",
  },
  townPort: {
    kind: "port",
    toml: "town_port",
    env: ["TURNPIKE_TOWN_PORT", "GASTOWN_CROSSTOWN_TOWN_PORT"],
    flag: "town-port",
  },
  btpPort: {
    kind: "port",
    toml: "btp_port",
    env: ["TURNPIKE_BTP_PORT", "GASTOWN_CROSSTOWN_BTP_PORT"],
    flag: "btp-port",
  },
  relayUrl: {
    kind: "url",
    toml: "relay_url",
    env: ["TURNPIKE_RELAY_URL", "CROSSTOWN_RELAY_URL", "GASTOWN_CROSSTOWN_RELAY_URL"],
    flag: "relay-url",
  },
  connectorBtpUrl: {
    kind: "url",
    toml: "connector_btp_url",
    env: [
      "TURNPIKE_CONNECTOR_BTP_URL",
      "CROSSTOWN_CONNECTOR_BTP",
      "GASTOWN_CROSSTOWN_CONNECTOR_BTP",
    ],
    flag: "connector-btp-url",
  },
  pricePerByte: {
    kind: "amount",
    toml: "price_per_byte",
    env: ["TURNPIKE_PRICE_PER_BYTE", "GASTOWN_CROSSTOWN_PRICE_PER_BYTE"],
    flag: "price-per-byte",
  },
  priceCeiling: {
    kind: "amount",
    toml: "price_ceiling",
    env: ["TURNPIKE_PRICE_CEILING", "GASTOWN_CROSSTOWN_PRICE_CEILING"],
    flag: "price-ceiling",
  },
  mainnet: { kind: "boolean", toml: "mainnet", env: ["TURNPIKE_MAINNET"], flag: "mainnet" },
  allowInsecure: {
    kind: "boolean",
    toml: "allow_insecure",
    env: ["TURNPIKE_ALLOW_INSECURE", "GASTOWN_CROSSTOWN_ALLOW_INSECURE"],
    flag: "allow-insecure",
  },
  caFile: { kind: "path", toml: "ca_file", env: ["TURNPIKE_CA_FILE"], flag: "ca-file" },
  btpToken: {
    kind: "string",
    toml: "btp_token",
    tables: ["requester", "provider"],
    env: ["TURNPIKE_BTP_TOKEN"],
    flag: "btp-token",
  },
  chain: { kind: "string", env: ["TURNPIKE_CHAIN"], flag: "chain" },
  rpcUrl: { kind: "string", env: ["TURNPIKE_RPC_URL"], flag: "rpc-url" },
  tokenNetwork: { kind: "string", env: ["TURNPIKE_TOKEN_NETWORK"], flag: "token-network" },
  token: { kind: "string", env: ["TURNPIKE_TOKEN"], flag: "token" },
};

/** Base Sepolia's chain id string; its RPC URL also comes from the Crosstown name below. */
const BASE_SEPOLIA = "evm:base:84532";
/** The Crosstown integration docs' name for the Base Sepolia RPC URL. */
const BASE_SEPOLIA_RPC_ENV = "GASTOWN_BASE_SEPOLIA_RPC";

/** Every environment variable name read for a setting, for `doctor` and docs. */
export const SETTINGS_ENV_NAMES: Readonly<Record<SettingKey, readonly string[]>> = Object
  .fromEntries(Object.entries(KEYS).map(([k, spec]) => [k, spec.env])) as Record<
    SettingKey,
    string[]
  >;

const DEFAULTS = {
  network: "local",
  host: "127.0.0.1",
  townPort: 7100,
  btpPort: 3000,
  pricePerByte: 10n,
  priceCeiling: 100n,
  allowInsecure: false,
  mainnet: false,
} as const;

type Raw = { value: unknown; source: SettingSource };

/**
 * Loads and validates the settings.
 *
 * @example
 * ```ts
 * const { settings, sources } = await loadSettings({ flags: { btpPort: "3001" } });
 * console.log(settings.relayUrl, sources.btpPort); // ws://127.0.0.1:7100 { kind: "flag", ... }
 * ```
 */
export async function loadSettings(options: LoadSettingsOptions = {}): Promise<LoadedSettings> {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const flags = options.flags ?? {};
  const profileRaw = pickRaw("profile", flags, env, { top: {} });
  const stateDirRaw = pickRaw("stateDir", flags, env, { top: {} });
  const profile = profileRaw ? asString("profile", profileRaw) : DEFAULT_PROFILE;
  const stateDir = resolveStateDir({
    stateDir: stateDirRaw ? asString("stateDir", stateDirRaw) : undefined,
    profile,
    env,
  });
  const configFile = options.configFile ?? `${stateDir}/config.toml`;
  const file = options.readFile === false ? undefined : await readConfigFile(configFile);
  const values: Partial<Record<SettingKey, unknown>> = { profile, stateDir };
  const sources = {
    profile: profileRaw?.source ?? { kind: "default" },
    stateDir: stateDirRaw?.source ?? { kind: "default" },
  } as Record<SettingKey, SettingSource>;
  for (const key of Object.keys(KEYS) as SettingKey[]) {
    if (key === "profile" || key === "stateDir") continue;
    const raw = pickRaw(key, flags, env, file ?? { top: {}, sections: {} }, configFile);
    if (raw === undefined) continue;
    values[key] = convert(key, raw);
    sources[key] = raw.source;
  }
  const settings = applyDefaults(values, sources);
  // The label follows the chains the profile is set up for, through the one table of known
  // chains (a Base profile is on mainnet, not "local (test funds)"); the `network` setting
  // names it only for a profile with no chain.
  settings.network = networkOfChains(file?.sections ?? {}, settings.chain) ?? settings.network;
  checkUrl("relayUrl", settings.relayUrl, ["ws:", "wss:"], settings, sources);
  checkUrl(
    "connectorBtpUrl",
    settings.connectorBtpUrl,
    ["btp+ws:", "btp+wss:", "ws:", "wss:"],
    settings,
    sources,
  );
  await trustSettingsCaFile(settings.caFile, sources.caFile); // every TLS client of the process
  const sections = overlayChainSettings(file?.sections ?? {}, settings, sources, env);
  const loaded: LoadedSettings = { settings, sources, sections };
  if (file) loaded.configFile = configFile;
  return loaded;
}

/**
 * The file's sections with the chain settings given by flag or environment laid over the
 * `[chains."<id>"]` table they apply to (the file itself is not changed).
 */
function overlayChainSettings(
  sections: Record<string, Record<string, unknown>>,
  settings: TurnpikeSettings,
  sources: Record<SettingKey, SettingSource>,
  env: EnvReader,
): Record<string, Record<string, unknown>> {
  const given = (key: SettingKey) => sources[key]?.kind === "flag" || sources[key]?.kind === "env";
  const entries: Record<string, unknown> = {};
  if (given("rpcUrl")) entries.rpc_url = settings.rpcUrl;
  if (given("tokenNetwork")) entries.token_network = settings.tokenNetwork;
  if (given("token")) entries.token = settings.token;
  const sepoliaRpc = env(BASE_SEPOLIA_RPC_ENV);
  if (Object.keys(entries).length === 0 && !sepoliaRpc) return sections;
  const chains = { ...(sections.chains ?? {}) } as Record<string, Record<string, unknown>>;
  if (sepoliaRpc) {
    chains[BASE_SEPOLIA] = { ...(chains[BASE_SEPOLIA] ?? {}), rpc_url: sepoliaRpc.trim() };
  }
  if (Object.keys(entries).length > 0) {
    const target = settings.chain ?? defaultChainOf(chains, settings.network);
    chains[target] = { ...(chains[target] ?? {}), ...entries };
  }
  return { ...sections, chains };
}

/** The chain the flag/environment chain settings apply to when `chain` is not given. */
function defaultChainOf(chains: Record<string, unknown>, network: Network): string {
  const ids = Object.keys(chains);
  if (ids.length === 1) return ids[0];
  return network === "testnet" ? BASE_SEPOLIA : "evm:base:31337";
}

function pickRaw(
  key: SettingKey,
  flags: SettingsFlags,
  env: EnvReader,
  file: ConfigFileContent | { top: Record<string, unknown>; sections?: undefined },
  configFile = "",
): Raw | undefined {
  const spec = KEYS[key];
  const flag = flags[key];
  if (flag !== undefined) return { value: flag, source: { kind: "flag", name: spec.flag } };
  for (const name of spec.env) {
    const value = env(name);
    if (value !== undefined && value !== "") return { value, source: { kind: "env", name } };
  }
  if (spec.toml === undefined) return undefined;
  if (spec.toml in file.top) {
    return {
      value: file.top[spec.toml],
      source: { kind: "file", path: configFile, key: spec.toml },
    };
  }
  for (const table of spec.tables ?? []) {
    const section = file.sections?.[table];
    if (section && spec.toml in section) {
      return {
        value: section[spec.toml],
        source: { kind: "file", path: configFile, key: `${table}.${spec.toml}` },
      };
    }
  }
  return undefined;
}

function applyDefaults(
  values: Partial<Record<SettingKey, unknown>>,
  sources: Record<SettingKey, SettingSource>,
): TurnpikeSettings {
  const s = { ...DEFAULTS, ...values } as Omit<TurnpikeSettings, "relayUrl" | "connectorBtpUrl"> & {
    relayUrl?: string;
    connectorBtpUrl?: string;
  };
  for (const key of Object.keys(KEYS) as SettingKey[]) sources[key] ??= { kind: "default" };
  const host = s.host.includes(":") && !s.host.startsWith("[") ? `[${s.host}]` : s.host;
  return {
    ...s,
    relayUrl: s.relayUrl ?? `ws://${host}:${s.townPort}`,
    connectorBtpUrl: s.connectorBtpUrl ?? `btp+ws://${host}:${s.btpPort}`,
  };
}

function convert(key: SettingKey, raw: Raw): unknown {
  switch (KEYS[key].kind) {
    case "string":
    case "url":
      return asString(key, raw);
    case "port":
      return asPort(key, raw);
    case "amount":
      return asAmount(key, raw);
    case "boolean":
      return asBoolean(key, raw);
    case "network":
      return asNetwork(key, raw);
    case "role":
      return asRole(key, raw);
    case "path":
      return filePathSetting(raw.value, key, labelOf(key), raw.source);
  }
}

function asString(key: SettingKey, raw: Raw): string {
  if (typeof raw.value !== "string" || raw.value.trim() === "") {
    throw new ConfigError("must be a non-empty string", { key, source: raw.source });
  }
  return raw.value.trim();
}

function asPort(key: SettingKey, raw: Raw): number {
  const v = raw.value;
  const n = typeof v === "string" && /^\d{1,5}$/.test(v.trim())
    ? Number(v.trim())
    : typeof v === "number" || typeof v === "bigint"
    ? Number(v)
    : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    const message = `must be a port number 0-65535, got ${show(v)}`;
    throw new ConfigError(message, { key, source: raw.source });
  }
  return n;
}

/** The name a setting's message says: its config.toml key, else its own. */
function labelOf(key: SettingKey): string {
  return KEYS[key].toml ?? key;
}

function asAmount(key: SettingKey, raw: Raw): bigint {
  return uint64Setting(raw.value, key, labelOf(key), raw.source);
}

function asBoolean(key: SettingKey, raw: Raw): boolean {
  return booleanSetting(raw.value, key, labelOf(key), raw.source);
}

function asNetwork(key: SettingKey, raw: Raw): Network {
  const v = typeof raw.value === "string" ? raw.value.trim().toLowerCase() : raw.value;
  if (typeof v === "string" && (NETWORKS as readonly string[]).includes(v)) return v as Network;
  const message = `must be one of ${NETWORKS.join(", ")}, got ${show(raw.value)}`;
  throw new ConfigError(message, { key, source: raw.source });
}

function asRole(key: SettingKey, raw: Raw): Role {
  const v = typeof raw.value === "string" ? raw.value.trim().toLowerCase() : raw.value;
  if (typeof v === "string" && (ROLES as readonly string[]).includes(v)) return v as Role;
  const message = `must be one of ${ROLES.join(", ")}, got ${show(raw.value)}`;
  throw new ConfigError(message, { key, source: raw.source });
}

function show(v: unknown): string {
  const s = typeof v === "string" ? JSON.stringify(v) : String(v);
  return s.length > 80 ? s.slice(0, 77) + "..." : s;
}

function checkUrl(
  key: "relayUrl" | "connectorBtpUrl",
  value: string,
  schemes: string[],
  settings: TurnpikeSettings,
  sources: Record<SettingKey, SettingSource>,
): void {
  const rule = { schemes, allowInsecure: settings.allowInsecure };
  urlSetting(value, key, labelOf(key), sources[key], rule);
}

/** A parsed config.toml: the known top-level keys and the tables. */
export interface ConfigFileContent {
  /** Top-level keys (all of them known settings). */
  top: Record<string, unknown>;
  /** Tables (`[name]`), uninterpreted. */
  sections: Record<string, Record<string, unknown>>;
}

const TOML_KEYS = new Set(
  Object.values(KEYS).map((s) => s.toml).filter((k): k is string => k !== undefined),
);

async function readConfigFile(path: string): Promise<ConfigFileContent | undefined> {
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(path);
    if (info.size > MAX_CONFIG_FILE_BYTES) {
      throw new ConfigError(`config file is over ${MAX_CONFIG_FILE_BYTES} bytes (${path})`);
    }
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not UTF-8`, { cause: err });
  }
  return parseConfigText(text, path);
}

/**
 * Parses config.toml text the way {@linkcode loadSettings} reads the file: known top-level keys
 * apart, tables in `sections`, an unknown top-level key refused. Writers of config.toml
 * (config/config_file.ts) check their result with it before anything reaches the disk.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseConfigText('relay_url = "ws://127.0.0.1:7100"\n[channels]\nchains = []\n').top.relay_url, "ws://127.0.0.1:7100"); // sections: { channels: { chains: [] } }
 * ```
 */
export function parseConfigText(text: string, path = "config.toml"): ConfigFileContent {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text);
  } catch (err) {
    const detail = err instanceof TomlError
      ? `line ${err.line}, column ${err.column}: ${err.message.split("\n")[0]}`
      : (err as Error).message;
    throw new ConfigError(`invalid TOML in ${path}: ${detail}`, { cause: err });
  }
  const top: Record<string, unknown> = {};
  const sections: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(doc)) {
    if (k === "towns" && Array.isArray(v)) {
      // `[[towns]]`, the array form of the `[towns.<name>]` tables (config/town_array.ts).
      sections.towns = townArrayAsTable(v);
    } else if (k === "relays" && Array.isArray(v)) {
      // `[[relays]]`: plain relays, not towns (config/plain_relays.ts).
      sections.relays = plainRelayArrayAsTable(v);
    } else if (
      typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date)
    ) {
      sections[k] = v as Record<string, unknown>;
    } else if (TOML_KEYS.has(k)) {
      top[k] = v;
    } else {
      throw new ConfigError(
        `unknown key "${k}" in ${path}; known keys: ${[...TOML_KEYS].join(", ")}`,
      );
    }
  }
  return { top, sections };
}

/**
 * Settings as the top-level keys of a config.toml, in the order of the settings table and
 * under their TOML keys, for writers of the file (config/config_file.ts). Each value is
 * validated first as {@linkcode loadSettings} would (a bad one throws {@linkcode ConfigError}
 * naming its flag); amounts become decimal strings (a TOML integer cannot hold every uint64).
 * Settings without a TOML key (profile, state dir) are refused: they choose the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(settingsTomlEntries({ role: "requester", relayUrl: "ws://127.0.0.1:7100", btpToken: "t" }), { role: "requester", relay_url: "ws://127.0.0.1:7100", btp_token: "t" });
 * ```
 */
export function settingsTomlEntries(values: SettingsFlags): Record<string, unknown> {
  const entries: Record<string, unknown> = {};
  for (const key of Object.keys(KEYS) as SettingKey[]) {
    const value = values[key];
    if (value === undefined) continue;
    const spec = KEYS[key];
    if (spec.toml === undefined) {
      throw new ConfigError("is not kept in config.toml", { key });
    }
    const converted = convert(key, { value, source: { kind: "flag", name: spec.flag } });
    entries[spec.toml] = typeof converted === "bigint" ? converted.toString() : converted;
  }
  return entries;
}
