/**
 * `wallet send` and `wallet receive` on real processes: town processes, the CLI wallets
 * (docs/PROTOCOL.md "Transfers between wallets").
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { generateSecretKey } from "nostr-tools";
import { runCli } from "../support/run_cli.ts";
import { startSharedTownProcess } from "../support/shared_town_process.ts";
import { btpOf } from "../support/town_network_kit.ts";
import { cliTransferWallet } from "../support/wallet_transfer_kit.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";

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
  assertEquals(lines.map((l) => [l.type, l.status]), [["progress", "paying"], ["progress", "paid"]]);
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
  assertEquals([taken.direction, taken.amount, taken.fulfillment], ["in", "5000", paid.fulfillment]);
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
