/**
 * `wallet send` and `wallet receive` on real processes: town processes, the CLI wallets
 * (docs/PROTOCOL.md "Transfers between wallets").
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";
import { generateSecretKey } from "nostr-tools";
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import { startTmuxSession } from "../support/tmux_session.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { startChannelCliTown } from "../support/channel_cli_town.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import { startSharedTownProcess } from "../../harness/shared_town_process.ts";
import { btpOf } from "../support/town_network_kit.ts";
import { cliTransferWallet } from "../support/wallet_transfer_kit.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";

/** What the anvil pair mints to alice and bob each (100 M2M). */
const MINTED = 100_000_000n;

const jsonLines = (text: string) =>
  text.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));

async function allEntries(stateDir: string) {
  return (await openPaymentLog({ stateDir })).entries();
}

/** What the town's books per peer say it owes `account` (fulfilled forwards). */
async function owedTo(townStateDir: string, account: string): Promise<bigint> {
  const text = await Deno.readTextFile(`${townStateDir}/peer_ledger.jsonl`);
  return jsonLines(text)
    .filter((l) => l.event === "fulfilled" && l.account === account)
    .reduce((sum, l) => sum + BigInt(l.amount), 0n);
}

async function history(stateDir: string) {
  const res = await runCli([
    "--state-dir",
    stateDir,
    "--output",
    "json",
    "wallet",
    "history",
    "--category",
    "transfer",
  ]);
  assertEquals(res.code, 0, res.stderr);
  return jsonLines(res.stdout);
}

Deno.test("two wallets on one town: bob's request paid once by alice, both histories show the transfer, the town keeps no fee of it", async () => {
  const root = await Deno.makeTempDir({ prefix: "wallet_transfer_" });
  await using town = await startSharedTownProcess({
    secretKey: generateSecretKey(),
    stateDir: `${root}/town`,
  });
  const alice = await cliTransferWallet(root, "alice", town);
  const bob = await cliTransferWallet(root, "bob", town);
  const { process: receiving, request, destination } = await bob.receive([
    "5000",
    "--memo",
    "lunch",
    "--linger",
    "1",
  ]);
  assertMatch(request, /^ilp:test\.town\.bob\.[0-9a-f]{16}\?amount=5000&asset=/);
  assertStringIncludes(request, "&memo=lunch");
  const sent = await alice.send(request);
  assertEquals(sent.code, 0, sent.stderr);
  const lines = jsonLines(sent.stdout);
  const out = lines.pop();
  assertEquals(lines.map((l) => [l.type, l.status]), [["progress", "paying"], [
    "progress",
    "paid",
  ]]);
  assertEquals([out.type, out.status, out.amount, out.destination], [
    "transfer",
    "paid",
    "5000",
    destination,
  ]);
  const received = JSON.parse(await receiving.waitForLine((l) => l.includes('"received"')));
  assertEquals([received.amount, received.fulfillment], ["5000", out.fulfillment]);
  assertEquals((await receiving.done).code, 0, receiving.stderr.join("\n"));
  // Both payment logs: one line each way, the same receipt.
  const [intent, paid] = await alice.transfers();
  assertEquals([intent.event, paid.event, paid.amount, paid.peer], [
    "intent",
    "fulfilled",
    "5000",
    "test.town.bob",
  ]);
  const [taken] = await bob.transfers();
  assertEquals([taken.direction, taken.amount, taken.fulfillment], [
    "in",
    "5000",
    paid.fulfillment,
  ]);
  // `wallet history` on both sides lists it under `transfer`.
  const aliceHistory = await history(alice.stateDir);
  const bobHistory = await history(bob.stateDir);
  assert(
    aliceHistory.some((l) => JSON.stringify(l).includes(paid.fulfillment!)),
    JSON.stringify(aliceHistory),
  );
  assert(
    bobHistory.some((l) => JSON.stringify(l).includes(paid.fulfillment!)),
    JSON.stringify(bobHistory),
  );
  // Sent again: not paid twice.
  const again = await alice.send(request);
  assertEquals(again.code, 0, again.stderr);
  assertEquals(jsonLines(again.stdout).pop().status, "paid-before");
  assertEquals((await alice.transfers()).length, 2);
  // No fee: alice's log holds the transfer alone (no paid write), and the town's books owe bob
  // exactly what alice paid.
  assertEquals((await allEntries(alice.stateDir)).length, 2);
  assertEquals(await owedTo(`${root}/town`, "bob"), 5000n);
  await Deno.remove(root, { recursive: true }).catch(() => {});
});

