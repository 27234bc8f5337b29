/**
 * Test helper: what the crash tests give the driver processes they SIGKILL
 * (tests/support/requester_crash_driver.ts, tests/support/provider_crash_driver.ts) on a
 * requester network (harness/requester_network.ts): the environment that points a driver at the
 * network's town, the echo skill as a shell script, and a requester driver on a state dir of its
 * own.
 *
 * @module
 */
import { generateSecretKey } from "nostr-tools";
import { bytesToHex } from "@noble/hashes/utils.js";
import {
  type RequesterNetwork,
  startRequesterNetwork,
  writeRecordingSkill,
} from "../../harness/requester_network.ts";
import { lineReader } from "../../harness/line_reader.ts";
import { assertEquals } from "../../harness/assert.ts";
import type { Requester } from "../../roles/requester/requester_node.ts";

const ECHO = new URL("../../skills/echo", import.meta.url).pathname;
const REQUESTER_DRIVER = new URL("./requester_crash_driver.ts", import.meta.url).pathname;
const PROVIDER_DRIVER = new URL("./provider_crash_driver.ts", import.meta.url).pathname;

/**
 * Writes the echo skill into `<dir>/echo` with its metadata and `script` (default `cat`) as a
 * shell script (the sandbox shows a skill its own folder only); returns `dir`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeShellEcho } from "./crash_driver_kit.ts";
 *
 * const dir = await writeShellEcho(await Deno.makeTempDir());
 * assert.equal(await Deno.readTextFile(`${dir}/echo/run`), "#!/bin/sh\ncat\n");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeShellEcho(dir: string, script = "cat\n"): Promise<string> {
  await Deno.mkdir(`${dir}/echo`, { recursive: true });
  await Deno.copyFile(`${ECHO}/SKILL.md`, `${dir}/echo/SKILL.md`);
  await Deno.writeTextFile(`${dir}/echo/run`, `#!/bin/sh\n${script}`, { mode: 0o755 });
  return dir;
}

/** Options for {@linkcode crashDriverEnv}. */
export interface CrashDriverEnvOptions {
  stateDir: string;
  /** The BTP account and password (`killed:r`); the town accepts any. */
  auth: string;
  skillsDir: string;
  /** The driver's key, hex; default a fresh one. */
  secretKey?: string;
}

/**
 * The `TP_*` variables every crash driver takes, pointing at `net`'s town.
 *
 * It reads a running network, so it has no example that runs here:
 * tests/e2e/provider_unanswered_payment_test.ts.
 */
export function crashDriverEnv(
  net: RequesterNetwork,
  options: CrashDriverEnvOptions,
): Record<string, string> {
  return {
    TP_STATE_DIR: options.stateDir,
    TP_SECRET_KEY: options.secretKey ?? bytesToHex(generateSecretKey()),
    TP_RELAY_URL: net.relayUrl,
    TP_BTP_URL: net.btpUrl.replace("btp+ws://", `btp+ws://${options.auth}@`),
    TP_TOWN_PUBKEY: net.town.pubkey,
    TP_TOWN_ADDRESS: net.town.ilpAddress,
    TP_SKILLS_DIR: options.skillsDir,
  };
}

/** A requester driver's state dir and its command, one key for every run. */
export interface RequesterCrashDriver {
  /** `<net.root>/killed-requester`, its `record` callback skill written. */
  stateDir: string;
  /** The driver for one job with a 60 s timeout, as account `killed`; `env` adds to it. */
  command(env?: Record<string, string>): Deno.Command;
}

/**
 * Prepares a requester driver (tests/support/requester_crash_driver.ts) on `net`.
 *
 * It needs a running network, so it has no example that runs here:
 * tests/e2e/requester_logged_payment_test.ts.
 */
