/**
 * `turnpike town migrate --to postgres://...` (the CLI, a real process) on a SQLite town that
 * took paid writes, a stored blob, a paid but not yet uploaded blob and a peer's channel claims;
 * then the town served from PostgreSQL by real processes (A on the migrated state dir, B on
 * its own): the events, the blob (B fetches the bytes from A by hash), the upload the SQLite town
 * was paid for, a write paid with an SPSP grant the SQLite town gave (grants derive from the
 * key: nothing to copy), and the channel book at the claim the channel file held.
 */
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { assert, assertEquals } from "../../harness/assert.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import {
  type SharedTownProcess,
  startSharedTownProcess,
} from "../../harness/shared_town_process.ts";
import { connectPayingClient, type PayingClient } from "../../harness/town_test_node.ts";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import { buildPaidWrite } from "../../roles/town_client/spsp_handshake.ts";
import {
  downloadBlob,
  payBlob as payKitBlob,
  randomBytes,
  sha256Hex,
  uploadBlob,
} from "../../harness/town_blob_kit.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { type ChannelRecord, saveChannel } from "../../state/channels/channel_file.ts";
import { openPostgresClaimBooks } from "../../state/postgres/postgres_claim_books.ts";
import { BtpClient } from "../../transport/btp_client.ts";

const TOWN = "test.town";
const PRICE = 200n;
/** A hang guard, not a timing assertion. */
const GUARD_MS = 60_000;
const CHANNEL = `0x${"c4".repeat(32)}` as const;

/** Pays for the bytes as a blob through `payer`'s connection (asserted FULFILLed); the auth. */
async function payBlob(
  payer: Pick<PayingClient, "client" | "grant" | "secretKey">,
  bytes: Uint8Array<ArrayBuffer>,
): Promise<NostrEvent> {
  const { reply, auth } = await payKitBlob(payer, await sha256Hex(bytes), bytes.length, PRICE);
  assertEquals(reply.type, "fulfill", JSON.stringify(reply));
  return auth;
}

const upload = async (p: SharedTownProcess, auth: NostrEvent, body: Uint8Array<ArrayBuffer>) =>
  (await uploadBlob(p.httpPort, auth, body)).status;
const download = (p: SharedTownProcess, sha256: string) => downloadBlob(p.httpPort, sha256);

/** The ids a REQ for `ids` gets from the process (up to EOSE). */
function query(p: SharedTownProcess, ids: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${p.httpPort}`);
    const found: string[] = [];
    const guard = setTimeout(() => {
      socket.close();
      reject(new Error("no EOSE within the guard"));
    }, GUARD_MS);
    socket.onopen = () => socket.send(JSON.stringify(["REQ", "q", { ids }]));
    socket.onerror = () => {};
    socket.onmessage = (m) => {
      const msg = JSON.parse(String(m.data));
      if (msg[0] === "EVENT") found.push(msg[2].id);
      if (msg[0] === "EOSE") socket.close();
    };
    socket.onclose = () => {
      clearTimeout(guard);
      resolve(found);
    };
  });
}

function channelRecord(): ChannelRecord {
  return {
    channelId: CHANNEL,
    chain: "evm:base:31337",
    chainId: 31337,
    network: "local",
    tokenNetworkAddress: `0x${"11".repeat(20)}`,
    tokenAddress: `0x${"22".repeat(20)}`,
    tokenSymbol: "M2M",
    tokenDecimals: 6,
    selfAddress: `0x${"33".repeat(20)}`,
    peerAddress: `0x${"44".repeat(20)}`,
    btpAccount: "alice",
    status: "open",
    deposit: 0n,
    peerDeposit: 1_000_000n,
    withdrawn: 0n,
    peerWithdrawn: 0n,
    sent: 0n,
    sentNonce: 0n,
    received: 1234n,
    receivedNonce: 3n,
    receivedSignature: `0x${"ab".repeat(65)}`,
    settleTimeout: 3600n,
    settleAt: 0n,
    openedAt: new Date().toISOString(),
    warnPercent: 20,
  };
}

Deno.test("town migrate: events, blob index, channel books; a PostgreSQL town serves them", async () => {
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const secretKey = generateSecretKey();
  const townPubkey = getPublicKey(secretKey);
  const stateDir = await Deno.makeTempDir({ prefix: "town_migrate_" });
  const clients: BtpClient[] = [];
  try {
    // The SQLite town: a paid note, a stored blob, a paid blob not uploaded yet.
    const sqlite = await startSharedTownProcess({
      secretKey,
      stateDir,
      databasePath: `${stateDir}/town-events.sqlite`,
      ownBlobs: true,
    });
    const payer = await connectPayingClient({
      url: `btp+ws://127.0.0.1:${sqlite.btpPort}`,
      token: "alice",
      townAddress: TOWN,
      townPubkey,
    });
    const note = payer.sign({ content: "written before the migration" });
    assertEquals((await payer.write(note)).type, "fulfill");
    const stored = randomBytes(200_000);
    const storedSha = await sha256Hex(stored);
    assertEquals(
      await upload(
        sqlite,
        await payBlob(payer, stored),
        stored,
      ),
      200,
    );
    const pending = randomBytes(30_000);
    const pendingAuth = await payBlob(payer, pending);
    await payer.close();
    await sqlite.stop();
    // The peer's newest claim, as the channel gate keeps it in the channel file.
    await saveChannel(channelRecord(), { stateDir, action: "open" });

    const migrate = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../cli.ts", import.meta.url).pathname,
        "--state-dir",
        stateDir,
        "--json",
        "town",
        "migrate",
        "--to",
        storeUrl,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(GUARD_MS * 2),
    }).output();
    const said = new TextDecoder().decode(migrate.stdout);
    assertEquals(migrate.code, 0, new TextDecoder().decode(migrate.stderr) + said);
    const report = JSON.parse(said.trim().split("\n").at(-1)!);
    assertEquals(report.outcomes, { stored: 1 });
    assertEquals(report.blobs, { blobs: 1, owners: 1, allowances: 1 });
    assertEquals(report.books, 1);

    // The channel book is at the file's claim.
    const books = await openPostgresClaimBooks({ url: storeUrl });
    const book = await books.read(CHANNEL);
    await books.close();
    assertEquals([book?.nonce, book?.claimed, book?.signature], [
      3n,
      1234n,
      `0x${"ab".repeat(65)}`,
    ]);

    // A runs on the migrated state dir (it holds the bytes), B on its own.
    await using a = await startSharedTownProcess({ storeUrl, secretKey, stateDir, ownBlobs: true });
    await using b = await startSharedTownProcess({ storeUrl, secretKey, ownBlobs: true });
    assertEquals(await query(b, [note.id]), [note.id]);
    assertEquals(await download(b, storedSha), stored);
    // The allowance paid on the SQLite town takes the upload on B.
    assertEquals(await upload(b, pendingAuth, pending), 200);
    assertEquals(await download(a, await sha256Hex(pending)), pending);
    // The SQLite town's grant pays a write on B.
    const client = new BtpClient({
      url: `btp+ws://127.0.0.1:${b.btpPort}`,
      authToken: "alice",
      reconnect: false,
    });
    clients.push(client);
    await client.connect();
    const later = payer.sign({ content: "paid with the grant from before" });
    const { prepare } = await buildPaidWrite({
      event: later,
      grant: payer.grant,
      pricePerByte: 10n,
    });
    const reply = await client.sendPrepare(prepare);
    assertEquals(reply.type, "fulfill", JSON.stringify(reply));
    assert((await query(a, [later.id])).includes(later.id));
  } finally {
    for (const client of clients) await client.close().catch(() => {});
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
});
