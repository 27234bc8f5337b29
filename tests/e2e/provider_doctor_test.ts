/**
 * `turnpike doctor` on this machine: sandbox checks, Docker engine, state, endpoints. It always
 * prints the whole report; it exits 1 when a check fails, and an endpoint the configuration names
 * (flag, environment, config.toml) that does not answer fails; an unconfigured (default) one that
 * does not answer is only a warning.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { type CliResult, runCli } from "../../harness/run_cli.ts";
import { deadPort } from "../support/dead_port.ts";
import { withTempDir } from "../support/temp_dir.ts";
import type { DoctorCheck } from "../../cli/doctor_command.ts";
import { SETTINGS_ENV_NAMES } from "../../config/settings.ts";

const MACHINE_CHECKS = [
  "deno",
  "sandbox: mode",
  "sandbox: memory limits",
  "sandbox: process limits",
  "sandbox: setup",
  "docker engine",
  "state dir",
  "wallet",
  "config",
];

/** The relay and BTP URLs come only from what a test passes, never from the caller's shell. */
const NO_ENDPOINT_ENV = Object.fromEntries(
  [...SETTINGS_ENV_NAMES.relayUrl, ...SETTINGS_ENV_NAMES.connectorBtpUrl].map((n) => [n, ""]),
);

async function doctor(stateDir: string, flags: string[] = []): Promise<{
  out: CliResult;
  checks: Map<string, DoctorCheck>;
  /** Failed checks of this machine (not of an endpoint): they alone make the exit code 1. */
  machineFailures: string[];
}> {
  const out = await runCli(["--state-dir", stateDir, "--output", "json", "doctor", ...flags], {
    env: NO_ENDPOINT_ENV,
  });
  const report = JSON.parse(out.stdout) as { type: string; ok: boolean; checks: DoctorCheck[] };
  assertEquals(report.type, "doctor");
  const list = report.checks;
  const checks = new Map(list.map((c) => [c.name, c]));
  for (const name of [...MACHINE_CHECKS, "relay", "btp"]) {
    assert(checks.has(name), `check ${name} present: ${out.stdout}`);
  }
  const machineFailures = list
    .filter((c) => MACHINE_CHECKS.includes(c.name) && c.status === "fail")
    .map((c) => c.name);
  return { out, checks, machineFailures };
}

/** A TCP port that accepts connections for the test's duration. */
function listening(): Deno.TcpListener {
  return Deno.listen({ hostname: "127.0.0.1", port: 0 });
}

Deno.test("doctor: configured relay and BTP that do not answer fail, the whole report is printed, exit 1", async () => {
  await withTempDir(async (dir) => {
    const port = deadPort();
    const { out, checks } = await doctor(dir, [
      "--relay-url",
      `ws://127.0.0.1:${port}`,
      "--connector-btp-url",
      `btp+ws://127.0.0.1:${port}`,
    ]);
    // Root gets the root sandbox, anyone else the rootless one: both must work here.
    const mode = checks.get("sandbox: mode")!;
    assertEquals(mode.status, "ok", mode.detail);
    assert(mode.detail.startsWith(Deno.uid() === 0 ? "root:" : "rootless:"), mode.detail);
    // This machine kind has a C compiler: the sandbox's init is built (roles/provider/sandbox).
    const setup = checks.get("sandbox: setup")!;
    assertEquals(setup.status, "ok", setup.detail);
    assert(setup.detail.startsWith("compiled: one program a job"), setup.detail);
    assertEquals(checks.get("relay")?.status, "fail");
    assertStringIncludes(checks.get("relay")!.detail, "from flag --relay-url");
    assertEquals(checks.get("btp")?.status, "fail");
    assertEquals(checks.get("wallet")?.status, "warn");
    // This machine kind has the docker client but no engine: doctor must say so.
    const docker = checks.get("docker engine")!;
    if (docker.status !== "ok") assert(docker.detail.includes("docker-build skill cannot serve"));
    assertEquals(out.code, 1);
    assertStringIncludes(out.stderr, "Error: doctor found problems (");
    assertStringIncludes(out.stderr, "relay, btp)\nSuggestion: start what does not answer");
  });
});

Deno.test("doctor: a configured relay that is not a town fails: something listening is not enough", async () => {
  await withTempDir(async (dir) => {
    using relay = listening();
    const { checks } = await doctor(dir, [
      "--relay-url",
      `ws://127.0.0.1:${(relay.addr as Deno.NetAddr).port}`,
    ]);
    assertEquals(checks.get("relay")?.status, "fail", checks.get("relay")?.detail);
    assertStringIncludes(checks.get("relay")!.detail, "accepts connections but is not a town");
  });
});

