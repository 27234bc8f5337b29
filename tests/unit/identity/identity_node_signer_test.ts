import { assert, assertEquals, assertRejects } from "../../../harness/assert.ts";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { generateSecretKey, getPublicKey, nip04, nip44, verifyEvent } from "nostr-tools";
import { privateKeyToAddress } from "viem/accounts";
import {
  hashMessage,
  parseTransaction,
  recoverMessageAddress,
  recoverPublicKey,
  recoverTransactionAddress,
} from "viem";
import { recoverTypedDataAddress, type TransactionSerialized } from "viem";
import { localNodeSigner } from "../../../identity/local_node_signer.ts";
import type { NodeSigner } from "../../../protocol/node_signer.ts";
import { NodeSignerError, openWorkerNodeSigner } from "../../../identity/worker_node_signer.ts";
import { createWalletRecord } from "../../../identity/wallet.ts";
import { CorruptVaultError, WrongPassphraseError } from "../../../identity/key_vault.ts";

const typedData = {
  domain: { name: "T", version: "1", chainId: 31337 },
  types: { Note: [{ name: "amount", type: "uint256" }, { name: "to", type: "address" }] },
  primaryType: "Note" as const,
  message: { amount: 12345678901234567890n, to: "0x000000000000000000000000000000000000dEaD" },
};

async function checkSigner(signer: NodeSigner, secretKey: Uint8Array) {
  const peer = generateSecretKey();
  const peerPub = getPublicKey(peer);
  assertEquals(signer.pubkey, getPublicKey(secretKey));
  assertEquals(signer.evmAddress, privateKeyToAddress(`0x${bytesToHex(secretKey)}`));
  const event = await signer.signEvent({
    kind: 1,
    created_at: 7,
    tags: [["t", "x"]],
    content: "hi",
  });
  assertEquals(event.pubkey, signer.pubkey);
  assert(verifyEvent({ ...event }));
  // The peer derives the same conversation key from its side.
  const mine = await signer.conversationKey(peerPub);
  assertEquals(
    bytesToHex(mine),
    bytesToHex(nip44.v2.utils.getConversationKey(peer, signer.pubkey)),
  );
  const seed = await signer.derivedSecret("a label");
  assertEquals(
    bytesToHex(seed),
    bytesToHex(hmac(sha256, secretKey, new TextEncoder().encode("a label"))),
  );
  const legacy = await nip04.encrypt(peer, signer.pubkey, "old style");
  assertEquals(await signer.nip04Decrypt(peerPub, legacy), "old style");
  const typedSig = await signer.evm.signTypedData(typedData);
  assertEquals(
    await recoverTypedDataAddress({ ...typedData, signature: typedSig }),
    signer.evmAddress,
  );
  const messageSig = await signer.evm.signMessage({ message: "withdraw" });
  assertEquals(
    await recoverMessageAddress({ message: "withdraw", signature: messageSig }),
    signer.evmAddress,
  );
  const raw = await signer.evm.signTransaction!({
    chainId: 31337,
    type: "eip1559",
    to: "0x000000000000000000000000000000000000dEaD",
    value: 1n,
    nonce: 3,
    gas: 21000n,
    maxFeePerGas: 2n,
    maxPriorityFeePerGas: 1n,
  });
  assertEquals(parseTransaction(raw).nonce, 3);
  assertEquals(
    await recoverTransactionAddress({ serializedTransaction: raw as TransactionSerialized }),
    signer.evmAddress,
  );
}

Deno.test("localNodeSigner: events, NIP-44/NIP-04 keys and EVM signatures check out", async () => {
  const key = generateSecretKey();
  await checkSigner(localNodeSigner(key), key);
});

Deno.test("openWorkerNodeSigner: the same answers from a worker, errors carried back", async () => {
  const key = generateSecretKey();
  const signer = await openWorkerNodeSigner({ secretKey: key });
  try {
    await checkSigner(signer, key);
    const err = await assertRejects(
      () => signer.nip04Decrypt(getPublicKey(key), "not?iv=nip04"),
      Error,
    );
    assert(err instanceof Error && err.message.length > 0);
  } finally {
    signer.close();
  }
  await assertRejects(
    () => signer.signEvent({ kind: 1, created_at: 1, tags: [], content: "" }),
    NodeSignerError,
    "closed",
  );
});

Deno.test("openWorkerNodeSigner: wipe leaves the caller's key zeroed and the worker still signs", async () => {
  const key = generateSecretKey();
  const pubkey = getPublicKey(key);
  const signer = await openWorkerNodeSigner({ secretKey: key }, { wipe: true });
  try {
    assert(key.every((b) => b === 0));
    const event = await signer.signEvent({ kind: 1, created_at: 1, tags: [], content: "after" });
    assertEquals(event.pubkey, pubkey);
    assert(verifyEvent({ ...event }));
  } finally {
    signer.close();
  }
});

