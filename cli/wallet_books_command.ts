/**
 * `turnpike wallet balance` and `turnpike wallet history`: where this node's money is (the
 * wallet's token and gas on each configured chain, its payment channels: deposit, spent,
 * remaining) and where it went (the payment log, filterable by category, job and date). No
 * passphrase is needed: the wallet's address is public in its file.
 *
 * @module
 */
import type { Command } from "commander";
import { formatUnits } from "viem";
import { loadSettings } from "../config/settings.ts";
import { chainTables } from "../config/channel_settings.ts";
import { printNetworkLine } from "./network_line.ts";
import { networkLabel, resolveChainConfig } from "../config/chain_config.ts";
import { connectChain } from "../chain/chain_connection.ts";
import { readChainBalance } from "../chain/wallet_balance.ts";
import { readWalletFile, walletFilePath } from "../identity/wallet_file.ts";
import { listChannels } from "../state/channels/channel_file.ts";
import { channelBooks } from "../state/channels/channel_books.ts";
import {
  categoryOf,
  openPaymentLog,
  PAYMENT_CATEGORIES,
  type PaymentCategory,
} from "../state/payments/payment_log.ts";
import { filterPayments } from "../state/payments/payment_summary.ts";
import { readProviderEarnings } from "../state/jobs/provider_job_index.ts";
import { foldPayments } from "../state/payments/payment_lines.ts";
import { historyJobs } from "./history_jobs.ts";
import { booksJson, booksText } from "./stats_command.ts";
import { summarizePayments } from "../state/payments/payment_summary.ts";
import { formatRecordedAmount } from "../protocol/asset_amount.ts";
import { CliError } from "./cli_error.ts";
import { PAYOUT_CHANNEL_LABEL } from "../roles/channels/payout_receiver.ts";
import { ExitCode } from "./exit_codes.ts";
import type { GlobalOptions } from "./global_options.ts";
import { existingStateDir } from "./state_dir_flags.ts";
import { csvRow } from "../protocol/csv_row.ts";
import { printJsonLine } from "./json_line.ts";
import { terminalText } from "./terminal_text.ts";

interface BooksOptions extends GlobalOptions {
  category?: string[];
  job?: string;
  bead?: string;
  since?: string;
  until?: string;
}

/**
 * One chain's balances of the wallet, as reported: amounts in base units (wei for `native`, the
 * token's smallest unit for `token`), the same figures in whole units under `whole`
 * (docs/AGENTS.md "What a job cost").
 */
interface ChainBalanceView {
  chain: string;
  network: string;
  address: string;
  native?: string;
  token?: string;
  symbol: string;
  /** The token's decimal places. */
  decimals?: number;
  whole?: { native: string; token?: string };
  error?: string;
}

