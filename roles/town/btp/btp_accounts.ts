/**
 * The BTP peer accounts of the town's server: who may connect, under which account name (the
 * last segment of the child address `<town>.<account>` it learns by IL-DCP) and with which
 * limits. Peers are matched by their `auth_token` (ilp-plugin-btp clients usually send an empty
 * `auth_username`), compared in constant time.
 *
 * Dev mode (`acceptAnyToken`, off by default) accepts any token and names the account after the
 * auth username (or `anon-<n>` without one): for demos on one machine, never for a real town.
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";
import { type BtpPeerAccountConfig, isAccountName } from "../../../config/town_peers.ts";

/** An authenticated peer's account. */
export interface BtpPeerAccount {
  account: string;
  maxPacketAmount: bigint;
}

/** Options for {@linkcode BtpAccounts}. */
export interface BtpAccountsOptions {
  peers: readonly BtpPeerAccountConfig[];
  /** Dev mode: accept any token. Default false. */
  acceptAnyToken?: boolean;
  /** Default per-peer max packet amount. Default 2^64-1 (no limit). */
  defaultMaxPacketAmount?: bigint;
}

/** A peer account configuration that cannot be used. */
export class BtpAccountConfigError extends RoleError {
  override name = "BtpAccountConfigError";
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * Authenticates BTP peers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BtpAccounts } from "./btp_accounts.ts";
 *
 * const accounts = new BtpAccounts({ peers: [{ account: "alice", token: "s3cret" }] });
 * assert.equal(accounts.authenticate("", "s3cret")?.account, "alice");
 * assert.equal(accounts.authenticate("", "wrong"), undefined);
 * ```
 */
export class BtpAccounts {
  readonly #peers: { account: string; token: Uint8Array; maxPacketAmount: bigint }[];
  readonly #acceptAny: boolean;
  readonly #defaultMax: bigint;
  #anon = 0;

  constructor(options: BtpAccountsOptions) {
    this.#defaultMax = options.defaultMaxPacketAmount ?? 0xffff_ffff_ffff_ffffn;
    this.#acceptAny = options.acceptAnyToken ?? false;
    const names = new Set<string>();
    const tokens = new Set<string>();
    this.#peers = options.peers.map((p) => {
      if (!isAccountName(p.account)) {
        throw new BtpAccountConfigError(`peer account name "${p.account}" is not usable`);
      }
      if (p.token === "") throw new BtpAccountConfigError(`peer "${p.account}" has no token`);
      if (names.has(p.account)) throw new BtpAccountConfigError(`duplicate peer "${p.account}"`);
      if (tokens.has(p.token)) {
        throw new BtpAccountConfigError(`peer "${p.account}" reuses another peer's token`);
      }
      names.add(p.account);
      tokens.add(p.token);
      return {
        account: p.account,
        token: new TextEncoder().encode(p.token),
        maxPacketAmount: p.maxPacketAmount ?? this.#defaultMax,
      };
    });
  }

  /** Configured account names. */
  get names(): string[] {
    return this.#peers.map((p) => p.account);
  }

  /** The account for these credentials, or undefined when they are refused. */
  authenticate(username: string, token: string): BtpPeerAccount | undefined {
    const got = new TextEncoder().encode(token);
    let found: BtpPeerAccount | undefined;
    // Compare against every peer so the time taken does not tell which token was close.
    for (const p of this.#peers) {
      if (sameBytes(p.token, got) && !found) {
        found = { account: p.account, maxPacketAmount: p.maxPacketAmount };
      }
    }
    if (found || !this.#acceptAny) return found;
    if (username !== "" && !isAccountName(username)) return undefined;
    // A configured account's name with the wrong token is an impostor, not a dev peer.
    if (this.#peers.some((p) => p.account === username)) return undefined;
    return {
      account: username !== "" ? username : `anon-${++this.#anon}`,
      maxPacketAmount: this.#defaultMax,
    };
  }
}