Deno.test("two peered towns: a wallet on each pays the other's request across both towns, once each way", async () => {
  const root = await Deno.makeTempDir({ prefix: "wallet_transfer_towns_" });
  await using town1 = await startSharedTownProcess({
    secretKey: generateSecretKey(),
    stateDir: `${root}/town1`,
  });
  await using town2 = await startSharedTownProcess({
    secretKey: generateSecretKey(),
    stateDir: `${root}/town2`,
    parent: { url: btpOf(town1, "town2"), token: "t" },
  });
  const alice = await cliTransferWallet(root, "alice", town1);
  const bob = await cliTransferWallet(root, "bob", town2);
  // Down: alice on town 1 pays bob behind town 2; bob's request names no amount.
  const toBob = await bob.receive(["--linger", "1"]);
  assertMatch(toBob.destination, /^test\.town\.town2\.bob\.[0-9a-f]{16}$/);
  const down = await alice.send(toBob.request, ["700"]);
  assertEquals(down.code, 0, down.stderr);
  assertEquals(jsonLines(down.stdout).pop().status, "paid");
  const got = JSON.parse(await toBob.process.waitForLine((l) => l.includes('"received"')));
  assertEquals(got.amount, "700");
  assertEquals((await toBob.process.done).code, 0);
  // Up: bob pays alice's request through town 2's parent.
  const toAlice = await alice.receive(["300", "--linger", "1"]);
  const up = await bob.send(toAlice.request);
  assertEquals(up.code, 0, up.stderr);
  const gotUp = JSON.parse(await toAlice.process.waitForLine((l) => l.includes('"received"')));
  assertEquals(gotUp.amount, "300");
  assertEquals((await toAlice.process.done).code, 0);
  const sum = (entries: { amount: string }[]) => entries.reduce((s, e) => s + BigInt(e.amount), 0n);
  const aliceLog = await alice.transfers();
  const bobLog = await bob.transfers();
  const settled = (log: typeof aliceLog, direction: "in" | "out") =>
    log.filter((e) => e.direction === direction && e.event === "fulfilled");
  assertEquals([sum(settled(aliceLog, "out")), sum(settled(aliceLog, "in"))], [700n, 300n]);
  assertEquals([sum(settled(bobLog, "out")), sum(settled(bobLog, "in"))], [300n, 700n]);
  // Each town's books: town 1 forwarded 700 to town 2, town 2 forwarded 700 to bob.
  assertEquals(await owedTo(`${root}/town1`, "town2"), 700n);
  assertEquals(await owedTo(`${root}/town2`, "bob"), 700n);
  await Deno.remove(root, { recursive: true }).catch(() => {});
});

Deno.test("a sender SIGKILLed mid-payment and run again pays the request exactly once; a FULFILL lost after the receiver took it is recovered from the receiver's proof", async () => {
  const root = await Deno.makeTempDir({ prefix: "wallet_transfer_kill_" });
  await using town = await startSharedTownProcess({
    secretKey: generateSecretKey(),
    stateDir: `${root}/town`,
  });
  const alice = await cliTransferWallet(root, "alice", town);
  const bob = await cliTransferWallet(root, "bob", town);
  const { process: receiving, request } = await bob.receive(["4200", "--linger", "120"]);
  // Killed once its intent is on disk: the PREPARE is on its way, or not sent yet.
  const first = alice.spawnSend(request);
  await first.waitForLine((l) => l.includes('"status":"paying"'));
  first.child.kill("SIGKILL");
  await first.done;
  const [intent, ...after] = await alice.transfers();
  assertEquals([intent.event, after.length], ["intent", 0]);
  const again = await alice.send(request);
  assertEquals(again.code, 0, again.stderr);
  const out = jsonLines(again.stdout).pop();
  assert(["paid", "paid-before"].includes(out.status), out.status);
  assertEquals(out.amount, "4200");
  const received = JSON.parse(await receiving.waitForLine((l) => l.includes('"received"')));
  assertEquals(received.fulfillment, out.fulfillment);
  receiving.child.kill("SIGINT");
  await receiving.done;
  // Once: one payment taken by bob, forwarded once by the town.
  const taken = (await bob.transfers()).filter((e) => e.direction === "in");
  assertEquals(taken.map((e) => e.amount), ["4200"]);
  assertEquals(await owedTo(`${root}/town`, "bob"), 4200n);
  const events = (await alice.transfers()).map((e) => e.event);
  assertEquals(events, ["intent", "fulfilled"]);

  // A FULFILL lost after bob took the payment (alice's outcome line never written): the send run
  // again gets bob's proof, records it, and nothing moves a second time.
  const second = await bob.receive(["300", "--linger", "120"]);
  const paid = await alice.send(second.request);
  assertEquals(paid.code, 0, paid.stderr);
  await second.process.waitForLine((l) => l.includes('"received"'));
  const logPath = `${alice.stateDir}/payment_log.jsonl`;
  const kept = (await Deno.readTextFile(logPath)).trimEnd().split("\n");
  assertStringIncludes(kept.at(-1)!, '"event":"fulfilled"');
  await Deno.writeTextFile(logPath, kept.slice(0, -1).join("\n") + "\n");
  const asked = await alice.send(second.request);
  assertEquals(asked.code, 0, asked.stderr);
  const proof = jsonLines(asked.stdout).pop();
  assertEquals([proof.status, proof.amount], ["paid-before", "300"]);
  assertEquals(proof.fulfillment, jsonLines(paid.stdout).pop().fulfillment);
  second.process.child.kill("SIGINT");
  await second.process.done;
  assertEquals((await bob.transfers()).map((e) => e.amount), ["4200", "300"]);
  assertEquals(await owedTo(`${root}/town`, "bob"), 4500n);
  await Deno.remove(root, { recursive: true }).catch(() => {});
});

