import { assert, assertEquals, assertRejects } from "../../../../harness/assert.ts";
import {
  BlobStoreError,
  openBlobStore,
  SHARED_LEFTOVER_MS,
} from "../../../../state/blobs/blob_store.ts";
import { withTempDir } from "../../../support/temp_dir.ts";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

const ALICE = "a".repeat(64);
const BOB = "b".repeat(64);

function sha256Hex(bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes));
}

const body = (bytes: Uint8Array) => ReadableStream.from([bytes]);

Deno.test("blob store: paid, received, listed, owned, deleted with its last owner", async () => {
  await withTempDir(async (dir) => {
    const blobs = await openBlobStore({ dir });
    const bytes = new TextEncoder().encode("hello blob");
    const sha256 = sha256Hex(bytes);
    await assertRejects(
      () => blobs.receive({ sha256, size: bytes.length, pubkey: ALICE, body: body(bytes) }),
      BlobStoreError,
      "not paid for",
    );
    assertEquals(
      blobs.recordPayment({ sha256, size: bytes.length, pubkey: ALICE, amount: 1n }),
      "recorded",
    );
    const record = await blobs.receive({
      sha256,
      size: bytes.length,
      pubkey: ALICE,
      body: body(bytes),
    });
    assertEquals([record.sha256, record.size], [sha256, bytes.length]);
    assertEquals(await Deno.readFile(blobs.path(sha256)), bytes);
    assertEquals(blobs.allowance(sha256, ALICE), undefined, "the allowance is used up");
    // Stored: a second uploader becomes an owner for free.
    assertEquals(
      blobs.recordPayment({ sha256, size: bytes.length, pubkey: BOB, amount: 1n }),
      "already-stored",
    );
    await blobs.receive({ sha256, size: bytes.length, pubkey: BOB, body: body(bytes) });
    assertEquals(blobs.list(BOB).map((r) => r.sha256), [sha256]);
    assertEquals(blobs.usage(ALICE), bytes.length);
    assert(await blobs.delete(sha256, ALICE));
    assert(blobs.get(sha256) !== undefined, "Bob still owns it");
    assertEquals(await blobs.delete(sha256, ALICE), false);
    assert(await blobs.delete(sha256, BOB));
    assertEquals(blobs.get(sha256), undefined);
    await assertRejects(() => Deno.stat(blobs.path(sha256)), Deno.errors.NotFound);
    blobs.close();
  });
});

Deno.test("blob store: retention deletes expired blobs and allowances", async () => {
  await withTempDir(async (dir) => {
    let now = Date.UTC(2026, 0, 1);
    const blobs = await openBlobStore({ dir, retentionMs: 3600_000, now: () => now });
    const bytes = new Uint8Array([1, 2, 3]);
    const sha256 = sha256Hex(bytes);
    blobs.recordPayment({ sha256, size: 3, pubkey: ALICE, amount: 1n });
    await blobs.receive({ sha256, size: 3, pubkey: ALICE, body: body(bytes) });
    const other = sha256Hex(new Uint8Array([9]));
    blobs.recordPayment({ sha256: other, size: 1, pubkey: ALICE, amount: 1n });
    now += 3599_000;
    assertEquals(await blobs.purgeExpired(), 0);
    now += 2000;
    assertEquals(await blobs.purgeExpired(), 1);
    assertEquals(blobs.get(sha256), undefined);
    assert(blobs.allowance(other, ALICE) !== undefined, "allowances last a day");
    now += 24 * 3600_000;
    await blobs.purgeExpired();
    assertEquals(blobs.allowance(other, ALICE), undefined);
    assertEquals(blobs.stats(), { blobs: 0, bytes: 0, allowances: 0 });
    blobs.close();
  });
});

