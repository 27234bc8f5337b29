/**
 * `turnpike dm list` / `dm read`: a message sent with `dm send` through a real town is read by
 * its recipient's profile with its own key (sender verified, text in full), and the reply comes
 * back the same way with its `reply to`; a prefix that names nothing is refused.
 */
import { assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";

Deno.test("dm list and dm read: a message and its reply, each read with the profile's own key", async () => {
  const net = await startRequesterNetwork({ provider: false });
  const profile = async (name: string) => {
    const dir = `${net.root}/${name}`;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/pw`, "correct horse battery staple\n");
    await initWalletWithCli({ stateDir: dir, passphraseFile: `${dir}/pw` });
    const pubkey = JSON.parse(
      (await runCli(["--state-dir", dir, "--json", "wallet", "show"])).stdout,
    ).pubkey as string;
    const read = [
      "--relay-url",
      net.relayUrl,
      "--passphrase-file",
      `${dir}/pw`,
      "--non-interactive",
    ];
    const conn = [
      ...read,
      "--connector-btp-url",
      net.btpUrl.replace("btp+ws://", `btp+ws://${name}:t@`),
    ];
    return { dir, pubkey, read, conn };
  };
  try {
    const alice = await profile("alice");
    const bob = await profile("bob");
    const sent = await runCli([
      "--state-dir",
      alice.dir,
      "--json",
      "dm",
      "send",
      bob.pubkey,
      "--text",
      "build main for linux/amd64\nand tell me how long it took",
      ...alice.conn,
    ]);
    assertEquals(sent.code, 0, sent.stderr);
    const id = JSON.parse(sent.stdout).id as string;

    const list = await runCli(["--state-dir", bob.dir, "dm", "list", ...bob.read]);
    assertEquals(list.code, 0, list.stderr);
    assertMatch(
      list.stdout,
      new RegExp(`^${id.slice(0, 12)}  \\S+Z  from npub1\\S+  build main`, "m"),
    );
    const read = await runCli(["--state-dir", bob.dir, "dm", "read", id.slice(0, 8), ...bob.read]);
    assertEquals(read.code, 0, read.stderr);
    assertStringIncludes(read.stdout, `(${alice.pubkey})`);
    assertStringIncludes(read.stdout, "build main for linux/amd64\nand tell me how long it took");

    const reply = await runCli([
      "--state-dir",
      bob.dir,
      "--json",
      "dm",
      "send",
      alice.pubkey,
      "--text",
      "done in 41 s",
      "--reply-to",
      id,
      ...bob.conn,
    ]);
    assertEquals(reply.code, 0, reply.stderr);
    const back = await runCli(["--state-dir", alice.dir, "--json", "dm", "list", ...alice.read]);
    assertEquals(back.code, 0, back.stderr);
    const out = JSON.parse(back.stdout);
    assertEquals(out.messages.length, 1);
    assertEquals(
      [out.messages[0].sender, out.messages[0].text, out.messages[0].replyTo],
      [bob.pubkey, "done in 41 s", id],
    );
    assertEquals(out.refused, []);
    // Alice's own message to Bob is not hers to read.
    const none = await runCli([
      "--state-dir",
      alice.dir,
      "dm",
      "read",
      id.slice(0, 8),
      ...alice.read,
    ]);
    assertEquals(none.code, 1);
    assertMatch(none.stderr, /^Error: no message /m);
  } finally {
    await net.stop();
  }
});
