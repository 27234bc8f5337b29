/**
 * The operator's private kinds (docs/PROTOCOL.md "Private events: NIP-42 AUTH"): a real
 * `town up --private-kinds 4` process takes a paid kind 4 event `p`-tagged for Bob and serves it
 * only to a connection authenticated (NIP-42) as Bob: a REQ naming the kind without AUTH is
 * CLOSED `auth-required:`, Mallory authenticated gets nothing, a REQ naming no kind leaks
 * nothing. A kind the operator did not list (kind 1, `p`-tagged for Bob too) stays public.
 */
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { assert, assertEquals, assertRejects } from "../../harness/assert.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import { connectPayingClient } from "../../harness/town_test_node.ts";
import { queryRelay, RelayQueryError } from "../../transport/relay_query.ts";
import { authenticateWith } from "../../protocol/nip42_auth.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";

Deno.test("town up --private-kinds 4: a kind 4 event only to its p-tagged recipient after AUTH; kind 1 stays public", async () => {
  const dir = await Deno.makeTempDir({ prefix: "town_private_kinds_" });
  const town = spawnCli([
    "--state-dir",
    dir,
    "town",
    "up",
    "--generate-key",
    "--town-port",
    "0",
    "--btp-port",
    "0",
    "--peer",
    "writer:w",
    "--ilp-address",
    "test.privtown",
    "--private-kinds",
    "4",
  ]);
  try {
    await town.waitForLine((l) => l.includes("identity"));
    const out = town.stdout();
    const field = (name: string) => out.match(new RegExp(`^  ${name}\\s+(\\S+)$`, "m"))?.[1] ?? "";
    const url = `ws://127.0.0.1:${field("httpPort")}`;
    const writer = await connectPayingClient({
      url: `btp+ws://127.0.0.1:${field("btpPort")}`,
      token: "w",
      townAddress: "test.privtown",
      townPubkey: field("pubkey"),
    });
    const bob = generateSecretKey();
    const bobPub = getPublicKey(bob);
    const mallory = generateSecretKey();
    const dm = writer.sign({ kind: 4, tags: [["p", bobPub]], content: "sealed for bob" });
    const note = writer.sign({ kind: 1, tags: [["p", bobPub]], content: "a public mention" });
    try {
      for (const e of [dm, note]) assertEquals((await writer.write(e)).type, "fulfill");
    } finally {
      await writer.close();
    }
    const as = (key: Uint8Array) => ({ authenticate: authenticateWith(localNodeSigner(key)) });

    const refused = await assertRejects(() => queryRelay(url, [{ kinds: [4] }]), RelayQueryError);
    assert(refused.message.includes("auth-required"), refused.message);
    const toBob = await queryRelay(url, [{ kinds: [4], "#p": [bobPub] }], as(bob));
    assertEquals(toBob.events.map((e) => e.id), [dm.id]);
    const toMallory = await queryRelay(url, [{ kinds: [4] }], as(mallory));
    assertEquals(toMallory.events, []);
    const anyKind = await queryRelay(url, [{ limit: 50 }], { maxEvents: 50 });
    const ids = anyKind.events.map((e) => e.id);
    assert(ids.includes(note.id), "the public kind 1 was not served");
    assert(!ids.includes(dm.id), "the private kind 4 leaked to an unauthenticated reader");
  } finally {
    town.child.kill("SIGINT");
    const status = await town.done;
    await Deno.remove(dir, { recursive: true });
    assertEquals(status.code, 0);
  }
});
