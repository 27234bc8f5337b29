/**
 * Test helper: graceful overload on real processes (docs/SCALE.md "Graceful overload"): a town
 * process (harness/shared_town_process.ts), one provider in a provider host process of its own
 * (bench/scale_provider_host.ts) serving skills that read their input and print `ok` after a
 * sleep, addressed jobs only, and a requester here, in memory, its feed inline.
 *
 * @module
 */
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { bytesToHex } from "@noble/hashes/utils.js";
import { startSharedTownProcess } from "../../harness/shared_town_process.ts";
import { type Requester, startRequester } from "../../roles/requester/requester_node.ts";
import type { JobSlots } from "../../roles/requester/job_slots.ts";
import type { ProviderHostPlan } from "../../bench/scale_provider_host.ts";

const HOST = new URL("../../bench/scale_provider_host.ts", import.meta.url).pathname;

/** A skill of the provider: price 100, not idempotent. */
export interface SleepingSkill {
  name: string;
  kind: number;
  /** Seconds it sleeps before it prints `ok`. */
  sleep: number;
  /** Its `timeout` (seconds). */
  timeout: number;
}

/** Options for {@linkcode startProviderHostNetwork}. */
export interface ProviderHostNetworkOptions {
  /** The temp dir's prefix. */
  prefix: string;
  skills: SleepingSkill[];
  /** The provider's paid jobs at once. */
  maxInFlight: number;
  /** The requester's bound; default its own. */
  jobSlots?: JobSlots;
}

/** The running network; disposing closes the requester, ends the host and the town. */
export interface ProviderHostNetwork extends AsyncDisposable {
  requester: Requester;
  /** The provider's pubkey, to address jobs to. */
  providerPubkey: string;
}

/** Writes `skill` into `dir`. */
async function writeSleepingSkill(dir: string, skill: SleepingSkill): Promise<void> {
  await Deno.mkdir(`${dir}/${skill.name}`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/${skill.name}/SKILL.md`,
    `---\nname: ${skill.name}\ndescription: t\nmetadata:\n  kinds: [${skill.kind}]\n` +
      `  price: 100\n  timeout: ${skill.timeout}\n  idempotent: false\n---\n`,
  );
  await Deno.writeTextFile(
    `${dir}/${skill.name}/run`,
    `#!/bin/sh\ncat > /dev/null\nsleep ${skill.sleep}\necho ok\n`,
    { mode: 0o755 },
  );
}

/** Resolves once the host printed `ready`; its output is dropped from then on. */
async function hostReady(host: Deno.ChildProcess): Promise<void> {
  const out = host.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("ready\n")) {
    const { value, done } = await out.read();
    if (done) throw new Error(`provider host ended before ready: ${text}`);
    text += value;
  }
  out.releaseLock();
  host.stdout.cancel().catch(() => {});
}

/**
 * Starts the town, the provider host and the requester.
 *
 * It starts a town and a provider host as processes, so it has no example that runs here:
 * tests/e2e/provider_busy_test.ts runs on it.
 */
export async function startProviderHostNetwork(
  options: ProviderHostNetworkOptions,
): Promise<ProviderHostNetwork> {
  const townKey = generateSecretKey();
  const town = await startSharedTownProcess({ secretKey: townKey });
  const ends: (() => Promise<void>)[] = [async () => await town[Symbol.asyncDispose]()];
  // Every step runs, last in first out; the first failure is thrown after the last.
  const end = async () => {
    const failed: unknown[] = [];
    for (const e of ends.splice(0).reverse()) await e().catch((err) => failed.push(err));
    if (failed.length > 0) throw failed[0];
  };
  try {
    const root = await Deno.makeTempDir({ prefix: options.prefix });
    ends.push(() => Deno.remove(root, { recursive: true }).catch(() => {}));
    const relayUrl = `ws://127.0.0.1:${town.httpPort}`;
    const btp = `btp+ws://127.0.0.1:${town.btpPort}`;
    const providerKey = generateSecretKey();
    const skillsDir = `${root}/skills`;
    for (const skill of options.skills) await writeSleepingSkill(skillsDir, skill);
    const plan: ProviderHostPlan = {
      root,
      skillsDir,
      runsFile: `${root}/runs.txt`,
      auditWindowMs: 50,
      addressedOnly: true,
      maxInFlight: options.maxInFlight,
      providers: [{
        index: 0,
        secretKeyHex: bytesToHex(providerKey),
        relayUrl,
        btpUrl: btp.replace("btp+ws://", "btp+ws://prov0:p@"),
        townPubkey: getPublicKey(townKey),
        townAddress: "test.town",
      }],
    };
    await Deno.writeTextFile(`${root}/host.json`, JSON.stringify(plan));
    const host = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", HOST, `${root}/host.json`],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    ends.push(async () => {
      host.kill("SIGTERM");
      await host.status;
    });
    await hostReady(host);
    await Deno.mkdir(`${root}/r0`);
    const requester = await startRequester({
      stateDir: `${root}/r0`,
      secretKey: generateSecretKey(),
      relayUrl,
      btpUrl: btp.replace("btp+ws://", "btp+ws://req0:r@"),
      btpToken: "r",
      townPubkey: getPublicKey(townKey),
      townAddress: "test.town",
      feedMode: "inline",
      durable: false,
      ...(options.jobSlots ? { jobSlots: options.jobSlots } : {}),
    });
    ends.push(() => requester.close());
    return {
      requester,
      providerPubkey: getPublicKey(providerKey),
      [Symbol.asyncDispose]: end,
    };
  } catch (err) {
    await end().catch(() => {});
    throw err;
  }
}
