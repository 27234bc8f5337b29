/**
 * Delivery of events that are not paid jobs to the skill that names their kind: a private
 * message (kind 1059 gift wrap), or any other kind a skill's manifest lists. Each event goes to
 * its skill at most once (state/jobs/delivery_log.ts, claimed before the run), in the same sandbox as
 * jobs. A gift wrap is unwrapped here, by the node: the skill gets the message and its verified
 * sender as TOON and never the key. What the skill prints on stdout goes back to the sender as a
 * private reply (a paid write of the provider). No payment flow: a sender pays only the town.
 *
 * Strangers can send anything, so deliveries are bounded: a few at a time, a short queue, and a
 * per-sender budget per hour; what does not fit is recorded `refused` with the reason.
 *
 * @module
 */
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { type NodeSigner, NodeSignerError } from "../../../protocol/node_signer.ts";
import {
  encodeMessageToon,
  GIFT_WRAP_KIND,
  GiftWrapError,
  MAX_DM_TEXT,
  unwrapGiftWrap,
  wrapDirectMessage,
} from "../../../protocol/gift_wrap.ts";
import {
  type DeliveryLog,
  type DeliveryRecord,
  openDeliveryLog,
} from "../../../state/jobs/delivery_log.ts";
import type { SkillEntry } from "../skills/skill_catalog.ts";
import type { SkillJob, SkillOutcome } from "../sandbox/skill_sandbox.ts";

/** Options for {@linkcode EventDelivery}. */
export interface EventDeliveryOptions {
  log: DeliveryLog;
  /** The node's key: gift wraps addressed to its pubkey are opened with it. */
  signer: NodeSigner;
  /** Runs a skill in the provider's sandbox. */
  run(job: SkillJob): Promise<SkillOutcome>;
  /** Sends a private reply (a gift wrap, paid by the provider). */
  reply(o: { recipient: string; text: string; replyTo: string }): Promise<void>;
  /** One line per delivery of note. */
  logLine?(line: string): void;
  /** Deliveries running at once (default 2). */
  concurrency?: number;
  /** Deliveries waiting beyond those (default 32). */
  queue?: number;
  /** Deliveries per sender per hour (default 20). */
  perSenderPerHour?: number;
  /** Aborted when the node stops. */
  signal?: AbortSignal;
}

const HOUR_MS = 3_600_000;
/** Senders remembered for the hourly budget; the oldest are forgotten past this. */
const MAX_TRACKED_SENDERS = 10_000;

/** Delivers non-job events to skills; see the module doc. */
export class EventDelivery {
  #o: EventDeliveryOptions;
  #running = 0;
  #waiting: (() => void)[] = [];
  #budget = new Map<string, { windowStart: number; used: number }>();

  constructor(o: EventDeliveryOptions) {
    this.#o = o;
  }

