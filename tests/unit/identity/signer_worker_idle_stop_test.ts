import { assert, assertEquals } from "../../../harness/assert.ts";
import { generateSecretKey, getPublicKey, verifyEvent } from "nostr-tools";
import { bytesToHex } from "@noble/hashes/utils.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { NodeSigner } from "../../../protocol/node_signer.ts";
import {
  openWorkerNodeSigner,
  type WorkerKeySource,
} from "../../../identity/worker_node_signer.ts";
import { createMnemonic } from "../../../identity/mnemonic.ts";
import { createWalletRecord } from "../../../identity/wallet.ts";

/** This process's worker isolates: Deno names each one's thread `worker-<n>`. */
function workerThreads(): number {
  let count = 0;
  for (const task of Deno.readDirSync("/proc/self/task")) {
    try {
      const name = Deno.readTextFileSync(`/proc/self/task/${task.name}/comm`).trim();
      if (/^worker-\d+$/.test(name)) count++;
    } catch {
      // the thread ended meanwhile
    }
  }
  return count;
}

/**
 * Resolves once the signer's worker was stopped and its thread has ended (a terminated worker's
 * thread ends a moment after), or after `ms` if it does not stop.
 */
async function stopOrAfter(
  states: Array<(running: boolean) => void>,
  ms: number,
  threads: number,
): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    states.push((running) => {
      if (running) return;
      clearTimeout(timer);
      resolve();
    });
  });
  for (let i = 0; i < 50 && workerThreads() > threads; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function checkIdleStop(source: WorkerKeySource, expectPubkey?: string) {
  const listeners: Array<(running: boolean) => void> = [];
  const told: boolean[] = [];
  const before = workerThreads();
  const signer: NodeSigner = await openWorkerNodeSigner(source, {
    stopWhenIdleMs: 100,
    onWorkerState: (running) => {
      told.push(running);
      for (const l of listeners) l(running);
    },
  });
  try {
    if (expectPubkey !== undefined) assertEquals(signer.pubkey, expectPubkey);
    const first = await signer.signEvent({ kind: 1, created_at: 1, tags: [], content: "a" });
    assert(verifyEvent(first));
    const secret = await signer.derivedSecret("label");
    assertEquals(workerThreads(), before + 1, "the key's worker runs while in use");

    await stopOrAfter(listeners, 3000, before);
    assertEquals(workerThreads(), before, "the key's worker is stopped when idle");

    const again = await signer.signEvent({ kind: 1, created_at: 2, tags: [], content: "b" });
    assert(verifyEvent(again));
    assertEquals(again.pubkey, signer.pubkey);
    assertEquals(await signer.derivedSecret("label"), secret, "the same key after the restart");
    assertEquals(told, [false, true]);

    // Stopped and started again as often as it is idle.
    await stopOrAfter(listeners, 3000, before);
    assertEquals(workerThreads(), before);
    const third = await signer.signEvent({ kind: 1, created_at: 3, tags: [], content: "c" });
    assert(verifyEvent(third));
    assertEquals(told, [false, true, false, true]);
  } finally {
    signer.close();
  }
}

Deno.test("worker signer: a throwaway key's worker stops when idle and signs with the same key after", async () => {
  await checkIdleStop({ generate: true });
});

Deno.test("worker signer: a wallet's worker stops when idle and signs with the wallet's key after", async () => {
  const record = await createWalletRecord({ mnemonic: createMnemonic(), passphrase: "pw" });
  await checkIdleStop({ wallet: record, passphrase: "pw" }, record.pubkey);
});

Deno.test("worker signer: requests made while the idle worker stops are answered by the next one", async () => {
  const secretKey = generateSecretKey();
  const states: boolean[] = [];
  const signer = await openWorkerNodeSigner({ secretKey }, {
    stopWhenIdleMs: 1,
    onWorkerState: (running) => states.push(running),
  });
  try {
    assertEquals(signer.pubkey, getPublicKey(secretKey));
    const expected = bytesToHex(hmac(sha256, secretKey, new TextEncoder().encode("x")));
    // Requests one after another, each racing the stop armed by the one before.
    for (let i = 0; i < 6; i++) {
      assertEquals(bytesToHex(await signer.derivedSecret("x")), expected);
      await new Promise((r) => setTimeout(r, i % 3));
    }
    const events = await Promise.all(
      [1, 2, 3].map((n) => signer.signEvent({ kind: 1, created_at: n, tags: [], content: "" })),
    );
    for (const event of events) assert(verifyEvent(event));
    assert(states.includes(false), "the worker stopped at least once");
  } finally {
    signer.close();
  }
});
