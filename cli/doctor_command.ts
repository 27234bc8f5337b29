/**
 * `turnpike doctor`: checks this machine and configuration for running turnpike nodes: Deno,
 * the skill sandbox (root or rootless mode, memory and process limits), a Docker
 * engine (needed by a provider serving the `docker-build` skill; a missing one is not a warning
 * on a profile made for another role), the state dir, wallet, config, and whether the relay
 * (NIP-01), BTP and chain RPC endpoints answer (`cli/doctor_endpoints.ts`). `--json` prints one
 * object: `{type: "doctor", ok, role, checks: [{name, status, detail}]}`.
 * It always prints the whole report; exit code 0 when nothing failed (warnings included: a
 * missing wallet, an unconfigured endpoint that does not answer), 1 else.
 *
 * @module
 */
import { networkText } from "../config/known_chains.ts";
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { type LoadedSettings, loadSettings } from "../config/settings.ts";
import { settingsFlagsFrom } from "./settings_flags.ts";
import { walletFilePath } from "../identity/wallet_file.ts";
import { probeSandbox } from "../roles/provider/sandbox/sandbox_probe.ts";
import {
  SANDBOX_SETUP_ENV,
  sandboxInitBinary,
  sandboxInitDir,
  setupFromEnvironment,
} from "../roles/provider/sandbox/sandbox_init.ts";
import { probeDockerEngine } from "../roles/provider/docker/docker_engine.ts";
import { endpointChecks } from "./doctor_endpoints.ts";
import { modelPresetChecks } from "./doctor_models.ts";
import type { GlobalOptions } from "./global_options.ts";
import { printJsonLine } from "./json_line.ts";
import { terminalText } from "./terminal_text.ts";

/** Outcome of one check. */
export interface DoctorCheck {
  name: string;
  status: "ok" | "warn" | "fail";
  detail: string;
}

interface DoctorOptions extends GlobalOptions {
  relayUrl?: string;
  connectorBtpUrl?: string;
  timeout?: string;
}

/**
 * Adds `doctor` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerDoctorCommand(new Command("turnpike"));
 * ```
 */
export function registerDoctorCommand(program: Command): void {
  program.command("doctor")
    .description("check this machine and config (sandbox, Docker, state, wallet, endpoints)")
    .option("--relay-url <url>", "relay (town NIP-01) URL to try")
    .option("--connector-btp-url <url>", "BTP URL to try")
    .option("--timeout <ms>", "per network check (default 2000)")
    .action(async (_opts: unknown, cmd: Command) => {
      await doctor(cmd.optsWithGlobals<DoctorOptions>(), cmd);
    });
}

/**
 * The sandbox checks (also used by tests and `node up` diagnostics).
 *
 * It runs the sandbox's programs (Docker, the runtimes), so it has no example that runs here:
 * tests/e2e/provider_doctor_test.ts
 */
export async function sandboxChecks(): Promise<DoctorCheck[]> {
  try {
    const probe = await probeSandbox();
    return [
      { name: "sandbox: mode", status: "ok", detail: `${probe.mode}: ${probe.reason}` },
      limitCheck("sandbox: memory limits", probe.limits.memory, {
        cgroup: "cgroup v1 memory groups (exact)",
        sampled: "sampled every 50 ms (processes, tmpfs, memfds, sockets, SysV shm) plus a " +
          "per-process data limit (no cgroups without root)",
        none: "no writable cgroup v1 memory controller: skills run without memory limits",
      }),
      limitCheck("sandbox: process limits", probe.limits.processes, {
        cgroup: "cgroup v1 pids groups",
        rlimit: "RLIMIT_NPROC inside each job's user namespace",
        none: "no writable cgroup v1 pids controller: no process limit",
      }),
      await setupCheck(),
    ];
  } catch (err) {
    return [{ name: "sandbox: mode", status: "fail", detail: (err as Error).message }];
  }
}

/**
 * How jobs' sandboxes are set up (roles/provider/sandbox/sandbox_init.ts): the compiled program,
 * built here if it is not yet, or the shell setup (asked for, or no C compiler: a warning).
 */
async function setupCheck(): Promise<DoctorCheck> {
  const name = "sandbox: setup";
  if (setupFromEnvironment() === "shell") {
    return { name, status: "ok", detail: `shell (${SANDBOX_SETUP_ENV}=shell)` };
  }
  const fallback = await Deno.makeTempDir({ prefix: "turnpike-doctor-" });
  try {
    const dir = sandboxInitDir(fallback);
    const init = await sandboxInitBinary({ dir });
    if (init !== undefined && dir !== fallback) {
      return { name, status: "ok", detail: `compiled: one program a job (${init})` };
    }
    if (init !== undefined) {
      return {
        name,
        status: "ok",
        detail: "compiled: one program a job, built into each state dir (the user's cache " +
          "is not private: its directories must be this user's or root's, closed to others)",
      };
    }
    return {
      name,
      status: "warn",
      detail: "shell: no C compiler (cc, gcc, clang) built the sandbox's init, so each job's " +
        "sandbox is set up by 8 programs (about 12 ms more CPU a job) and a job that clears its " +
        'own parent-death signal may outlive a killed provider; install gcc (docs/OPERATIONS.md "Running a provider")',
    };
  } finally {
    await Deno.remove(fallback, { recursive: true });
  }
}

