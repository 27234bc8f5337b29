/**
 * What a payment channel claim costs to keep, in one process without the network: a channel
 * file writer (state/channels/channel_writer.ts `openChannelFileWriter`, what a town's claim gate
 * and a payer's signer write through) saving one claim at a time into `channels/<id>.toml`, with
 * the git audit log committing in process every `--window-ms`; CPU ms (own, of it system) and wall
 * ms per claim. `--channels N` spreads the claims over N channels, one after the other. Runs on
 * any tree with `openChannelFileWriter` (to compare trees: the same script in each).
 *
 *     deno run -A bench/channel_claim_write_bench_script.ts [--claims 500] [--channels 4]
 *       [--window-ms 1000] [--rounds 3]
 *
 * @module
 */
import { openAuditLog } from "../state/audit/audit_log.ts";
import type { ChannelRecord } from "../state/channels/channel_file.ts";
import { openChannelFileWriter } from "../state/channels/channel_writer.ts";
import { processCpuMs } from "./process_cpu.ts";
import { parseBenchFlags } from "./bench_flags.ts";

const { values } = parseBenchFlags(Deno.args, {
  values: ["claims", "channels", "window-ms", "rounds"],
  switches: [],
  usage: "Usage: deno run -A bench/channel_claim_write_bench_script.ts [--claims 500] " +
    "[--channels 4] [--window-ms 1000] [--rounds 3]",
});
const claims = Number(values.claims ?? 500);
const channels = Number(values.channels ?? 4);
const windowMs = Number(values["window-ms"] ?? 1000);
const rounds = Number(values.rounds ?? 3);

function record(i: number): ChannelRecord {
  return {
    channelId: `0x${i.toString(16).padStart(2, "0").repeat(32)}`,
    chain: "evm:base:31337",
    chainId: 31337,
    network: "local",
    tokenNetworkAddress: `0x${"cd".repeat(20)}`,
    tokenAddress: `0x${"ef".repeat(20)}`,
    tokenSymbol: "M2M",
    tokenDecimals: 6,
    selfAddress: `0x${"12".repeat(20)}`,
    peerAddress: `0x${"34".repeat(20)}`,
    btpAccount: `payer${i}`,
    status: "open",
    deposit: 50_000_000n,
    peerDeposit: 0n,
    withdrawn: 0n,
    peerWithdrawn: 0n,
    sent: 0n,
    sentNonce: 0n,
    received: 0n,
    receivedNonce: 0n,
    settleTimeout: 3600n,
    settleAt: 0n,
    openedAt: "2026-11-25T12:00:00.000Z",
    warnPercent: 20,
  };
}

type Claim = { nonce: bigint; amount: bigint; signature: `0x${string}` };

for (let round = 1; round <= rounds; round++) {
  const stateDir = await Deno.makeTempDir({ prefix: "tp-bench-claims-" });
  const audit = await openAuditLog({ dir: stateDir, windowMs });
  try {
    const writers = Array.from({ length: channels }, (_, i) =>
      openChannelFileWriter<Claim>({
        stateDir,
        record: record(i + 1),
        audit,
        // The town's side: the newest claim received, its signature, what was forwarded.
        withClaim: (r, c) => ({
          ...r,
          received: c.amount,
          receivedNonce: c.nonce,
          receivedSignature: c.signature,
          receivedForwarded: c.amount,
        }),
      }));
    const signature = `0x${"5a".repeat(65)}` as const;
    // The first claim of each channel writes its file: not counted.
    for (const w of writers) await w.save({ nonce: 1n, amount: 1_000n, signature });
    await audit.flush();
    const cpu0 = await processCpuMs();
    const t0 = performance.now();
    for (let i = 0; i < claims; i++) {
      const nonce = BigInt(2 + Math.floor(i / channels));
      await writers[i % channels].save({ nonce, amount: nonce * 1_000n, signature });
    }
    const wall = (performance.now() - t0) / claims;
    const cpu1 = await processCpuMs();
    await audit.flush();
    console.log(
      `round ${round}: ${claims} claims over ${channels} channels, audit window ${windowMs} ms: ` +
        `CPU ${((cpu1.self - cpu0.self) / claims).toFixed(3)} ms a claim (system ${
          ((cpu1.sys - cpu0.sys) / claims).toFixed(3)
        }), wall ${wall.toFixed(3)} ms`,
    );
  } finally {
    await audit.close();
    await Deno.remove(stateDir, { recursive: true });
  }
}
