import { assertEquals } from "../../../../harness/assert.ts";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools";
import {
  type AdmissionContext,
  decideAdmission,
} from "../../../../roles/provider/jobs/job_admission.ts";
import type { EventTemplate, NostrEvent } from "../../../../protocol/nostr_event.ts";

const NOW = 1_800_000_000;
const me = getPublicKey(generateSecretKey());
const alice = generateSecretKey();

function request(template: Partial<EventTemplate> = {}, key = alice): NostrEvent {
  return finalizeEvent({
    kind: 5601,
    created_at: NOW - 1,
    tags: [["i", "x", "text"]],
    content: "",
    ...template,
  }, key) as NostrEvent;
}

function context(over: Partial<AdmissionContext> = {}): AdmissionContext {
  return {
    nowSec: NOW,
    maxAgeSec: 600,
    providerPubkey: me,
    price: 100n,
    seen: () => false,
    cancelled: () => false,
    inFlight: 0,
    inFlightOf: () => 0,
    maxInFlight: 10,
    maxInFlightPerRequester: 3,
    ...over,
  };
}

const reason = (e: NostrEvent, c: AdmissionContext) => {
  const d = decideAdmission(e, c);
  return d.admit ? "admit" : d.reason;
};

Deno.test("provider admission: a plain request within limits is admitted", () => {
  assertEquals(reason(request(), context()), "admit");
  assertEquals(reason(request({ tags: [["p", me], ["bid", "100"]] }), context()), "admit");
});

Deno.test("provider admission: every drop reason", () => {
  const e = request();
  assertEquals(reason(e, context({ seen: (id) => id === e.id })), "duplicate");
  assertEquals(reason(request({ tags: [["expiration", String(NOW - 1)]] }), context()), "expired");
  assertEquals(reason(request({ created_at: NOW - 601 }), context()), "expired");
  assertEquals(reason(request({ tags: [["p", "ab".repeat(32)]] }), context()), "other-provider");
  assertEquals(reason(request({ tags: [["bid", "99"]] }), context()), "bid-below-price");
  assertEquals(
    reason(e, context({ cancelled: (id, by) => id === e.id && by === e.pubkey })),
    "cancelled",
  );
  assertEquals(reason(e, context({ inFlight: 10 })), "over-capacity");
  assertEquals(reason(e, context({ inFlightOf: () => 3 })), "over-requester-capacity");
  assertEquals(reason(request({ kind: 5999 }), context({ price: undefined })), "no-skill");
});

Deno.test("provider admission: a cancellation by someone else does not count; a future expiration is fine", () => {
  const e = request({ tags: [["expiration", String(NOW + 60)]] });
  assertEquals(reason(e, context({ cancelled: (_id, by) => by === "someone-else" })), "admit");
});

Deno.test("provider admission: a request whose timeout (its expiration) is all but spent is not taken", () => {
  // A 120 s job created 117 s ago: its requester pays no deposit in the last 5 s.
  const late = request({ created_at: NOW - 117, tags: [["expiration", String(NOW + 3)]] });
  const d = decideAdmission(late, context());
  assertEquals(d, {
    admit: false,
    reason: "expired",
    detail: `NIP-40 expiration ${NOW + 3}: 3 s left, too soon to run it`,
  });
  // 6 s left of it, or 2 s of a 10 s job (its margin 1 s): taken.
  const inTime = request({ created_at: NOW - 114, tags: [["expiration", String(NOW + 6)]] });
  assertEquals(reason(inTime, context()), "admit");
  const short = request({ created_at: NOW - 8, tags: [["expiration", String(NOW + 2)]] });
  assertEquals(reason(short, context()), "admit");
});

Deno.test("provider admission: capacity holds under a burst of 200 requests from 4 requesters", () => {
  const keys = [alice, generateSecretKey(), generateSecretKey(), generateSecretKey()];
  const inFlight = new Map<string, number>();
  let total = 0;
  let admitted = 0;
  for (let i = 0; i < 200; i++) {
    const e = request({ content: String(i) }, keys[i % 4]);
    const d = decideAdmission(
      e,
      context({
        inFlight: total,
        inFlightOf: (p) => inFlight.get(p) ?? 0,
      }),
    );
    if (!d.admit) continue;
    admitted++;
    total++;
    inFlight.set(e.pubkey, (inFlight.get(e.pubkey) ?? 0) + 1);
  }
  assertEquals(admitted, 10);
  for (const n of inFlight.values()) assertEquals(n <= 3, true);
});