  /**
   * Delivers one event to `skill`: once, bounded, recorded. Resolves with the record (undefined
   * for an event delivered before).
   *
   * It answers on a town: no example that runs here: tests/e2e/encrypted_dm_test.ts.
   */
  async deliver(
    event: NostrEvent,
    toon: string,
    skill: SkillEntry,
  ): Promise<DeliveryRecord | undefined> {
    const base = { eventId: event.id, kind: event.kind, skill: skill.manifest.name };
    if (!await this.#o.log.claim(base)) return undefined;
    let input = toon;
    let sender = event.pubkey;
    let rumorId: string | undefined;
    if (event.kind === GIFT_WRAP_KIND) {
      try {
        const message = await unwrapGiftWrap(event, { signer: this.#o.signer });
        input = encodeMessageToon(message);
        sender = message.sender;
        rumorId = message.rumor.id;
      } catch (err) {
        // The node's own signer failing is not the sender's fault: failed, not refused.
        const status = err instanceof NodeSignerError ? "failed" : "refused";
        const reason = err instanceof GiftWrapError ? err.message : (err as Error).message;
        return this.#end(event.id, { status, reason });
      }
    }
    const over = this.#overBudget(sender);
    if (over !== undefined) return this.#end(event.id, { status: "refused", reason: over, sender });
    if (
      this.#running >= (this.#o.concurrency ?? 2) && this.#waiting.length >= (this.#o.queue ?? 32)
    ) {
      return this.#end(event.id, {
        status: "refused",
        reason: "busy: delivery queue full",
        sender,
      });
    }
    await this.#slot();
    try {
      const outcome = await this.#o.run({
        jobId: `dlv-${event.id}`,
        skillDir: skill.dir,
        manifest: skill.manifest,
        input,
        signal: this.#o.signal,
      });
      if (outcome.status !== "ok") {
        const tail = outcome.stderrTail.trim().split("\n").slice(-3).join(" | ").slice(0, 300);
        return this.#end(event.id, {
          status: "failed",
          reason: `${outcome.reason}${tail ? `: ${tail}` : ""}`,
          sender,
        });
      }
      const text = new TextDecoder().decode(outcome.stdout).slice(0, MAX_DM_TEXT);
      if (rumorId !== undefined && text.trim() !== "") {
        await this.#o.reply({ recipient: sender, text, replyTo: rumorId });
      }
      return this.#end(event.id, { status: "done", sender });
    } catch (err) {
      return this.#end(event.id, { status: "failed", reason: (err as Error).message, sender });
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }

  async #end(
    eventId: string,
    outcome: Parameters<DeliveryLog["finish"]>[1],
  ): Promise<DeliveryRecord> {
    const record = await this.#o.log.finish(eventId, outcome);
    this.#o.logLine?.(
      `deliver ${eventId.slice(0, 12)} kind ${record.kind} to ${record.skill}: ${record.status}` +
        (record.reason ? ` (${record.reason})` : ""),
    );
    return record;
  }

  #slot(): Promise<void> {
    if (this.#running < (this.#o.concurrency ?? 2)) {
      this.#running++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.#waiting.push(() => {
        this.#running++;
        resolve();
      })
    );
  }

  /** Why `sender` may not have another delivery now, or undefined. */
  #overBudget(sender: string): string | undefined {
    const now = Date.now();
    const limit = this.#o.perSenderPerHour ?? 20;
    let b = this.#budget.get(sender);
    if (b === undefined || now - b.windowStart >= HOUR_MS) {
      b = { windowStart: now, used: 0 };
      this.#budget.delete(sender);
      this.#budget.set(sender, b);
      if (this.#budget.size > MAX_TRACKED_SENDERS) {
        this.#budget.delete(this.#budget.keys().next().value!);
      }
    }
    if (b.used >= limit) return `rate-limited: ${limit} deliveries per hour from this sender`;
    b.used++;
    return undefined;
  }
}

/**
 * The delivery of non-job events for a node: its log in `stateDir` recovered first (deliveries
 * cut off by a stop or a crash are reported through `logLine`, never run again); replies are gift
 * wraps written to `town`.
 *
 * It answers on a town: no example that runs here: tests/e2e/encrypted_dm_test.ts.
 */
export async function openEventDelivery(
  o: Omit<EventDeliveryOptions, "log" | "reply"> & {
    stateDir: string;
    town: { write(event: NostrEvent): Promise<void> };
  },
): Promise<EventDelivery> {
  const { stateDir, town, ...options } = o;
  const log = await openDeliveryLog({ stateDir });
  for (const cut of await log.recover()) {
    options.logLine?.(`delivery of ${cut.eventId} to ${cut.skill} was cut off: not run again`);
  }
  return new EventDelivery({
    log,
    ...options,
    reply: async ({ recipient, text, replyTo }) => {
      // Signed by the wrap's one-time key: published as is, never re-signed.
      await town.write(await wrapDirectMessage({ signer: o.signer, recipient, text, replyTo }));
    },
  });
}
