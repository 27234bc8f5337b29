/**
 * `turnpike relay status`: is the town reachable, who is it, what does it charge: its NIP-11
 * document (name, own pubkey, fees, limits), its `/health`, and the time of one NIP-01 round trip
 * (a REQ answered by EOSE).
 *
 * @module
 */
import type { Command } from "commander";
import { loadSettings } from "../config/settings.ts";
import { fetchRelayInfo, relayHttpUrl, RelayInfoError } from "../transport/relay_info.ts";
import { openNip01Client } from "../transport/nip01_client.ts";
import { CLI_ERRORS } from "./cli_error_map.ts";
import { settingsFlagsFrom } from "./settings_flags.ts";
import type { GlobalOptions } from "./global_options.ts";
import { printJsonLine } from "./json_line.ts";
import { TlsTrustError, trustedClient } from "../transport/tls_trust.ts";
import { terminalText } from "./terminal_text.ts";

/** Options of `turnpike relay status`. */
interface RelayStatusOptions extends GlobalOptions {
  relayUrl?: string;
  allowInsecure?: boolean;
  timeout?: string;
}

/** What `relay status` found. */
export interface RelayStatus {
  relayUrl: string;
  name?: string;
  /** The town's own pubkey (NIP-11 `self`). */
  self?: string;
  supportedNips?: number[];
  fees?: unknown;
  limitation?: unknown;
  health?: unknown;
  /** Milliseconds from sending a REQ to its EOSE. */
  roundTripMs: number;
}

/** Options for {@linkcode nip01RoundTrip}. */
export interface RoundTripOptions {
  timeoutMs: number;
}

/**
 * Opens a WebSocket, sends a REQ that matches nothing and times the EOSE (the one-shot mode of
 * `transport/nip01_client.ts`).
 *
 * It needs a relay, so it has no example that runs here: tests/e2e/cli_test.ts
 */
export function nip01RoundTrip(relayUrl: string, options: RoundTripOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    const timer = setTimeout(() => {
      client.close();
      reject(new RelayInfoError(`no EOSE from ${relayUrl} within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    const client = openNip01Client(relayUrl, [{ kinds: [65535], limit: 0 }], {
      subId: "status",
      untilEose: true,
      onOpen: () => sent = performance.now(),
      onEose: () => {
        clearTimeout(timer);
        resolve(performance.now() - sent);
      },
      onEnd: (err) => {
        // A connection closed before EOSE is reported by the timer, as no EOSE.
        if (err === undefined || err.reason === "disconnected") return;
        clearTimeout(timer);
        if (err.reason === "refused") {
          reject(new RelayInfoError(`the relay closed the REQ: ${err.relayMessage}`));
        } else if (err.reason === "bad-url") reject(err.cause);
        else if (err.cause instanceof TlsTrustError) reject(err.cause);
        else reject(new RelayInfoError(`cannot open a WebSocket to ${relayUrl}`));
      },
    });
  });
}

async function readHealth(relayUrl: string, timeoutMs: number): Promise<unknown> {
  const res = await fetch(new URL("/health", relayHttpUrl(relayUrl)), {
    signal: AbortSignal.timeout(timeoutMs),
    ...trustedClient(),
  }).catch(() => undefined);
  if (res === undefined || !res.ok) return undefined;
  return await res.json().catch(() => undefined);
}

/**
 * Asks a relay who it is and how it answers.
 *
 * It needs a relay, so it has no example that runs here: tests/e2e/cli_test.ts
 */
export async function relayStatus(relayUrl: string, timeoutMs: number): Promise<RelayStatus> {
  const info = await fetchRelayInfo(relayUrl, { timeoutMs });
  const [health, roundTripMs] = await Promise.all([
    readHealth(relayUrl, timeoutMs),
    nip01RoundTrip(relayUrl, { timeoutMs }),
  ]);
  return {
    relayUrl,
    name: info.name,
    self: info.self,
    supportedNips: info.supported_nips,
    fees: info.fees,
    limitation: info.limitation,
    health,
    roundTripMs: Math.round(roundTripMs * 100) / 100,
  };
}

/**
 * Adds `relay status` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerRelayCommand(new Command("turnpike"));
 * ```
 */
export function registerRelayCommand(program: Command): void {
  program
    .command("relay")
    .description("the town's relay as this node sees it")
    .command("status")
    .description("NIP-11 document, health and NIP-01 round trip of the town")
    .option("--relay-url <url>", "the town's NIP-01 URL (default from config: ws://127.0.0.1:7100)")
    .option("--allow-insecure", "allow a non-loopback ws:// URL")
    .option("--timeout <ms>", "give up after this long", "5000")
    .action(async (_opts: RelayStatusOptions, cmd: Command) => {
      const opts = cmd.optsWithGlobals<RelayStatusOptions>();
      const loaded = await loadSettings({
        flags: settingsFlagsFrom(opts, cmd, ["relayUrl", "allowInsecure"]),
      });
      const url = loaded.settings.relayUrl;
      let status: RelayStatus;
      try {
        status = await relayStatus(url, Number(opts.timeout ?? 5000));
      } catch (err) {
        throw CLI_ERRORS.relaySilent(err as Error);
      }
      if (opts.output === "json") return printJsonLine("relay-status", status);
      // The NIP-11 document is the town's word: its controls shown as text.
      console.log(
        [
          `relay       ${status.relayUrl} (${status.name ?? "unnamed"})`,
          `pubkey      ${status.self ?? "not published (no NIP-11 self)"}`,
          `round trip  ${status.roundTripMs} ms (REQ -> EOSE)`,
          `health      ${
            status.health === undefined ? "no /health" : JSON.stringify(status.health)
          }`,
          `fees        ${JSON.stringify(status.fees ?? null)}`,
          `nips        ${(status.supportedNips ?? []).join(", ")}`,
        ].map((line) => terminalText(line)).join("\n"),
      );
    });
}
