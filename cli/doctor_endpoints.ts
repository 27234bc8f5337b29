/**
 * `turnpike doctor`'s network checks: does the relay (the town's NIP-01 URL) accept
 * connections, does the BTP URL, is each `[towns.<name>]` of the profile a town (and its BTP
 * URL, when given, open), is there an ILP route from the profile's uplink, when it accepts
 * connections, to each town (a PREPARE of amount 0 to the town's address: ok, no route (F02) or
 * timeout; roles/ilp_route_probe.ts), and does each chain with an `rpc_url` in config.toml answer
 * JSON-RPC `eth_chainId` with its own chain id.
 *
 * An endpoint the configuration names (a flag, the environment or config.toml) that does not
 * answer fails its check, and doctor exits 1: the node would not work. A relay or BTP URL that
 * is only the default (`ws://127.0.0.1:7100`, `btp+ws://127.0.0.1:3000`) is a warning when it
 * does not answer: nothing points there on purpose (a town's own machine before `town up`).
 * A chain without `rpc_url` is not checked. The routes are probed only when the uplink (BTP URL)
 * is configured, and not while a node runs on the profile (its state dir is locked): the probe
 * logs in as the node's BTP account, and the town would drop the node's own connection for it.
 *
 * @module
 */
import type { DoctorCheck } from "./doctor_command.ts";
import type { LoadedSettings } from "../config/settings.ts";
import { describeSource, type SettingSource } from "../config/config_error.ts";
import { chainIdOf } from "../config/chain_config.ts";
import { fetchRelayInfo } from "../transport/relay_info.ts";
import { profileTowns, type TownEndpoint } from "../config/town_list.ts";
import { chainTables } from "../config/channel_settings.ts";
import { probeIlpRoutes, type RouteProbeTarget } from "../roles/ilp_route_probe.ts";
import { lockStateDir, StateDirLockedError } from "../state/state_dir_lock.ts";

/** Largest JSON-RPC answer read (an `eth_chainId` result is a few bytes). */
const MAX_RPC_ANSWER_BYTES = 64 * 1024;

/**
 * The relay, BTP and chain RPC checks for these settings, each bounded by `timeoutMs`.
 *
 * It reaches the profile's town, chain and BTP endpoints, so it has no example that runs here:
 * tests/e2e/provider_doctor_test.ts
 */
export async function endpointChecks(
  loaded: LoadedSettings,
  timeoutMs: number,
): Promise<DoctorCheck[]> {
  const checks = await endpointChecksOnly(loaded, timeoutMs);
  // The routes only over an uplink that accepts connections (else its own check said why).
  const uplink = checks.find((c) => c.name === "btp");
  const routes = uplink?.status === "ok" ? await routeChecks(loaded, timeoutMs) : [];
  return [...checks, ...routes];
}

async function endpointChecksOnly(
  loaded: LoadedSettings,
  timeoutMs: number,
): Promise<DoctorCheck[]> {
  const { settings, sources } = loaded;
  return await Promise.all([
    tcpCheck("relay", settings.relayUrl, sources.relayUrl, timeoutMs).then((check) =>
      check.status === "ok"
        ? townCheck(check, settings.relayUrl, sources.relayUrl.kind !== "default", timeoutMs)
        : check
    ),
    tcpCheck("btp", settings.connectorBtpUrl, sources.connectorBtpUrl, timeoutMs),
    ...moreTownChecks(loaded, timeoutMs),
    ...Object.entries(chainTables(loaded))
      .filter(([, table]) => typeof table === "object" && table !== null && "rpc_url" in table)
      .map(([id, table]) => rpcCheck(id, table.rpc_url, loaded.configFile, timeoutMs)),
  ]);
}

/**
 * Each `[towns.<name>]` of config.toml: its relay must be a town (NIP-11 `self`), and its BTP
 * URL, when one is given (a requester's own uplink to it), must accept connections. A bad
 * table fails its own check; the others are still checked.
 */