/** One channel's books, as reported: base units, and the same in whole tokens under `whole`. */
interface ChannelBalanceView {
  channelId: string;
  chain: string;
  status: string;
  deposit: string;
  withdrawn: string;
  spent: string;
  received: string;
  remaining: string;
  symbol: string;
  decimals: number;
  whole: { deposit: string; withdrawn: string; spent: string; received: string; remaining: string };
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * Adds `balance` and `history` to `turnpike wallet`.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * import { registerWalletCommand } from "./wallet_command.ts";
 *
 * const program = new Command("turnpike");
 * registerWalletBooks(registerWalletCommand(program));
 * ```
 */
export function registerWalletBooks(wallet: Command): void {
  wallet.command("balance")
    .description("on-chain token and gas of the wallet per configured chain, and its channels")
    .action(async (_o: unknown, cmd: Command) => {
      await balance(cmd.optsWithGlobals<BooksOptions>(), cmd);
    });
  wallet.command("history")
    .description("the payment log: every payment, by category, job and date")
    .option(
      "--category <c>",
      `only this category (${PAYMENT_CATEGORIES.join(", ")}); repeatable`,
      collect,
    )
    .option("--job <id>", "only this job (its id or a unique prefix)")
    .option("--bead <id>", "only the jobs that worked this bead (gt-abc12)")
    .option("--since <YYYY-MM-DD>", "from this UTC day")
    .option("--until <YYYY-MM-DD>", "up to this UTC day")
    .action(async (_o: unknown, cmd: Command) => {
      await history(cmd.optsWithGlobals<BooksOptions>(), cmd);
    });
}

async function balance(opts: BooksOptions, cmd: Command): Promise<void> {
  const stateDir = await existingStateDir(opts, cmd);
  const wallet = await readWalletFile(walletFilePath(stateDir)).catch((err) => {
    throw new CliError("no wallet in this state dir", {
      context: (err as Error).message,
      suggestion: "run `turnpike wallet init` (or `turnpike init --role ...`) first",
    });
  });
  const loaded = await loadSettings({ flags: { stateDir } });
  const network = printNetworkLine(loaded.settings.network);
  const chains = chainTables(loaded);
  const address = wallet.evmAddress as `0x${string}`;
  const onChain: ChainBalanceView[] = [];
  for (const [id, section] of Object.entries(chains)) {
    try {
      // Reading moves nothing: any chain, connected (chain id checked, the token's own units).
      const chain = await connectChain(resolveChainConfig(id, { section, allowMainnet: true }));
      const b = await readChainBalance(chain, address);
      onChain.push({
        chain: id,
        network: networkLabel(chain),
        address,
        native: String(b.native),
        token: b.token === undefined ? undefined : String(b.token),
        symbol: chain.tokenSymbol,
        decimals: chain.tokenDecimals,
        whole: {
          native: formatUnits(b.native, 18),
          token: b.token === undefined ? undefined : formatUnits(b.token, chain.tokenDecimals),
        },
      });
    } catch (err) {
      onChain.push({
        chain: id,
        network: id,
        address,
        symbol: "",
        error: (err as Error).message.split("\n")[0].slice(0, 200),
      });
    }
  }
  const channels: ChannelBalanceView[] = (await listChannels(stateDir)).map((r) => {
    const books = channelBooks(r);
    const amounts = {
      deposit: books.deposit,
      withdrawn: books.withdrawn,
      spent: books.sent,
      received: books.received,
      remaining: books.remaining,
    };
    const each = (f: (n: bigint) => string) => ({
      deposit: f(amounts.deposit),
      withdrawn: f(amounts.withdrawn),
      spent: f(amounts.spent),
      received: f(amounts.received),
      remaining: f(amounts.remaining),
    });
    return {
      channelId: r.channelId,
      chain: r.chain,
      status: r.status,
      ...each(String),
      symbol: r.tokenSymbol,
      decimals: r.tokenDecimals,
      whole: each((n) => formatUnits(n, r.tokenDecimals)),
    };
  });
  const payouts = await payoutBooks(stateDir);
  if (opts.output === "json") {
    printJsonLine("wallet-balance", { stateDir, network, address, onChain, channels, payouts });
    return;
  }
  console.log(`wallet      ${address} (${stateDir})`);
  if (onChain.length === 0) {
    console.log("chains      none configured (no [chains] table in config.toml)");
  }
  for (const c of onChain) {
    console.log(terminalText(
      c.error !== undefined
        ? `chain       ${c.chain}: cannot read (${c.error})`
        : `chain       ${c.network}: ${
          c.whole?.token ?? "-"
        } ${c.symbol}, ${c.whole?.native} ETH for gas`,
    ));
  }
  if (channels.length === 0) console.log("channels    none");
  for (const c of channels) {
    const w = c.whole;
    console.log(terminalText(
      `channel     ${c.channelId.slice(0, 18)}.. [${c.chain}] ${c.status}: deposit ${w.deposit} ` +
        `${c.symbol}${c.withdrawn !== "0" ? ` (${w.withdrawn} withdrawn)` : ""}, ` +
        `spent ${w.spent}, received ${w.received}, ${w.remaining} ${c.symbol} remaining`,
    ));
  }
  if (payouts.earned !== "0" || payouts.claimed !== "0") {
    console.log(
      `earnings    earned ${payouts.earned}, claimed from the town ${payouts.claimed}, ` +
        `settled on chain ${payouts.settled} (base units)`,
    );
  }
}

/**
 * A provider's earnings (docs/OPERATIONS.md "Paying providers"): `earned` what it was paid for
 * jobs, all-time (state/payments/provider_earnings.ts), `claimed` what the town's claims kept in its payout channels' files
 * cover (roles/channels/payout_receiver.ts),
 * `settled` the part of it on channels settled on chain. Base units.
 */
async function payoutBooks(
  stateDir: string,
): Promise<{ earned: string; claimed: string; settled: string }> {
  // All-time, as the claims are: the income rows, and an older turnpike's lines of the log's days.
  const log = await openPaymentLog({ stateDir });
  const earned = readProviderEarnings(stateDir) + log.earnedInLines();
  let claimed = 0n;
  let settled = 0n;
  for (const r of await listChannels(stateDir)) {
    if (r.peerLabel !== PAYOUT_CHANNEL_LABEL) continue;
    claimed += r.received;
    if (r.status === "settled") settled += r.received;
  }
  return { earned: String(earned), claimed: String(claimed), settled: String(settled) };
}

async function history(opts: BooksOptions, cmd: Command): Promise<void> {
  const categories = opts.category?.map((c) => {
    if (!(PAYMENT_CATEGORIES as readonly string[]).includes(c)) {
      throw new CliError(`unknown category "${c}"`, {
        context: PAYMENT_CATEGORIES.join(", "),
        exitCode: ExitCode.Usage,
      });
    }
    return c as PaymentCategory;
  });
  for (const [flag, day] of [["--since", opts.since], ["--until", opts.until]] as const) {
    if (day !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(day)) {
      throw new CliError(`${flag} must be a UTC day YYYY-MM-DD, got ${JSON.stringify(day)}`, {
        exitCode: ExitCode.Usage,
      });
    }
  }
  const stateDir = await existingStateDir(opts, cmd);
  const log = await openPaymentLog({ stateDir });
  const filter = { categories, since: opts.since, until: opts.until };
  // A job's own payments, and its inputs' uploads (paid before it had an id: its record names
  // them), as its costs count them (cli/job_report.ts); a bead's are its jobs'.
  const only = await historyJobs({
    stateDir,
    job: opts.job,
    bead: opts.bead,
    loggedJobIds: log.entries().map((e) => e.jobId),
  });
  const entries = filterPayments(log.entries(), filter).filter((e) =>
    only === undefined || only.jobs.has(e.jobId) ||
    (categoryOf(e) === "town-blob" && only.uploads.has(e.invoiceId))
  ).map((e) => ({ ...e, category: categoryOf(e) }));
  if (opts.output === "json") {
    // One line per payment (an intent and its outcome are one), whose `amount`s sum to the
    // books; then the books (docs/AGENTS.md "What a job cost").
    const payments = foldPayments(entries);
    for (const p of payments) printJsonLine("payment", p);
    printJsonLine("wallet-history", {
      payments: payments.length,
      books: booksJson(summarizePayments(entries)),
    });
    return;
  }
  if (opts.output === "csv") {
    const columns = [
      "ts",
      "direction",
      "event",
      "category",
      "jobId",
      "invoiceId",
      "amount",
      "asset",
      "scale",
      "peer",
    ] as const;
    console.log(csvRow(columns));
    for (const e of entries) console.log(csvRow(columns.map((c) => e[c])));
    // The total at the end: one row per asset and direction, event "total".
    for (const b of summarizePayments(entries)) {
      for (const [direction, sum] of [["out", b.spent.total], ["in", b.earned.total]] as const) {
        const row = { direction, event: "total", amount: String(sum), asset: b.asset };
        console.log(
          csvRow(
            columns.map((c) => c === "scale" ? b.scale : (row as Record<string, string>)[c] ?? ""),
          ),
        );
      }
    }
    return;
  }
  // A payment's peer and asset are what the town or the provider said.
  for (const e of entries) {
    console.log(terminalText(
      `${e.ts}  ${e.direction === "out" ? "paid  " : "earned"} ${e.event.padEnd(9)} ` +
        `${e.category.padEnd(10)} ${formatRecordedAmount(e.amount, e)}  job ${
          e.jobId.slice(0, 16)
        }  ${e.peer.slice(0, 24)}` +
        // A provider invoice's parts (docs/AGENTS.md "What a job cost").
        (e.parts === undefined
          ? ""
          : `  (price ${e.parts.price} + writes ${e.parts.writes} + blobs ${e.parts.blobs})`),
    ));
  }
  for (const line of booksText(summarizePayments(entries))) console.log(terminalText(line));
}
