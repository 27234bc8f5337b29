/**
 * A Gas Town worker's key (identity/worker_key.ts): derived in the signer's worker, the same as
 * the derivation on this thread, one per address and rotation, never the profile's own.
 */
import {
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "../../../harness/assert.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { hexToBytes } from "@noble/hashes/utils.js";
import { openWorkerNodeSigner } from "../../../identity/worker_node_signer.ts";
import { localNodeSigner } from "../../../identity/local_node_signer.ts";
import { deriveWorkerKey, WorkerAddressError } from "../../../identity/worker_key.ts";
import { verifyEvent } from "../../../protocol/event_verifier.ts";

Deno.test("a worker's key derived in the signer's worker is the one derived here, and signs as that key", async () => {
  const profile = generateSecretKey();
  const signer = await openWorkerNodeSigner({ secretKey: profile.slice() });
  try {
    const worker = await signer.worker({ address: "myrig/polecats/p1", rotation: 0 });
    const here = deriveWorkerKey(profile, { address: "myrig/polecats/p1", rotation: 0 });
    assertEquals(worker.pubkey, getPublicKey(here));
    assertEquals(worker.evmAddress, localNodeSigner(here).evmAddress);
    const event = await worker.signEvent({ kind: 1, created_at: 1, tags: [], content: "hi" });
    verifyEvent(event);
    assertEquals(event.pubkey, worker.pubkey);
    // Its NIP-44 key with a peer is the worker's, not the profile's.
    const peer = generateSecretKey();
    assertEquals(
      await worker.conversationKey(getPublicKey(peer)),
      await localNodeSigner(here).conversationKey(getPublicKey(peer)),
    );
  } finally {
    signer.close();
  }
});

Deno.test("each address and each rotation has its own key, none the profile's, the same at every start", () => {
  const profile = hexToBytes("11".repeat(32));
  const keys = [
    { address: "myrig/polecats/p1", rotation: 0 },
    { address: "myrig/polecats/p1", rotation: 1 },
    { address: "myrig/crew/p1", rotation: 0 },
    { address: "mayor", rotation: 0 },
  ].map((w) => getPublicKey(deriveWorkerKey(profile, w)));
  assertEquals(new Set([...keys, getPublicKey(profile)]).size, 5);
  assertEquals(
    getPublicKey(deriveWorkerKey(profile, { address: "mayor", rotation: 0 })),
    keys[3],
  );
  assertNotEquals(
    deriveWorkerKey(hexToBytes("22".repeat(32)), { address: "mayor", rotation: 0 }),
    deriveWorkerKey(profile, { address: "mayor", rotation: 0 }),
  );
});

Deno.test("a worker's address that is not Gas Town's, or a worker's signer asked for another worker, is refused", async () => {
  const profile = generateSecretKey();
  for (const address of ["myrig", "myrig/p1", "myrig/polecats/", "../polecats/x", "Mayor"]) {
    assertThrows(() => deriveWorkerKey(profile, { address, rotation: 0 }), WorkerAddressError);
  }
  assertThrows(
    () => deriveWorkerKey(profile, { address: "mayor", rotation: -1 }),
    WorkerAddressError,
  );
  const worker = await localNodeSigner(profile).worker({ address: "mayor", rotation: 0 });
  await assertRejects(
    () => worker.worker({ address: "myrig/crew/a", rotation: 0 }),
    WorkerAddressError,
  );
});