function moreTownChecks(loaded: LoadedSettings, timeoutMs: number): Promise<DoctorCheck>[] {
  let towns: TownEndpoint[];
  try {
    towns = profileTowns(loaded, {
      allowInsecure: loaded.settings.allowInsecure,
      requireBtp: false,
    });
  } catch (err) {
    return [Promise.resolve({ name: "towns", status: "fail", detail: (err as Error).message })];
  }
  const file = loaded.configFile ?? "config.toml";
  return towns.flatMap((town) => {
    const at = (key: string): SettingSource => ({
      kind: "file",
      path: file,
      key: `towns.${town.name}.${key}`,
    });
    const relay = tcpCheck(`town ${town.name}`, town.relayUrl, at("relay_url"), timeoutMs)
      .then((check) =>
        check.status === "ok" ? townCheck(check, town.relayUrl, true, timeoutMs) : check
      );
    if (town.btpUrl === "") return [relay];
    return [relay, tcpCheck(`town ${town.name} btp`, town.btpUrl, at("btp_url"), timeoutMs)];
  });
}

/**
 * One `route <town>` line per town of the profile (the home town, each `[towns.<name>]`): the
 * town's ILP address (`town_address`, else its NIP-11 fee address) probed over the uplink.
 */
async function routeChecks(loaded: LoadedSettings, timeoutMs: number): Promise<DoctorCheck[]> {
  const { settings, sources } = loaded;
  if (sources.connectorBtpUrl.kind === "default") return [];
  const towns: { name: string; relayUrl: string; address?: string }[] = [
    { name: "(home)", relayUrl: settings.relayUrl },
  ];
  try {
    towns.push(
      ...profileTowns(loaded, {
        allowInsecure: settings.allowInsecure,
        requireBtp: false,
      }).map((t) => ({
        name: t.name ?? t.relayUrl,
        relayUrl: t.relayUrl,
        address: t.townAddress,
      })),
    );
  } catch {
    // the `towns` check reports the table; the home town's route is still probed
  }
  const checkName = (town: { name: string }) => `route ${town.name}`;
  const stateDir = settings.stateDir;
  let lock;
  try {
    if (await Deno.stat(stateDir).then(() => true, () => false)) {
      lock = await lockStateDir(stateDir, "doctor");
    }
  } catch (err) {
    if (!(err instanceof StateDirLockedError)) throw err;
    return towns.map((t) => ({
      name: checkName(t),
      status: "warn" as const,
      detail: `not probed: a node runs on this profile (${err.message}); the probe would ` +
        "take over its BTP account",
    }));
  }
  try {
    const targets: RouteProbeTarget[] = [];
    const checks: DoctorCheck[] = [];
    await Promise.all(towns.map(async (t) => {
      const address = t.address ?? await townAddressOf(t.relayUrl, timeoutMs);
      if (address === undefined) {
        // Its relay's own check says why (down, or not a town): a warning here.
        checks.push({
          name: checkName(t),
          status: "warn",
          detail:
            `not probed: no ILP address known for ${t.relayUrl} (its NIP-11 fees name none, or it ` +
            "did not answer): set town_address",
        });
      } else targets.push({ name: t.name, address });
    }));
    if (targets.length === 0) return checks;
    let probed;
    try {
      probed = await probeIlpRoutes({
        btpUrl: settings.connectorBtpUrl,
        btpToken: settings.btpToken,
        targets,
        timeoutMs,
      });
    } catch (err) {
      return [
        ...checks,
        ...targets.map((t) => ({
          name: checkName(t),
          status: "fail" as const,
          detail: `not probed: ${(err as Error).message}`,
        })),
      ];
    }
    const words = { ok: "ok", "no-route": "no route", timeout: "timeout", refused: "refused" };
    for (const r of probed.routes) {
      checks.push({
        name: checkName(r),
        status: r.status === "ok" ? "ok" : "fail",
        detail: `${words[r.status]}: ${probed.uplinkAddress} -> ${r.address}: ${r.detail}`,
      });
    }
    return towns.map((t) => checks.find((c) => c.name === checkName(t))!);
  } finally {
    await lock?.release();
  }
}

/** The town's ILP address from its NIP-11 document (`fees.publication[0].ilp_address`). */
async function townAddressOf(relayUrl: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const info = await fetchRelayInfo(relayUrl, { timeoutMs });
    const fee = (info.fees as { publication?: Record<string, unknown>[] } | undefined)
      ?.publication?.[0];
    return typeof fee?.ilp_address === "string" ? fee.ilp_address : undefined;
  } catch {
    return undefined;
  }
}