Deno.test("a send over --max or over the spend policy is refused with an Error: line, nothing paid", async () => {
  const root = await Deno.makeTempDir({ prefix: "wallet_transfer_refused_" });
  await using town = await startSharedTownProcess({
    secretKey: generateSecretKey(),
    stateDir: `${root}/town`,
  });
  const alice = await cliTransferWallet(root, "alice", town);
  const bob = await cliTransferWallet(root, "bob", town);
  const { process: receiving, request } = await bob.receive(["5000", "--timeout", "120"]);
  const overMax = await runCli([
    ...alice.global,
    "wallet",
    "send",
    request,
    "--max",
    "4999",
    ...alice.conn,
  ]);
  assertEquals(overMax.code, 1, overMax.stderr);
  assertStringIncludes(overMax.stderr, "Error: transfer refused: 5000 is over --max 4999");
  const overPolicy = await runCli([
    ...alice.global,
    "wallet",
    "send",
    request,
    "--max-per-job",
    "1000",
    ...alice.conn,
  ]);
  assertEquals(overPolicy.code, 1, overPolicy.stderr);
  assertStringIncludes(
    overPolicy.stderr,
    "Error: transfer refused: over-transfer-max: total 5000 would exceed the per-transfer maximum 1000",
  );
  const overDaily = await alice.send(request, ["--daily-cap", "4000"]);
  assertEquals(overDaily.code, 1, overDaily.stderr);
  assertEquals(jsonLines(overDaily.stdout).pop().code, "payment-refused");
  assertStringIncludes(overDaily.stderr, "Error: transfer refused: over-daily-cap");
  // Nothing recorded, nothing taken: the request is still open and paid once allowed.
  assertEquals(await alice.transfers(), []);
  assertEquals(await bob.transfers(), []);
  const paid = await alice.send(request, ["--max", "5000"]);
  assertEquals(paid.code, 0, paid.stderr);
  await receiving.waitForLine((l) => l.includes('"received"'));
  receiving.child.kill("SIGINT");
  await receiving.done;
  await Deno.remove(root, { recursive: true }).catch(() => {});
});

