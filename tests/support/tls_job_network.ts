/**
 * Test helper: three profiles under one `TURNPIKE_HOME` (a town with two peers, a provider `beta`
 * and a requester `alice`) whose clients reach the town at `wss://` and `btp+wss://` URLs (the
 * town's own TLS, or a terminator in front), trusting a test CA: alice through `ca_file` in her
 * config.toml, beta through `TURNPIKE_CA_FILE`. Then the provider's `node up`, and a paid
 * `ci-run` job whose project goes as a paid blob, checked done with its blob paid.
 *
 * @module
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { type CliProcess, spawnCli } from "../../harness/cli_process.ts";
import { type CliResult, runCli } from "../../harness/run_cli.ts";
import { decodeEventToon } from "../../protocol/toon_codec.ts";
import { readJobSidecar } from "../../roles/requester/job_sidecar.ts";

/** Options for {@linkcode initTlsJobNetwork}. */
export interface TlsJobNetworkOptions {
  home: string;
  /** The ports `town up` listens on. */
  townPort: number;
  btpPort: number;
  /** The URLs the clients use (the town's, or its terminator's). */
  relayUrl: string;
  btpUrl: string;
  /** The CA the clients trust. */
  caFile: string;
}

/** The profiles, ready. */
export interface TlsJobNetwork {
  /** `TURNPIKE_HOME`. */
  env: Record<string, string>;
  /** The passphrase flags. */
  secret: string[];
  /** A CLI run with the home (and extra variables). */
  cli(args: string[], extraEnv?: Record<string, string>): Promise<CliResult>;
  /** Starts beta's `node up` (trusting the CA) and waits until alice sees it online. */
  startProvider(): Promise<CliProcess>;
  /** alice's paid ci-run job on a project sent as a blob: asserts it done and its blob paid. */
  submitBlobJob(): Promise<{ job: string }>;
}

/**
 * Makes the three profiles.
 *
 * @example
 * ```ts
 * declare const options: TlsJobNetworkOptions;
 * const net = await initTlsJobNetwork(options);
 * const node = await net.startProvider();
 * const { job } = await net.submitBlobJob();
 * ```
 */
export async function initTlsJobNetwork(o: TlsJobNetworkOptions): Promise<TlsJobNetwork> {
  const pass = `${o.home}/pass`;
  await Deno.writeTextFile(pass, "a long passphrase of your own\n", { mode: 0o600 });
  const env = { TURNPIKE_HOME: o.home };
  const secret = ["--passphrase-file", pass, "--non-interactive"];
  const cli = (args: string[], extraEnv: Record<string, string> = {}) =>
    runCli(args, { env: { ...env, ...extraEnv } });
  const [town, btp] = [o.relayUrl, o.btpUrl];
  const inits: string[][] = [
    ["town", "--role", "town", "--town-port", `${o.townPort}`, "--btp-port", `${o.btpPort}`],
    ["beta", "--role", "provider", "--town", town, "--btp-url", btp, "--btp-token", "beta-token"],
    ["alice", "--role", "requester", "--town", town, "--btp-url", btp, "--btp-token", "a-token"],
  ];
  inits[0].push("--peer", "beta:beta-token", "--peer", "alice:a-token");
  for (const [profile, ...rest] of inits) {
    const init = await cli(["--profile", profile, "init", ...rest, ...secret]);
    assertEquals(init.code, 0, init.stderr);
  }
  // alice trusts the CA from her config.toml (a top-level key: before the first table).
  const aliceConfig = `${o.home}/alice/config.toml`;
  const config = await Deno.readTextFile(aliceConfig);
  await Deno.writeTextFile(aliceConfig, `ca_file = "${o.caFile}"\n${config}`);
  const alice = (...args: string[]) => cli(["--profile", "alice", "--json", ...args]);

  const project = `${o.home}/project`;
  await Deno.mkdir(project);
  await Deno.writeFile(`${project}/data.bin`, crypto.getRandomValues(new Uint8Array(60_000)));
  await Deno.writeTextFile(
    `${project}/test.sh`,
    'test "$(wc -c < data.bin)" -eq 60000 && echo "ok 1 - data over TLS" && ' +
      'echo "1 passed, 0 failed"\n',
  );

  return {
    env,
    secret,
    cli,
    async startProvider() {
      const node = spawnCli(["--profile", "beta", "node", "up", ...secret], {
        env: { ...env, TURNPIKE_CA_FILE: o.caFile },
      });
      await node.waitForLine((l) => l === "provider up");
      await until("beta online", async () => {
        const out = await alice("providers", "--kind", "ci-run");
        const listed = out.code === 0 ? JSON.parse(out.stdout).providers : [];
        return listed.some((p: { online: boolean }) => p.online) ? true : undefined;
      });
      return node;
    },
    async submitBlobJob() {
      const out = await alice(
        "job",
        "submit",
        "ci-run",
        "--dir",
        project,
        "--param",
        "cmd=sh test.sh",
        "--bid",
        "200000",
        "--wait",
        ...secret,
      );
      assertEquals(out.code, 0, out.stderr + out.stdout);
      const result = JSON.parse(out.stdout.trim().split("\n").pop()!);
      assertEquals(result.status, "done", out.stdout);
      // The project went as a paid blob (the request names it by its sha256), over https://.
      const sidecar = await readJobSidecar(`${o.home}/alice`, result.job);
      const request = decodeEventToon(sidecar!.requestToon, { verify: false });
      assert(request.tags.some((t) => t[0] === "x"), "the request names a blob");
      const log = (await Deno.readTextFile(`${o.home}/alice/payment_log.jsonl`)).trim().split("\n")
        .map((l) => JSON.parse(l));
      assert(log.some((e) => e.jobId.startsWith("blob:") && e.event === "fulfilled"), "blob paid");
      return { job: result.job };
    },
  };
}

/** Polls `probe` until it gives a value (a hang guard after a minute). */
export async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 1200; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`hang guard: timed out waiting for ${what}`);
}