Deno.test("the signer's worker may not read, write, connect, read env or run anything", async () => {
  const lines: string[] = [];
  const signer = await openWorkerNodeSigner({ generate: true }, {
    entry: new URL("../../support/probing_signer_worker.ts", import.meta.url),
    onLog: (line) => lines.push(line),
  });
  try {
    assertEquals(lines, [
      "read: NotCapable",
      "write: NotCapable",
      "net: NotCapable",
      "env: NotCapable",
      "run: NotCapable",
    ]);
    // The probing entry is the real one after its probe: it still signs.
    assert(
      verifyEvent({
        ...(await signer.signEvent({ kind: 1, created_at: 1, tags: [], content: "" })),
      }),
    );
  } finally {
    signer.close();
  }
});

Deno.test("a generated key is named from one point: its pubkey and EVM address are one key's, its events verify", async () => {
  const signer = await openWorkerNodeSigner({ generate: true });
  try {
    // The key is unknown here: the key that signs an EVM message must be the one both names say.
    const signature = await signer.evm.signMessage({ message: "who" });
    const point = await recoverPublicKey({ hash: hashMessage("who"), signature });
    assertEquals(point.slice(4, 68), signer.pubkey);
    assertEquals(await recoverMessageAddress({ message: "who", signature }), signer.evmAddress);
    // Its first 8 signatures by @noble/curves (no base-point table, the known pubkey given), the
    // ninth loads nostr-wasm: every one verifies under the same pubkey.
    for (let i = 0; i < 12; i++) {
      const event = await signer.signEvent({ kind: 1, created_at: i, tags: [], content: `${i}` });
      assertEquals(event.pubkey, signer.pubkey);
      assert(verifyEvent({ ...event }), `signature ${i} verifies`);
      assert(!verifyEvent({ ...event, content: "changed" }), `a changed event ${i} does not`);
    }
  } finally {
    signer.close();
  }
});

for (const unlockIn of ["process", "worker"] as const) {
  Deno.test(`openWorkerNodeSigner: a wallet is unlocked in a ${unlockIn} of its own; a wrong passphrase is WrongPassphraseError`, async () => {
    const key = generateSecretKey();
    const wallet = await createWalletRecord({ secretKey: key, passphrase: "right horse" });
    const signer = await openWorkerNodeSigner({ wallet, passphrase: "right horse" }, { unlockIn });
    try {
      // The key went from the unlocking process or worker to the signer's: every answer is that
      // key's.
      await checkSigner(signer, key);
    } finally {
      signer.close();
    }
    await assertRejects(
      () => openWorkerNodeSigner({ wallet, passphrase: "wrong horse" }, { unlockIn }),
      WrongPassphraseError,
    );
    // A wallet whose vault holds another key than its pubkey says is refused by name.
    const other = { ...wallet, pubkey: getPublicKey(generateSecretKey()) };
    await assertRejects(
      () => openWorkerNodeSigner({ wallet: other, passphrase: "right horse" }, { unlockIn }),
      CorruptVaultError,
    );
  });
}

Deno.test("openWorkerNodeSigner: a mnemonic wallet's key is its NIP-06 key", async () => {
  const mnemonic = "leader monkey parrot ring guide accident before fence cannon height naive bean";
  const wallet = await createWalletRecord({ mnemonic, passphrase: "pw" });
  const signer = await openWorkerNodeSigner({ wallet, passphrase: "pw" });
  try {
    // NIP-06 vector 1.
    const key = hexToBytes("7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a");
    assertEquals(signer.pubkey, getPublicKey(key));
    assertEquals(signer.evmAddress, privateKeyToAddress(`0x${bytesToHex(key)}`));
  } finally {
    signer.close();
  }
});

Deno.test("openWorkerNodeSigner: a worker that dies is reported once, and every request fails after", async () => {
  const failures: Error[] = [];
  const failed = Promise.withResolvers<void>();
  const signer = await openWorkerNodeSigner({ generate: true }, {
    entry: new URL("../../support/crashing_signer_worker.ts", import.meta.url),
    onFailure: (err) => {
      failures.push(err);
      failed.resolve();
    },
  });
  try {
    // Answered or refused, depending on whether the crash (a later turn) comes first.
    await signer.signEvent({ kind: 1, created_at: 1, tags: [], content: "crash" }).catch(() => {});
    await failed.promise;
    await assertRejects(() => signer.conversationKey(signer.pubkey), NodeSignerError, "failed");
    assertEquals(failures.length, 1);
    assert(failures[0] instanceof NodeSignerError);
  } finally {
    signer.close();
  }
});
