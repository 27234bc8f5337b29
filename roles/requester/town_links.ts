/**
 * The requester's links to every town of its profile (docs/ARCHITECTURE.md, "Several towns"):
 * the first is its home town (announcements, blobs, the asset), the others are more towns its
 * jobs are posted on and its payments can leave by. A request is written to each linked town
 * (paid at each) and counts as sent once one town stored it; a payment leaves by the first link
 * whose BTP connection is open, the home town's first, so a dead town does not stop it.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import { connectTownLink, type TownLink, type TownLinkOptions } from "./town_link.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import type { IlpPrepare, IlpReply } from "../../protocol/ilp_packet.ts";
import type { TownEndpoint } from "../../config/town_list.ts";
import type { RequesterTownSettings } from "../../config/requester_settings.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { AuditLog } from "../../state/audit/audit_log.ts";
import type { PaymentLog } from "../../state/payments/payment_log.ts";
import { townWriteEntry } from "../../state/payments/town_write_entry.ts";
import { TownClients } from "../town_client/town_clients.ts";
import { loggedInDoubtWrites } from "../town_client/logged_in_doubt_writes.ts";
import { doubtClaims } from "../../state/payments/doubt_claims.ts";
import { mayHaveArrived } from "../../transport/btp_unanswered.ts";

export type { TownEndpoint };

/** Options for {@linkcode connectTownLinks}. */
export interface TownLinksOptions {
  /** The home town's link options (a channel, an auto channel apply to it alone). */
  home: TownLinkOptions;
  /** More towns, reached with the home options' signer, price ceiling and hooks. */
  more?: TownEndpoint[];
  /** Plain relays (not towns): written to for free, never paid (docs/PROTOCOL.md). */
  plain?: string[];
  /** Told about a town that cannot be reached at the start (it is left out, not fatal). */
  warn?: (line: string) => void;
  /**
   * A payment not answered by its town within this long is also sent by the next open town
   * (default 5 s): a town killed may leave its socket looking open for a while.
   */
  hedgeAfterMs?: number;
}

/**
 * A payment's outcome is unknown: a PREPARE was sent by a town that failed before answering (it
 * may have been fulfilled, its reply lost), and either no other town answered, or the PREPARE
 * sent again by another town was rejected (as a provider rejects a second PREPARE for an invoice
 * already paid). Never pay it again; the provider's receipt, or its result, tells.
 */
export class PaymentInDoubtError extends RoleError {
  override name = "PaymentInDoubtError";
}

/** The links to the towns of a profile. */
export interface TownLinks {
  /** The home town's link. */
  home: TownLink;
  /** Every link, the home town's first. */
  all: TownLink[];
  /** The towns' relay URLs, the home town's first (a request's `relays` tag). */
  relays: string[];
  /** The plain relays (not towns) of the profile. */
  plainRelays: string[];
  /**
   * Stores `event` on every plain relay, free; resolves with those that stored it once one did
   * (none listed: nothing sent, nothing stored).
   */
  writePlain(event: NostrEvent): Promise<string[]>;
  /**
   * Pays for and stores `event` on every town at once; resolves with the relays that stored it
   * once at least one did.
   */
  writeAll(event: NostrEvent): Promise<string[]>;
  /** The link a payment leaves by: the first whose connection is open, else the home town's. */
  payer(): TownLink;
  /**
   * Sends a payment's PREPARE by {@linkcode payer}; when that link fails under it (its town
   * died: the connection is lost) or has not answered within `hedgeAfterMs`, by the next open
   * link too. The first FULFILL wins; without one, the first reject. Never pays twice: money
   * moves only on a FULFILL, and a provider fulfills an invoice once (a second PREPARE for a paid
   * invoice is rejected).
   */
  sendPayment(prepare: IlpPrepare): Promise<IlpReply>;
  close(): Promise<void>;
}

/**
 * Connects the home town (its failure is the caller's error) and every other town (one that
 * cannot be reached now is warned about and left out).
 *
 * It needs towns: no example that runs here: tests/e2e/town_network_test.ts.
 * @throws {TownUnreachableError} when the home town cannot be reached.
 */
