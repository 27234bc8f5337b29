/**
 * `turnpike channel recover` (real CLI process) with a lost state dir, on a real anvil with the
 * real contracts and a real town BTP server: the chain alone says nothing of the claims the
 * payer signed off chain, so recover asks the town for its last claim (`payment-channel-cosign`
 * `last-claim`) and the rebuilt file's sent/sentNonce equal the town's books; paying over the
 * recovered channel works again (the next nonce is above the town's). With only the town's
 * NIP-01 URL given (`--town`), the BTP URL comes from the town's kind 10032. With the town
 * unreachable or unconfigured, recover still writes what the chain gives, exits 0 and warns
 * naming the flags; a closed channel is recovered the same way; a town handing back a claim the
 * payer did not sign is not believed.
 */
import { localEvmAccount } from "../../identity/local_evm_account.ts";
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { createAliceChainWallet } from "../../harness/cli_wallet.ts";
import { deadBtpUrl } from "../support/dead_port.ts";
import { openPairChannel } from "../../harness/pair_channel.ts";
import {
  claimTownContact,
  connectClaimClient,
  startClaimTown,
} from "../../harness/channel_town.ts";
import { signClaim } from "../../chain/claim_signer.ts";
import {
  channelFilePath,
  type ChannelRecord,
  readChannel,
} from "../../state/channels/channel_file.ts";
import { generateSecretKey } from "nostr-tools";

const DEPOSIT = 50_000_000n;

