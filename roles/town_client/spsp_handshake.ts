/**
 * The sender's side of the town's write protocol (docs/PROTOCOL.md), for the town client
 * (`town_client.ts`), tests and benches:
 *
 * 1. {@linkcode requestSpspOverIlp}: a signed kind 23194 request (NIP-44 to the town) as TOON in
 *    a free PREPARE (amount 0, the peer-protocol condition, i.e. SHA-256 of 32 zero bytes) to the
 *    town's address; the FULFILL (or an F99 REJECT) data is the town's signed kind 23195 response.
 * 2. {@linkcode buildPaidWrite}: the PREPARE for one event, made by the sending pipeline's stage
 *    functions (`stages/toon_encoder.ts`, then `stages/ilp_prepare_sink.ts`'s `paidPrepareOf`):
 *    TOON bytes as data, amount = price, condition from the shared secret, destination
 *    `<town>.relay.<tag>` from the response.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import { ILP_ERROR } from "../../protocol/ilp_packet.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { IlpPrepare } from "../../protocol/ilp_packet.ts";
import { PEER_PROTOCOL_CONDITION } from "../../protocol/ildcp.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import {
  buildSpspRequest,
  parseSpspResponse,
  SPSP_RESPONSE_KIND,
  type SpspResponse,
} from "../../protocol/spsp_message.ts";
import { decodeEventToon, encodeEventToon } from "../../protocol/toon_codec.ts";
import { encodeEventChunk } from "../../stages/toon_encoder.ts";
import { paidPrepareOf, type PrepareSender } from "../../stages/ilp_prepare_sink.ts";

export type { PrepareSender };

/** Options for {@linkcode requestSpspOverIlp}. */
export interface SpspOverIlpOptions {
  sender: PrepareSender;
  /** The town's ILP address. */
  townAddress: string;
  /** The town's Nostr pubkey (hex). */
  townPubkey: string;
  /** The requester's key. */
  signer: NodeSigner;
  /** Default 30 s. */
  expiryMs?: number;
}

/** The SPSP handshake over ILP failed. */
export class SpspOverIlpError extends RoleError {
  override name = "SpspOverIlpError";
  /**
   * The ILP reject code, when the town (or a connector) rejected the request, else
   * `spsp-over-ilp` (docs/ARCHITECTURE.md "Errors").
   */
  override readonly code: string;
  constructor(message: string, options: { code?: string } = {}) {
    super(message);
    this.code = options.code ?? "spsp-over-ilp";
  }
}

/**
 * Asks the town for a destination and shared secret.
 *
 * @example Of a town started here (in-process, port 0, a temporary state directory)
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey } from "nostr-tools";
 * import { requestSpspOverIlp } from "./spsp_handshake.ts";
 * import { startTownNode } from "../town/town_node.ts";
 * import { localNodeSigner } from "../../identity/local_node_signer.ts";
 * import { BtpClient } from "../../transport/btp_client.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const town = await startTownNode({
 *   config: { host: "127.0.0.1", httpPort: 0, btpPort: 0, stateDir, network: "local",
 *     ilpAddress: "test.town", peers: [], acceptAnyToken: true, pricing: { pricePerByte: 10n },
 *     maxEventBytes: 65_536, assetCode: "USD", assetScale: 6 },
 *   secretKey: generateSecretKey(),
 *   databasePath: ":memory:",
 * });
 * const btp = new BtpClient({ url: `btp+ws://127.0.0.1:${town.btpPort}`, authToken: "t",
 *   reconnect: false });
 * await btp.connect();
 * const grant = await requestSpspOverIlp({ sender: btp, townAddress: town.ilpAddress,
 *   townPubkey: town.pubkey, signer: localNodeSigner(generateSecretKey()) });
 * assert(grant.destinationAccount.startsWith("test.town."));
 * assert.equal(grant.sharedSecret.length, 32);
 * await btp.close();
 * await town.stop();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function requestSpspOverIlp(options: SpspOverIlpOptions): Promise<SpspResponse> {
  const request = await options.signer.signEvent(
    await buildSpspRequest({
      signer: options.signer,
      receiverPubkey: options.townPubkey,
      requestId: crypto.randomUUID(),
    }),
  );
  const reply = await options.sender.sendPrepare({
    amount: "0",
    destination: options.townAddress,
    executionCondition: PEER_PROTOCOL_CONDITION,
    expiresAt: new Date(Date.now() + (options.expiryMs ?? 30_000)),
    data: new TextEncoder().encode(encodeEventToon(request)),
  });
  if (reply.type === "reject" && reply.code !== ILP_ERROR.finalApplicationError) {
    throw new SpspOverIlpError(`SPSP request rejected: ${reply.code} ${reply.message}`, {
      code: reply.code,
    });
  }
  let response: NostrEvent;
  try {
    response = decodeEventToon(new TextDecoder().decode(reply.data));
  } catch (err) {
    throw new SpspOverIlpError(`SPSP answer is not a signed event: ${(err as Error).message}`);
  }
  if (response.kind !== SPSP_RESPONSE_KIND || response.pubkey !== options.townPubkey) {
    throw new SpspOverIlpError("SPSP answer is not a 23195 signed by the town");
  }
  return await parseSpspResponse(response, options.signer);
}

/** Options for {@linkcode buildPaidWrite}. */
export interface PaidWriteOptions {
  event: NostrEvent;
  grant: Pick<SpspResponse, "destinationAccount" | "sharedSecret">;
  pricePerByte: bigint;
  /** Default 30 s. */
  expiryMs?: number;
  /** Overrides the amount (tests of underpayment). */
  amount?: bigint;
}

/**
 * The PREPARE that pays the town to store `event`, and the fulfillment to expect.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools";
 * import { sha256 } from "@noble/hashes/sha2.js";
 * import { buildPaidWrite } from "./spsp_handshake.ts";
 * import { encodeEventToon } from "../../protocol/toon_codec.ts";
 *
 * const event = finalizeEvent({ kind: 1, created_at: 1, tags: [], content: "hi" }, generateSecretKey());
 * const grant = { destinationAccount: "test.town.abc", sharedSecret: generateSecretKey() };
 * const { prepare, fulfillment } = await buildPaidWrite({ event, grant, pricePerByte: 10n });
 * const bytes = new TextEncoder().encode(encodeEventToon(event)).byteLength;
 * assert.equal(prepare.amount, String(10 * bytes));
 * assert.equal(prepare.destination, "test.town.abc");
 * assert.deepEqual(prepare.executionCondition, sha256(fulfillment));
 * ```
 */
export async function buildPaidWrite(
  options: PaidWriteOptions,
): Promise<{ prepare: IlpPrepare; fulfillment: Uint8Array }> {
  const { toon } = encodeEventChunk({ type: "event", event: options.event });
  return await paidPrepareOf({
    toon,
    destination: options.grant.destinationAccount,
    pricePerByte: options.pricePerByte,
    key: options.grant.sharedSecret,
    amount: options.amount,
    expiryMs: options.expiryMs,
  });
}
