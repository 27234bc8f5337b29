/**
 * `turnpike dm send <npub|hex> --text ...`: a private message (NIP-17 in a NIP-59 gift wrap,
 * NIP-44 v2) to another node, stored at the town as a paid write. A provider with a skill for
 * kind 1059 (skills/encrypted-dm) unwraps it and acts on it; see docs/SKILLS.md.
 *
 * @module
 */
import type { Command } from "commander";
import { nip19 } from "nostr-tools";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { callRequesterNode } from "./job_command.ts";
import {
  addRequesterConnectionOptions,
  loadRequesterConfig,
  type RequesterCliOptions,
} from "./job_read_command.ts";
import { networkField, printNetworkLine } from "./network_line.ts";
import { MAX_DM_TEXT } from "../protocol/gift_wrap.ts";
import { registerDmRead } from "./dm_read_command.ts";
import { printJsonLine } from "./json_line.ts";

interface DmSendOptions extends RequesterCliOptions {
  text?: string;
  file?: string;
  replyTo?: string;
}

/**
 * Registers `turnpike dm ...`.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerDmCommand(new Command("turnpike"));
 * ```
 */
export function registerDmCommand(program: Command): void {
  const dm = program.command("dm").description("private messages (NIP-17 gift wraps) to a node");
  addRequesterConnectionOptions(
    dm.command("send <recipient>")
      .description("send a private message to an npub or hex pubkey (a paid write)")
      .option("--text <text>", "the message")
      .option("--file <path>", "the message from a file (UTF-8)")
      .option("--reply-to <id>", "the id of the message this answers"),
  ).action(async (recipient: string, _o: unknown, cmd: Command) => {
    await send(recipient, cmd.optsWithGlobals<DmSendOptions>(), cmd);
  });
  registerDmRead(dm);
}

/**
 * A recipient given as npub or 64 hex, as hex; exit 2 otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey, getPublicKey, nip19 } from "nostr-tools";
 * import { recipientHex } from "./dm_command.ts";
 *
 * const pubkey = getPublicKey(generateSecretKey());
 * assert.equal(recipientHex(nip19.npubEncode(pubkey)), pubkey);
 * assert.equal(recipientHex(pubkey), pubkey);
 * ```
 */
export function recipientHex(text: string): string {
  if (/^[0-9a-f]{64}$/i.test(text)) return text.toLowerCase();
  try {
    const decoded = nip19.decode(text);
    if (decoded.type === "npub") return decoded.data;
    if (decoded.type === "nprofile") return decoded.data.pubkey;
  } catch {
    // reported below
  }
  throw new CliError(`"${text.slice(0, 80)}" is not an npub or a hex pubkey`, {
    exitCode: ExitCode.Usage,
    code: "usage",
  });
}

async function messageText(opts: DmSendOptions): Promise<string> {
  if ((opts.text === undefined) === (opts.file === undefined)) {
    throw new CliError("give the message with exactly one of --text or --file", {
      exitCode: ExitCode.Usage,
    });
  }
  const text = opts.text ?? await Deno.readTextFile(opts.file!).catch((err) => {
    throw new CliError(`cannot read ${opts.file}: ${(err as Error).message}`, {
      exitCode: ExitCode.Usage,
    });
  });
  if (text.length === 0 || text.length > MAX_DM_TEXT) {
    throw new CliError(`the message must be 1-${MAX_DM_TEXT} characters, got ${text.length}`, {
      exitCode: ExitCode.Usage,
    });
  }
  return text;
}

async function send(recipientText: string, opts: DmSendOptions, cmd: Command): Promise<void> {
  const recipient = recipientHex(recipientText);
  const text = await messageText(opts);
  if (opts.replyTo !== undefined && !/^[0-9a-f]{64}$/.test(opts.replyTo)) {
    throw new CliError("--reply-to is not an event id (64 hex)", { exitCode: ExitCode.Usage });
  }
  const reply = opts.replyTo === undefined ? {} : { replyTo: opts.replyTo };
  const config = await loadRequesterConfig(opts, cmd);
  printNetworkLine(config.network);
  let id = "";
  const request = { op: "dm" as const, recipient, text, ...reply };
  for await (const line of callRequesterNode(opts, config, cmd, request)) {
    if (line.type === "sent") id = String(line.id);
  }
  {
    if (opts.output === "json") {
      printJsonLine("dm", {
        type: "dm",
        id,
        recipient,
        network: networkField(config.network),
      });
    } else console.log(`dm ${id} sent to ${nip19.npubEncode(recipient)}`);
  }
}
