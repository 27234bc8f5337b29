/**
 * `turnpike channel open|list|show|topup|withdraw|close|recover`: EVM payment channels with the BTP peer.
 * The network is always printed; mainnet needs `--mainnet`. Deposits are given in token units
 * (`--deposit 50` = 50 M2M) and refused above the configured maximum (default 100), and when
 * the wallet lacks tokens or gas. Channel files live in `<state dir>/channels/` and every change
 * is committed to the audit trail. `recover` rebuilds them from the chain and, for channels this
 * node pays over, asks the BTP peer for the newest claim of ours it holds (`last-claim`): the
 * chain does not know the claims signed off chain.
 *
 * Config (`<state dir>/config.toml`):
 *
 * ```toml
 * [channels]
 * peer = "0x..."                 # the BTP peer's settlement address (or --peer / --peer-info;
 *                                # none: the town's kind 10032, read from relay_url / --town)
 * chains = ["evm:base:31337", "evm:base:84532"]   # supported, in order of preference
 * prefer = ["evm:base:31337"]    # preferred when negotiating with the peer (after --chain)
 * max_deposit = "100"            # token units
 * settle_timeout = 3600          # seconds
 * warn_percent = 10              # low-balance warning threshold
 * auto = true                    # open, use and top up a channel with the town by itself
 * deposit = "50"                 # (config/channel_policy.ts: topup_below, topup_amount,
 *                                #  topup_daily_cap)
 * watch_interval = 15           # seconds between a running node's chain polls
 * [chains."evm:base:31337"]
 * rpc_url = "http://127.0.0.1:8545"
 * token_network = "0x..."
 * token = "0x..."
 * ```
 *
 * The group's registration: each subcommand's code is in a module of its own
 * (`channel_open_command.ts`, `channel_list_command.ts`, `channel_close_command.ts`,
 * `channel_amount_command.ts`, `channel_recover_command.ts`), what they share in
 * `channel_context.ts`, `channel_rows.ts`, `channel_hold.ts`, `channel_btp_peer.ts` and
 * `channel_error_cases.ts`.
 *
 * @module
 */
import type { Command } from "commander";
import { runChannelAction } from "./channel_error_cases.ts";
import { channelOpen, type OpenOptions } from "./channel_open_command.ts";
import { channelList } from "./channel_list_command.ts";
import { channelClose } from "./channel_close_command.ts";
import { channelTopUp, channelWithdraw } from "./channel_amount_command.ts";
import { channelRecover } from "./channel_recover_command.ts";

/**
 * Adds `channel open|list|show|close|recover` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerChannelCommand(new Command("turnpike"));
 * ```
 */
export function registerChannelCommand(program: Command): Command {
  const channel = program.command("channel").description(
    "EVM payment channels with the BTP peer (open, balances, withdraw, close, recover)",
  );
  const common = (cmd: Command) =>
    cmd
      .option("--chain <id>", "settlement chain, e.g. evm:base:31337 or evm:base:84532")
      .option("--rpc-url <url>", "chain RPC URL (overrides config)")
      .option("--token-network <address>", "TokenNetwork contract (overrides config)")
      .option("--token <address>", "ERC-20 token (overrides config)")
      .option("--mainnet", "allow a mainnet chain (real funds)")
      .option("--passphrase-file <file>", "read the wallet passphrase from this file")
      .option("--non-interactive", "never prompt");
  common(
    channel.command("open")
      .description("open and fund a channel to the peer (waits for confirmation)")
      .requiredOption("--deposit <amount>", "deposit in token units, e.g. 50")
      .option("--peer <address>", "peer settlement address (default: config [channels] peer)")
      .option("--peer-info <file>", "peer's kind 10032 event or content (JSON) to negotiate with")
      .option("--town <url>", "read the peer from this town's kind 10032 (default: relay URL)")
      .option("--settle-timeout <seconds>", "settle timeout in seconds (default 3600)")
      .option("--max-deposit <amount>", "refuse deposits above this (default config or 100)"),
  ).action(async (_o: unknown, cmd: Command) => {
    await runChannelAction(() => channelOpen(cmd.optsWithGlobals<OpenOptions>()));
  });
  common(
    channel.command("list").description("channels and balances")
      .option("--refresh", "read each channel on chain and update the files"),
  ).action(async (_o: unknown, cmd: Command) => {
    await runChannelAction(() => channelList(cmd.optsWithGlobals(), undefined));
  });
  common(
    channel.command("show").argument("<id>", "channel id").description("one channel")
      .option("--refresh", "read the channel on chain and update the file"),
  ).action(async (id: string, _o: unknown, cmd: Command) => {
    await runChannelAction(() => channelList(cmd.optsWithGlobals(), id));
  });
  common(
    channel.command("close").argument("<id>", "channel id").description(
      "settle at once with the peer's co-signature (BTP); when the peer does not answer or " +
        "refuses, close unilaterally with its newest claim, then (run again) settle after the timeout",
    )
      .option("--unilateral", "skip asking the peer to co-sign; close on chain alone")
      .option("--connector-btp-url <url>", "BTP URL of the peer (the town)")
      .option("--btp-token <token>", "BTP auth token (or in the URL as user:token@)")
      .option(
        "--store <url>",
        "a town on several processes: close with the newest claim of its shared books " +
          "(default $TURNPIKE_STORE_URL)",
      ),
  ).action(async (id: string, _o: unknown, cmd: Command) => {
    await runChannelAction(() => channelClose(cmd.optsWithGlobals(), id));
  });
  common(
    channel.command("withdraw").argument("<id>", "channel id").description(
      "take tokens out of the open channel, co-signed by the peer over BTP",
    )
      .requiredOption("--amount <units>", "token units to withdraw, e.g. 10")
      .option("--connector-btp-url <url>", "BTP URL of the peer (the town)")
      .option("--btp-token <token>", "BTP auth token (or in the URL as user:token@)"),
  ).action(async (id: string, _o: unknown, cmd: Command) => {
    await runChannelAction(() => channelWithdraw(cmd.optsWithGlobals(), id));
  });
  common(
    channel.command("topup").argument("<id>", "channel id").description(
      "add tokens to the channel's deposit (the contract's setTotalDeposit)",
    ).requiredOption("--amount <units>", "token units to add, e.g. 10"),
  ).action(async (id: string, _o: unknown, cmd: Command) => {
    await runChannelAction(() => channelTopUp(cmd.optsWithGlobals(), id));
  });
  common(
    channel.command("recover").description(
      "rebuild channel files from the chain (contract state and events) and, for channels this " +
        "node pays over, the newest claim of ours the peer (the town) holds",
    )
      .option("--connector-btp-url <url>", "BTP URL of the peer (the town)")
      .option("--town <url>", "the town's NIP-01 URL: its kind 10032 names its BTP URL")
      .option("--btp-token <token>", "BTP auth token (or in the URL as user:token@)"),
  ).action(async (_o: unknown, cmd: Command) => {
    await runChannelAction(() => channelRecover(cmd.optsWithGlobals()));
  });
  return channel;
}
