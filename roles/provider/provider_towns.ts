/**
 * The towns a provider writes to: its home town's client, a client per more town of the profile
 * (`[towns.<name>]`), and the more towns' own uplinks (their `btpUrl`). A town's writes leave by
 * its own uplink first, then the home town's, then the others; each paid write gets its
 * payment-log line, whichever town it paid (roles/town_client/town_clients.ts).
 *
 * @module
 */
import { ILP_ERROR } from "../../protocol/ilp_packet.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { backoffDelay } from "../../protocol/backoff.ts";
import { BtpClient } from "../../transport/btp_client.ts";
import type { PaymentLog } from "../../state/payments/payment_log.ts";
import { townWriteEntry } from "../../state/payments/town_write_entry.ts";
import { TownClient, type TownUplink } from "../town_client/town_client.ts";
import { TownClients } from "../town_client/town_clients.ts";
import { loggedInDoubtWrites } from "../town_client/logged_in_doubt_writes.ts";
import { doubtClaims } from "../../state/payments/doubt_claims.ts";
import type { ProviderNodeOptions, ProviderTown } from "./provider_options.ts";
import type { BackgroundWork } from "./background_work.ts";

/** Options for {@linkcode openProviderTowns}. */
export interface ProviderTownsOptions extends
  Pick<
    ProviderNodeOptions,
    | "stateDir"
    | "relayUrl"
    | "townPubkey"
    | "townAddress"
    | "pricePerByte"
    | "moreTowns"
    | "plainRelays"
  > {
  signer: NodeSigner;
  /** This provider's ILP address (IL-DCP); the home town's address is its parent by default. */
  ilpAddress: string;
  /** The asset of the home town (IL-DCP): the payment log's lines are in it. */
  assetCode: string;
  assetScale: number;
  /** The home town's uplink. */
  home: BtpClient;
  /** The more towns' own uplinks, by relay URL: filled here, closed by the node at stop. */
  uplinks: Map<string, BtpClient>;
  /** Each paid write's line, and the writes in doubt (roles/town_client/logged_in_doubt_writes.ts). */
  payments: Pick<PaymentLog, "append" | "inDoubt">;
  log: (line: string) => void;
  /** Retries run later, unless the node is stopping by then. */
  work: Pick<BackgroundWork, "later" | "stopped">;
}

/**
 * Connects the more towns' own uplinks (one that cannot connect now is tried again with backoff;
 * its town's writes leave by the home town's uplink meanwhile) and makes the towns' clients.
 *
 * It needs a BTP connection to the home town: no example that runs here:
 * tests/e2e/provider_town_uplinks_test.ts.
 */
export async function openProviderTowns(o: ProviderTownsOptions): Promise<TownClients> {
  const homeAddress = o.townAddress ?? o.ilpAddress.split(".").slice(0, -1).join(".");
  // One payment-log line per paid write, whichever town it paid (home or another).
  const recordWrite = (
    w: { event: NostrEvent; amount: bigint; blob?: boolean; jobId?: string },
    townAddress: string,
  ) =>
    o.payments.append(townWriteEntry({
      ts: new Date().toISOString(),
      direction: "out",
      kind: w.blob ? "blob" : "write",
      event: w.event,
      jobId: w.jobId,
      amount: w.amount,
      asset: o.assetCode,
      scale: o.assetScale,
      peer: townAddress,
    }));
  // The writes whose answer was lost, lasting in the log (a restart records them at their retry).
  const claims = doubtClaims(o.stateDir);
  const inDoubtFor = (townAddress: string) =>
    loggedInDoubtWrites({
      payments: o.payments,
      townAddress,
      asset: o.assetCode,
      scale: o.assetScale,
      warn: o.log,
      claims,
    });
  await openUplinks(o);
  const homeBtp = o.home;
  const uplinksFor = (relay: string): TownUplink[] => {
    const own = o.uplinks.get(relay);
    const others = [...o.uplinks.values()].filter((u) => u !== own);
    return own ? [own, homeBtp, ...others] : [homeBtp, ...others];
  };
  return new TownClients({
    home: new TownClient({
      relayUrl: o.relayUrl,
      uplinks: () => uplinksFor(o.relayUrl),
      townAddress: homeAddress,
      townPubkey: o.townPubkey,
      signer: o.signer,
      pricePerByte: o.pricePerByte,
      record: (w) => recordWrite(w, homeAddress),
      inDoubt: inDoubtFor(homeAddress),
    }),
    later: o.moreTowns,
    plain: o.plainRelays,
    uplinksFor,
    signer: o.signer,
    record: (w) => recordWrite(w, w.townAddress),
    inDoubtFor,
  });
}

/**
 * Connects each more town's own uplink (`btpUrl`); one that cannot connect now is tried again
 * with backoff (its town's writes leave by the home town's uplink meanwhile).
 */
async function openUplinks(o: ProviderTownsOptions): Promise<void> {
  const connect = async (town: ProviderTown, attempt: number): Promise<void> => {
    const uplink = new BtpClient({
      url: town.btpUrl!,
      authToken: town.btpToken ?? "",
      reconnect: true,
      // This provider is paid at its home town's address: nothing arrives by this uplink.
      onPrepare: () => ({
        type: "reject",
        code: ILP_ERROR.unreachable,
        triggeredBy: "",
        message: `pay this provider at ${o.ilpAddress}`,
        data: new Uint8Array(),
      }),
    });
    try {
      await uplink.connect();
      if (o.work.stopped) return await uplink.close();
      o.uplinks.set(town.relayUrl, uplink);
    } catch (err) {
      await uplink.close().catch(() => {});
      o.log(
        `uplink to ${town.relayUrl} not connected: ` +
          `${(err as Error).message}; its writes leave by the home town's meanwhile`,
      );
      o.work.later(
        backoffDelay(attempt, { initialMs: 1_000, maxMs: 30_000 }),
        () => connect(town, attempt + 1),
      );
    }
  };
  const own = (o.moreTowns ?? []).filter((t) => t.btpUrl && t.relayUrl !== o.relayUrl);
  await Promise.all(own.map((town) => connect(town, 0)));
}
