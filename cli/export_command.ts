/**
 * `turnpike export`: the payment log (`payment_log.jsonl`, its chunks and rotated days, 30 kept) as
 * CSV (the default) or JSON, for accounting and scripts. One row per log line: an outgoing payment
 * has an `intent` line, then its outcome (`fulfilled` with the receipt, or `rejected`); incoming
 * payments (a provider's earnings, rows of its job index: `state/jobs/provider_job_store.ts`) have
 * `direction` `in`.
 *
 * @module
 */
import type { Command } from "commander";
import { paymentsCsv, paymentsJson } from "../state/payments/payment_export.ts";
import { openPaymentLog } from "../state/payments/payment_log.ts";
import type { GlobalOptions } from "./global_options.ts";
import { existingStateDir } from "./state_dir_flags.ts";
import { escapeJsonControls } from "./json_line.ts";

/** Options of `turnpike export`. */
interface ExportOptions extends GlobalOptions {
  out?: string;
}

/**
 * Adds `export` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerExportCommand(new Command("turnpike"));
 * ```
 */
export function registerExportCommand(program: Command): void {
  program
    .command("export")
    .description("export the payment log as CSV (default) or JSON (--output json)")
    .option("--out <file>", "write to this file (mode 0600) instead of stdout")
    .action(async (_opts: ExportOptions, cmd: Command) => {
      const opts = cmd.optsWithGlobals<ExportOptions>();
      const log = await openPaymentLog({ stateDir: await existingStateDir(opts, cmd) });
      // The log holds towns' and providers' words (peers, asset codes): no raw controls out.
      const entries = log.entries();
      const text = opts.output === "json"
        ? escapeJsonControls(paymentsJson(entries))
        : paymentsCsv(entries);
      if (opts.out === undefined) await Deno.stdout.write(new TextEncoder().encode(text));
      else await Deno.writeTextFile(opts.out, text, { mode: 0o600 });
    });
}
