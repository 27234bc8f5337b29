/**
 * `turnpike dm send`: a private message stored at a real town as a paid write, which the
 * recipient (nostr-tools' own NIP-17 unwrap, an independent implementation of the reading side)
 * reads with the sender's pubkey; nobody else can.
 */
import { generateSecretKey, getPublicKey, nip17, nip19 } from "nostr-tools";
import { assert, assertEquals, assertMatch, assertThrows } from "../../harness/assert.ts";
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import { decodeEventToon } from "../../protocol/toon_codec.ts";

Deno.test("dm send: a paid gift wrap at the town that only the recipient opens", async () => {
  const net = await startRequesterNetwork({ provider: false });
  const dir = `${net.root}/dm-sender`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/pw`, "correct horse battery staple\n");
  await initWalletWithCli({ stateDir: dir, passphraseFile: `${dir}/pw` });
  const conn = [
    "--relay-url",
    net.relayUrl,
    "--connector-btp-url",
    net.btpUrl.replace("btp+ws://", "btp+ws://dm:r@"),
    "--passphrase-file",
    `${dir}/pw`,
    "--non-interactive",
  ];
  const recipient = generateSecretKey();
  const npub = nip19.npubEncode(getPublicKey(recipient));
  try {
    const res = await runCli([
      "--state-dir",
      dir,
      "--json",
      "dm",
      "send",
      npub,
      "--text",
      "build main for linux/amd64, privately",
      ...conn,
    ]);
    assertEquals(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout);
    assertEquals([out.type, out.recipient, out.network.name], [
      "dm",
      getPublicKey(recipient),
      "local",
    ]);
    const [stored] = await net.town.store.query([{
      kinds: [1059],
      "#p": [getPublicKey(recipient)],
    }]);
    assert(stored !== undefined, "the wrap is stored at the town");
    const wrap = decodeEventToon(stored.toon);
    assertEquals(wrap.id, out.id);
    const sender = JSON.parse(
      (await runCli(["--state-dir", dir, "--json", "wallet", "show"])).stdout,
    ).pubkey;
    const rumor = nip17.unwrapEvent(wrap, recipient);
    assertEquals([rumor.kind, rumor.content, rumor.pubkey], [
      14,
      "build main for linux/amd64, privately",
      sender,
    ]);
    // The wrap shows neither the sender nor the text; another key cannot open it.
    assert(wrap.pubkey !== sender && !stored.toon.includes("privately"));
    assertThrows(() => nip17.unwrapEvent(wrap, generateSecretKey()), Error);
    // The write was paid and is on the books.
    const log = await Deno.readTextFile(`${dir}/payment_log.jsonl`);
    assertMatch(log, new RegExp(`"jobId":"${out.id}".*"category":"town-write"`));

    const bad = await runCli([
      "--state-dir",
      dir,
      "--json",
      "dm",
      "send",
      "npub1nope",
      "--text",
      "x",
      ...conn,
    ]);
    assertEquals([bad.code, JSON.parse(bad.stdout).code], [2, "usage"]);
  } finally {
    await net.stop();
  }
});