async function setup(townRecord: (r: ChannelRecord) => Promise<ChannelRecord>) {
  const pair = await startChannelPair();
  const channel = await openPairChannel(pair, { deposit: DEPOSIT });
  const { channelId } = channel;
  const dir = await Deno.makeTempDir({ prefix: "recover_" });
  await Deno.mkdir(`${dir}/town`);
  await Deno.mkdir(`${dir}/alice`);
  const town = await startClaimTown({
    stateDir: `${dir}/town`,
    secretKey: pair.bobKey,
    bob: pair.bob,
    record: await townRecord(channel.townRecord),
    settlement: { chains: [{ chain: "evm:base:31337" }] },
  });
  const payerRecord = channel.aliceRecord;
  const contact = claimTownContact(town.town);
  const townUrl = contact.url;
  /** Alice pays `n` notes with claims from `record` (in `stateDir`); returns her last record. */
  const pay = async (stateDir: string, record: ChannelRecord, n: number) => {
    await using payer = await connectClaimClient({
      ...contact,
      stateDir,
      secretKey: pair.aliceKey,
      record,
    });
    for (let i = 0; i < n; i++) {
      const { reply } = await payer.write(payer.sign(`paid note ${i}`));
      assertEquals(reply.type, "fulfill", reply.type === "reject" ? reply.message : "");
    }
    return payer.sent.record();
  };
  // The payer's new state dir: same wallet (mnemonic), the chain configured, no channels/.
  const wallet = await createAliceChainWallet(pair, dir);
  const state = wallet.stateDir;
  const recover = (...args: string[]) => wallet.run(["channel", "recover", ...args]);
  return {
    pair,
    channelId,
    dir,
    town,
    townUrl,
    relayUrl: `ws://127.0.0.1:${town.town.httpPort}`,
    payerRecord,
    pay,
    state,
    recover,
    recovered: () => readChannel(channelFilePath(state, channelId)),
    async [Symbol.asyncDispose]() {
      await town.stop();
      await pair.anvil.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("channel recover (real CLI): the town's last claim restores sent; paying resumes", async () => {
  await using s = await setup((r) => Promise.resolve(r));
  const { channelId } = s;
  const paid = await s.pay(`${s.dir}/alice`, s.payerRecord, 6);
  assertEquals(paid.sentNonce, 6n);
  await s.town.gate.writer.durable();
  const held = s.town.gate.record();
  assertEquals([held.receivedNonce, held.received], [paid.sentNonce, paid.sent]);

  // Town unreachable: the chain's numbers (nothing sent as far as it knows), a warning, exit 0.
  const down = await s.recover("--connector-btp-url", deadBtpUrl(), "--btp-token", "alice-token");
  assertEquals(down.code, 0, down.stderr);
  assertStringIncludes(
    down.stderr,
    `Warning: sent amount of ${channelId} unknown (peer unavailable: `,
  );
  assertStringIncludes(down.stderr, "do not pay over this channel until");
  let file = await s.recovered();
  assertEquals([file.status, file.deposit, file.sentNonce, file.sent], ["open", DEPOSIT, 0n, 0n]);

  // No BTP URL anywhere, a token alone: the same warning, and what to pass.
  const unset = await s.recover("--btp-token", "alice-token");
  assertEquals(unset.code, 0, unset.stderr);
  assertStringIncludes(unset.stderr, "no BTP URL of the peer (the town) is configured");
  assertStringIncludes(unset.stderr, "--connector-btp-url btp+ws://<town host>:3000");
  assertStringIncludes(unset.stderr, "--town ws://<town host>:7100");

  // Only the town's NIP-01 URL: its kind 10032 names the BTP URL to ask.
  const viaTown = await s.recover("--town", s.relayUrl, "--btp-token", "alice-token");
  assertEquals(viaTown.code, 0, viaTown.stderr);
  assertStringIncludes(
    viaTown.stdout,
    `Asking the town over ${s.townUrl} (the BTP URL its kind 10032 announces)`,
  );
  assertStringIncludes(viaTown.stdout, `${channelId}: last claim from the peer: nonce 6, `);
  assert(!viaTown.stderr.includes("Warning: sent amount"), viaTown.stderr);

  // The town answers: sent/sentNonce are the town's books, to the unit.
  const started = performance.now();
  const up = await s.recover("--connector-btp-url", s.townUrl, "--btp-token", "alice-token");
  const recoverMs = performance.now() - started;
  assertEquals(up.code, 0, up.stderr);
  assertStringIncludes(up.stdout, "Network: local anvil");
  assertStringIncludes(
    up.stdout,
    `${channelId}: last claim from the peer: nonce ${held.receivedNonce}, `,
  );
  assert(!up.stderr.includes("Warning: sent amount"), up.stderr);
  file = await s.recovered();
  assertEquals([file.sentNonce, file.sent], [held.receivedNonce, held.received]);
  assertEquals(file.received, 0n);
  const log = new TextDecoder().decode(
    (await new Deno.Command("git", {
      args: ["-C", s.state, "log", "-1", "--format=%B"],
    }).output()).stdout,
  );
  assertStringIncludes(log, `payment channel ${channelId}`);
  assertStringIncludes(log, `PeerLastClaim: nonce ${held.receivedNonce} ${held.received}`);

  // Paying over the recovered channel: the next claim's nonce is above the town's: FULFILLed.
  const after = await s.pay(s.state, file, 1);
  assertEquals(after.sentNonce, held.receivedNonce + 1n);
  await s.town.gate.writer.durable();
  assertEquals(s.town.gate.record().receivedNonce, held.receivedNonce + 1n);
  assertEquals(s.town.gate.record().received, after.sent);

  // Recover again with the town down: the surviving file keeps the newer counters.
  const again = await s.recover("--connector-btp-url", deadBtpUrl());
  assertEquals(again.code, 0, again.stderr);
  assertStringIncludes(again.stderr, "Warning: sent amount of");
  file = await s.recovered();
  assertEquals([file.sentNonce, file.sent], [after.sentNonce, after.sent]);

  // Closed on chain (alice, unilaterally: nothing of hers on chain) and the files lost again:
  // the town still answers for the closed channel.
  await s.pair.alice.closeChannel(channelId);
  await Deno.remove(`${s.state}/channels`, { recursive: true });
  const closed = await s.recover("--connector-btp-url", s.townUrl, "--btp-token", "alice-token");
  assertEquals(closed.code, 0, closed.stderr);
  assertStringIncludes(closed.stdout, `last claim from the peer: nonce ${after.sentNonce}, `);
  file = await s.recovered();
  assertEquals([file.status, file.sentNonce, file.sent], ["closed", after.sentNonce, after.sent]);
  console.log(
    `channel recover on anvil with the town's last claim: ${recoverMs.toFixed(0)} ms ` +
      "(CLI process: unlock, events, getChannel, BTP last-claim, write + audit)",
  );
});

Deno.test("channel recover (real CLI): a claim the payer did not sign is not believed", async () => {
  // The town's book holds a "claim" of alice signed by another key (a lying or broken town).
  await using s = await setup(async (r) => {
    const forged = await signClaim({
      account: localEvmAccount(generateSecretKey()),
      chainId: r.chainId,
      tokenNetworkAddress: r.tokenNetworkAddress,
      tokenAddress: r.tokenAddress,
      channelId: r.channelId,
      nonce: 40n,
      transferredAmount: 40_000_000n,
    });
    return { ...r, received: 40_000_000n, receivedNonce: 40n, receivedSignature: forged.signature };
  });
  const res = await s.recover("--connector-btp-url", s.townUrl, "--btp-token", "alice-token");
  assertEquals(res.code, 0, res.stderr);
  assertStringIncludes(res.stderr, `Warning: sent amount of ${s.channelId} unknown`);
  assertStringIncludes(res.stderr, "(bad-peer-signature)");
  const file = await s.recovered();
  assertEquals([file.sentNonce, file.sent], [0n, 0n]);
});
