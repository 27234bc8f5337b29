/**
 * A provider started while its town's BTP port accepts and closes every socket before auth (the
 * town restarting) comes up once the town answers, instead of exiting on the first failure
 * (before: `node up` exited "connection ... closed before auth", and a provider host the goal
 * run restarted under load stayed down). On a real town in process, its BTP port behind a proxy
 * the test holds down; bad credentials still fail at once.
 */
import { assert, assertEquals, assertRejects } from "../../harness/assert.ts";
import { generateSecretKey } from "nostr-tools";
import { startProviderNode } from "../../roles/provider/provider_node.ts";
import {
  makeSkillsDir,
  PROVIDER_TOKEN,
  startProviderTestTown,
} from "../../harness/provider_test_kit.ts";
import { startTcpProxy } from "../support/tcp_proxy.ts";

Deno.test("provider: a start while the town closes every socket comes up once it answers; bad credentials fail at once", async () => {
  const root = await Deno.makeTempDir({ prefix: "provider_start_retry_" });
  const town = await startProviderTestTown();
  await using proxy = startTcpProxy(town.btpPort);
  const lines: string[] = [];
  const options = {
    secretKey: generateSecretKey(),
    btpUrl: `btp+ws://127.0.0.1:${proxy.port}`,
    relayUrl: `ws://127.0.0.1:${town.httpPort}`,
    townPubkey: town.pubkey,
    skillsDir: await makeSkillsDir(root, ["echo"]),
    log: (line: string) => lines.push(line),
  };
  try {
    proxy.hold();
    let settled = false;
    const starting = startProviderNode({
      ...options,
      stateDir: `${root}/state`,
      btpToken: PROVIDER_TOKEN,
    });
    starting.then(() => settled = true, () => settled = true);
    while (!settled && !lines.some((l) => l.startsWith("town not reached"))) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert(!settled, "the start neither failed nor finished while the town closed every socket");
    proxy.release();
    const provider = await starting;
    try {
      assert(provider.ilpAddress.startsWith(`${town.ilpAddress}.`), provider.ilpAddress);
    } finally {
      await provider.stop();
    }
    const tries = lines.filter((l) => l.startsWith("town not reached")).length;
    await assertRejects(
      () => startProviderNode({ ...options, stateDir: `${root}/other`, btpToken: "wrong" }),
      Error,
      "BTP auth refused",
    );
    assertEquals(lines.filter((l) => l.startsWith("town not reached")).length, tries, "no retry");
  } finally {
    await town.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});
