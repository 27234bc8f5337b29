/**
 * Nothing a hostile peer writes reaches the requester's terminal raw (cli/terminal_text.ts,
 * cli/json_line.ts, protocol/csv_row.ts): a provider announces a name, an about and an asset code
 * with escape sequences, C1 controls and DEL (kind 31990) and sends a direct message with them;
 * `providers` (text, CSV, JSON), `dash --once`, `dm list` and `dm read` show them as visible
 * text, and JSON gives the same strings back.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import { connectPayingClient } from "../../harness/town_test_node.ts";
import { buildHandlerAnnouncement } from "../../protocol/nip89_handler.ts";
import { wrapDirectMessage } from "../../protocol/gift_wrap.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";

// Clear the screen, set the window title, a C1 CSI (red), DEL.
const HOSTILE = "\x1b[2J\x1b]0;pwned\x07\u009b31m\x7f";

/** The control characters in `text` a terminal would act on (newline aside). */
function rawControls(text: string): string[] {
  // deno-lint-ignore no-control-regex
  return [...text.matchAll(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g)].map((m) =>
    `U+${m[0].charCodeAt(0).toString(16).padStart(4, "0")}`
  );
}

Deno.test("a hostile provider's name, about, asset code and direct message reach providers, dash and dm as visible text, never as raw controls", async () => {
  const net = await startRequesterNetwork({ provider: false });
  const dir = `${net.root}/alice`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/pw`, "correct horse battery staple\n");
  await initWalletWithCli({ stateDir: dir, passphraseFile: `${dir}/pw` });
  const alice = JSON.parse(
    (await runCli(["--state-dir", dir, "--json", "wallet", "show"])).stdout,
  ).pubkey as string;
  const read = ["--relay-url", net.relayUrl, "--passphrase-file", `${dir}/pw`, "--non-interactive"];
  const mallory = await connectPayingClient({
    url: net.btpUrl.replace("btp+ws://", "btp+ws://mallory:t@"),
    token: "t",
    townAddress: net.town.ilpAddress,
    townPubkey: net.town.pubkey,
  });
  try {
    const announcement = mallory.sign(buildHandlerAnnouncement({
      d: "mallory",
      kinds: [5601],
      metadata: {
        name: `mallory${HOSTILE}`,
        about: `about${HOSTILE}`,
        paymentMethods: ["ilp"],
        price: { amount: "10", assetCode: `USD${HOSTILE}`, assetScale: 6, per: "job" },
        skills: [{ name: "echo", kinds: [5601], price: "10" }],
      },
    }));
    assertEquals((await mallory.write(announcement)).type, "fulfill");
    const wrap = await wrapDirectMessage({
      signer: localNodeSigner(mallory.secretKey),
      recipient: alice,
      text: `first line${HOSTILE}\nsecond line\r`,
    });
    assertEquals((await mallory.write(wrap)).type, "fulfill");

    const outputs: Record<string, string> = {};
    const run = async (name: string, args: string[]) => {
      const res = await runCli(["--state-dir", dir, ...args]);
      assertEquals(res.code, 0, `${name}: ${res.stderr}`);
      outputs[name] = res.stdout + res.stderr;
      return res.stdout;
    };
    const table = await run("providers", ["providers", "--relay-url", net.relayUrl]);
    assertStringIncludes(table, "mallory\\x1b[2J\\x1b]0;pwned\\x07\\u{9b}31m\\x7f");
    const csv = await run("providers csv", [
      "--output",
      "csv",
      "providers",
      "--relay-url",
      net.relayUrl,
    ]);
    assertStringIncludes(csv, "mallory\\x1b[2J\\x1b]0;pwned\\x07\\u{9b}31m\\x7f,");
    const json = await run("providers json", ["--json", "providers", "--relay-url", net.relayUrl]);
    const listed = JSON.parse(json).providers.find((p: { pubkey: string }) =>
      p.pubkey === mallory.pubkey
    );
    // JSON escapes every control and a reader gets the provider's words back as they were.
    assertEquals(listed.name, `mallory${HOSTILE}`);
    assertEquals(listed.assetCode, `USD${HOSTILE}`);
    const dash = await run("dash --once", ["dash", "--once", "--relay-url", net.relayUrl]);
    assertStringIncludes(dash, "mallory\\x1b[2J");
    const list = await run("dm list", ["dm", "list", ...read]);
    const id = /^([0-9a-f]{12}) {2}/m.exec(list)?.[1];
    assert(id !== undefined, list);
    const message = await run("dm read", ["dm", "read", id, ...read]);
    // A message is multi-line: its newlines kept, every other control shown as text.
    assertStringIncludes(
      message,
      "first line\\x1b[2J\\x1b]0;pwned\\x07\\u{9b}31m\\x7f\nsecond line\\x0d",
    );
    const raw = Object.entries(outputs).map(([name, text]) => [name, rawControls(text)])
      .filter(([, found]) => found.length > 0);
    assertEquals(raw, [], JSON.stringify(outputs));
  } finally {
    await mallory.close();
    await net.stop();
  }
});

Deno.test("a town's asset code with escape sequences reaches wallet history and stats as visible text, never as raw controls", async () => {
  const net = await startRequesterNetwork({
    provider: false,
    town: { assetCode: `USD${HOSTILE}` },
  });
  const dir = `${net.root}/alice`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/pw`, "correct horse battery staple\n");
  await initWalletWithCli({ stateDir: dir, passphraseFile: `${dir}/pw` });
  try {
    const sent = await runCli([
      "--state-dir",
      dir,
      "--json",
      "dm",
      "send",
      net.town.pubkey,
      "--text",
      "hello",
      "--relay-url",
      net.relayUrl,
      "--connector-btp-url",
      net.btpUrl.replace("btp+ws://", "btp+ws://alice:t@"),
      "--passphrase-file",
      `${dir}/pw`,
      "--non-interactive",
    ]);
    assertEquals(sent.code, 0, sent.stderr);
    const outputs: Record<string, string> = {};
    for (
      const args of [["wallet", "history"], ["stats"], ["--output", "csv", "wallet", "history"]]
    ) {
      const res = await runCli(["--state-dir", dir, ...args]);
      assertEquals(res.code, 0, res.stderr);
      outputs[args.join(" ")] = res.stdout + res.stderr;
    }
    assertStringIncludes(outputs["wallet history"], "USD\\x1b[2J");
    const raw = Object.entries(outputs).map(([name, text]) => [name, rawControls(text)])
      .filter(([, found]) => found.length > 0);
    assertEquals(raw, [], JSON.stringify(outputs));
  } finally {
    await net.stop();
  }
});