Deno.test("doctor: configured relay and BTP that answer pass; exit 0 unless this machine fails a check", async () => {
  await withTempDir(async (dir) => {
    // A relay's NIP-11 document naming the town's pubkey, as a town serves it.
    await using relay = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => Response.json({ name: "a town", self: "ab".repeat(32) }),
    );
    using btp = listening();
    // From config.toml this time: a configured endpoint wherever it is configured.
    await Deno.writeTextFile(
      `${dir}/config.toml`,
      `relay_url = "ws://127.0.0.1:${(relay.addr as Deno.NetAddr).port}"\n` +
        `connector_btp_url = "btp+ws://127.0.0.1:${(btp.addr as Deno.NetAddr).port}"\n`,
    );
    const { out, checks, machineFailures } = await doctor(dir);
    assertEquals(checks.get("relay")?.status, "ok", checks.get("relay")?.detail);
    assertStringIncludes(checks.get("relay")!.detail, "config.toml: relay_url");
    assertEquals(checks.get("btp")?.status, "ok", checks.get("btp")?.detail);
    assertEquals(out.code, machineFailures.length > 0 ? 1 : 0, out.stderr);
  });
});

Deno.test("doctor: unconfigured (default) endpoints are never a failure", async () => {
  await withTempDir(async (dir) => {
    // The defaults point at 127.0.0.1:7100 and :3000; whether something listens there on this
    // machine or not, nothing configured them, so doctor does not fail on them.
    const { out, checks, machineFailures } = await doctor(dir);
    for (const name of ["relay", "btp"]) {
      const check = checks.get(name)!;
      assert(check.status !== "fail", `${name}: ${check.detail}`);
      assertStringIncludes(check.detail, "default, not configured");
    }
    assertEquals(out.code, machineFailures.length > 0 ? 1 : 0, out.stderr);
  });
});

Deno.test("doctor: a chain rpc_url is asked eth_chainId: no answer or another chain fails", async () => {
  await withTempDir(async (dir) => {
    let chainId = "0x7a69"; // 31337, the chain the table is named for
    await using rpc = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => Response.json({ jsonrpc: "2.0", id: 1, result: chainId }),
    );
    const config = (url: string) =>
      Deno.writeTextFile(`${dir}/config.toml`, `[chains."evm:base:31337"]\nrpc_url = "${url}"\n`);
    const name = "chain evm:base:31337";

    await config(`http://127.0.0.1:${rpc.addr.port}`);
    const ok = await doctor(dir);
    assertEquals(ok.checks.get(name)?.status, "ok", ok.checks.get(name)?.detail);
    assertStringIncludes(ok.checks.get(name)!.detail, "chain id 31337");
    assertEquals(ok.out.code, ok.machineFailures.length > 0 ? 1 : 0, ok.out.stderr);

    chainId = "0x1";
    const other = await doctor(dir);
    assertEquals(other.checks.get(name)?.status, "fail");
    assertStringIncludes(other.checks.get(name)!.detail, "is chain 1, not 31337");
    assertEquals(other.out.code, 1);

    await config(`http://127.0.0.1:${deadPort()}`);
    const down = await doctor(dir);
    assertEquals(down.checks.get(name)?.status, "fail");
    assertEquals(down.out.code, 1);
    assertStringIncludes(down.out.stderr, `Error: doctor found problems (${name})`);
  });
});

Deno.test("doctor: no Docker engine is a warning for a provider's profile only; --json is one typed object", async () => {
  await withTempDir(async (dir) => {
    const env = { ...NO_ENDPOINT_ENV, DOCKER_HOST: `unix://${dir}/no-docker.sock` };
    const statusFor = async (role: string) => {
      await Deno.writeTextFile(`${dir}/config.toml`, `role = "${role}"\n`);
      const out = await runCli(["--state-dir", dir, "--json", "doctor"], { env });
      const report = JSON.parse(out.stdout);
      assertEquals([report.type, report.role, typeof report.ok], ["doctor", role, "boolean"]);
      return (report.checks as DoctorCheck[]).find((c) => c.name === "docker engine")!;
    };
    const requester = await statusFor("requester");
    assertEquals(requester.status, "ok", requester.detail);
    assertStringIncludes(requester.detail, "not needed: this profile is a requester's");
    const provider = await statusFor("provider");
    assertEquals(provider.status, "warn", provider.detail);
    assertStringIncludes(provider.detail, "the docker-build skill cannot serve jobs here");
  });
});
