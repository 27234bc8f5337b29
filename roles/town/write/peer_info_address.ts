/**
 * A kind 10032 (protocol/peer_info.ts) names the ILP address payers pay its author at, and a
 * requester pays a provider's invoice only under that address (protocol/invoice_destination.ts).
 * Under the town's own prefix the town knows whose each address is: a BTP account `a` is
 * `<town>.<a>` (its IL-DCP answer, btp/btp_router.ts). So a peer may announce its own address,
 * or one outside the town, never the town's or another peer's: else a provider announces a
 * rival's address and payers pay the rival, or an accomplice's, or an address that routes back
 * into the town (docs/PROTOCOL.md, "Paying a provider: the ILP invoice").
 *
 * @module
 */
import { ILP_ERROR } from "../../../protocol/ilp_packet.ts";
import { PEER_INFO_KIND } from "../../../protocol/peer_info.ts";
import { isUnderIlpAddress } from "../../../protocol/invoice_destination.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { TownWriteRejection } from "./write_rejection.ts";

/** Options for {@linkcode checkPeerInfoAddress}. */
export interface PeerInfoAddressOptions {
  /** The town's ILP address now. */
  townAddress: string;
  /** The BTP account the write came from (absent: the town's parent, no address of the town's). */
  from?: string;
}

/** The `ilpAddress` a kind 10032's content names, when it parses as one (else none to check). */
function announcedAddress(content: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(content);
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const address = (parsed as { ilpAddress?: unknown }).ilpAddress;
    return typeof address === "string" ? address : undefined;
  } catch {
    // Not JSON: no payer takes it as an address (parsePeerInfo refuses it), nothing to guard.
    return undefined;
  }
}

/**
 * Throws the F06 REJECT `blocked: ...` when `event` is a kind 10032 announcing an address under
 * the town's prefix that is not the writer's own (`<town>.<from>` or under it); any other event
 * passes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkPeerInfoAddress } from "./peer_info_address.ts";
 * import type { NostrEvent } from "../../../protocol/nostr_event.ts";
 *
 * const peerInfo = (ilpAddress: string) =>
 *   ({ kind: 10032, content: JSON.stringify({ ilpAddress }) }) as NostrEvent;
 * const options = { townAddress: "g.town", from: "mallory" };
 * checkPeerInfoAddress(peerInfo("g.town.mallory"), options);
 * checkPeerInfoAddress(peerInfo("g.elsewhere.mallory"), options);
 * assert.throws(() => checkPeerInfoAddress(peerInfo("g.town.bob"), options), /blocked/);
 * ```
 */
export function checkPeerInfoAddress(event: NostrEvent, options: PeerInfoAddressOptions): void {
  if (event.kind !== PEER_INFO_KIND) return;
  const address = announcedAddress(event.content);
  const town = options.townAddress;
  if (address === undefined || !isUnderIlpAddress(address, town)) return;
  const own = options.from === undefined ? undefined : `${town}.${options.from}`;
  if (own !== undefined && isUnderIlpAddress(address, own)) return;
  const whose = address === town ? "the town's own" : "another peer's";
  throw new TownWriteRejection(
    ILP_ERROR.unexpectedPayment,
    `blocked: kind 10032 announces ILP address ${address}, ${whose} at this town; ` +
      (own === undefined
        ? "a write from outside the town announces no address under it"
        : `the writer's own is ${own}`),
  );
}