export async function connectTownLinks(options: TownLinksOptions): Promise<TownLinks> {
  const home = await connectTownLink(options.home);
  const linked: { link: TownLink; relayUrl: string }[] = [{
    link: home,
    relayUrl: options.home.relayUrl,
  }];
  const seen = new Set([options.home.relayUrl]);
  const more = (options.more ?? []).filter((t) => !seen.has(t.relayUrl) && seen.add(t.relayUrl));
  const others = await Promise.allSettled(more.map((town) =>
    connectTownLink({
      ...options.home,
      ...town,
      channel: undefined,
      autoChannel: undefined,
      pricePerByte: undefined,
    })
  ));
  others.forEach((outcome, i) => {
    const relayUrl = more[i].relayUrl;
    if (outcome.status === "fulfilled") linked.push({ link: outcome.value, relayUrl });
    else options.warn?.(`town ${relayUrl} left out: ${(outcome.reason as Error).message}`);
  });
  // The paid writes: each town by its own link's client (roles/town_client/town_clients.ts).
  const towns = new TownClients({
    home: home.client,
    clients: linked.slice(1).map((l) => l.link.client),
    uplinksFor: (relay) => [linked.find((l) => l.relayUrl === relay)?.link.btp ?? home.btp],
    signer: options.home.signer,
    plain: options.plain,
  });
  const payer = () => linked.find(({ link }) => link.btp.state === "open")?.link ?? home;
  return {
    home,
    all: linked.map((l) => l.link),
    relays: linked.map((l) => l.relayUrl),
    writeAll: (event) => towns.writeTo(towns.relays, event),
    plainRelays: towns.plainRelays,
    writePlain: async (event) =>
      towns.plainRelays.length === 0 ? [] : await towns.writeTo(towns.plainRelays, event),
    payer,
    sendPayment: (prepare) =>
      sendHedged(prepare, payer(), linked.map((l) => l.link), options.hedgeAfterMs ?? 5_000),
    close: async () => {
      await Promise.allSettled(linked.map(({ link }) => link.close()));
    },
  };
}

/**
 * `prepare` by `first`, then by each other open link when the previous attempt failed or has
 * not answered in `hedgeAfterMs`; resolves with the first FULFILL, else (all answered) the
 * first reject, else throws the first error. A reject after an attempt that failed unanswered
 * throws {@linkcode PaymentInDoubtError} instead: that attempt may have been paid; so does no
 * answer at all when an attempt failed after its PREPARE left (`mayHaveArrived`: a timeout, the
 * socket lost under it), as only an error before sending moved nothing.
 *
 * It needs towns: no example that runs here: tests/unit/roles/requester/town_links_test.ts.
 */
export function sendHedged(
  prepare: IlpPrepare,
  first: TownLink,
  links: TownLink[],
  hedgeAfterMs: number,
): Promise<IlpReply> {
  const rest = links.filter((l) => l !== first);
  return new Promise<IlpReply>((resolve, reject) => {
    const replies: IlpReply[] = [];
    const errors: unknown[] = [];
    let running = 0;
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = () => {
      if (done || running > 0) return;
      // Nothing running: send by the next link if there is one and time is left.
      if (next()) return;
      done = true;
      if (replies.length > 0) settleReject();
      else if (errors.some(mayHaveArrived)) reject(unanswered());
      else reject(errors[0]);
    };
    // No town answered and one failed with the PREPARE on its socket (no answer in time, the
    // socket dropped under it): the provider may have FULFILLed it (transport/btp_unanswered.ts).
    const unanswered = () => {
      const err = errors.find(mayHaveArrived) as Error;
      return new PaymentInDoubtError(
        `no answer to the payment (${err.message}): it may have been paid`,
      );
    };
    const next = (): boolean => {
      clearTimeout(timer);
      if (prepare.expiresAt.getTime() <= Date.now()) return false;
      const link = rest.findIndex((l) => l.btp.state === "open");
      if (link < 0) return false;
      send(rest.splice(link, 1)[0]);
      return true;
    };
    const settleReject = () => {
      if (errors.length === 0) return resolve(replies[0]);
      const first = replies[0];
      reject(
        new PaymentInDoubtError(
          `a town failed under the payment (${(errors[0] as Error).message}) and another ` +
            `answered ${first.type === "reject" ? `${first.code} ${first.message}` : "?"}: ` +
            `the first may have been paid`,
        ),
      );
    };
    const send = (link: TownLink) => {
      running++;
      timer = setTimeout(() => !done && next(), hedgeAfterMs);
      link.send(prepare).then((reply) => {
        if (done) return;
        if (reply.type === "fulfill") {
          done = true;
          clearTimeout(timer);
          return resolve(reply);
        }
        replies.push(reply);
      }, (err) => {
        if (!done) errors.push(err);
      }).finally(() => {
        running--;
        if (!done && replies.length === 0) return finish();
        if (!done && running === 0) {
          done = true;
          clearTimeout(timer);
          settleReject();
        }
      });
    };
    send(first);
  });
}

