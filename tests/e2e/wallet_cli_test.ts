import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";
import { runCli } from "../../harness/run_cli.ts";
import { withTempDir } from "../support/temp_dir.ts";

// The real `turnpike` entry point, run as a user would.
const CLI = new URL("../../cli.ts", import.meta.url).pathname;
const VECTOR = {
  mnemonic: "leader monkey parrot ring guide accident before fence cannon height naive bean",
  pubkey: "17162c921dc4d2518f9a101db33695df1afb56ab82f5ff3e5da6eec3ca5cd917",
  npub: "npub1zutzeysacnf9rru6zqwmxd54mud0k44tst6l70ja5mhv8jjumytsd2x7nu",
};

Deno.test("wallet init --non-interactive --passphrase-file, then show / show --reveal", async () => {
  await withTempDir(async (dir) => {
    const sd = `${dir}/state`;
    await Deno.writeTextFile(`${dir}/pw`, "correct horse battery staple\n");
    const init = await runCli([
      "--state-dir",
      sd,
      "wallet",
      "init",
      "--non-interactive",
      "--passphrase-file",
      `${dir}/pw`,
    ]);
    assertEquals(init.stderr, "");
    assertEquals(init.code, 0);
    assertStringIncludes(init.stdout, `Wallet created: ${sd}/wallet.toml`);
    assertStringIncludes(init.stdout, "shown ONCE");
    const npub = init.stdout.match(/npub\s+(npub1\w+)/)![1];
    const words = [...init.stdout.matchAll(/\d+\. ([a-z]+)/g)].map((m) => m[1]);
    assertEquals(words.length, 24);

    const file = await Deno.readTextFile(`${sd}/wallet.toml`);
    assertEquals((await Deno.stat(`${sd}/wallet.toml`)).mode! & 0o777, 0o600);
    assert(!file.includes(words.join(" ")) && !file.includes("correct horse"));

    const show = await runCli(["--state-dir", sd, "--output", "json", "wallet", "show"]);
    assertEquals(show.code, 0);
    const info = JSON.parse(show.stdout);
    assertEquals(info.npub, npub);
    assertMatch(info.pubkey, /^[0-9a-f]{64}$/);
    assertMatch(info.evmAddress, /^0x[0-9a-fA-F]{40}$/);
    assertEquals(info.stateDir, sd);
    assertEquals(info.mnemonic, undefined);

    const csv = await runCli(["--state-dir", sd, "wallet", "show", "--output", "csv"]);
    assertEquals(
      csv.stdout.split("\n")[0],
      "npub,pubkey,evmAddress,account,secretKind,createdAt,stateDir,walletFile",
    );

    const reveal = await runCli([
      "wallet",
      "show",
      "--reveal",
      "--state-dir",
      sd,
      "--passphrase-file",
      `${dir}/pw`,
      "--output",
      "json",
    ]);
    assertEquals(reveal.code, 0);
    assertEquals(JSON.parse(reveal.stdout).mnemonic, words.join(" "));
    assertMatch(JSON.parse(reveal.stdout).nsec, /^nsec1/);
  });
});

Deno.test("wallet init refuses to overwrite without --force; --import with a NIP-06 vector", async () => {
  await withTempDir(async (dir) => {
    const sd = `${dir}/s`;
    await Deno.writeTextFile(`${dir}/pw`, "pw\n");
    await Deno.writeTextFile(`${dir}/words`, `${VECTOR.mnemonic}\n`);
    const common = ["--state-dir", sd, "--non-interactive"];
    const first = await runCli([...common, "wallet", "init", "--passphrase-file", `${dir}/pw`]);
    assertEquals(first.code, 0);
    const again = await runCli([
      ...common,
      "wallet",
      "init",
      "--import",
      "--mnemonic-file",
      `${dir}/words`,
      "--passphrase-file",
      `${dir}/pw`,
    ]);
    assertEquals(again.code, 1);
    assertStringIncludes(again.stderr, `Error: a wallet already exists (${sd}/wallet.toml)`);
    assertStringIncludes(again.stderr, "Suggestion:");
    const forced = await runCli([
      ...common,
      "--output",
      "json",
      "wallet",
      "init",
      "--import",
      "--mnemonic-file",
      `${dir}/words`,
      "--passphrase-file",
      `${dir}/pw`,
      "--force",
    ]);
    assertEquals(forced.code, 0);
    const info = JSON.parse(forced.stdout);
    assertEquals(info.pubkey, VECTOR.pubkey);
    assertEquals(info.npub, VECTOR.npub);
    assertEquals(info.imported, true);
    assertEquals(info.mnemonic, undefined);
  });
});

