import { assert, assertEquals, assertRejects } from "../../../harness/assert.ts";
import {
  CorruptVaultError,
  DEFAULT_KDF_PARAMS,
  openSecret,
  type SealedSecret,
  sealSecret,
  WrongPassphraseError,
} from "../../../identity/key_vault.ts";
import {
  createWalletRecord,
  EmptyPassphraseError,
  unlockWallet,
} from "../../../identity/wallet.ts";
import {
  encodeWalletToml,
  parseWalletToml,
  readWalletFile,
  WalletExistsError,
  WalletFileError,
  walletFilePath,
  WalletNotFoundError,
  writeWalletFile,
} from "../../../identity/wallet_file.ts";

const MNEMONIC = "leader monkey parrot ring guide accident before fence cannon height naive bean";
const PUBKEY = "17162c921dc4d2518f9a101db33695df1afb56ab82f5ff3e5da6eec3ca5cd917";
const dec = new TextDecoder();

function flipByte(blob: string, index: number): string {
  const bytes = Uint8Array.fromBase64(blob);
  bytes[index] ^= 0x01;
  return bytes.toBase64();
}

Deno.test("vault: seal/open round trip at the design's Argon2id parameters", async () => {
  const sealed = await sealSecret(MNEMONIC, "correct horse battery staple");
  assertEquals(sealed.kdf, { ...DEFAULT_KDF_PARAMS });
  assertEquals(sealed.kdf.memoryKiB, 65536);
  const blob = Uint8Array.fromBase64(sealed.blob);
  // salt16 | nonce12 | ciphertext | tag16
  assertEquals(blob.length, 16 + 12 + new TextEncoder().encode(MNEMONIC).length + 16);
  assert(!sealed.blob.includes(btoa("leader")));
  assertEquals(dec.decode(await openSecret(sealed, "correct horse battery staple")), MNEMONIC);
  const raw = crypto.getRandomValues(new Uint8Array(32));
  assertEquals(await openSecret(await sealSecret(raw, "pw"), "pw"), raw);
});

Deno.test("vault: same secret twice gives different salts and nonces", async () => {
  const a = await sealSecret("x", "pw");
  const b = await sealSecret("x", "pw");
  assert(a.blob.slice(0, 37) !== b.blob.slice(0, 37));
});

Deno.test("vault: wrong passphrase is WrongPassphraseError", async () => {
  const sealed = await sealSecret(MNEMONIC, "right");
  await assertRejects(() => openSecret(sealed, "wrong"), WrongPassphraseError);
  await assertRejects(() => openSecret(sealed, "Right"), WrongPassphraseError);
  // Without the key check, a GCM failure is still reported as a wrong passphrase.
  const noCheck = { ...sealed, check: undefined } as unknown as SealedSecret;
  await assertRejects(() => openSecret(noCheck, "wrong"), WrongPassphraseError);
});

Deno.test("vault: damaged blob or parameters are CorruptVaultError", async () => {
  const sealed = await sealSecret(MNEMONIC, "pw");
  const cases: SealedSecret[] = [
    { ...sealed, blob: "not base64!!" },
    { ...sealed, blob: sealed.blob.slice(0, 40) },
    { ...sealed, blob: "" },
    { ...sealed, blob: "A".repeat(100_000) },
    { ...sealed, blob: flipByte(sealed.blob, 40) }, // ciphertext
    { ...sealed, blob: flipByte(sealed.blob, Uint8Array.fromBase64(sealed.blob).length - 1) }, // tag
    { ...sealed, blob: flipByte(sealed.blob, 20) }, // nonce
    { ...sealed, check: "zz" },
    { ...sealed, kdf: { ...sealed.kdf, memoryKiB: 1 << 30 } },
    { ...sealed, kdf: { ...sealed.kdf, hashLength: 16 } },
    { ...sealed, kdf: { ...sealed.kdf, iterations: 0 } },
  ];
  for (const bad of cases) await assertRejects(() => openSecret(bad, "pw"), CorruptVaultError);
});

Deno.test("wallet: create, write 0600, read back, unlock", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const stateDir = `${dir}/profile`;
    const record = await createWalletRecord({ mnemonic: MNEMONIC, passphrase: "pw" });
    assertEquals(record.pubkey, PUBKEY);
    const path = walletFilePath(stateDir);
    await writeWalletFile(path, record);
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    assertEquals((await Deno.stat(stateDir)).mode! & 0o777, 0o700);
    const text = await Deno.readTextFile(path);
    assert(!text.includes("leader"), "mnemonic in clear in the wallet file");
    const back = await readWalletFile(path);
    assertEquals(back, record);
    const unlocked = await unlockWallet(back, "pw");
    assertEquals(unlocked.mnemonic, MNEMONIC);
    assertEquals(unlocked.identity.pubkey, PUBKEY);
    await assertRejects(() => unlockWallet(back, "nope"), WrongPassphraseError);
    await assertRejects(() => writeWalletFile(path, record), WalletExistsError);
    await writeWalletFile(path, record, { force: true });
    assertEquals([...Deno.readDirSync(stateDir)].map((e) => e.name), ["wallet.toml"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("wallet: a raw secret key wallet round trips", async () => {
  const sk = Uint8Array.fromHex("7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a");
  const record = await createWalletRecord({ secretKey: sk, passphrase: "pw" });
  assertEquals(record.secretKind, "secret-key");
  const unlocked = await unlockWallet(record, "pw");
  assertEquals(unlocked.secretKey, sk);
  assertEquals(unlocked.mnemonic, undefined);
});

Deno.test("wallet: a swapped vault (pubkey mismatch) is CorruptVaultError", async () => {
  const a = await createWalletRecord({ mnemonic: MNEMONIC, passphrase: "pw" });
  const other = await createWalletRecord({
    secretKey: crypto.getRandomValues(new Uint8Array(32)),
    passphrase: "pw",
  });
  await assertRejects(
    () => unlockWallet({ ...a, secretKind: "secret-key", vault: other.vault }, "pw"),
    CorruptVaultError,
  );
  await assertRejects(
    () => createWalletRecord({ mnemonic: MNEMONIC, passphrase: "" }),
    EmptyPassphraseError,
  );
});

Deno.test("wallet file: missing, malformed or oversized files get precise errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assertRejects(() => readWalletFile(`${dir}/wallet.toml`), WalletNotFoundError);
    await Deno.writeTextFile(`${dir}/big.toml`, "x".repeat(70_000));
    await assertRejects(() => readWalletFile(`${dir}/big.toml`), WalletFileError);
    await Deno.writeFile(`${dir}/bin.toml`, new Uint8Array([0xff, 0xfe, 0x00]));
    await assertRejects(() => readWalletFile(`${dir}/bin.toml`), WalletFileError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const good = await createWalletRecord({ mnemonic: MNEMONIC, passphrase: "pw" });
  const text = encodeWalletToml(good);
  for (
    const bad of [
      "not = [toml",
      text.replace("version = 1", "version = 2"),
      text.replace(/pubkey = ".*"/, 'pubkey = "xyz"'),
      text.replace(/\[vault\][^]*$/, ""),
      text.replace('cipher = "aes-256-gcm"', 'cipher = "none"'),
    ]
  ) {
    let threw = false;
    try {
      parseWalletToml(bad);
    } catch (err) {
      threw = err instanceof WalletFileError;
    }
    assert(threw, `expected WalletFileError for: ${bad.slice(0, 40)}`);
  }
});
