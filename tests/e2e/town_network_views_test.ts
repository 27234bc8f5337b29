/**
 * The read-only views over every town of a profile (docs/OPERATIONS.md, "Several towns"): a
 * provider announced on town B alone is listed by `providers` and counted by `stats --network`
 * of a profile whose home town is A once `[towns.b]` is in its config.toml (not before), and
 * `doctor` checks each `[towns.<name>]`: a town that answers is ok, one that does not fails;
 * and it probes the ILP route from the profile's uplink (on A) to each town: B, a child of A, is
 * reached; C, a town nobody routes to, is "no route" (F02). `dash --once` shows a row per town.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { type CliResult, runCli } from "../../harness/run_cli.ts";
import { deadPort } from "../support/dead_port.ts";
import { startTestTown } from "../../harness/town_test_node.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { startProviderNode } from "../../roles/provider/provider_node.ts";
import { SETTINGS_ENV_NAMES } from "../../config/settings.ts";
import type { DoctorCheck } from "../../cli/doctor_command.ts";

/** `runCli` with a hang guard (not a timing assertion): a command still running after 60 s fails. */
function cli(...args: Parameters<typeof runCli>): Promise<CliResult> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    runCli(...args).finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) =>
      timer = setTimeout(
        () => reject(new Error(`turnpike ${args[0].join(" ")}: still running after 60 s`)),
        60_000,
      )
    ),
  ]);
}

const NO_ENDPOINT_ENV = Object.fromEntries(
  [...SETTINGS_ENV_NAMES.relayUrl, ...SETTINGS_ENV_NAMES.connectorBtpUrl].map((n) => [n, ""]),
);

