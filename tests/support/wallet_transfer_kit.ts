/**
 * Test helper for `wallet send` / `wallet receive`: a CLI wallet on a town process (its own state
 * dir, a wallet made by `wallet init`, the town's connection flags with BTP account `name`), its
 * `wallet receive` started as a process, and its payment log's transfer lines.
 *
 * @module
 */
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { type CliProcess, spawnCli } from "../../harness/cli_process.ts";
import { btpOf, relayOf, townPubkeyOf } from "./town_network_kit.ts";
import type { SharedTownProcess } from "../../harness/shared_town_process.ts";
import { openPaymentLog, type PaymentEntry } from "../../state/payments/payment_log.ts";

/** A CLI wallet on a town. */
export interface CliTransferWallet {
  stateDir: string;
  /** `--state-dir <dir>`. */
  global: string[];
  /** The town's connection flags and the passphrase file, non-interactive. */
  conn: string[];
  /** Starts `wallet receive` (json output) and resolves with its request line. */
  receive(args?: string[]): Promise<{ process: CliProcess; request: string; destination: string }>;
  /** Runs `wallet send <request>` (json output) to its end. */
  send(request: string, args?: string[]): ReturnType<typeof runCli>;
  /** Spawns `wallet send <request>` (json output) without waiting for it. */
  spawnSend(request: string, args?: string[]): CliProcess;
  /** The payment log's `transfer` lines. */
  transfers(): Promise<PaymentEntry[]>;
}

/**
 * Makes a wallet in `<root>/<name>` whose town is `town` (BTP account `name`).
 *
 * @example
 * ```ts
 * import type { SharedTownProcess } from "../../harness/shared_town_process.ts";
 * declare const town: SharedTownProcess;
 * const bob = await cliTransferWallet("/tmp/net", "bob", town);
 * const { request } = await bob.receive(["5000"]);
 * ```
 */
export async function cliTransferWallet(
  root: string,
  name: string,
  town: SharedTownProcess,
): Promise<CliTransferWallet> {
  const stateDir = `${root}/${name}`;
  await Deno.mkdir(stateDir, { recursive: true });
  await Deno.writeTextFile(`${stateDir}/pw`, "correct horse battery staple\n");
  await initWalletWithCli({ stateDir, passphraseFile: `${stateDir}/pw` });
  const global = ["--state-dir", stateDir];
  const conn = [
    "--relay-url",
    relayOf(town),
    "--connector-btp-url",
    btpOf(town, name),
    "--town-pubkey",
    await townPubkeyOf(town),
    "--passphrase-file",
    `${stateDir}/pw`,
    "--non-interactive",
  ];
  const sendArgs = (request: string, args: string[]) => [
    ...global,
    "--output",
    "json",
    "wallet",
    "send",
    request,
    ...args,
    ...conn,
  ];
  return {
    stateDir,
    global,
    conn,
    async receive(args = []) {
      const process = spawnCli([
        ...global,
        "--output",
        "json",
        "wallet",
        "receive",
        ...args,
        ...conn,
      ]);
      const line = JSON.parse(await process.waitForLine((l) => l.includes('"type":"request"')));
      return { process, request: line.request, destination: line.destination };
    },
    send: (request, args = []) => runCli(sendArgs(request, args)),
    spawnSend: (request, args = []) => spawnCli(sendArgs(request, args)),
    async transfers() {
      const log = await openPaymentLog({ stateDir });
      return log.entries().filter((e) => e.category === "transfer");
    },
  };
}