/** What {@linkcode townLinksOptionsOf} takes besides the settings: the node's key and hooks. */
export interface RequesterTownHooks {
  /** The requester's key: SPSP, the channel's claims. */
  signer: NodeSigner;
  /** Records the channel file updates. */
  audit: AuditLog;
  /** Told about alerts (low channel balance, top-ups, price above the ceiling). */
  alert: NonNullable<TownLinkOptions["alert"]>;
  /**
   * Where each paid write is recorded (`state/payments/town_write_entry.ts`), and its writes in
   * doubt (roles/town_client/logged_in_doubt_writes.ts).
   */
  payments: Pick<PaymentLog, "append" | "inDoubt">;
  /** The home town's link once connected (the asset a write is paid in). */
  home: () => TownLink | undefined;
  /** PREPAREs to this requester (a deposit's refund, roles/requester/job_refunds.ts). */
  onPrepare?: TownLinkOptions["onPrepare"];
}

/**
 * The links' options for a requester's town settings: the home town with its channel (named,
 * or opened automatically by `[channels] auto`), the profile's more towns; each paid write on
 * the payment log.
 *
 * It needs towns: no example that runs here: tests/e2e/town_network_test.ts.
 */
export function townLinksOptionsOf(
  settings: RequesterTownSettings & { priceCeiling?: bigint; warn?: (line: string) => void },
  hooks: RequesterTownHooks,
): TownLinksOptions {
  // Where a channel's files live and how it is watched, named or opened automatically.
  const channelHome = {
    stateDir: settings.stateDir.replace(/\/+$/, ""),
    audit: hooks.audit,
    prepay: settings.channelPrepay,
    chains: settings.chains,
    watchIntervalMs: settings.channelWatchIntervalMs,
    allowMainnet: settings.allowMainnet,
  };
  return {
    warn: settings.warn,
    more: settings.moreTowns,
    plain: settings.plainRelays,
    home: {
      btpUrl: settings.btpUrl,
      btpToken: settings.btpToken,
      relayUrl: settings.relayUrl,
      townPubkey: settings.townPubkey,
      townAddress: settings.townAddress,
      pricePerByte: settings.pricePerByte,
      priceCeiling: settings.priceCeiling,
      acceptPrice: settings.acceptPrice,
      signer: hooks.signer,
      warn: settings.warn,
      alert: hooks.alert,
      onPrepare: hooks.onPrepare,
      recordWrite: ({ event, amount, townAddress }) =>
        hooks.payments.append(townWriteEntry({
          direction: "out",
          kind: "write",
          event,
          amount,
          asset: hooks.home()?.assetCode || "unknown",
          scale: hooks.home()?.assetScale,
          peer: townAddress,
        })),
      inDoubtWrites: ({ townAddress, asset, scale }) =>
        loggedInDoubtWrites({
          payments: hooks.payments,
          townAddress,
          asset: asset || "unknown",
          scale,
          warn: settings.warn,
          claims: doubtClaims(settings.stateDir),
        }),
      channel: settings.channel === undefined
        ? undefined
        : { id: settings.channel, ...channelHome },
      autoChannel: settings.channelPolicy?.auto
        ? {
          policy: settings.channelPolicy,
          channels: settings.channels,
          info: settings.warn,
          ...channelHome,
        }
        : undefined,
    },
  };
}
