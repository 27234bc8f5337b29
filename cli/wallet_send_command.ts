/**
 * `turnpike wallet send <request> [amount]`: pays another wallet's request (what its `wallet
 * receive` printed) through the profile's town, with the spend policy and the payment log's
 * exactly-once recording of a job payment (roles/requester/wallet_transfer.ts). `--max` refuses
 * a larger amount before anything is unlocked; with a terminal attached (and not
 * `--non-interactive`) the payment is confirmed first. Run again after a crash or a lost answer,
 * it pays the same request at most once.
 *
 * @module
 */
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { addRequesterConnectionOptions, type RequesterCliOptions } from "./job_read_command.ts";
import { printJsonLine } from "./json_line.ts";
import { terminalText } from "./terminal_text.ts";
import { lazyImport } from "./lazy_import.ts";
import { formatAssetAmount } from "../protocol/asset_amount.ts";
import { parseTransferRequest, type TransferRequest } from "../protocol/transfer_request.ts";

interface SendOptions extends RequesterCliOptions {
  max?: string;
  yes?: boolean;
}

const UINT64 = /^(0|[1-9][0-9]{0,19})$/;
const NPUB = /^npub1[02-9ac-hj-np-z]+$/;

/**
 * Adds `wallet send` to the `wallet` command.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerWalletSend(new Command("turnpike").command("wallet"));
 * ```
 */
export function registerWalletSend(wallet: Command): void {
  addRequesterConnectionOptions(
    wallet.command("send <request> [amount]")
      .description(
        "pay another wallet's request (what its `wallet receive` printed) through the town",
      )
      .option("--max <amount>", "refuse to pay more than this (base units)")
      .option("--yes", "do not ask for a confirmation on a terminal"),
  ).action(async (requestText: string, amountText: string | undefined, _o, cmd: Command) => {
    await walletSend(requestText, amountText, cmd.optsWithGlobals<SendOptions>(), cmd);
  });
}

async function walletSend(
  requestText: string,
  amountText: string | undefined,
  opts: SendOptions,
  cmd: Command,
): Promise<void> {
  const json = opts.output === "json";
  const request = readRequest(requestText);
  const amount = amountOf(request, amountText);
  const max = opts.max === undefined ? undefined : uint(opts.max, "--max");
  const shown = formatAssetAmount(amount, request);
  if (max !== undefined && amount > max) {
    throw new CliError(`transfer refused: ${amount} is over --max ${max}`, {
      code: "payment-refused",
      suggestion: "nothing was paid; raise --max to pay it",
      fields: { amount: String(amount), max: String(max) },
    });
  }
  const memo = request.memo === undefined ? "" : ` for "${request.memo}"`;
  if (!opts.nonInteractive && !opts.yes && Deno.stdin.isTerminal()) {
    if (!confirm(terminalText(`Pay ${shown} to ${request.destination}${memo}?`))) {
      throw new CliError("not paid: the payment was not confirmed", {
        exitCode: ExitCode.Interrupted,
      });
    }
  }
  const { openWalletLink } = await lazyImport<typeof import("./wallet_link.ts")>(
    new URL("./wallet_link.ts", import.meta.url),
  );
  const { TransferPayer } = await lazyImport<
    typeof import("../roles/requester/wallet_transfer.ts")
  >(new URL("../roles/requester/wallet_transfer.ts", import.meta.url));
  await using link = await openWalletLink(opts, cmd, "wallet send");
  const transfer = request.transferId;
  const payer = new TransferPayer({
    payments: link.payments,
    links: link.links,
    pubkey: link.signer.pubkey,
    spendPolicy: link.config.spendPolicy,
    asset: link.config.asset,
    homeAsset: () => link.links.home,
    max,
    onProgress: (status, detail) =>
      json
        ? printJsonLine("progress", { transfer, status, detail })
        : console.error(terminalText(`${transfer.slice(0, 12)} ${status}  ${detail}`)),
  });
  let outcome;
  try {
    outcome = await payer.pay(request, amount);
  } catch (err) {
    throw sendError(err as Error);
  }
  if (json) {
    printJsonLine("transfer", {
      transfer,
      status: outcome.status,
      amount: String(outcome.amount),
      asset: request.assetCode,
      scale: request.assetScale,
      destination: outcome.destination,
      fulfillment: outcome.fulfillment,
      category: "transfer",
    });
  } else {
    const before = outcome.status === "paid-before" ? " (paid before: not paid again)" : "";
    const paid = formatAssetAmount(outcome.amount, request);
    console.log(terminalText(`paid ${paid} to ${outcome.destination}${memo}${before}`));
    console.log(`receipt ${outcome.fulfillment}`);
  }
}

function readRequest(text: string): TransferRequest {
  if (NPUB.test(text) || /^[0-9a-f]{64}$/.test(text)) {
    throw new CliError("a wallet is paid by its request, not by its npub", {
      exitCode: ExitCode.Usage,
      suggestion: "ask its owner to run `turnpike wallet receive [amount]` and send you the " +
        'request it prints (docs/PROTOCOL.md "Transfers between wallets")',
    });
  }
  try {
    return parseTransferRequest(text.trim());
  } catch (err) {
    throw new CliError((err as Error).message, {
      exitCode: ExitCode.Usage,
      suggestion: "give the request `turnpike wallet receive` printed (ilp:...)",
    });
  }
}

function amountOf(request: TransferRequest, text: string | undefined): bigint {
  const given = text === undefined ? undefined : uint(text, "amount");
  if (request.amount === undefined) {
    if (given === undefined || given === 0n) {
      throw new CliError("the request names no amount: give one (base units)", {
        exitCode: ExitCode.Usage,
      });
    }
    return given;
  }
  if (given !== undefined && given !== request.amount) {
    throw new CliError(`the request asks ${request.amount}, not ${given}`, {
      exitCode: ExitCode.Usage,
      suggestion: "leave the amount out to pay what it asks",
    });
  }
  return request.amount;
}

function uint(text: string, what: string): bigint {
  if (!UINT64.test(text) || BigInt(text) > 0xffff_ffff_ffff_ffffn) {
    throw new CliError(`${what} "${text}" is not a whole number of base units`, {
      exitCode: ExitCode.Usage,
    });
  }
  return BigInt(text);
}

function sendError(err: Error): Error {
  if (err.name === "TransferRefusedError") {
    return new CliError(err.message, {
      code: "payment-refused",
      suggestion: "nothing was paid (the profile's spend policy: max_per_job, daily_cap, " +
        "provider_daily_cap in config.toml, or --max-per-job, --daily-cap)",
      cause: err,
    });
  }
  if (err.name === "TransferRejectedError") {
    return new CliError(err.message, { suggestion: "no money moved", cause: err });
  }
  if (err.name === "TransferInDoubtError") {
    return new CliError(err.message, { cause: err });
  }
  return err;
}