export async function requesterCrashDriver(net: RequesterNetwork): Promise<RequesterCrashDriver> {
  const stateDir = `${net.root}/killed-requester`;
  await Deno.mkdir(stateDir, { recursive: true });
  const base = crashDriverEnv(net, {
    stateDir,
    auth: "killed:r",
    skillsDir: await writeRecordingSkill(stateDir),
  });
  return {
    stateDir,
    command: (env = {}) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", REQUESTER_DRIVER],
        env: { ...base, TP_JOBS: "1", TP_TIMEOUT_MS: "60000", NO_COLOR: "1", ...env },
        stdout: "piped",
        stderr: "piped",
      }),
  };
}

/** A provider driver's process (tests/support/provider_crash_driver.ts) and what it printed. */
export interface ProviderCrashDriver {
  child: Deno.ChildProcess;
  /** Its stdout's lines so far. */
  lines: string[];
  /** Settles once its stdout ended. */
  read: Promise<void>;
}

/**
 * Starts a provider driver with `env` (crashDriverEnv's and its TP_KILL_AT); resolves once it
 * printed `ready` (serving, its start done); rejects with what it printed if it exits before.
 *
 * It needs a running network, so it has no example that runs here:
 * tests/e2e/provider_unanswered_payment_test.ts.
 */
export async function startProviderDriver(
  env: Record<string, string>,
): Promise<ProviderCrashDriver> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", PROVIDER_DRIVER],
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: string[] = [];
  const stdout = lineReader(child.stdout);
  const ready = Promise.withResolvers<void>();
  const read = (async () => {
    for (let line; (line = await stdout.read()) !== undefined;) {
      lines.push(line);
      if (line === "ready") ready.resolve();
    }
    ready.reject(new Error(`the provider exited before it was ready: ${lines.join("\n")}`));
  })();
  await ready.promise;
  return { child, lines, read };
}

/** A requester network with no provider of its own, for a provider driver that may be killed. */
export interface ProviderCrashRig {
  root: string;
  /** The town's state dir (`<root>/town`): its peer ledger. */
  townState: string;
  /** The provider driver's state dir (`<root>/provider`). */
  providerState: string;
  net: RequesterNetwork;
  /** The provider driver's environment (crashDriverEnv's, the shell echo skill). */
  env: Record<string, string>;
  /** Stops `provider` (SIGTERM) if given, then the network, and removes `root`. */
  stop(provider?: ProviderCrashDriver): Promise<void>;
}

/**
 * Starts a requester network whose town keeps its state in `<root>/town`, and makes the
 * environment of a provider driver on `<root>/provider` (account `provider`, the shell echo).
 *
 * It starts a network, so it has no example that runs here:
 * tests/e2e/provider_unanswered_payment_test.ts.
 */
export async function startProviderCrashRig(prefix: string): Promise<ProviderCrashRig> {
  const root = await Deno.makeTempDir({ prefix });
  const townState = `${root}/town`;
  await Deno.mkdir(townState);
  const net = await startRequesterNetwork({ provider: false, town: { stateDir: townState } });
  const providerState = `${root}/provider`;
  const env = crashDriverEnv(net, {
    stateDir: providerState,
    auth: "provider:p",
    skillsDir: await writeShellEcho(`${root}/skills`),
  });
  return {
    root,
    townState,
    providerState,
    net,
    env,
    async stop(provider) {
      if (provider) {
        provider.child.kill("SIGTERM");
        await provider.child.status;
        await provider.read;
      }
      await net.stop();
      await Deno.remove(root, { recursive: true });
    },
  };
}

/**
 * Waits for the job to end, asserts it ended in `error` with no payment of it fulfilled (the
 * town refused it while its provider was away), and closes the requester.
 *
 * It needs a running network, so it has no example that runs here:
 * tests/e2e/provider_unanswered_payment_test.ts.
 */
export async function assertRefusedUnpaid(requester: Requester, jobId: string): Promise<void> {
  const ended = await requester.waitFor(jobId);
  assertEquals(ended.status, "error", ended.error);
  const paid = requester.payments.entries().filter((e) =>
    e.jobId === jobId && e.category === "job" && e.event === "fulfilled"
  );
  assertEquals(paid, [], "the requester paid nothing");
  await requester.close();
}