Deno.test("town network views: providers, stats --network and doctor cover every town of the profile", async () => {
  const a = await startTestTown({ acceptAnyToken: true, ilpAddress: "test.a" });
  const b = await startTestTown({
    acceptAnyToken: true,
    parent: { url: `btp+ws://townb:t@127.0.0.1:${a.btpPort}`, token: "t" },
  });
  const c = await startTestTown({ acceptAnyToken: true, ilpAddress: "test.c" });
  const root = await Deno.makeTempDir({ prefix: "turnpike-views-" });
  const key = generateSecretKey();
  const relayA = `ws://127.0.0.1:${a.httpPort}`;
  const relayB = `ws://127.0.0.1:${b.httpPort}`;
  const relayC = `ws://127.0.0.1:${c.httpPort}`;
  const provider = await startProviderNode({
    stateDir: `${root}/provider`,
    secretKey: key,
    btpUrl: `btp+ws://provider:p@127.0.0.1:${b.btpPort}`,
    btpToken: "p",
    relayUrl: relayB,
    townPubkey: b.pubkey,
    skillsDir: new URL("../../skills", import.meta.url).pathname,
    heartbeatMs: 3_600_000,
  });
  try {
    const dir = `${root}/profile`;
    await Deno.mkdir(dir);
    const providers = async () => {
      const out = await cli(
        ["--state-dir", dir, "--output", "json", "providers"],
        { env: NO_ENDPOINT_ENV },
      );
      assertEquals(out.code, 0, out.stderr);
      return (JSON.parse(out.stdout).providers as { pubkey: string }[]).map((p) => p.pubkey);
    };
    await Deno.writeTextFile(
      `${dir}/config.toml`,
      `relay_url = "${relayA}"\nconnector_btp_url = "btp+ws://doctor@127.0.0.1:${a.btpPort}"\n` +
        `btp_token = "t"\n`,
    );
    assertEquals(await providers(), []);
    const dead = deadPort();
    for (const [name, url] of [["b", relayB], ["gone", `ws://127.0.0.1:${dead}`]]) {
      const added = await cli(["--state-dir", dir, "towns", "add", name, "--relay-url", url]);
      assertEquals(added.code, 0, added.stderr);
    }
    const list = await cli(["--state-dir", dir, "--output", "json", "towns", "list"], {
      env: NO_ENDPOINT_ENV,
    });
    assertEquals(
      JSON.parse(list.stdout).towns.map((t: { name: string; relayUrl: string }) =>
        `${t.name} ${t.relayUrl}`
      ),
      [`(home) ${relayA}`, `b ${relayB}`, `gone ws://127.0.0.1:${dead}`],
    );
    // Town "gone" cannot be read: a warning, the others still count.
    assertEquals(await providers(), [getPublicKey(key)]);
    const stats = await cli(
      ["--state-dir", dir, "--output", "json", "stats", "--network"],
      { env: NO_ENDPOINT_ENV },
    );
    assertEquals(stats.code, 0, stats.stderr);
    assert(stats.stderr.includes(`town ws://127.0.0.1:${dead} not read`), stats.stderr);
    assertEquals(JSON.parse(stats.stdout).moreRelays, [relayB, `ws://127.0.0.1:${dead}`]);

    const addC = await cli(["--state-dir", dir, "towns", "add", "c", "--relay-url", relayC]);
    assertEquals(addC.code, 0, addC.stderr);
    const doctor = await cli(
      ["--state-dir", dir, "--output", "json", "doctor", "--timeout", "20000"],
      { env: NO_ENDPOINT_ENV },
    );
    const checks = new Map(
      (JSON.parse(doctor.stdout).checks as DoctorCheck[]).map((c) => [c.name, c]),
    );
    assertEquals(checks.get("town b")?.status, "ok", checks.get("town b")?.detail);
    assert(
      checks.get("town b")!.detail.includes(b.pubkey.slice(0, 12)),
      checks.get("town b")!.detail,
    );
    assertEquals(checks.get("town gone")?.status, "fail");
    // The routes from the uplink (test.a.doctor): A itself, B under A, C unrouted, gone unknown.
    const route = (name: string) => checks.get(`route ${name}`);
    assertEquals(route("(home)")?.status, "ok", route("(home)")?.detail);
    assertEquals(route("b")?.status, "ok", route("b")?.detail);
    assert(route("b")!.detail.startsWith("ok: test.a.doctor -> test.a.townb:"), route("b")!.detail);
    assertEquals(route("c")?.status, "fail");
    assert(
      route("c")!.detail.startsWith("no route: test.a.doctor -> test.c: F02"),
      route("c")!.detail,
    );
    assert(route("c")!.detail.endsWith("from test.a"), route("c")!.detail);
    assertEquals(route("gone")?.status, "warn", route("gone")?.detail);
    assertEquals(doctor.code, 1);

    // `dash --once`: a row per town (state, latency, writes paid).
    const dash = await cli(["--state-dir", dir, "dash", "--once"], { env: NO_ENDPOINT_ENV });
    assertEquals(dash.code, 0, dash.stderr);
    assert(dash.stdout.includes("3/4 towns connected"), dash.stdout);
    for (const port of [a.httpPort, b.httpPort, c.httpPort]) {
      assert(
        new RegExp(`connected +127\\.0\\.0\\.1:${port} +\\d+ ms  writes 0$`, "m").test(dash.stdout),
        dash.stdout,
      );
    }
    assert(new RegExp(`unreachable 127\\.0\\.0\\.1:${dead} `, "m").test(dash.stdout), dash.stdout);

    // `init --more-town`: a requester's more town, its uplink on the town's host, port 3000.
    const fresh = `${root}/fresh`;
    await Deno.mkdir(fresh);
    await Deno.writeTextFile(`${root}/pw`, "correct horse battery staple\n");
    const init = await cli([
      ...["--state-dir", fresh, "init", "--role", "requester", "--town", relayA],
      ...["--btp-token", "t", "--more-town", `b=${relayB}`],
      ...["--passphrase-file", `${root}/pw`, "--non-interactive"],
    ]);
    assertEquals(init.code, 0, init.stderr);
    const initList = await cli(["--state-dir", fresh, "--output", "json", "towns", "list"], {
      env: NO_ENDPOINT_ENV,
    });
    assertEquals(JSON.parse(initList.stdout).towns[1], {
      name: "b",
      relayUrl: relayB,
      btpUrl: "btp+ws://127.0.0.1:3000",
    });
    const bad = await cli([
      "--state-dir",
      `${root}/bad`,
      "towns",
      "add",
      "x",
      "--relay-url",
      "http://x",
    ]);
    assertEquals(bad.code, 2, bad.stderr);
  } finally {
    await provider.stop();
    await a.stop();
    await b.stop();
    await c.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});
