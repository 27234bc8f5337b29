/** `turnpike doctor` on this machine: sandbox checks, Docker engine, endpoints. */
import { assert, assertEquals } from "../support/assert.ts";
import { runCli } from "../support/run_cli.ts";
import type { DoctorCheck } from "../../cli/doctor_command.ts";

Deno.test("provider doctor: reports the sandbox, the Docker engine and unreachable endpoints", async () => {
  const dir = await Deno.makeTempDir();
  // A port nobody listens on: bind one, note it, close it.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  try {
    const out = await runCli([
      "--state-dir",
      dir,
      "--output",
      "json",
      "doctor",
      "--relay-url",
      `ws://127.0.0.1:${port}`,
      "--connector-btp-url",
      `btp+ws://127.0.0.1:${port}`,
    ]);
    const checks = JSON.parse(out.stdout) as DoctorCheck[];
    const byName = new Map(checks.map((c) => [c.name, c]));
    for (
      const name of [
        "deno",
        "sandbox: mode",
        "sandbox: memory limits",
        "sandbox: process limits",
        "docker engine",
        "state dir",
        "wallet",
        "config",
        "relay",
        "btp",
      ]
    ) {
      assert(byName.has(name), `check ${name} present`);
    }
    // Root gets the root sandbox, anyone else the rootless one: both must work here.
    const mode = byName.get("sandbox: mode")!;
    assertEquals(mode.status, "ok", mode.detail);
    assert(mode.detail.startsWith(Deno.uid() === 0 ? "root:" : "rootless:"), mode.detail);
    assertEquals(byName.get("relay")?.status, "warn");
    assertEquals(byName.get("wallet")?.status, "warn");
    // This machine kind has the docker client but no engine: doctor must say so.
    const docker = byName.get("docker engine")!;
    if (docker.status !== "ok") assert(docker.detail.includes("docker-build skill cannot serve"));
    const failed = checks.some((c) => c.status === "fail");
    assertEquals(out.code, failed ? 1 : 0, out.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
