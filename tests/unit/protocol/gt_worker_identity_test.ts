/**
 * A worker's kind 0 and its Mayor's binding (protocol/gt_worker_identity.ts): what the Mayor
 * signed reads back; a kind 0 that claims another address, town, rotation or Mayor than the one
 * that signed is refused.
 */
import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
import {
  readWorkerIdentity,
  workerBinding,
  WorkerIdentityError,
  workerProfile,
} from "../../../protocol/gt_worker_identity.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";

const mayor = generateSecretKey(), worker = generateSecretKey();
const address = "myrig/polecats/p1", town = "ws://127.0.0.1:7100";
const binding = finalizeEvent(
  workerBinding({
    worker: getPublicKey(worker),
    address,
    town,
    rotation: 2,
    createdAt: 1_700_000_000,
  }),
  mayor,
) as NostrEvent;

Deno.test("a worker's kind 0 names its address, town, rotation and the Mayor whose signature checks", () => {
  const kind0 = finalizeEvent(workerProfile(binding), worker) as NostrEvent;
  assertEquals(readWorkerIdentity(kind0), {
    pubkey: getPublicKey(worker),
    address,
    town,
    mayor: getPublicKey(mayor),
    rotation: 2,
    vouchedAt: 1_700_000_000,
  });
});

Deno.test("a kind 0 claiming another address, town, rotation or Mayor than the binding's is refused", () => {
  const forge = (edit: (tags: string[][]) => void, key = worker) => {
    const template = workerProfile(binding);
    edit(template.tags);
    return finalizeEvent(template, key) as NostrEvent;
  };
  const other = getPublicKey(generateSecretKey());
  for (
    const kind0 of [
      forge((t) => t[0][1] = "myrig/polecats/p2"),
      forge((t) => t[1][1] = "ws://elsewhere"),
      forge((t) => t[2][2] = "0"),
      forge((t) => t[2][1] = other),
      // Another worker's key presenting this worker's binding.
      forge(() => {}, generateSecretKey()),
    ]
  ) {
    const err = assertThrows(() => readWorkerIdentity(kind0), WorkerIdentityError);
    assertEquals(err.reason, "bad-mayor-sig");
  }
  const malformed = forge((t) => t[2][4] = "zz");
  assertEquals(
    assertThrows(() => readWorkerIdentity(malformed), WorkerIdentityError).reason,
    "bad-binding",
  );
});
