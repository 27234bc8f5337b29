/**
 * `turnpike channel recover`: the channel files rebuilt from the chain (contract state and
 * events; roles/channels/channel_recover.ts) and, over BTP, the newest claim of ours the peer
 * holds: the chain does not know the claims signed off chain.
 *
 * @module
 */
import { formatUnits } from "viem";
import { loadSettings } from "../config/settings.ts";
import { LOCAL_CHAIN, networkLabel } from "../config/chain_config.ts";
import { connectChain } from "../chain/chain_connection.ts";
import { TokenNetworkClient } from "../chain/token_network_client.ts";
import type { ChannelRecord } from "../state/channels/channel_file.ts";
import { openAuditLog } from "../state/audit/audit_log.ts";
import { announcedBtpUrl } from "../roles/channels/channel_peer_resolver.ts";
import { NoPeerUrlError, recoverChannels } from "../roles/channels/channel_recover.ts";
import type { BtpClient } from "../transport/btp_client.ts";
import { chainFor, channelContext, infoLine, unlockWallet } from "./channel_context.ts";
import { connectPeer, type CosignCliOptions, peerFlags } from "./channel_btp_peer.ts";
import { holdChannel } from "./channel_hold.ts";
import { printRecords } from "./channel_rows.ts";
import { terminalText } from "./terminal_text.ts";

/**
 * `turnpike channel recover`: rebuilds the channel files from the chain and, for channels this
 * node pays over, asks the peer for the newest claim of ours it holds; when the peer cannot be
 * reached, says on stderr which figures are unknown.
 *
 * It reads a town and a chain, so it has no example that runs here:
 * tests/e2e/requester_channel_test.ts
 */
export async function channelRecover(opts: CosignCliOptions): Promise<void> {
  const ctx = await channelContext(opts);
  const mine = ctx.channels.chains ?? [LOCAL_CHAIN];
  // Connected: the RPC's chain id checked, the token's decimals and symbol its contract's.
  const chain = await connectChain(chainFor(ctx, opts, opts.chain ?? mine[0]));
  infoLine(opts, `Network: ${networkLabel(chain)}`);
  using signer = await unlockWallet(ctx, opts);
  const client = new TokenNetworkClient({ chain, account: signer.evm });
  const audit = await openAuditLog({ dir: ctx.stateDir });
  const peer = lastClaimPeer(opts);
  let recovered: ChannelRecord[];
  try {
    recovered = await recoverChannels({
      client,
      stateDir: ctx.stateDir,
      audit,
      warnPercent: ctx.channels.warnPercent,
      lock: (channelId) => holdChannel(ctx.stateDir, channelId, opts),
      peer: peer.get,
      onLastClaim: (record, last) =>
        infoLine(
          opts,
          `${record.channelId}: last claim from the peer: nonce ${last.nonce}, ` +
            `${formatUnits(last.transferredAmount, record.tokenDecimals)} ${record.tokenSymbol}`,
        ),
      onLastClaimUnknown: (record, why, err) =>
        console.error(
          `Warning: sent amount of ${record.channelId} unknown (peer unavailable: ${
            terminalText(why)
          }): the ` +
            "file has only what the chain (and a surviving file) shows, nonce " +
            `${record.sentNonce} and ${
              formatUnits(record.sent, record.tokenDecimals)
            } ${record.tokenSymbol} sent, not the claims signed off chain since; do not pay ` +
            "over this channel until `turnpike channel recover` reaches the peer" +
            (err instanceof NoPeerUrlError
              ? "; pass the town's BTP URL (--connector-btp-url btp+ws://<town host>:3000, " +
                "printed by `town up` as btpUrl) or its NIP-01 URL (--town ws://<town host>:7100), " +
                "or set connector_btp_url in config.toml (`turnpike init` writes it)"
              : ""),
        ),
    });
  } finally {
    await peer.close();
    await audit.close();
  }
  printRecords(opts, recovered, `Recovered ${recovered.length} channel(s) from the chain`);
}

/** The BTP connection `recover` asks over: opened on first use, once; its failure is kept. */
interface LastClaimPeer {
  get(): Promise<BtpClient>;
  close(): Promise<void>;
}

function lastClaimPeer(opts: CosignCliOptions): LastClaimPeer {
  let connecting: Promise<BtpClient> | undefined;
  return {
    get: () =>
      connecting ??= (async () => {
        const loaded = await loadSettings({ flags: peerFlags(opts) });
        if (loaded.sources.connectorBtpUrl.kind !== "default") return await connectPeer(opts);
        // The default URL is a local town's: asking some unrelated local server is no answer.
        // A configured town announces its BTP URL in its kind 10032: ask that one.
        if (loaded.sources.relayUrl.kind === "default") throw new NoPeerUrlError();
        const url = await announcedBtpUrl(loaded.settings.relayUrl);
        infoLine(opts, `Asking the town over ${url} (the BTP URL its kind 10032 announces)`);
        return await connectPeer({ ...opts, connectorBtpUrl: url });
      })(),
    close: async () => {
      const peer = await connecting?.catch(() => undefined);
      await peer?.close();
    },
  };
}