/** A sandbox limit's check: a warning when the limit is `none`, else ok; the detail by its mode. */
function limitCheck<M extends string>(
  name: string,
  mode: M,
  details: Record<M, string>,
): DoctorCheck {
  return { name, status: mode === "none" ? "warn" : "ok", detail: details[mode] };
}

/**
 * The Docker engine the docker-build skill would use (`DOCKER_HOST` or the default socket):
 * version, the platform it builds natively, the storage driver.
 *
 * It runs docker, so it has no example that runs here: tests/e2e/provider_doctor_test.ts
 */
export async function dockerCheck(role?: string): Promise<DoctorCheck> {
  try {
    const e = await probeDockerEngine();
    return {
      name: "docker engine",
      status: "ok",
      detail: `${e.version} builds ${e.platform} (${e.architecture}, storage ${e.storageDriver}) ` +
        `at ${e.host}: docker-build is served`,
    };
  } catch (err) {
    if (role !== undefined && role !== "provider") {
      // Only a provider serves docker-build: a requester's or town's profile needs no engine.
      return {
        name: "docker engine",
        status: "ok",
        detail:
          `none (not needed: this profile is a ${role}'s; only a provider serves docker-build)`,
      };
    }
    return {
      name: "docker engine",
      status: "warn",
      detail: `no Docker engine: the docker-build skill cannot serve jobs here (${
        (err as Error).message.slice(0, 160)
      }); see docs/OPERATIONS.md "Docker engine"`,
    };
  }
}

async function stateChecks(loaded: LoadedSettings): Promise<DoctorCheck[]> {
  const { stateDir } = loaded.settings;
  const checks: DoctorCheck[] = [];
  const stat = await Deno.stat(stateDir).catch(() => null);
  if (stat === null) {
    checks.push({ name: "state dir", status: "warn", detail: `${stateDir} does not exist yet` });
  } else {
    const mode = (stat.mode ?? 0) & 0o777;
    checks.push({
      name: "state dir",
      status: (mode & 0o077) === 0 ? "ok" : "warn",
      detail: `${stateDir} mode ${mode.toString(8)}${
        (mode & 0o077) === 0 ? "" : " (others can read)"
      }`,
    });
  }
  const wallet = await Deno.stat(walletFilePath(stateDir)).catch(() => null);
  checks.push({
    name: "wallet",
    status: wallet ? "ok" : "warn",
    detail: wallet ? walletFilePath(stateDir) : "no wallet: run `turnpike wallet init`",
  });
  checks.push({
    name: "config",
    status: "ok",
    detail: `${loaded.configFile ?? "no config.toml (defaults)"}; network ${
      networkText(loaded.settings.network)
    }`,
  });
  return checks;
}

async function doctor(opts: DoctorOptions, cmd: Command): Promise<void> {
  const flags = settingsFlagsFrom(opts, cmd, ["relayUrl", "connectorBtpUrl"]);
  const timeoutMs = Number(opts.timeout ?? 2000);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    const got = JSON.stringify(opts.timeout);
    throw new CliError(`--timeout must be a positive number of ms, got ${got}`, {
      exitCode: ExitCode.Usage,
    });
  }
  const checks: DoctorCheck[] = [{
    name: "deno",
    status: "ok",
    detail: `${Deno.version.deno} (v8 ${Deno.version.v8}, typescript ${Deno.version.typescript})`,
  }];
  let loaded: LoadedSettings | undefined;
  try {
    loaded = await loadSettings({ flags });
  } catch (err) {
    checks.push({ name: "config", status: "fail", detail: (err as Error).message });
  }
  const role = loaded?.settings.role;
  checks.push(...await sandboxChecks(), await dockerCheck(role));
  const endpoints = loaded === undefined ? [] : await endpointChecks(loaded, timeoutMs);
  if (loaded !== undefined) {
    checks.push(...await stateChecks(loaded), ...endpoints);
    // A provider's model presets: each upstream reached as a job would (cli/doctor_models.ts).
    checks.push(...await modelPresetChecks(loaded, timeoutMs));
  }
  const failed = checks.filter((c) => c.status === "fail");
  if (opts.output === "json") {
    printJsonLine("doctor", { type: "doctor", ok: failed.length === 0, role, checks });
  } else {
    // A detail may quote what a town or a chain answered.
    for (const c of checks) {
      console.log(terminalText(`${c.status.padEnd(4)} ${c.name.padEnd(24)} ${c.detail}`));
    }
  }
  if (failed.length > 0) {
    throw new CliError("doctor found problems", {
      context: failed.map((c) => c.name).join(", "),
      suggestion: endpoints.some((c) => c.status === "fail")
        ? "start what does not answer, or fix its URL (flag, environment or config.toml)"
        : undefined,
      exitCode: ExitCode.Failure,
      // The report above is the JSON outcome; --json adds no error object after it.
      printed: opts.output === "json",
    });
  }
}
