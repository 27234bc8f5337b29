/**
 * The town's Blossom store against real clients: our publisher (paid over ILP through BTP) and
 * the independent `blossom-client-sdk`; and every refusal: unpaid, tampered, oversize, cut off
 * halfway, over quota, each precise and leaving nothing stored or visible; a payment sent again
 * is not taken twice.
 */
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { Actions, getBlobSha256 } from "blossom-client-sdk";
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import {
  connectPayingClient,
  type PayingClient,
  startTestTown,
} from "../../harness/town_test_node.ts";
import type { TownNode } from "../../roles/town/town_node.ts";
import { publishBlob } from "../../roles/blob_publisher.ts";
import { buildPaidWrite } from "../../roles/town_client/spsp_handshake.ts";
import { authorizationHeader, buildBlobAuthorization } from "../../protocol/blob_authorization.ts";
import { priceBlob } from "../../protocol/blob_pricing.ts";
import { signEventTemplate } from "../../identity/event_signer.ts";
import { blobPaymentOutcome } from "../../protocol/blob_payment_reply.ts";
import { downloadBlob, hashFile } from "../../transport/blossom_client.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { sha256Hex } from "../../harness/town_blob_kit.ts";

const PRICE = 200n;

interface World {
  town: TownNode;
  server: string;
  alice: PayingClient;
  dir: string;
  /** A file of random bytes. */
  file(name: string, size: number): Promise<string>;
  pay(auth: NostrEvent, amount: bigint): ReturnType<PayingClient["client"]["sendPrepare"]>;
  auth(sha256: string, size: number): NostrEvent;
}

async function withTown(
  fn: (w: World) => Promise<void>,
  limits: { maxBlobBytes?: number; quotaBytes?: number } = {},
): Promise<void> {
  const town = await startTestTown({
    peers: [{ account: "alice", token: "a" }],
    blobs: {
      pricePerMiB: PRICE,
      maxBlobBytes: limits.maxBlobBytes ?? 64 * 1024 * 1024,
      quotaBytes: limits.quotaBytes ?? 1024 * 1024 * 1024,
      retentionMs: 3600_000,
    },
  });
  const alice = await connectPayingClient({
    url: `ws://127.0.0.1:${town.btpPort}`,
    token: "a",
    townAddress: town.ilpAddress,
    townPubkey: town.pubkey,
  });
  const dir = await Deno.makeTempDir();
  const world: World = {
    town,
    server: `http://127.0.0.1:${town.httpPort}`,
    alice,
    dir,
    async file(name, size) {
      const path = `${dir}/${name}`;
      const f = await Deno.open(path, { write: true, create: true });
      for (let left = size; left > 0;) {
        const chunk = crypto.getRandomValues(new Uint8Array(Math.min(65536, left)));
        await f.write(chunk);
        left -= chunk.length;
      }
      f.close();
      return path;
    },
    async pay(auth, amount) {
      const { prepare } = await buildPaidWrite({
        event: auth,
        grant: alice.grant,
        pricePerByte: 0n,
        amount,
      });
      return await alice.client.sendPrepare(prepare);
    },
    auth: (sha256, size) =>
      signEventTemplate(
        buildBlobAuthorization({ verb: "upload", sha256: [sha256], size }),
        alice.secretKey,
      ),
  };
  try {
    await fn(world);
  } finally {
    await alice.close();
    await town.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

function put(w: World, auth: NostrEvent, body: BodyInit, length: number) {
  return fetch(`${w.server}/upload`, {
    method: "PUT",
    headers: { authorization: authorizationHeader(auth), "content-length": String(length) },
    body,
  });
}

Deno.test("blobs: a paid upload is stored content-addressed and served with ranges", async () => {
  await withTown(async (w) => {
    const path = await w.file("context.bin", 3 * 1024 * 1024 + 17);
    const { sha256, size } = await hashFile(path);
    const { descriptor, paid } = await publishBlob({
      path,
      server: w.server,
      pricePerMiB: PRICE,
      signer: localNodeSigner(w.alice.secretKey),
      pay: (auth, amount) => w.pay(auth, amount),
    });
    assertEquals([descriptor.sha256, descriptor.size, paid], [
      sha256,
      size,
      priceBlob(size, PRICE),
    ]);
    assertEquals(descriptor.url, `${w.server}/${sha256}`);
    const copy = `${w.dir}/copy`;
    await downloadBlob({ url: descriptor.url, sha256, maxBytes: size, to: copy });
    assertEquals((await hashFile(copy)).sha256, sha256);
    const range = await fetch(descriptor.url, { headers: { range: "bytes=10-19" } });
    assertEquals([range.status, range.headers.get("content-range")], [206, `bytes 10-19/${size}`]);
    const original = await Deno.readFile(path);
    assertEquals(new Uint8Array(await range.arrayBuffer()), original.subarray(10, 20));
    const beyond = await fetch(descriptor.url, { headers: { range: `bytes=${size}-` } });
    await beyond.body?.cancel();
    assertEquals(beyond.status, 416);
    // Again: stored already, so nothing is paid.
    const again = await publishBlob({
      path,
      server: w.server,
      pricePerMiB: PRICE,
      signer: localNodeSigner(w.alice.secretKey),
      pay: () => Promise.reject(new Error("must not pay for a stored blob")),
    });
    assertEquals(again.paid, 0n);
    const listed = await (await fetch(`${w.server}/list/${w.alice.pubkey}`)).json();
    assertEquals(listed.map((d: { sha256: string }) => d.sha256), [sha256]);
    assertEquals(w.town.blobs.stats().blobs, 1);
    const metrics = await (await fetch(`${w.server}/metrics`)).text();
    assertStringIncludes(metrics, "turnpike_town_blobs_stored 1");
    const nip11 = await (await fetch(w.server, { headers: { accept: "application/nostr+json" } }))
      .json();
    assertEquals(nip11.fees.blob[0].amount, Number(PRICE));
    assertEquals(nip11.limitation.max_blob_bytes, 64 * 1024 * 1024);
  });
});

Deno.test("blobs: an upload that meets another of the same blob in flight (409) waits for it and is stored once, paid once", async () => {
  await withTown(async (w) => {
    const path = await w.file("same-base.bin", 1024 * 1024 + 5);
    const { sha256, size } = await hashFile(path);
    // The first upload (another command of the same profile) pays, then stalls mid-body.
    const auth = w.auth(sha256, size);
    assertEquals(blobPaymentOutcome(await w.pay(auth, priceBlob(size, PRICE))).status, "paid");
    const bytes = await Deno.readFile(path);
    let release!: () => void;
    const released = new Promise<void>((resolve) => release = resolve);
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(bytes.subarray(0, size >> 1));
        await released;
        controller.enqueue(bytes.subarray(size >> 1));
        controller.close();
      },
    });
    const first = put(w, auth, body, size);
    // The second finds the upload paid for and in flight: it waits, then gets the stored blob.
    const waits: string[] = [];
    const second = publishBlob({
      path,
      server: w.server,
      pricePerMiB: PRICE,
      signer: localNodeSigner(w.alice.secretKey),
      pay: () => Promise.reject(new Error("must not pay for a blob paid for already")),
      onWait: (message) => {
        waits.push(message);
        release();
      },
    }).finally(() => release()); // a failed second upload must not leave the first stalled
    const [firstResponse, published] = await Promise.all([first, second]);
    assertEquals(firstResponse.status, 200);
    await firstResponse.body?.cancel();
    assert(waits.length >= 1, "the second upload met the first in flight");
    assertStringIncludes(waits[0], "in flight");
    assertEquals([published.descriptor.sha256, published.paid], [sha256, 0n]);
    assertEquals(w.town.blobs.stats().blobs, 1);
  });
});