Deno.test("a transfer over the sender's payment channel: the channel carries it like a job payment, and after a cooperative close chain = books (anvil)", async () => {
  await using pair = await startChannelPair();
  await using t = await startChannelCliTown(pair, {
    prefix: "wallet_transfer_channel_",
    morePeers: '[[town.peers]]\naccount = "carol"\ntoken = "carol-token"\n\n',
  });
  const carolState = `${t.dir}/carol`;
  await Deno.mkdir(carolState);
  await Deno.writeTextFile(`${carolState}/pw`, "carol's passphrase\n");
  await initWalletWithCli({ stateDir: carolState, passphraseFile: `${carolState}/pw` });
  const receiving = spawnCli([
    "--state-dir",
    carolState,
    "--output",
    "json",
    "wallet",
    "receive",
    "7000",
    "--linger",
    "1",
    "--relay-url",
    t.town.relayUrl,
    "--connector-btp-url",
    t.town.btpUrl,
    "--btp-token",
    "carol-token",
    "--passphrase-file",
    `${carolState}/pw`,
    "--non-interactive",
  ]);
  const { request } = JSON.parse(await receiving.waitForLine((l) => l.includes('"request"')));
  const sent = await runCli([
    "--state-dir",
    t.aliceState,
    "--output",
    "json",
    "wallet",
    "send",
    request,
    "--channel",
    t.channelId,
    ...t.connection,
  ]);
  assertEquals(sent.code, 0, sent.stderr);
  assertEquals(jsonLines(sent.stdout).pop().status, "paid");
  await receiving.waitForLine((l) => l.includes('"received"'));
  assertEquals((await receiving.done).code, 0);
  // The channel carried exactly what alice's payment log says left her wallet: the transfer.
  const out = (await allEntries(t.aliceState))
    .filter((e) => e.direction === "out" && e.event === "fulfilled");
  assertEquals(out.map((e) => [e.category, e.amount]), [["transfer", "7000"]]);
  const mine = await readChannel(channelFilePath(t.aliceState, t.channelId));
  const theirs = await readChannel(channelFilePath(t.townState, t.channelId));
  assertEquals([mine.sent, theirs.received], [7000n, 7000n]);
  assertEquals(await owedTo(t.townState, "carol"), 7000n);
  const closed = await runCli([
    "--state-dir",
    t.aliceState,
    "channel",
    "close",
    t.channelId,
    "--connector-btp-url",
    t.town.btpUrl,
    "--btp-token",
    "alice-token",
    ...t.secret,
  ]);
  assertEquals(closed.code, 0, closed.stderr);
  assertStringIncludes(closed.stdout, "cooperatively");
  // Chain = books: the chain moved from alice to the town what both files and her log say.
  assertEquals(await pair.alice.tokenBalance(), MINTED - 7000n);
  assertEquals(await pair.bob.tokenBalance(), MINTED + 7000n);
});

Deno.test("on a terminal wallet send asks before paying: no pays nothing, --non-interactive never asks and pays, yes goes on (paid before: not again)", async () => {
  const root = await Deno.makeTempDir({ prefix: "wallet_transfer_tty_" });
  await using town = await startSharedTownProcess({
    secretKey: generateSecretKey(),
    stateDir: `${root}/town`,
  });
  const alice = await cliTransferWallet(root, "alice", town);
  const bob = await cliTransferWallet(root, "bob", town);
  const { process: receiving, request } = await bob.receive(["5000", "--linger", "1"]);
  const cli = new URL("../../cli.ts", import.meta.url).pathname;
  const interactive = alice.conn.filter((a) => a !== "--non-interactive");
  const line = (extra: string[]) =>
    [Deno.execPath(), "run", "-A", cli, ...alice.global, "wallet", "send", request, ...extra]
      .map((a) => `'${a}'`).join(" ") + "; echo EXIT=$?; sleep 60";
  const ask = async (answer: string) => {
    const s = await startTmuxSession({ command: line(interactive), columns: 400 });
    try {
      await s.waitFor((screen) => screen.includes("[y/N]"), "the confirmation");
      assertStringIncludes(await s.capture(), "Pay 0.005 USD to test.town.bob.");
      await s.sendKeys(answer, "Enter");
      return await s.waitFor((screen) => /EXIT=\d+/.test(screen), "the exit status");
    } finally {
      await s.kill();
    }
  };
  const declined = await ask("n");
  assertStringIncludes(declined, "Error: not paid: the payment was not confirmed");
  assertStringIncludes(declined, "EXIT=130");
  assertEquals(await alice.transfers(), []);
  const quiet = await startTmuxSession({ command: line([...interactive, "--non-interactive"]) });
  try {
    const screen = await quiet.waitFor((s) => /EXIT=\d+/.test(s), "the exit status");
    assertEquals([screen.includes("[y/N]"), screen.includes("EXIT=0")], [false, true]);
  } finally {
    await quiet.kill();
  }
  await receiving.waitForLine((l) => l.includes('"received"'));
  await receiving.done;
  // Paid once: a second send on the terminal asks, and says it was paid before.
  const yes = await ask("y");
  assertStringIncludes(yes, "(paid before: not paid again)");
  assertEquals((await bob.transfers()).length, 1);
  await Deno.remove(root, { recursive: true }).catch(() => {});
});
