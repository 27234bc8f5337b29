/**
 * Who `turnpike channel open` opens a channel to, and on which chain (docs/PROTOCOL.md). In order:
 *
 * 1. `--peer-info <file>`: the peer's kind 10032 (event or content) read offline;
 * 2. `--peer 0x...` or `[channels] peer`: an explicit address, on our preferred chain;
 * 3. otherwise the town itself: its pubkey from NIP-11 `self`, then its newest kind 10032 over
 *    NIP-01 (verified, and by that author only).
 *
 * With peer info, the chain is the first of the intersection of both sides' chains in the order
 * `--chain`, `[channels] prefer`, then ours; the peer address is its settlement address there,
 * and its TokenNetwork/token fill in what our config leaves out (a disagreement is an error:
 * two nodes on different contracts cannot settle). Failures are {@linkcode ChannelPeerError}s
 * carrying a suggestion for the CLI.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import { nip19 } from "nostr-tools";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import {
  negotiateSettlementChain,
  parsePeerInfo,
  PEER_INFO_KIND,
  type PeerInfo,
  PeerInfoError,
} from "../../protocol/peer_info.ts";
import { fetchRelayInfo, RelayInfoError } from "../../transport/relay_info.ts";
import { queryRelay, RelayQueryError } from "../../transport/relay_query.ts";

/** Where the peer came from. */
export type ChannelPeerSource = "flag" | "config" | "file" | "relay";

/** Why no peer could be resolved. */
export type ChannelPeerErrorReason =
  /** No peer given and no town URL to ask. */
  | "no-peer"
  /** The town's relay did not answer (NIP-11 or NIP-01). */
  | "unreachable"
  /** The town does not publish its pubkey (NIP-11 `self`). */
  | "no-pubkey"
  /** The town has no kind 10032. */
  | "no-peer-info"
  /** The only kind 10032 served is not signed by the town. */
  | "wrong-signer"
  /** The relay's answer or the 10032 content is over its limit. */
  | "too-large"
  /** The 10032 (or the file) is malformed. */
  | "bad-peer-info"
  /** The town announces no chain at all. */
  | "no-chains"
  /** No chain in common (or not the `--chain` asked for). */
  | "no-common-chain"
  /** The peer has no settlement address on the chosen chain. */
  | "no-address"
  /** Our config and the peer disagree on the chain's contracts. */
  | "contract-mismatch";

/** No peer could be resolved; `context` and `suggestion` are for the CLI's error lines. */
export class ChannelPeerError extends RoleError {
  override name = "ChannelPeerError";
  reason: ChannelPeerErrorReason;
  context?: string;
  suggestion?: string;
  constructor(
    reason: ChannelPeerErrorReason,
    message: string,
    detail: { context?: string; suggestion?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: detail.cause });
    this.reason = reason;
    this.context = detail.context;
    this.suggestion = detail.suggestion;
  }
}

/** Our own contracts for a chain (config or flags), unvalidated. */
export interface LocalChainContracts {
  tokenNetwork?: string;
  token?: string;
}

/** Options for {@linkcode resolveChannelPeer}. */
export interface ResolveChannelPeerOptions {
  /** Chains we support, in our order (`[channels] chains`). */
  mine: readonly string[];
  /** `--chain`: must be the chain used. */
  chain?: string;
  /** `[channels] prefer`. */
  prefer?: readonly string[];
  /** `--peer`. */
  peerFlag?: string;
  /** `[channels] peer`. */
  peerConfig?: string;
  /** `--peer-info`: a file holding the peer's kind 10032 event, or its content. */
  peerInfoFile?: string;
  /** The town's relay URL (`--town`, or the relay URL setting). */
  townUrl?: string;
  /** Our contracts for a chain. */
  local?: (chain: string) => LocalChainContracts;
  /** Per network step (NIP-11, then REQ to EOSE). Default 5000 ms. */
  timeoutMs?: number;
}

/** The peer to open a channel to. */
export interface ResolvedChannelPeer {
  chain: string;
  peerAddress: string;
  /** Our config's, else the peer's; absent: neither says (the chain config must). */
  tokenNetwork?: string;
  token?: string;
  source: ChannelPeerSource;
  /** Human words for where it came from, e.g. `from kind 10032 on ws://...`. */
  origin: string;
  /** The peer's Nostr pubkey (relay source). */
  peerPubkey?: string;
  /** Its npub, or the address when there is no pubkey. */
  peerLabel: string;
  /** The peer info negotiated with (file or relay source). */
  peerInfo?: PeerInfo;
}

/** Largest relay answer read for the town's 10032 (its content is capped at 64 KiB). */
const MAX_LOOKUP_BYTES = 256 * 1024;

/**
 * Resolves the channel peer and chain.
 *
 * It needs a town that settles on a chain: no example that runs here:
 * tests/unit/identity/channel_peer_resolver_test.ts.
 */
