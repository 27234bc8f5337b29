/**
 * `turnpike wallet receive [amount] [--memo text]`: prints a one-time payment request (a
 * one-time ILP invoice, protocol/transfer_request.ts) another wallet pays with `wallet send`, and
 * waits for the payment on its own link to the profile's town (the profile's node is not
 * running meanwhile: both hold the state dir). The payment is on the payment log before its
 * FULFILL (roles/requester/transfer_receiver.ts). After it, the command stays `--linger` seconds
 * to answer a payer that lost its FULFILL and asks again, then exits; without a payment it ends
 * `timed-out` after `--timeout`.
 *
 * @module
 */
import type { Command } from "commander";
import { nip19 } from "nostr-tools";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { addRequesterConnectionOptions, type RequesterCliOptions } from "./job_read_command.ts";
import { parseDurationFlag } from "./duration_flag.ts";
import { printJsonLine } from "./json_line.ts";
import { terminalText } from "./terminal_text.ts";
import { lazyImport } from "./lazy_import.ts";
import { stopSignal } from "./stop_signal.ts";
import { formatAssetAmount } from "../protocol/asset_amount.ts";
import { formatTransferRequest, MAX_MEMO_LENGTH } from "../protocol/transfer_request.ts";

interface ReceiveOptions extends RequesterCliOptions {
  memo?: string;
  timeout?: string;
  linger?: string;
}

/** How long a request waits for its payment by default, seconds. */
const DEFAULT_TIMEOUT_S = 600;
/** How long the command answers a payer asking again after the payment, by default, seconds. */
const DEFAULT_LINGER_S = 10;

/**
 * Adds `wallet receive` to the `wallet` command.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerWalletReceive(new Command("turnpike").command("wallet"));
 * ```
 */
export function registerWalletReceive(wallet: Command): void {
  addRequesterConnectionOptions(
    wallet.command("receive [amount]")
      .description(
        "print a one-time payment request for `wallet send` and wait for the payment",
      )
      .option("--memo <text>", "a note the payer sees with the request")
      .option("--timeout <duration>", `how long to wait (default ${DEFAULT_TIMEOUT_S}s)`)
      .option(
        "--linger <duration>",
        `after the payment, answer a payer asking again this long (default ${DEFAULT_LINGER_S}s)`,
      ),
  ).action(async (amountText: string | undefined, _o, cmd: Command) => {
    await walletReceive(amountText, cmd.optsWithGlobals<ReceiveOptions>(), cmd);
  });
}

async function walletReceive(
  amountText: string | undefined,
  opts: ReceiveOptions,
  cmd: Command,
): Promise<void> {
  const json = opts.output === "json";
  const amount = amountText === undefined ? undefined : positive(amountText);
  if (opts.memo !== undefined && opts.memo.length > MAX_MEMO_LENGTH) {
    throw new CliError(`--memo is longer than ${MAX_MEMO_LENGTH} characters`, {
      exitCode: ExitCode.Usage,
    });
  }
  const timeoutS = opts.timeout === undefined
    ? DEFAULT_TIMEOUT_S
    : parseDurationFlag(opts.timeout, "--timeout");
  const lingerS = opts.linger === undefined
    ? DEFAULT_LINGER_S
    : parseDurationFlag(opts.linger, "--linger");
  const stopped = stopSignal();
  const { openWalletLink } = await lazyImport<typeof import("./wallet_link.ts")>(
    new URL("./wallet_link.ts", import.meta.url),
  );
  const { TransferReceiver } = await lazyImport<
    typeof import("../roles/requester/transfer_receiver.ts")
  >(new URL("../roles/requester/transfer_receiver.ts", import.meta.url));
  await using link = await openWalletLink(opts, cmd, "wallet receive");
  const home = link.links.home;
  const address = home.btp.ilpAddress;
  if (address === undefined) throw new CliError("the town gave this wallet no ILP address");
  const receiver = await TransferReceiver.create({
    payments: link.payments,
    address,
    amount,
    assetCode: home.assetCode,
    assetScale: home.assetScale,
    expiresAt: new Date(Date.now() + timeoutS * 1000),
    memo: opts.memo,
  });
  link.onPrepare = (prepare) => receiver.onPrepare(prepare);
  const request = formatTransferRequest(receiver.request);
  const transfer = receiver.request.transferId;
  const asked = amount === undefined ? "any amount" : formatAssetAmount(amount, home);
  if (json) {
    printJsonLine("request", {
      request,
      transfer,
      amount: amount === undefined ? null : String(amount),
      asset: home.assetCode,
      scale: home.assetScale,
      destination: receiver.request.destination,
      expires: receiver.request.expiresAt.toISOString(),
      npub: nip19.npubEncode(link.signer.pubkey),
    });
    printJsonLine("progress", { transfer, status: "waiting", detail: `for ${asked}` });
  } else {
    console.log(request);
    console.error(
      `waiting up to ${timeoutS}s for ${asked} (pay it with \`turnpike wallet send <request>\`)`,
    );
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutS * 1000);
  });
  try {
    const first = await Promise.race([receiver.paid, timedOut, stopped]);
    if (first === "timeout") {
      throw new CliError(`no payment within ${timeoutS}s`, {
        code: "timed-out",
        suggestion: "the request has expired: run `wallet receive` again for a new one",
      });
    }
    if (typeof first === "string") {
      throw new CliError(`stopped (${first}) before any payment`, {
        exitCode: ExitCode.Interrupted,
      });
    }
    const got = formatAssetAmount(BigInt(first.amount), home);
    const from = /^[0-9a-f]{64}$/.test(first.peer) ? nip19.npubEncode(first.peer) : first.peer;
    if (json) {
      printJsonLine("transfer", {
        transfer,
        status: "received",
        amount: first.amount,
        asset: first.asset,
        scale: first.scale,
        from,
        fulfillment: first.fulfillment,
        category: "transfer",
      });
    } else {
      console.log(terminalText(`received ${got} from ${from}`));
    }
    // A payer whose FULFILL was lost asks again: it gets the proof for a while.
    clearTimeout(timer);
    await Promise.race([
      stopped,
      new Promise((resolve) => timer = setTimeout(resolve, lingerS * 1000)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function positive(text: string): bigint {
  if (!/^[1-9][0-9]{0,19}$/.test(text) || BigInt(text) > 0xffff_ffff_ffff_ffffn) {
    throw new CliError(`amount "${text}" is not a positive whole number of base units`, {
      exitCode: ExitCode.Usage,
    });
  }
  return BigInt(text);
}
