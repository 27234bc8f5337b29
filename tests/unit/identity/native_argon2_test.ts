import { assert, assertEquals, assertRejects } from "../../../harness/assert.ts";
import { argon2id } from "hash-wasm";
import { loadNativeArgon2id } from "../../../identity/native_argon2.ts";
import { openSecret, sealSecret } from "../../../identity/key_vault.ts";
import { runDenyingFfi } from "../../support/deny_ffi_script.ts";

Deno.test("native Argon2id: loaded here (libargon2 installed by setup) and equal to hash-wasm's on random inputs", async () => {
  const native = await loadNativeArgon2id();
  assert(
    native,
    "libargon2 did not load or failed its self-test (deno task setup installs libargon2-1)",
  );
  const cases = [
    { iterations: 1, memoryKiB: 64, parallelism: 1 },
    { iterations: 3, memoryKiB: 256, parallelism: 4 },
    { iterations: 1, memoryKiB: 8192, parallelism: 4 },
    { iterations: 2, memoryKiB: 1024, parallelism: 8 },
  ];
  for (const c of cases) {
    const password = crypto.getRandomValues(new Uint8Array(1 + Math.floor(Math.random() * 64)));
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const mine = await native({ password, salt, hashLength: 32, ...c });
    const theirs = await argon2id({
      password,
      salt,
      iterations: c.iterations,
      memorySize: c.memoryKiB,
      parallelism: c.parallelism,
      hashLength: 32,
      outputType: "binary",
    });
    assertEquals(mine, theirs, JSON.stringify(c));
  }
});

Deno.test("native Argon2id: each derivation's 64 MiB are handed back (its own mapping, unmapped after)", async () => {
  const native = await loadNativeArgon2id();
  assert(native);
  const derive = () =>
    native({
      password: new TextEncoder().encode("correct horse"),
      salt: new Uint8Array(16),
      iterations: 1,
      memoryKiB: 65536,
      parallelism: 4,
      hashLength: 32,
    });
  const first = await derive();
  const before = Deno.memoryUsage().rss;
  for (let i = 0; i < 8; i++) assertEquals(await derive(), first);
  // Kept, the eight would be 512 MiB more.
  const grown = Deno.memoryUsage().rss - before;
  assert(grown < 64 * 1024 * 1024, `resident memory grew ${grown} bytes over eight derivations`);
});

Deno.test("native Argon2id: parameters the library refuses reject, they do not answer", async () => {
  const native = await loadNativeArgon2id();
  assert(native);
  await assertRejects(
    () =>
      native({
        password: new Uint8Array(4),
        salt: new Uint8Array(4), // below the 8-byte minimum
        iterations: 1,
        memoryKiB: 64,
        parallelism: 1,
        hashLength: 32,
      }),
    RangeError,
    "libargon2 refused",
  );
});

Deno.test("a vault sealed with FFI denied (hash-wasm) opens with the native Argon2id, and the other way", async () => {
  const kdf = {
    algorithm: "argon2id" as const,
    memoryKiB: 1024,
    iterations: 1,
    parallelism: 4,
    hashLength: 32,
  };
  const script = `
    import { openSecret, sealSecret } from "${
    new URL("../../../identity/key_vault.ts", import.meta.url).href
  }";
    import { loadNativeArgon2id } from "${
    new URL("../../../identity/native_argon2.ts", import.meta.url).href
  }";
    const [mode, arg] = Deno.args;
    const native = (await loadNativeArgon2id()) !== undefined;
    if (mode === "seal") {
      console.log(JSON.stringify({ native, sealed: await sealSecret("the secret", "pässphrase", { kdf: ${
    JSON.stringify(kdf)
  } }) }));
    } else {
      console.log(JSON.stringify({ native, opened: new TextDecoder().decode(await openSecret(JSON.parse(arg), "pässphrase")) }));
    }
  `;
  const run = async (args: string[]) => JSON.parse(await runDenyingFfi(script, args));
  {
    // Sealed without FFI, opened here with it.
    const portable = await run(["seal"]);
    assertEquals(portable.native, false);
    assertEquals(
      new TextDecoder().decode(await openSecret(portable.sealed, "pässphrase")),
      "the secret",
    );
    // Sealed here with it, opened without.
    const sealed = await sealSecret("the secret", "pässphrase", { kdf });
    const opened = await run(["open", JSON.stringify(sealed)]);
    assertEquals(opened, { native: false, opened: "the secret" });
  }
});
