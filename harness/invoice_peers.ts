/**
 * Peers that pay each other through a town over BTP, each fulfilling the invoices made for it:
 * the credit, trust and payout tests' way to move value between a town's channel-less peers
 * (docs/PROTOCOL.md "Credit without a channel"). An invoice is a fresh 32-byte fulfillment whose
 * condition only these peers know; a PREPARE for any other condition is refused `F02`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256 } from "@noble/hashes/sha2.js";
 * import { invoicePeers } from "./invoice_peers.ts";
 *
 * const peers = invoicePeers();
 * const condition = peers.invoice();
 * assert.equal(condition.length, 32);
 * assert.deepEqual(sha256(peers.fulfillmentOf(condition)!), condition);
 * assert.equal(peers.fulfillmentOf(new Uint8Array(32)), undefined);
 * ```
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { BtpClient } from "../transport/btp_client.ts";
import type { IlpReply } from "../protocol/ilp_packet.ts";

/** Options for {@linkcode invoicePeers}. */
export interface InvoicePeersOptions {
  /** The town's ILP address, which a payee's account extends (default `test.town`). */
  townAddress?: string;
  /** How long a payment's PREPARE lives, ms (default 30,000). */
  expiryMs?: number;
}

/** How one peer logs in to the town's BTP server. */
export interface InvoicePeerLogin {
  /** The town's BTP URL (`btp+ws://...`). */
  url: string;
  /** The peer's BTP auth token. */
  authToken: string;
  /** The peer's account name, when the town asks for one with the token. */
  authUsername?: string;
}

/** Peers that fulfil each other's invoices (see the module doc). */
export interface InvoicePeers {
  /** Connects a peer that fulfils every invoice made here; kept for {@linkcode InvoicePeers.close}. */
  connect(login: InvoicePeerLogin): Promise<BtpClient>;
  /** A new invoice's condition (its fulfillment kept for the payee). */
  invoice(): Uint8Array;
  /** The fulfillment of an invoice made here, or undefined. */
  fulfillmentOf(condition: Uint8Array): Uint8Array | undefined;
  /** Pays `amount` from `from` to the peer whose account is `to`, on a new invoice. */
  pay(from: BtpClient, to: string, amount: bigint): Promise<IlpReply>;
  /** Closes every peer connected since the last close. */
  close(): Promise<void>;
}

/**
 * Peers that fulfil each other's invoices through a town.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { invoicePeers } from "./invoice_peers.ts";
 *
 * const peers = invoicePeers({ townAddress: "test.town" });
 * assert.equal(peers.invoice().length, 32);
 * await peers.close(); // nothing connected yet
 * ```
 */
export function invoicePeers(options: InvoicePeersOptions = {}): InvoicePeers {
  const townAddress = options.townAddress ?? "test.town";
  const expiryMs = options.expiryMs ?? 30_000;
  const secrets = new Map<string, Uint8Array>();
  const links: BtpClient[] = [];
  const fulfillmentOf = (condition: Uint8Array) => secrets.get(condition.join(","));
  const invoice = () => {
    const fulfillment = crypto.getRandomValues(new Uint8Array(32));
    const condition = sha256(fulfillment);
    secrets.set(condition.join(","), fulfillment);
    return condition;
  };
  return {
    invoice,
    fulfillmentOf,
    async connect(login) {
      const client = new BtpClient({
        ...login,
        reconnect: false,
        onPrepare: (p) => {
          const fulfillment = fulfillmentOf(p.executionCondition);
          return fulfillment ? { type: "fulfill", fulfillment, data: new Uint8Array(0) } : {
            type: "reject",
            code: "F02",
            triggeredBy: "",
            message: "no such invoice",
            data: new Uint8Array(0),
          };
        },
      });
      await client.connect();
      links.push(client);
      return client;
    },
    pay(from, to, amount) {
      return from.sendPrepare({
        destination: `${townAddress}.${to}.invoice`,
        amount: String(amount),
        executionCondition: invoice(),
        expiresAt: new Date(Date.now() + expiryMs),
        data: new Uint8Array(0),
      });
    },
    async close() {
      await Promise.all(links.splice(0).map((link) => link.close()));
    },
  };
}