Deno.test("wallet errors: wrong passphrase, no source, bad mnemonic, no wallet, usage", async () => {
  await withTempDir(async (dir) => {
    const sd = `${dir}/s`;
    await Deno.writeTextFile(`${dir}/pw`, "right\n");
    await Deno.writeTextFile(`${dir}/wrong`, "wrong\n");
    await Deno.writeTextFile(`${dir}/badwords`, "leader monkey parrot\n");

    const none = await runCli(["--state-dir", sd, "wallet", "show"]);
    assertEquals(none.code, 1);
    assertStringIncludes(none.stderr, "Error: no wallet in this state dir");
    assertStringIncludes(none.stderr, "Suggestion: run `turnpike wallet init`");

    const noSource = await runCli(["--state-dir", sd, "--non-interactive", "wallet", "init"]);
    assertEquals(noSource.code, 1);
    assertStringIncludes(noSource.stderr, "Error: no passphrase given");
    assertStringIncludes(noSource.stderr, "Suggestion: pass --passphrase-file");

    const bad = await runCli([
      "--state-dir",
      sd,
      "wallet",
      "init",
      "--import",
      "--mnemonic-file",
      `${dir}/badwords`,
      "--passphrase-file",
      `${dir}/pw`,
    ]);
    assertEquals(bad.code, 1);
    assertStringIncludes(
      bad.stderr,
      "Error: invalid mnemonic (a mnemonic has 12, 15, 18, 21 or 24 words, got 3)",
    );

    const usage = await runCli(["--state-dir", sd, "wallet", "init", "--passphrase-fd", "x"]);
    assertEquals(usage.code, 2);

    assertEquals(
      (await runCli(["--state-dir", sd, "wallet", "init", "--passphrase-file", `${dir}/pw`]))
        .code,
      0,
    );
    const wrong = await runCli([
      "--state-dir",
      sd,
      "wallet",
      "show",
      "--reveal",
      "--passphrase-file",
      `${dir}/wrong`,
    ]);
    assertEquals(wrong.code, 1);
    assertEquals(wrong.stderr.trim(), "Error: wrong passphrase (wallet vault)");
    assert(!wrong.stdout.includes("mnemonic"));
    // An agent reads the code docs/AGENTS.md gives: `passphrase`, for a wrong one and for none.
    for (const flags of [["--passphrase-file", `${dir}/wrong`], ["--non-interactive"]]) {
      const json = await runCli([
        "--json",
        "--state-dir",
        sd,
        "wallet",
        "show",
        "--reveal",
        ...flags,
      ]);
      assertEquals(json.code, 1, json.stderr);
      const line = JSON.parse(json.stdout.trim());
      assertEquals([line.type, line.code], ["error", "passphrase"], json.stdout);
    }
  });
});

Deno.test("wallet: --profile under TURNPIKE_HOME, passphrase via --passphrase-fd", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/pw`, "fd pass\n");
    const cmd = (args: string) =>
      new Deno.Command("bash", {
        args: ["-c", `"${Deno.execPath()}" run -A "${CLI}" ${args} 3<"${dir}/pw"`],
        env: { NO_COLOR: "1", TURNPIKE_HOME: `${dir}/home` },
        stdout: "piped",
        stderr: "piped",
      }).output();
    const init = await cmd("--profile alice wallet init --non-interactive --passphrase-fd 3");
    assertEquals(new TextDecoder().decode(init.stderr), "");
    assertEquals(init.code, 0);
    await Deno.stat(`${dir}/home/alice/wallet.toml`);
    const show = await cmd("--profile alice --output json wallet show --reveal --passphrase-fd 3");
    assertEquals(show.code, 0);
    assertEquals(JSON.parse(new TextDecoder().decode(show.stdout)).mnemonic.split(" ").length, 24);
  });
});

Deno.test("wallet init on a real terminal: hidden prompt, confirmation, no echo", async () => {
  // python3's pty gives the command a real TTY; we type the passphrase twice and check the
  // terminal never shows it.
  await withTempDir(async (dir) => {
    const script = `
import os, pty, sys, time, select
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(sys.argv[1], sys.argv[1:], dict(os.environ, NO_COLOR="1"))
out = b""
def read_until(token, timeout=60):
    global out
    end = time.time() + timeout
    while token not in out and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try: out += os.read(fd, 4096)
            except OSError: return
read_until(b"New wallet passphrase: ")
os.write(fd, b"tty secret 42\\r")
read_until(b"Repeat passphrase: ")
os.write(fd, b"tty secret 42\\r")
read_until(b"wallet file", 60)
while True:
    try:
        chunk = os.read(fd, 4096)
        if not chunk: break
        out += chunk
    except OSError: break
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
`;
    const out = await new Deno.Command("python3", {
      args: [
        "-c",
        script,
        Deno.execPath(),
        "run",
        "-A",
        CLI,
        "--state-dir",
        `${dir}/s`,
        "wallet",
        "init",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, text + new TextDecoder().decode(out.stderr));
    assertStringIncludes(text, "Repeat passphrase: ");
    assertStringIncludes(text, "Wallet created");
    assert(!text.includes("tty secret"), "the passphrase was echoed");
    await Deno.writeTextFile(`${dir}/pw`, "tty secret 42");
    const reveal = await runCli([
      "--state-dir",
      `${dir}/s`,
      "wallet",
      "show",
      "--reveal",
      "--passphrase-file",
      `${dir}/pw`,
    ]);
    assertEquals(reveal.code, 0);
  });
});
