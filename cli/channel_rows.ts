/**
 * A channel as every `turnpike channel` command prints it: its figures by the books
 * (state/channels/channel_books.ts), as text lines, CSV rows or `channel` JSON lines.
 *
 * @module
 */
import { formatUnits } from "viem";
import { networkLabel } from "../config/chain_config.ts";
import { knownChain } from "../config/known_chains.ts";
import type { ChannelRecord } from "../state/channels/channel_file.ts";
import { channelBooks } from "../state/channels/channel_books.ts";
import { csvRow } from "../protocol/csv_row.ts";
import { printJsonLine } from "./json_line.ts";
import { type ChannelOptions, infoLine } from "./channel_context.ts";
import { terminalText } from "./terminal_text.ts";

/** A channel as printed: its figures in token units, as strings. */
interface RecordView {
  channelId: string;
  network: string;
  chain: string;
  peer: string;
  status: string;
  deposit: string;
  sent: string;
  claimed: string;
  cover: string;
  remaining: string;
  received: string;
  receivedClaimed: string;
  token: string;
  warning: string;
  withdrawn: string;
  peerDeposit: string;
}

function view(r: ChannelRecord, delivered?: bigint): RecordView {
  // Paid and received by the books (docs/AGENTS.md "A channel's figures"), claims beside them.
  const books = channelBooks(r, delivered);
  const { remaining, low } = books;
  const fmt = (v: bigint) => formatUnits(v, r.tokenDecimals);
  return {
    channelId: r.channelId,
    network: r.network,
    chain: r.chain,
    peer: r.peerAddress,
    status: r.status,
    deposit: fmt(r.deposit),
    sent: fmt(books.sent),
    claimed: fmt(books.claimed),
    cover: fmt(books.cover),
    remaining: fmt(remaining),
    received: fmt(books.received),
    receivedClaimed: fmt(books.receivedClaimed),
    token: r.tokenSymbol,
    warning: low ? `below ${r.warnPercent}% of the deposit: top up or open a new channel` : "",
    withdrawn: fmt(r.withdrawn),
    peerDeposit: fmt(r.peerDeposit),
  };
}

/**
 * Prints channels as the command's output asks: for text, a `headline` (when given) and three
 * lines each; for CSV, a header row and a row each; for JSON, one `channel` line each
 * (docs/AGENTS.md). A channel below its warning threshold gets a warning on stderr in every
 * format. `delivered` holds what this node paid over each channel by its payment log, by
 * lower-case channel id.
 *
 * @example
 * ```ts
 * import { printRecords } from "./channel_rows.ts";
 * import { listChannels } from "../state/channels/channel_file.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // no channel: only the CSV header
 * printRecords({ output: "csv" }, await listChannels(stateDir));
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function printRecords(
  opts: ChannelOptions,
  records: ChannelRecord[],
  headline?: string,
  delivered: ReadonlyMap<string, bigint> = new Map(),
): void {
  const views = records.map((r) => view(r, delivered.get(r.channelId.toLowerCase())));
  const output = opts.output ?? "text";
  if (output === "json") {
    // One line per channel (docs/AGENTS.md): no array to read whole.
    for (const v of views) printJsonLine("channel", { ...v });
  } else if (output === "csv") {
    const keys: (keyof RecordView)[] = [
      "channelId",
      "network",
      "chain",
      "peer",
      "status",
      "deposit",
      "sent",
      "claimed",
      "cover",
      "remaining",
      "received",
      "receivedClaimed",
      "token",
      "warning",
      "withdrawn",
      "peerDeposit",
    ];
    console.log(csvRow(keys));
    for (const v of views) console.log(csvRow(keys.map((k) => v[k])));
  } else {
    if (headline) console.log(headline);
    if (views.length === 0) console.log("No channels.");
    for (const v of views) {
      // The token's symbol is what its contract answers.
      console.log(terminalText(`${v.channelId}  [${v.network}: ${v.chain}]  ${v.status}`));
      console.log(terminalText(`  peer ${v.peer}`));
      console.log(terminalText(
        `  deposit ${v.deposit} ${v.token}${
          v.withdrawn !== "0" ? ` (${v.withdrawn} withdrawn)` : ""
        }, sent ${v.sent}${
          v.cover !== "0" ? ` (claims ${v.claimed}: ${v.cover} not delivered)` : ""
        }, received ${v.received}, ${v.remaining} ${v.token} remaining${
          v.peerDeposit !== "0" ? `; peer deposit ${v.peerDeposit} ${v.token}` : ""
        }`,
      ));
    }
  }
  for (const v of views) {
    if (v.warning) console.error(terminalText(`Warning: channel ${v.channelId} is ${v.warning}`));
  }
}

/**
 * One `Network:` line per chain the listed channels are on, as every other channel command, its
 * label from the table of known chains by the record's chain id (config/known_chains.ts).
 *
 * @example
 * ```ts
 * import { printNetworkLines } from "./channel_rows.ts";
 * import { channelContext } from "./channel_context.ts";
 * import { listChannels } from "../state/channels/channel_file.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const ctx = await channelContext({ stateDir });
 * printNetworkLines({}, await listChannels(ctx.stateDir));
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function printNetworkLines(
  opts: ChannelOptions,
  records: ChannelRecord[],
): void {
  const seen = new Set<string>();
  for (const r of records) {
    if (seen.has(r.chain)) continue;
    seen.add(r.chain);
    // The label from the table of known chains by the record's chain id: listing moves nothing.
    const label = networkLabel({
      id: r.chain,
      name: knownChain(r.chainId).name,
      network: knownChain(r.chainId).network,
    });
    infoLine(opts, `Network: ${label}`);
  }
}