Deno.test("blobs: unpaid, underpaid, tampered, oversize and cut-off uploads store nothing", async () => {
  await withTown(async (w) => {
    const path = await w.file("a.bin", 200_000);
    const { sha256, size } = await hashFile(path);
    const bytes = await Deno.readFile(path);
    const auth = w.auth(sha256, size);
    // Unpaid.
    const unpaid = await put(w, auth, bytes, size);
    assertEquals(unpaid.status, 402);
    assertStringIncludes(unpaid.headers.get("x-reason") ?? "", "not paid for");
    await unpaid.body?.cancel();
    // Underpaid by one unit.
    const under = await w.pay(auth, priceBlob(size, PRICE) - 1n);
    assertEquals(under.type === "reject" ? under.code : "fulfill", "F04");
    assertEquals(w.town.blobs.allowance(sha256, w.alice.pubkey), undefined);
    // Paid; then the wrong bytes under that hash.
    assertEquals(blobPaymentOutcome(await w.pay(auth, priceBlob(size, PRICE))).status, "paid");
    const tampered = bytes.slice();
    tampered[1000] ^= 1;
    const bad = await put(w, auth, tampered, size);
    assertEquals(bad.status, 400);
    assertStringIncludes(bad.headers.get("x-reason") ?? "", "sha256 mismatch");
    await bad.body?.cancel();
    // Cut off halfway: the client aborts the body.
    const half = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes.subarray(0, size / 2));
        c.error(new Error("connection lost"));
      },
    });
    await put(w, auth, half, size).then((r) => r.body?.cancel(), () => {});
    // More bytes than declared.
    const long = await put(w, auth, new Uint8Array([...bytes, 1, 2, 3]), size);
    await long.body?.cancel();
    assert(long.status >= 400, `overlong upload answered ${long.status}`);
    assertEquals((await fetch(`${w.server}/${sha256}`, { method: "HEAD" })).status, 404);
    assertEquals(w.town.blobs.stats().blobs, 0);
    assertEquals([...Deno.readDirSync(`${w.town.blobs.dir}/incoming`)].length, 0);
    // The allowance survived every failure: the right bytes go in without paying again.
    const good = await put(w, auth, bytes, size);
    assertEquals(good.status, 200, await good.clone().text());
    assertEquals((await good.json()).sha256, sha256);
    assertEquals(w.town.writeCounters.blobPayments, 1);
  }, { maxBlobBytes: 1024 * 1024 });
});

