/**
 * A provider profile publishes its trust too (docs/PROTOCOL.md "Trust assertions (NIP-85)"): a
 * town, the real provider node (`node up`), a requester profile that runs a job on it through
 * its CLI; then, while the provider's node runs, its profile's `trust publish`: its rank of the requester, from its own
 * receipt, is on the town signed by the provider's key, with its rank services; published again,
 * nothing is sent.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { agentCli, ndjsonLines } from "../../harness/agent_cli.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import { makeSkillsDir } from "../../harness/provider_test_kit.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import { readWalletFile, walletFilePath } from "../../identity/wallet_file.ts";
import { queryRelay } from "../../transport/relay_query.ts";

const ECHO = "#!/bin/sh\ncat > /dev/null\nprintf ok\n";

Deno.test("trust publish on a provider profile whose node runs puts its rank of a requester that paid on the town, signed by the provider's key, and sends nothing the second time", async () => {
  const net = await startRequesterNetwork({ provider: false });
  const root = `${net.root}/beta`;
  const providerState = `${root}/state`;
  await Deno.mkdir(providerState, { recursive: true });
  await Deno.writeTextFile(`${root}/pass`, "provider passphrase\n");
  await initWalletWithCli({ stateDir: providerState, passphraseFile: `${root}/pass` });
  await Deno.writeTextFile(
    `${providerState}/config.toml`,
    `role = "provider"\nrelay_url = "${net.relayUrl}"\n` +
      `connector_btp_url = "${net.btpUrl.replace("btp+ws://", "btp+ws://beta:b@")}"\n` +
      `btp_token = "b"\n`,
  );
  const skills = await makeSkillsDir(`${root}/skills-root`, [], [
    { name: "say", kinds: [5601], price: 1_000, run: ECHO },
  ]);
  const providerSecret = ["--passphrase-file", `${root}/pass`, "--non-interactive"];
  const provider = spawnCli([
    ...["--state-dir", providerState, "--output", "json", "node", "up"],
    ...["--town-pubkey", net.town.pubkey, "--skills-dir", skills, ...providerSecret],
  ]);
  try {
    const info = JSON.parse(
      await provider.waitForLine((l) => l.startsWith("{") && l.includes('"node-up"')),
    ) as { pubkey: string };

    // A requester profile runs a job on it and pays.
    const home = `${net.root}/home`;
    await Deno.mkdir(`${home}/alice`, { recursive: true });
    await Deno.writeTextFile(`${home}/pw`, "profile passphrase\n");
    await initWalletWithCli({ stateDir: `${home}/alice`, passphraseFile: `${home}/pw` });
    await Deno.writeTextFile(
      `${home}/alice/config.toml`,
      `role = "requester"\nrelay_url = "${net.relayUrl}"\n` +
        `connector_btp_url = "${net.btpUrl.replace("btp+ws://", "btp+ws://alice:a@")}"\n` +
        `btp_token = "a"\n`,
    );
    const secret = ["--passphrase-file", `${home}/pw`, "--non-interactive"];
    const alice = agentCli({
      profile: "alice",
      env: { TURNPIKE_HOME: home, TURNPIKE_NODE_IDLE_TIMEOUT: "2" },
      secret,
    });
    const alicePubkey = (await readWalletFile(walletFilePath(`${home}/alice`))).pubkey;
    const job = await alice(
      ...["job", "submit", "5601", "--input", "text:hi", "--bid", "1000000"],
      ...["--provider", info.pubkey, "--timeout", "60", "--wait"],
    );
    assertEquals(job.code, 0, job.stderr + job.stdout);
    assertEquals(job.lines.find((l) => l.type === "result")?.status, "done", job.stdout);

    // Its profile publishes while its node runs (the node holds the profile's state dir).
    const publish = async () => {
      const out = await runCli([
        ...["--state-dir", providerState, "--json", "trust", "publish"],
        ...providerSecret,
      ]);
      assertEquals(out.code, 0, out.stderr + out.stdout);
      return ndjsonLines(out.stdout);
    };
    const first = await publish();
    const asserted = first.filter((l) => l.type === "asserted");
    assertEquals(asserted.map((l) => l.subject), [alicePubkey]);
    assert(Number(asserted[0].rank) > 0, `the provider's rank of alice: ${asserted[0].rank}`);
    assertEquals(first.find((l) => l.type === "services")?.services, [
      { pubkey: info.pubkey, relay: net.relayUrl },
    ]);
    assertEquals(first.find((l) => l.type === "published")?.sent, 1);
    const { events } = await queryRelay(net.relayUrl, [{ kinds: [30382], "#d": [alicePubkey] }]);
    assertEquals(events.map((e) => [e.pubkey, e.id]), [[info.pubkey, asserted[0].event]]);

    const again = await publish();
    assertEquals(again.find((l) => l.type === "published")?.sent, 0);
    assertEquals(again.filter((l) => l.type === "asserted" || l.type === "services"), []);
  } finally {
    try {
      provider.child.kill("SIGTERM");
    } catch { /* it ended already: its error is the test's */ }
    await provider.done;
    await net.stop();
  }
});
