/**
 * A town that keeps the job flow's kinds private (docs/PROTOCOL.md "Private events: NIP-42 AUTH",
 * `private_kinds`): the echo skill's request (5601), its result (6601) and feedback (7000) are
 * served only to a connection authenticated as their recipient or author. The provider's feed
 * (its REQ names 5601: CLOSED `auth-required:` until it answers) and the requester's feed (its
 * REQ names no kind: served less the private events until it answers) answer the town's
 * challenge with their node's key, signed in the node's thread for the relay source's worker,
 * which holds none; the paid job then completes. Before, the provider's feed ended at the
 * CLOSED and the job waited for its `--timeout` after the town write was paid. A request of a
 * private kind names its provider: an open one would be served to nobody but its author.
 */
import { assert, assertEquals, assertMatch } from "../../harness/assert.ts";
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";

Deno.test("a town that keeps an echo job's request, result and feedback kinds private completes the paid job: the provider's and the requester's feeds answer its AUTH", async () => {
  const net = await startRequesterNetwork({ town: { privateKinds: [5601, 6601, 7000] } });
  const dir = `${net.root}/cli-requester`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/pw`, "correct horse battery staple\n");
  try {
    await initWalletWithCli({ stateDir: dir, passphraseFile: `${dir}/pw` });
    const res = await runCli([
      "--state-dir",
      dir,
      "--output",
      "json",
      "job",
      "submit",
      "echo",
      "--input",
      "text:for my eyes only",
      "--bid",
      "100000",
      // A request of a private kind reaches only the providers it names.
      "--provider",
      net.providerPubkey!,
      // The bounded wait: on a feed that cannot read the private kinds, the job times out here.
      "--timeout",
      "60",
      "--wait",
      "--relay-url",
      net.relayUrl,
      "--connector-btp-url",
      net.btpUrl.replace("btp+ws://", "btp+ws://cli:r@"),
      "--town-pubkey",
      net.town.pubkey,
      "--passphrase-file",
      `${dir}/pw`,
      "--non-interactive",
    ]);
    const out = JSON.parse(res.stdout.trim().split("\n").pop() ?? "{}");
    assertEquals(
      [out.type, out.status, out.content],
      ["result", "done", "for my eyes only"],
      res.stdout + res.stderr,
    );
    assertEquals(out.receipts.length, 1);
    assertMatch(out.receipts[0].fulfillment, /^[0-9a-f]{64}$/);
    assertEquals(res.code, 0, res.stderr);
    // The provider's relay source still runs in its worker, with the relay's host and port only.
    const feed = net.provider?.feedDescription ?? "";
    assert(feed.includes("each in its worker"), feed);
    assert(feed.includes("NIP-42 answers signed in the node's thread"), feed);
  } finally {
    await net.stop();
  }
});
