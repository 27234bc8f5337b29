/**
 * `turnpike dm list` and `turnpike dm read <id>`: the private messages addressed to this node,
 * read from the town's relay and opened with the profile's own key (roles/direct_messages.ts).
 * `list` prints one line per message (id, time, sender, first line); `read` one message in full.
 * Refused wraps (forged, undecryptable) are counted on stderr, never shown as messages.
 *
 * @module
 */
import type { Command } from "commander";
import { nip19 } from "nostr-tools";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { loadRequesterConfig, type RequesterCliOptions } from "./job_read_command.ts";
import { loadNodeSigner } from "./node_identity.ts";
import { type DirectMessages, readDirectMessages } from "../roles/direct_messages.ts";
import { RelayQueryError } from "../transport/relay_query.ts";
import { printJsonLine } from "./json_line.ts";
import { terminalText } from "./terminal_text.ts";

interface DmReadOptions extends RequesterCliOptions {
  since?: string;
  limit?: string;
}

/**
 * Adds `list` and `read` to `turnpike dm`.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 *
 * const program = new Command("turnpike");
 * registerDmRead(program.command("dm"));
 * ```
 */
export function registerDmRead(dm: Command): void {
  const flags = (c: Command) =>
    c.option("--relay-url <url>", "the town's NIP-01 URL (default ws://127.0.0.1:7100)")
      .option("--since <time>", "only messages stored since (unix seconds or ISO 8601)")
      .option("--limit <n>", "read at most this many (default 100)", "100")
      .option("--allow-insecure", "allow a non-loopback ws:// URL")
      .option("--passphrase-file <file>", "read the wallet passphrase from this file")
      .option("--passphrase-fd <n>", "read the wallet passphrase from this file descriptor")
      .option("--non-interactive", "never prompt");
  flags(dm.command("list").description("the private messages addressed to this node"))
    .action(async (_o: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<DmReadOptions>();
      const read = await fetchMessages(opts, cmd);
      if (opts.output === "json") {
        printJsonLine("dm-list", { type: "dm-list", ...read });
        return;
      }
      if (read.messages.length === 0) console.log("no messages");
      for (const m of read.messages) {
        const first = m.text.split("\n", 1)[0];
        console.log(
          `${m.id.slice(0, 12)}  ${isoOf(m.createdAt)}  from ${shortNpub(m.sender)}  ` +
            terminalText(first.length > 60 ? `${first.slice(0, 60)}…` : first),
        );
      }
      reportRefused(read);
    });
  flags(
    dm.command("read <id>").description("one private message in full (id or a unique prefix)"),
  ).action(async (id: string, _o: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<DmReadOptions>();
    if (!/^[0-9a-f]{4,64}$/i.test(id)) {
      throw new CliError(`"${id.slice(0, 70)}" is not a message id (4-64 hex)`, {
        exitCode: ExitCode.Usage,
      });
    }
    const read = await fetchMessages(opts, cmd);
    const matches = read.messages.filter((m) => m.id.startsWith(id.toLowerCase()));
    if (matches.length !== 1) {
      throw new CliError(
        matches.length === 0 ? `no message ${id}` : `${matches.length} messages start with ${id}`,
        {
          code: matches.length === 0 ? "no-result" : "usage",
          exitCode: matches.length === 0 ? ExitCode.Failure : ExitCode.Usage,
          suggestion: "`turnpike dm list` shows their ids",
        },
      );
    }
    const m = matches[0];
    if (opts.output === "json") {
      printJsonLine("dm", { type: "dm", ...m });
      return;
    }
    console.log(`dm       ${m.id}`);
    console.log(`from     ${nip19.npubEncode(m.sender)} (${m.sender})`);
    console.log(`time     ${isoOf(m.createdAt)}`);
    if (m.replyTo !== undefined) console.log(`reply to ${m.replyTo}`);
    console.log("");
    console.log(terminalText(m.text, { multiline: true }));
  });
}

async function fetchMessages(opts: DmReadOptions, cmd: Command): Promise<DirectMessages> {
  const limit = Number(opts.limit ?? "100");
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new CliError(`--limit must be 1-1000, got ${opts.limit}`, { exitCode: ExitCode.Usage });
  }
  const since = opts.since === undefined ? undefined : sinceOf(opts.since);
  const config = await loadRequesterConfig(opts, cmd);
  const signer = await loadNodeSigner({
    ...opts,
    stateDir: config.stateDir,
    who: "the reader of these messages",
  });
  try {
    return await readDirectMessages({ relayUrl: config.relayUrl, signer, since, limit });
  } catch (err) {
    if (!(err instanceof RelayQueryError)) throw err;
    throw new CliError(`cannot read the town's relay: ${err.message}`, {
      context: config.relayUrl,
      code: "town-unreachable",
      cause: err,
    });
  } finally {
    signer.close();
  }
}

function sinceOf(text: string): number {
  const n = /^\d{1,12}$/.test(text) ? Number(text) : Date.parse(text) / 1000;
  if (!Number.isFinite(n)) {
    throw new CliError(`--since ${text} is not unix seconds or an ISO 8601 time`, {
      exitCode: ExitCode.Usage,
    });
  }
  return Math.floor(n);
}

function reportRefused(read: DirectMessages): void {
  for (const r of read.refused) {
    console.error(`refused wrap ${r.id.slice(0, 12)}: ${terminalText(r.detail)}`);
  }
}

function isoOf(unix: number): string {
  return new Date(unix * 1000).toISOString().replace(/\.000Z$/, "Z");
}

function shortNpub(pubkey: string): string {
  const npub = nip19.npubEncode(pubkey);
  return `${npub.slice(0, 12)}…${npub.slice(-6)}`;
}