async function tcpCheck(
  name: string,
  url: string,
  source: SettingSource,
  timeoutMs: number,
): Promise<DoctorCheck> {
  const configured = source.kind !== "default";
  const from = configured ? `from ${describeSource(source)}` : "default, not configured";
  let host: string;
  let port: number;
  try {
    const u = new URL(url.replace(/^btp\+/, ""));
    host = u.hostname.replace(/^\[|\]$/g, "");
    port = Number(u.port || (u.protocol === "wss:" ? 443 : 80));
  } catch {
    return { name, status: "fail", detail: `bad URL ${url} (${from})` };
  }
  const connecting = Deno.connect({ hostname: host, port });
  try {
    const conn = await withTimeout(connecting, timeoutMs);
    conn.close();
    return { name, status: "ok", detail: `${url} accepts connections (${from})` };
  } catch (err) {
    connecting.then((conn) => conn.close(), () => {}); // it may still connect after the timeout
    return {
      name,
      status: configured ? "fail" : "warn",
      detail: `${url} (${from}): ${(err as Error).message}`,
    };
  }
}

/**
 * Something listens at the relay URL: is it a town? Its NIP-11 document must be a relay's, with
 * the town's pubkey (`self`) and its fees; anything else (another program on port 7100) fails.
 */
async function townCheck(
  check: DoctorCheck,
  relayUrl: string,
  configured: boolean,
  timeoutMs: number,
): Promise<DoctorCheck> {
  const status = configured ? "fail" : "warn";
  try {
    const info = await fetchRelayInfo(relayUrl, { timeoutMs });
    if (typeof info.self !== "string" || !/^[0-9a-f]{64}$/.test(info.self)) {
      return {
        ...check,
        status,
        detail: `${relayUrl} answers NIP-11 but names no town pubkey (\`self\`): not a town`,
      };
    }
    const fee = (info.fees as { publication?: Record<string, unknown>[] } | undefined)
      ?.publication?.[0];
    const address = typeof fee?.ilp_address === "string" ? `, ILP address ${fee.ilp_address}` : "";
    return {
      ...check,
      detail: `${check.detail}; a town, pubkey ${info.self.slice(0, 12)}${address}`,
    };
  } catch (err) {
    return {
      ...check,
      status,
      detail: `${relayUrl} accepts connections but is not a town: ${(err as Error).message}`,
    };
  }
}

async function rpcCheck(
  id: string,
  rpcUrl: unknown,
  configFile: string | undefined,
  timeoutMs: number,
): Promise<DoctorCheck> {
  const name = `chain ${id}`;
  const from = `from ${configFile ?? "config.toml"}: chains."${id}".rpc_url`;
  if (typeof rpcUrl !== "string" || !/^https?:\/\//.test(rpcUrl)) {
    return { name, status: "fail", detail: `rpc_url must be an http(s) URL (${from})` };
  }
  let answer: unknown;
  try {
    const res = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = new Uint8Array(await res.arrayBuffer());
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    if (body.length > MAX_RPC_ANSWER_BYTES) {
      throw new Error(`answer over ${MAX_RPC_ANSWER_BYTES} bytes`);
    }
    answer = JSON.parse(new TextDecoder().decode(body))?.result;
  } catch (err) {
    return { name, status: "fail", detail: `${rpcUrl} (${from}): ${(err as Error).message}` };
  }
  if (typeof answer !== "string" || !/^0x[0-9a-f]{1,16}$/i.test(answer)) {
    return { name, status: "fail", detail: `${rpcUrl} (${from}): no eth_chainId answer` };
  }
  const got = Number.parseInt(answer, 16);
  let want: number | undefined;
  try {
    want = chainIdOf(id);
  } catch {
    // Not an evm:<name>:<id> table: the channel commands report that; here only the RPC counts.
  }
  if (want !== undefined && got !== want) {
    return {
      name,
      status: "fail",
      detail: `${rpcUrl} (${from}) is chain ${got}, not ${want}`,
    };
  }
  return { name, status: "ok", detail: `${rpcUrl} answers, chain id ${got}` };
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
