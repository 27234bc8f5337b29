/**
 * Test helper: a requester's town client (roles/town_client/town_client.ts) writing over a
 * claim payer's BTP connection (harness/channel_town.ts), whose wait for each answer the test
 * sets: a short patience gives up on a write the town still stores, as a requester whose answer
 * was lost does.
 *
 * @module
 */
import { generateSecretKey } from "nostr-tools/pure";
import { TownClient, type TownClientOptions } from "../roles/town_client/town_client.ts";
import { localNodeSigner } from "../identity/local_node_signer.ts";
import type { ClaimClient, ClaimTownContact } from "./channel_town.ts";

/** A town client over a claim payer, and the patience of its next writes. */
export interface PatientTownWriter {
  writer: TownClient;
  /** How long the next writes wait for their answer; undefined: the connection's own wait. */
  patience(ms: number | undefined): void;
}

/**
 * A town client writing to `contact` over `payer`'s connection (its state followed), under a
 * throwaway Nostr key, recording with `options.record` and holding `options.inDoubt`.
 *
 * It needs a town and a payment channel, so it has no example that runs here:
 * tests/e2e/channel_lost_answer_log_test.ts.
 */
export function patientTownWriter(
  payer: ClaimClient,
  contact: ClaimTownContact,
  options: Pick<TownClientOptions, "record" | "inDoubt">,
): PatientTownWriter {
  let patienceMs: number | undefined;
  const writer = new TownClient({
    relayUrl: "ws://town.test",
    townAddress: contact.townAddress,
    townPubkey: contact.townPubkey,
    signer: localNodeSigner(generateSecretKey()),
    uplinks: [{
      get state() {
        return payer.client.state;
      },
      sendPrepare: (prepare, sendOptions) =>
        payer.client.sendPrepare(prepare, { ...sendOptions, timeoutMs: patienceMs }),
    }],
    ...options,
  });
  return { writer, patience: (ms) => patienceMs = ms };
}
