/**
 * `turnpike receipts [--since <t>] [--counterparty <npub>] [--check]`: the profile's signed
 * receipts of its ended jobs, as requester and as provider (docs/PROTOCOL.md "Receipts and
 * trust"). The command first signs a receipt for every job that ended since the last one (the
 * wallet's passphrase unlocks the key in its signer worker), then prints them: a line each, or
 * NDJSON with `--json` (`{type: "receipt", id, signer, ...receipt}`). `--check` signs nothing: it
 * checks every line's signature and every receipt against the job's record and the payment log,
 * prints what disagrees, and exits 1 when anything does.
 *
 * @module
 */
import type { Command } from "commander";
import { nip19 } from "nostr-tools";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { type GlobalOptions, outputFormat } from "./global_options.ts";
import { existingStateDir } from "./state_dir_flags.ts";
import { loadNodeSigner, type PassphraseFlags } from "./node_identity.ts";
import { parseDurationFlag } from "./duration_flag.ts";
import { recipientHex } from "./dm_command.ts";
import { printJsonLine } from "./json_line.ts";
import { terminalText } from "./terminal_text.ts";
import { readWalletFile, walletFilePath } from "../identity/wallet_file.ts";
import { catchUpReceipts, checkReceipts, readReceipts } from "../roles/receipts/receipt_ledger.ts";
import type { SignedReceipt } from "../protocol/job_receipt.ts";

/** Options of `turnpike receipts`. */
interface ReceiptsFlags extends GlobalOptions, PassphraseFlags {
  since?: string;
  counterparty?: string;
  check?: boolean;
}

/**
 * Adds the passphrase options a command that signs receipts takes.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * import { addReceiptSigningOptions } from "./receipts_command.ts";
 *
 * addReceiptSigningOptions(new Command("trust"));
 * ```
 */
export function addReceiptSigningOptions(cmd: Command): Command {
  return cmd
    .option("--passphrase-file <file>", "read the wallet's passphrase from this file")
    .option("--passphrase-fd <n>", "read the wallet's passphrase from this file descriptor");
}

/**
 * Signs the receipts of the jobs that ended since the last ones, then reads the book: the newest
 * valid receipt per job and side, signed by the profile's key.
 *
 * It unlocks the profile's wallet and signs its receipts, so it has no example that runs here:
 * tests/e2e/receipts_trust_test.ts
 */
export async function signedReceipts(
  stateDir: string,
  flags: PassphraseFlags,
): Promise<SignedReceipt[]> {
  const signer = await loadNodeSigner({ ...flags, stateDir, who: "the profile" });
  try {
    await catchUpReceipts({ stateDir, signer });
    return (await readReceipts(stateDir, signer.pubkey)).receipts;
  } finally {
    signer.close();
  }
}

/**
 * `--since`: a duration back from now (`7d`, `12h`) or a date (`2026-11-01`), as unix ms.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sinceMs } from "./receipts_command.ts";
 *
 * assert.equal(sinceMs("2026-11-01", 0), Date.UTC(2026, 10, 1));
 * assert.equal(sinceMs("1d", 86_400_000), 0);
 * ```
 */
export function sinceMs(text: string, nowMs: number = Date.now()): number {
  if (/^\d+[smhd]?$/.test(text.trim())) return nowMs - parseDurationFlag(text, "--since") * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) {
    throw new CliError(`--since "${text}" is neither a duration nor a date`, {
      context: "e.g. 7d, 12h, 2026-11-01",
      exitCode: ExitCode.Usage,
    });
  }
  return at;
}

/**
 * Adds `receipts` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * import { registerReceiptsCommand } from "./receipts_command.ts";
 *
 * registerReceiptsCommand(new Command("turnpike"));
 * ```
 */
export function registerReceiptsCommand(program: Command): void {
  addReceiptSigningOptions(
    program
      .command("receipts")
      .description("this profile's signed receipts of its ended jobs (--check: against the books)")
      .option("--since <time>", "only jobs ended since: a duration back (7d, 12h) or a date")
      .option("--counterparty <npub>", "only the jobs with this npub (or hex pubkey)")
      .option("--check", "check each receipt against its job's record and the payment log"),
  ).action(async (_opts: ReceiptsFlags, cmd: Command) => {
    const opts = cmd.optsWithGlobals<ReceiptsFlags>();
    const stateDir = await existingStateDir(opts, cmd);
    const json = outputFormat(opts) === "json";
    if (opts.check) return await check(stateDir, json);
    const since = opts.since === undefined ? undefined : sinceMs(opts.since);
    const who = opts.counterparty === undefined ? undefined : recipientHex(opts.counterparty);
    const receipts = (await signedReceipts(stateDir, opts)).filter(({ receipt: r }) =>
      (since === undefined || r.endedAtMs >= since) && (who === undefined || r.counterparty === who)
    );
    for (const s of receipts) {
      if (json) printJsonLine("receipt", { id: s.id, signer: s.signer, ...s.receipt });
      else console.log(terminalText(receiptText(s)));
    }
    if (!json && receipts.length === 0) console.log("no receipts");
  });
}

async function check(stateDir: string, json: boolean): Promise<void> {
  const pubkey = await readWalletFile(walletFilePath(stateDir)).then((w) => w.pubkey, () => {
    return undefined;
  });
  const found = await checkReceipts(stateDir, pubkey);
  if (json) {
    for (const d of found.disagree) printJsonLine("disagree", d);
    for (const b of found.bad) printJsonLine("bad-receipt", b);
    printJsonLine("check", {
      checked: found.checked,
      disagree: found.disagree.length,
      bad: found.bad.length,
      unreceipted: found.unreceipted,
      unverifiable: found.unverifiable,
    });
  } else {
    for (const d of found.disagree) {
      console.log(`disagree  ${d.side} ${d.job}: ${d.fields.join(", ")}`);
    }
    for (const b of found.bad) console.log(`bad       line ${b.index} (${b.id}): ${b.reason}`);
    console.log(
      `checked ${found.checked}: ${found.disagree.length} disagree, ${found.bad.length} bad, ` +
        `${found.unreceipted} not yet receipted, ${found.unverifiable} with no record left`,
    );
  }
  if (found.disagree.length > 0 || found.bad.length > 0) {
    throw new CliError("receipts disagree with the books", { printed: json });
  }
}

function receiptText({ receipt: r }: SignedReceipt): string {
  const what = r.preset === undefined ? r.skill : `${r.skill}/${r.preset}`;
  const verdicts = [
    r.providerVerdict && `provider ${r.providerVerdict}`,
    r.localVerify && `verified ${r.localVerify}`,
    r.protectedChanged && `${r.protectedChanged} protected changed`,
    r.onTime ? undefined : "late",
  ].filter(Boolean).join(", ");
  const paid = `deposit ${r.deposit} delivery ${r.delivery} refunded ${r.refunded} ` +
    `${r.asset ?? ""}`.trim();
  return [
    new Date(r.endedAtMs).toISOString().slice(0, 19) + "Z",
    r.side.padEnd(9),
    r.job.slice(0, 12),
    nip19.npubEncode(r.counterparty).slice(0, 16),
    `${r.kind} ${what}`,
    r.outcome,
    paid,
    verdicts,
  ].filter((s) => s !== "").join("  ");
}