Deno.test("blob store: at open, stray files, rows without files and partial uploads are cleared", async () => {
  await withTempDir(async (dir) => {
    let blobs = await openBlobStore({ dir });
    const kept = new Uint8Array([7, 7, 7]);
    const keptSha = sha256Hex(kept);
    blobs.recordPayment({ sha256: keptSha, size: 3, pubkey: ALICE, amount: 1n });
    await blobs.receive({ sha256: keptSha, size: 3, pubkey: ALICE, body: body(kept) });
    const lost = new Uint8Array([8]);
    const lostSha = sha256Hex(lost);
    blobs.recordPayment({ sha256: lostSha, size: 1, pubkey: ALICE, amount: 1n });
    await blobs.receive({ sha256: lostSha, size: 1, pubkey: ALICE, body: body(lost) });
    blobs.close();
    // A crash: a file renamed in but never indexed, an indexed file gone, a partial upload.
    const stray = "c".repeat(64);
    await Deno.mkdir(`${dir}/cc`, { recursive: true });
    await Deno.writeTextFile(`${dir}/cc/${stray}`, "stray");
    await Deno.remove(`${dir}/${lostSha.slice(0, 2)}/${lostSha}`);
    await Deno.writeTextFile(`${dir}/incoming/partial`, "half");
    blobs = await openBlobStore({ dir });
    assert(blobs.get(keptSha) !== undefined);
    assertEquals(blobs.get(lostSha), undefined);
    await assertRejects(() => Deno.stat(`${dir}/cc/${stray}`), Deno.errors.NotFound);
    assertEquals([...Deno.readDirSync(`${dir}/incoming`)].length, 0);
    blobs.close();
  });
});

Deno.test("blob store: shared by processes, an opening store spares what another may be writing", async () => {
  await withTempDir(async (dir) => {
    const writer = await openBlobStore({ dir, sharedByProcesses: true });
    // Another process mid-upload: its partial file, and a blob renamed in but not indexed yet.
    await Deno.writeTextFile(`${dir}/incoming/partial`, "half");
    const renamed = "d".repeat(64);
    await Deno.mkdir(`${dir}/dd`, { recursive: true });
    await Deno.writeTextFile(`${dir}/dd/${renamed}`, "whole");
    const opened = await openBlobStore({ dir, sharedByProcesses: true });
    await Deno.stat(`${dir}/incoming/partial`);
    await Deno.stat(`${dir}/dd/${renamed}`);
    opened.close();
    // An hour on, nobody is writing them any more: leftovers, removed.
    const later = Date.now() + SHARED_LEFTOVER_MS + 1000;
    const afterwards = await openBlobStore({ dir, sharedByProcesses: true, now: () => later });
    await assertRejects(() => Deno.stat(`${dir}/incoming/partial`), Deno.errors.NotFound);
    await assertRejects(() => Deno.stat(`${dir}/dd/${renamed}`), Deno.errors.NotFound);
    afterwards.close();
    writer.close();
  });
});

Deno.test("blob store: a full disk refuses the upload with 507, nothing visible, the allowance kept", async () => {
  await withTempDir(async (dir) => {
    // A 1 MiB tmpfs in a mount namespace of its own (a user namespace when not root).
    const userns = Deno.uid() === 0 ? [] : ["--user", "--map-root-user"];
    const probe =
      new URL("../../../support/blob_store_disk_full_probe.ts", import.meta.url).pathname;
    const { code, stdout, stderr } = await new Deno.Command("unshare", {
      args: [
        ...userns,
        "--mount",
        "--propagation=private",
        "sh",
        "-c",
        'mount -t tmpfs -o size=1m turnpike-full "$1" && exec "$2" run -A "$3" "$1" 3000000',
        "probe",
        dir,
        Deno.execPath(),
        probe,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(code, 0, new TextDecoder().decode(stderr));
    const result = JSON.parse(new TextDecoder().decode(stdout));
    assertEquals(result, {
      status: 507,
      message: "the town's disk is full; try again later",
      visible: false,
      incoming: 0,
      allowance: true,
    });
  });
});
