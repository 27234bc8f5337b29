/**
 * kill -9 either side mid-stream of claim-paid writes, restart it from its state dir, finish,
 * then close with the town's newest claim and settle: the sender's channel file, the town's
 * channel file and the chain agree to the unit, and every write the sender saw fulfilled was
 * paid for.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { type ChannelPair, startChannelPair } from "../support/anvil_channel_pair.ts";
import { channelRecord, connectClaimClient, startClaimTown } from "../support/channel_town.ts";
import type { PayerProcessArgs, TownProcessArgs } from "../support/channel_crash_processes.ts";
import { increaseTime } from "../../chain/anvil.ts";
import { channelFilePath, readChannel, saveChannel } from "../../state/channel_file.ts";
import { bytesToHex } from "viem";

const DEPOSIT = 50_000_000n;
const MINTED = 100_000_000n;
const SCRIPT = new URL("../support/channel_crash_processes.ts", import.meta.url).pathname;

interface Proc {
  child: Deno.ChildProcess;
  lines: ReadableStreamDefaultReader<string>;
  buffer: string;
}

function spawn(role: "town" | "payer", args: TownProcessArgs | PayerProcessArgs): Proc {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, role, JSON.stringify(args)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  return {
    child,
    lines: child.stdout.pipeThrough(new TextDecoderStream()).getReader(),
    buffer: "",
  };
}

async function readLine(p: Proc): Promise<string | undefined> {
  while (!p.buffer.includes("\n")) {
    const { value, done } = await p.lines.read();
    if (done) return undefined;
    p.buffer += value;
  }
  const i = p.buffer.indexOf("\n");
  const line = p.buffer.slice(0, i);
  p.buffer = p.buffer.slice(i + 1);
  return line;
}

async function kill9(p: Proc): Promise<void> {
  try {
    p.child.kill("SIGKILL");
  } catch {
    // already gone
  }
  await p.child.status;
  await p.lines.cancel().catch(() => {});
  await p.child.stdin.close().catch(() => {});
}

async function setupDirs(pair: ChannelPair) {
  const { alice, bob } = pair;
  const { channelId } = await alice.openChannel({
    partner: bob.address,
    deposit: DEPOSIT,
    settleTimeout: 600n,
  });
  const townDir = await Deno.makeTempDir({ prefix: "crash_town_" });
  const aliceDir = await Deno.makeTempDir({ prefix: "crash_alice_" });
  const base = { chain: pair.chain, channelId };
  await saveChannel(channelRecord({ ...base, self: bob, peer: alice, deposit: 0n }), {
    stateDir: townDir,
    action: "open",
  });
  await saveChannel(channelRecord({ ...base, self: alice, peer: bob, deposit: DEPOSIT }), {
    stateDir: aliceDir,
    action: "open",
  });
  return { channelId, townDir, aliceDir };
}

async function settleAndCompare(
  pair: ChannelPair,
  channelId: `0x${string}`,
  townDir: string,
  aliceDir: string,
  fulfilledValue: bigint,
): Promise<void> {
  const townFile = await readChannel(channelFilePath(townDir, channelId));
  const aliceFile = await readChannel(channelFilePath(aliceDir, channelId));
  assertEquals(townFile.received, aliceFile.sent, "the town holds the sender's newest claim");
  assertEquals(townFile.receivedNonce, aliceFile.sentNonce);
  assert(townFile.received >= fulfilledValue, "every fulfilled write is paid for");
  await pair.bob.closeChannel(channelId, {
    nonce: townFile.receivedNonce,
    transferredAmount: townFile.received,
    signature: townFile.receivedSignature!,
  });
  await increaseTime(pair.anvil.rpcUrl, 601);
  await pair.bob.settleChannel(channelId);
  assertEquals(await pair.alice.tokenBalance(), MINTED - aliceFile.sent);
  assertEquals(await pair.bob.tokenBalance(), MINTED + townFile.received);
}

Deno.test("channel crash: kill -9 the town mid-stream, restart, books match the chain", async () => {
  await using pair = await startChannelPair();
  const { channelId, townDir, aliceDir } = await setupDirs(pair);
  const townArgs: TownProcessArgs = {
    rpcUrl: pair.anvil.rpcUrl,
    tokenAddress: pair.contracts.tokenAddress,
    tokenNetworkAddress: pair.contracts.tokenNetworkAddress,
    stateDir: townDir,
    channelId,
    secretKey: bytesToHex(pair.bobKey),
  };
  let fulfilled = 0n;
  try {
    for (const round of [0, 1]) {
      const town = spawn("town", townArgs);
      try {
        const info = JSON.parse((await readLine(town))!);
        const record = await readChannel(channelFilePath(aliceDir, channelId));
        const payer = await connectClaimClient({
          url: `btp+ws://127.0.0.1:${info.btpPort}`,
          townAddress: info.address,
          townPubkey: info.pubkey,
          stateDir: aliceDir,
          secretKey: pair.aliceKey,
          record,
        });
        try {
          let ok = 0;
          let next = 0;
          await Promise.all(Array.from({ length: 8 }, async () => {
            while (next < 300) {
              next++;
              const { reply, amount } = await payer.write(payer.sign(`note ${round} ${next}`))
                .catch(() => ({ reply: undefined, amount: 0n }));
              if (reply?.type === "fulfill") {
                fulfilled += amount;
                // Round 0: kill the town mid-stream, with packets in flight.
                if (++ok === 150 && round === 0) town.child.kill("SIGKILL");
              }
              if (reply === undefined) return; // connection gone
            }
          }));
          if (round === 1) assertEquals(ok, 300, "after the restart every write goes through");
        } finally {
          await payer.close();
        }
      } finally {
        await kill9(town);
      }
    }
    await settleAndCompare(pair, channelId, townDir, aliceDir, fulfilled);
  } finally {
    await Deno.remove(townDir, { recursive: true });
    await Deno.remove(aliceDir, { recursive: true });
  }
});

Deno.test("channel crash: kill -9 the sender mid-stream, restart, books match the chain", async () => {
  await using pair = await startChannelPair();
  const { channelId, townDir, aliceDir } = await setupDirs(pair);
  let fulfilled = 0n;
  try {
    await using t = await startClaimTown({
      stateDir: townDir,
      secretKey: pair.bobKey,
      bob: pair.bob,
      record: await readChannel(channelFilePath(townDir, channelId)),
    });
    const payerArgs: PayerProcessArgs = {
      url: `btp+ws://127.0.0.1:${t.town.btpPort}`,
      townAddress: t.town.ilpAddress,
      townPubkey: t.town.pubkey,
      stateDir: aliceDir,
      channelId,
      secretKey: bytesToHex(pair.aliceKey),
      count: 300,
      inFlight: 8,
    };
    for (const round of [0, 1]) {
      const payer = spawn("payer", payerArgs);
      try {
        let ok = 0;
        for (let line = await readLine(payer); line !== undefined; line = await readLine(payer)) {
          if (line.startsWith("ok ")) {
            fulfilled += BigInt(line.slice(3));
            if (++ok === 150 && round === 0) break;
          }
          if (line === "done") break;
          assert(!line.startsWith("rejected"), line);
        }
        if (round === 1) assertEquals(ok, 300, "after the restart every write goes through");
      } finally {
        await kill9(payer); // round 0: mid-stream; round 1: already done
      }
    }
    await t.gate.writer.durable();
    await t.stop();
    await settleAndCompare(pair, channelId, townDir, aliceDir, fulfilled);
  } finally {
    await Deno.remove(townDir, { recursive: true });
    await Deno.remove(aliceDir, { recursive: true });
  }
});