export async function resolveChannelPeer(
  options: ResolveChannelPeerOptions,
): Promise<ResolvedChannelPeer> {
  if (options.peerInfoFile !== undefined) {
    const info = await readPeerInfoFile(options.peerInfoFile);
    return fromPeerInfo(options, info, {
      source: "file",
      origin: `from ${options.peerInfoFile}`,
    });
  }
  const explicit = options.peerFlag ?? options.peerConfig;
  if (explicit !== undefined) {
    const chain = options.chain ??
      negotiateSettlementChain(options.mine, options.mine, options.prefer)[0];
    if (chain === undefined) {
      throw new ChannelPeerError("no-chains", "no settlement chain configured", {
        suggestion: 'set [channels] chains = ["evm:base:31337"] or pass --chain',
      });
    }
    const local = options.local?.(chain) ?? {};
    return {
      chain,
      peerAddress: explicit,
      ...local,
      source: options.peerFlag !== undefined ? "flag" : "config",
      origin: options.peerFlag !== undefined ? "from --peer" : "from [channels] peer",
      peerLabel: explicit,
    };
  }
  if (options.townUrl === undefined) {
    throw new ChannelPeerError("no-peer", "no peer to open a channel to", {
      suggestion: "pass --town <ws url>, --peer 0x... or --peer-info <file>",
    });
  }
  const { pubkey, event } = await lookupTownPeerInfo(options.townUrl, options.timeoutMs);
  const info = peerInfoOf(event, `the kind 10032 of ${options.townUrl}`);
  const npub = nip19.npubEncode(pubkey);
  return {
    ...fromPeerInfo(options, info, {
      source: "relay",
      origin: `from kind 10032 on ${options.townUrl}`,
    }),
    peerPubkey: pubkey,
    peerLabel: npub,
  };
}

/** What {@linkcode lookupTownPeerInfo} found. */
export interface TownPeerInfoLookup {
  pubkey: string;
  event: NostrEvent;
}

/**
 * The town's pubkey (NIP-11 `self`) and its newest kind 10032, verified and signed by it.
 *
 * It needs a town: no example that runs here: tests/unit/identity/channel_peer_resolver_test.ts.
 */
export async function lookupTownPeerInfo(
  townUrl: string,
  timeoutMs = 5000,
): Promise<TownPeerInfoLookup> {
  const unreachable = (err: Error) =>
    new ChannelPeerError("unreachable", `cannot read the town's settlement info`, {
      context: `${townUrl}: ${err.message}`,
      suggestion: "check that the town is up and --town / relay_url points at it",
      cause: err,
    });
  let self: unknown;
  try {
    self = (await fetchRelayInfo(townUrl, { timeoutMs })).self;
  } catch (err) {
    if (!(err instanceof RelayInfoError)) throw err;
    if (err.reason !== "bad-document") throw unreachable(err);
    throw new ChannelPeerError("unreachable", "the town's NIP-11 document is unusable", {
      context: `${townUrl}: ${err.message}`,
      suggestion: "check that --town / relay_url points at a turnpike town",
      cause: err,
    });
  }
  if (typeof self !== "string" || !/^[0-9a-f]{64}$/.test(self)) {
    throw new ChannelPeerError("no-pubkey", "the town does not publish its pubkey", {
      context: `${townUrl}: NIP-11 has no "self"`,
      suggestion: "pass the peer explicitly: --peer 0x... or --peer-info <file>",
    });
  }
  const pubkey = self;
  let result;
  try {
    result = await queryRelay(townUrl, [{ kinds: [PEER_INFO_KIND], authors: [pubkey] }], {
      timeoutMs,
      maxEvents: 10,
      maxBytes: MAX_LOOKUP_BYTES,
    });
  } catch (err) {
    if (!(err instanceof RelayQueryError)) throw err;
    if (err.reason === "too-large") {
      throw new ChannelPeerError("too-large", "the town's kind 10032 answer is too large", {
        context: `${townUrl}: ${err.message}`,
        suggestion: "the town's settlement info is malformed; ask its operator",
        cause: err,
      });
    }
    throw unreachable(err);
  }
  const newest = result.events.reduce<NostrEvent | undefined>(
    (best, e) =>
      !best || e.created_at > best.created_at ||
        (e.created_at === best.created_at && e.id < best.id)
        ? e
        : best,
    undefined,
  );
  if (newest) return { pubkey, event: newest };
  const forged = result.rejected[0];
  if (forged) {
    throw new ChannelPeerError("wrong-signer", "the town's kind 10032 is not signed by the town", {
      context: `${townUrl} served one ${
        forged.reason === "not-matching"
          ? `by ${forged.pubkey?.slice(0, 16) ?? "another key"}...`
          : `failing verification (${forged.reason})`
      }, the town is ${pubkey.slice(0, 16)}...`,
      suggestion: "do not trust this relay's settlement info; pass --peer-info <file> instead",
    });
  }
  throw new ChannelPeerError("no-peer-info", "the town announces no settlement info (kind 10032)", {
    context: townUrl,
    suggestion:
      "the town must run a turnpike version that announces it, or pass --peer 0x... / --peer-info <file>",
  });
}