Deno.test("blobs: a payment sent again after its answer was lost is not taken twice", async () => {
  await withTown(async (w) => {
    const bytes = crypto.getRandomValues(new Uint8Array(5000));
    const sha256 = await sha256Hex(bytes);
    const auth = w.auth(sha256, bytes.length);
    const price = priceBlob(bytes.length, PRICE);
    assertEquals((await w.pay(auth, price)).type, "fulfill");
    // The same payment again (its FULFILL lost on the way back): F99 already-paid, no money.
    const again = await w.pay(auth, price);
    assert(again.type === "reject" && again.code === "F99", JSON.stringify(again));
    assertEquals(blobPaymentOutcome(again).status, "already-paid");
    assertEquals(w.town.writeCounters.blobPayments, 1);
    assertEquals(w.town.blobs.allowance(sha256, w.alice.pubkey)?.amount, price);
    const good = await put(w, auth, bytes, bytes.length);
    assertEquals(good.status, 200, await good.clone().text());
    await good.body?.cancel();
  });
});

Deno.test("blobs: over the size limit and over quota are refused before any byte or money moves", async () => {
  await withTown(async (w) => {
    const big = await w.file("big.bin", 300_000);
    const b = await hashFile(big);
    const reply = await w.pay(w.auth(b.sha256, b.size), priceBlob(b.size, PRICE));
    assertEquals(reply.type === "reject" ? reply.code : "fulfill", "F08");
    const head = await fetch(`${w.server}/upload`, {
      method: "HEAD",
      headers: { "x-sha-256": b.sha256, "x-content-length": String(b.size) },
    });
    assertEquals(head.status, 413);
    const put413 = await put(w, w.auth(b.sha256, b.size), await Deno.readFile(big), b.size);
    assertEquals(put413.status, 413);
    await put413.body?.cancel();
    // Quota 250 KB: a first 150 KB blob fits, a second does not.
    const one = await hashFile(await w.file("one.bin", 150_000));
    const two = await hashFile(await w.file("two.bin", 150_000));
    assertEquals(
      blobPaymentOutcome(await w.pay(w.auth(one.sha256, one.size), 1000n)).status,
      "paid",
    );
    const over = blobPaymentOutcome(await w.pay(w.auth(two.sha256, two.size), 1000n));
    assertEquals(over.status, "quota-exceeded");
    assertEquals(w.town.blobs.allowance(two.sha256, w.alice.pubkey), undefined);
  }, { maxBlobBytes: 256 * 1024, quotaBytes: 250_000 });
});

Deno.test("blobs: the independent blossom-client-sdk uploads (paying through our client) and downloads", async () => {
  await withTown(async (w) => {
    const bytes = new Uint8Array(100_000);
    for (let at = 0; at < bytes.length; at += 65536) {
      crypto.getRandomValues(bytes.subarray(at, at + 65536));
    }
    const blob = new Blob([bytes]);
    const sha256 = await getBlobSha256(blob);
    const auth = w.auth(sha256, bytes.length);
    let payments = 0;
    const descriptor = await Actions.uploadBlob(w.server, blob, {
      auth,
      onPaymentRequired: async () => {
        payments++;
        const outcome = blobPaymentOutcome(await w.pay(auth, priceBlob(bytes.length, PRICE)));
        assertEquals(outcome.status, "paid");
        return {};
      },
    });
    assertEquals([descriptor.sha256, descriptor.size, payments], [sha256, bytes.length, 1]);
    const got = new Uint8Array(await (await fetch(descriptor.url)).arrayBuffer());
    assertEquals(got, bytes);
    // Delete with a delete authorization: gone.
    const del = signEventTemplate(
      buildBlobAuthorization({ verb: "delete", sha256: [sha256] }),
      w.alice.secretKey,
    );
    const deleted = await fetch(`${w.server}/${sha256}`, {
      method: "DELETE",
      headers: { authorization: authorizationHeader(del) },
    });
    await deleted.body?.cancel();
    assertEquals(deleted.status, 200);
    const gone = await fetch(`${w.server}/${sha256}`);
    await gone.body?.cancel();
    assertEquals(gone.status, 404);
  });
});
