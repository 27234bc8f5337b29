import { assertEquals, assertRejects, assertStringIncludes } from "../../../harness/assert.ts";
import { withTempDir } from "../../support/temp_dir.ts";
import {
  PassphraseSourceError,
  PassphraseUnavailableError,
  readPassphrase,
  stripOneNewline,
} from "../../../identity/passphrase.ts";

const noEnv = () => undefined;

Deno.test("stripOneNewline strips exactly one \\n or \\r\\n", () => {
  assertEquals(stripOneNewline("pw\n"), "pw");
  assertEquals(stripOneNewline("pw\r\n"), "pw");
  assertEquals(stripOneNewline("pw\n\n"), "pw\n");
  assertEquals(stripOneNewline(" pw "), " pw ");
});

Deno.test("passphrase from --passphrase-file, keeping inner spaces", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/pw`, "  two words \n");
    const pw = await readPassphrase({
      passphraseFile: `${dir}/pw`,
      nonInteractive: true,
      env: noEnv,
    });
    assertEquals(pw, "  two words ");
  });
});

Deno.test("passphrase from TURNPIKE_PASSPHRASE_FILE; explicit file wins", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a`, "from-env\n");
    await Deno.writeTextFile(`${dir}/b`, "from-flag\n");
    const env = (n: string) => n === "TURNPIKE_PASSPHRASE_FILE" ? `${dir}/a` : undefined;
    assertEquals(await readPassphrase({ nonInteractive: true, env }), "from-env");
    assertEquals(await readPassphrase({ passphraseFile: `${dir}/b`, env }), "from-flag");
  });
});

Deno.test("non-interactive with no source fails clearly", async () => {
  const err = await assertRejects(
    () => readPassphrase({ nonInteractive: true, env: noEnv }),
    PassphraseUnavailableError,
  );
  assertStringIncludes(err.message, "--passphrase-file");
});

Deno.test("missing, oversized and non-UTF-8 passphrase files are PassphraseSourceError", async () => {
  await withTempDir(async (dir) => {
    await assertRejects(
      () => readPassphrase({ passphraseFile: `${dir}/none`, env: noEnv }),
      PassphraseSourceError,
    );
    await Deno.writeTextFile(`${dir}/big`, "x".repeat(5000));
    await assertRejects(
      () => readPassphrase({ passphraseFile: `${dir}/big`, env: noEnv }),
      PassphraseSourceError,
      "more than 4096 bytes",
    );
    await Deno.writeFile(`${dir}/bin`, new Uint8Array([0xc3, 0x28]));
    await assertRejects(
      () => readPassphrase({ passphraseFile: `${dir}/bin`, env: noEnv }),
      PassphraseSourceError,
      "not UTF-8",
    );
  });
});

Deno.test("passphrase from an inherited file descriptor (--passphrase-fd 3 via a pipe)", async () => {
  // A real child process with fd 3 open on a pipe, as a shell's `3< <(...)` gives it.
  const code = `
    import { readPassphrase } from ${
    JSON.stringify(new URL("../../../identity/passphrase.ts", import.meta.url).href)
  };
    const pw = await readPassphrase({ passphraseFd: 3, nonInteractive: true, env: () => undefined });
    console.log(JSON.stringify(pw));
  `;
  const out = await new Deno.Command("bash", {
    args: ["-c", `"${Deno.execPath()}" eval "$CODE" 3< <(printf 'fd secret\\n')`],
    env: { CODE: code, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(new TextDecoder().decode(out.stderr), "");
  assertEquals(new TextDecoder().decode(out.stdout).trim(), '"fd secret"');
});
