/**
 * Test helper run as a separate process by tests/e2e/channel_crash_test.ts, so it can be killed
 * with SIGKILL mid-stream: `town <json>` runs a claim town from its state dir (resuming from
 * the channel file) and prints its contact `{"url","townAddress","townPubkey","relayUrl"}`; `payer <json>` pays `count`
 * writes with claims (resuming from its channel file) printing `ok <amount>` per FULFILL,
 * `done` at the end.
 *
 * @module
 */
import { localEvmAccount } from "../identity/local_evm_account.ts";
import { hexToBytes } from "viem";
import { resolveChainConfig } from "../config/chain_config.ts";
import { TokenNetworkClient } from "../chain/token_network_client.ts";
import { channelFilePath, readChannel } from "../state/channels/channel_file.ts";
import {
  type ClaimTownContact,
  claimTownContact,
  connectClaimClient,
  startClaimTown,
} from "./channel_town.ts";

/** Arguments of the `town` process. */
export interface TownProcessArgs {
  rpcUrl: string;
  tokenAddress: `0x${string}`;
  tokenNetworkAddress: `0x${string}`;
  stateDir: string;
  channelId: `0x${string}`;
  secretKey: `0x${string}`;
  /** false: run without the claim gate (benchmark comparison). Default true. */
  settle?: boolean;
}

/** Arguments of the `payer` process. */
export interface PayerProcessArgs extends ClaimTownContact {
  stateDir: string;
  channelId: `0x${string}`;
  secretKey: `0x${string}`;
  count: number;
  inFlight: number;
}

async function runTown(args: TownProcessArgs): Promise<void> {
  const chain = resolveChainConfig("evm:base:31337", {
    overrides: {
      rpcUrl: args.rpcUrl,
      tokenAddress: args.tokenAddress,
      tokenNetworkAddress: args.tokenNetworkAddress,
    },
  });
  const secretKey = hexToBytes(args.secretKey);
  const bob = new TokenNetworkClient({ chain, account: localEvmAccount(secretKey) });
  const record = await readChannel(channelFilePath(args.stateDir, args.channelId));
  const t = await startClaimTown({
    stateDir: args.stateDir,
    secretKey,
    bob,
    record,
    databasePath: `${args.stateDir}/town-events.sqlite`,
    settle: args.settle,
  });
  const relayUrl = `ws://127.0.0.1:${t.town.httpPort}`;
  console.log(JSON.stringify({ ...claimTownContact(t.town), relayUrl }));
  await Deno.stdin.readable.pipeTo(new WritableStream()); // until stdin closes (or SIGKILL)
  await t.stop();
}

async function runPayer(args: PayerProcessArgs): Promise<void> {
  const record = await readChannel(channelFilePath(args.stateDir, args.channelId));
  const payer = await connectClaimClient({
    url: args.url,
    townAddress: args.townAddress,
    townPubkey: args.townPubkey,
    stateDir: args.stateDir,
    secretKey: hexToBytes(args.secretKey),
    record,
  });
  let next = 0;
  await Promise.all(Array.from({ length: args.inFlight }, async () => {
    while (next < args.count) {
      const { reply, amount } = await payer.write(payer.sign(`crash note ${next++} `));
      console.log(reply.type === "fulfill" ? `ok ${amount}` : `rejected ${reply.code}`);
    }
  }));
  await payer.close();
  console.log("done");
}

if (import.meta.main) {
  const [role, json] = Deno.args;
  if (role === "town") await runTown(JSON.parse(json));
  else if (role === "payer") await runPayer(JSON.parse(json));
  else throw new Error(`usage: channel_crash_processes.ts town|payer <json>`);
}
