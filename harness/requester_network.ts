/**
 * A whole local network for requester tests: a town (in process, ephemeral ports), the real
 * provider node (`roles/provider/provider_node.ts`) serving the repo's `skills/`, and a factory
 * of requesters (fresh state dirs, a callback skill that appends what it got to a file).
 *
 * @module
 */
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { startTestTown, type TestTownOptions } from "./town_test_node.ts";
import type { TownNode } from "../roles/town/town_node.ts";
import {
  type ProviderNode,
  type ProviderNodeOptions,
  startProviderNode,
} from "../roles/provider/provider_node.ts";
import {
  type Requester,
  type RequesterOptions,
  startRequester,
} from "../roles/requester/requester_node.ts";
import type { JobSpec } from "../roles/requester/job_spec.ts";

/** Options for {@linkcode startRequesterNetwork}. */
export interface RequesterNetworkOptions {
  /** Start a provider (default true). */
  provider?: boolean;
  /** Skills dir of the provider. Default the repo's `skills/`. */
  providerSkillsDir?: string;
  /** Extra provider options (limits, a sandbox). */
  providerOptions?: Partial<ProviderNodeOptions>;
  /** Extra town options (e.g. a parent connector). */
  town?: TestTownOptions;
}

/** A running network. */
export interface RequesterNetwork {
  town: TownNode;
  provider?: ProviderNode;
  providerPubkey?: string;
  relayUrl: string;
  btpUrl: string;
  root: string;
  /** Connection options for a requester (state dir, key, town). */
  requesterOptions(overrides?: Partial<RequesterOptions>): Promise<RequesterOptions>;
  startRequester(overrides?: Partial<RequesterOptions>): Promise<Requester>;
  stop(): Promise<void>;
}

/** Path of the file the `record` callback skill appends to (one line per call). */
export function callbackLogPath(stateDir: string): string {
  return `${stateDir}/callback_log.txt`;
}

/**
 * Writes a callback skill `record` into `<stateDir>/skills`: it appends
 * `<job id> <status> <bytes of stdin> <sha256 of stdin>` to `callback_log.txt`.
 */
export async function writeRecordingSkill(stateDir: string): Promise<string> {
  const dir = `${stateDir}/skills/record`;
  await Deno.mkdir(dir, { recursive: true });
  const log = callbackLogPath(stateDir);
  await Deno.writeTextFile(
    `${dir}/run`,
    `#!/bin/sh\ncat > "${stateDir}/cb-$TURNPIKE_JOB_ID.toon"\n` +
      `echo "$TURNPIKE_JOB_ID $TURNPIKE_JOB_STATUS $(wc -c < "${stateDir}/cb-$TURNPIKE_JOB_ID.toon")" >> "${log}"\n`,
    { mode: 0o755 },
  );
  return `${stateDir}/skills`;
}

/**
 * A job spec with defaults (echo, record callback, 30 s timeout).
 */
export function echoSpec(text: string, overrides: Partial<JobSpec> = {}): JobSpec {
  return {
    kind: 5601,
    inputs: [{ data: text, type: "text" }],
    params: [],
    bid: 100_000n,
    providers: [],
    skill: "record",
    timeoutMs: 30_000,
    encrypt: false,
    then: [],
    ...overrides,
  };
}

/**
 * Starts the town and the provider.
 *
 * It starts a town and a provider, so it has no example here: tests/e2e/agent_task_verify_test.ts
 * and tests/e2e/agent_delivery_proof_test.ts run on it.
 */
export async function startRequesterNetwork(
  options: RequesterNetworkOptions = {},
): Promise<RequesterNetwork> {
  const root = await Deno.makeTempDir({ prefix: "turnpike-req-" });
  const town = await startTestTown({ acceptAnyToken: true, ...options.town });
  const relayUrl = `ws://127.0.0.1:${town.httpPort}`;
  const btpUrl = `btp+ws://127.0.0.1:${town.btpPort}`;
  let provider: ProviderNode | undefined;
  let providerPubkey: string | undefined;
  const stops: (() => Promise<void>)[] = [() => town.stop()];
  try {
    if (options.provider ?? true) {
      const key = generateSecretKey();
      providerPubkey = getPublicKey(key);
      provider = await startProviderNode({
        stateDir: `${root}/provider`,
        secretKey: key,
        btpUrl: btpUrl.replace("btp+ws://", "btp+ws://provider:p@"),
        btpToken: "p",
        relayUrl,
        townPubkey: town.pubkey,
        townAddress: town.ilpAddress,
        skillsDir: options.providerSkillsDir ?? new URL("../skills", import.meta.url).pathname,
        heartbeatMs: 3_600_000,
        ...options.providerOptions,
      });
      const p = provider;
      stops.push(() => p.stop());
    }
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    throw err;
  }
  let n = 0;
  const requesterOptions = async (overrides: Partial<RequesterOptions> = {}) => {
    const stateDir = overrides.stateDir ?? `${root}/requester-${++n}`;
    await Deno.mkdir(stateDir, { recursive: true });
    return {
      stateDir,
      secretKey: generateSecretKey(),
      relayUrl,
      btpUrl: btpUrl.replace("btp+ws://", `btp+ws://requester${n}:r@`),
      btpToken: "r",
      townPubkey: town.pubkey,
      townAddress: town.ilpAddress,
      skillsDir: await writeRecordingSkill(stateDir),
      auditWindowMs: 50,
      ...overrides,
    };
  };
  return {
    town,
    provider,
    providerPubkey,
    relayUrl,
    btpUrl,
    root,
    requesterOptions,
    startRequester: async (overrides = {}) => startRequester(await requesterOptions(overrides)),
    stop: async () => {
      for (const stop of stops.reverse()) await stop().catch(() => {});
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}