function peerInfoOf(event: Pick<NostrEvent, "kind" | "content">, what: string): PeerInfo {
  try {
    return parsePeerInfo(event);
  } catch (err) {
    if (!(err instanceof PeerInfoError)) throw err;
    throw new ChannelPeerError(
      err.tooLarge ? "too-large" : "bad-peer-info",
      `${what} is unusable`,
      {
        context: err.message,
        suggestion: "ask the peer's operator to fix its settlement info, or pass --peer 0x...",
        cause: err,
      },
    );
  }
}

async function readPeerInfoFile(path: string): Promise<PeerInfo> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new ChannelPeerError("bad-peer-info", `cannot read --peer-info ${path}`, {
      context: (err as Error).message,
      cause: err,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ChannelPeerError("bad-peer-info", `--peer-info ${path} is not JSON`, {
      suggestion: "give a kind 10032 event or its content as JSON",
    });
  }
  const event = json as Record<string, unknown>;
  return peerInfoOf(
    typeof event?.content === "string"
      ? { kind: Number(event.kind), content: event.content }
      : { kind: PEER_INFO_KIND, content: text },
    `--peer-info ${path}`,
  );
}

function fromPeerInfo(
  options: ResolveChannelPeerOptions,
  info: PeerInfo,
  from: { source: ChannelPeerSource; origin: string },
): ResolvedChannelPeer {
  const theirs = info.supportedChains;
  if (theirs.length === 0) {
    throw new ChannelPeerError("no-chains", "the town settles on no chain", {
      context: `peer info ${from.origin}`,
      suggestion: "the town's operator must list its chains in [channels] chains of its " +
        "config.toml and restart the town; for a local chain `turnpike chain up --config " +
        "<town state dir>` writes it (a town made with `turnpike init --role town`)",
    });
  }
  const preference = [...(options.chain ? [options.chain] : []), ...(options.prefer ?? [])];
  const common = negotiateSettlementChain(options.mine, theirs, preference);
  const sides = `ours: ${options.mine.join(", ") || "none"}; theirs: ${theirs.join(", ")}`;
  if (common.length === 0) {
    throw new ChannelPeerError("no-common-chain", "no settlement chain in common with the peer", {
      context: sides,
      suggestion: 'add one of their chains to [channels] chains (with its [chains."<id>"])',
    });
  }
  const chain = common[0];
  if (options.chain !== undefined && chain !== options.chain) {
    throw new ChannelPeerError("no-common-chain", `the peer cannot settle on ${options.chain}`, {
      context: sides,
      suggestion: `pick one of: ${common.join(", ")}`,
    });
  }
  const peerAddress = options.peerFlag ?? info.settlementAddresses[chain];
  if (peerAddress === undefined) {
    throw new ChannelPeerError("no-address", `the peer has no settlement address on ${chain}`, {
      context: from.origin,
      suggestion: "pass --peer 0x...",
    });
  }
  const local = options.local?.(chain) ?? {};
  return {
    chain,
    peerAddress,
    tokenNetwork: pickContract(chain, "token network", local.tokenNetwork, info.tokenNetworks),
    token: pickContract(chain, "token", local.token, info.preferredTokens),
    ...from,
    peerLabel: peerAddress,
    peerInfo: info,
  };
}

function pickContract(
  chain: string,
  what: string,
  mine: string | undefined,
  theirs: Record<string, string>,
): string | undefined {
  const their = theirs[chain];
  if (mine === undefined || their === undefined) return mine ?? their;
  if (mine.toLowerCase() !== their.toLowerCase()) {
    throw new ChannelPeerError("contract-mismatch", `the peer uses another ${what} on ${chain}`, {
      context: `ours: ${mine}; the peer's: ${their}`,
      suggestion: `remove [chains."${chain}"] ${
        what === "token" ? "token" : "token_network"
      } (or the flag) to use the peer's, or fix it`,
    });
  }
  return mine;
}

/**
 * The BTP URL a town announces in its kind 10032 (read from its NIP-01 URL).
 *
 * It needs a town: no example that runs here: tests/unit/identity/channel_peer_resolver_test.ts
 * (the town's 10032, as resolveChannelPeer reads it).
 * @throws {ChannelPeerError} `bad-peer-info` when the town's kind 10032 is unusable.
 */
export async function announcedBtpUrl(townUrl: string): Promise<string> {
  const { event } = await lookupTownPeerInfo(townUrl);
  try {
    return parsePeerInfo(event).btpEndpoint;
  } catch (err) {
    if (!(err instanceof PeerInfoError)) throw err;
    throw new ChannelPeerError("bad-peer-info", "the town's kind 10032 is unusable", {
      context: err.message,
      cause: err,
    });
  }
}
