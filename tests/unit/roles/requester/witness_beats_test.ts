/**
 * What the Witness reads of a running agent task's beats (roles/requester/witness_beats.ts):
 * the newest feedback of the job from its own provider (its spend and period), the record's
 * newest event and the deposit's payment, whichever is latest; stalled only past three periods.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { makeJobRecord } from "../../../../harness/job_record_factory.ts";
import { beatsOf, isStalled } from "../../../../roles/requester/witness_beats.ts";
import type { NostrEvent } from "../../../../protocol/nostr_event.ts";

const PROVIDER = "aa".repeat(32);
const OTHER = "bb".repeat(32);

function feedback(job: string, pubkey: string, at: number, tags: string[][]): NostrEvent {
  return {
    id: crypto.randomUUID().replaceAll("-", "").padEnd(64, "0"),
    pubkey,
    created_at: at,
    kind: 7000,
    tags: [["e", job], ["status", "processing"], ...tags],
    content: "",
    sig: "0".repeat(128),
  };
}

Deno.test("witness beats: the newest beat of the job's own provider gives its time, spend and period; another provider's is ignored", () => {
  const record = makeJobRecord(1, {
    kind: 5603,
    status: "paid",
    provider: PROVIDER,
    lastSeenCreatedAt: 1_000,
    payments: [{
      invoiceId: "i",
      amount: 5n,
      asset: "M2M",
      status: "paid",
      startedAtMs: 900_000,
      finishedAtMs: 950_000,
    }],
  });
  const beats = beatsOf([record], [
    feedback(record.id, PROVIDER, 1_010, [["spend", "3", "100", "1", "10", "2"], [
      "heartbeat",
      "60",
    ]]),
    feedback(record.id, PROVIDER, 1_020, [["spend", "4", "100", "2", "20", "4"], [
      "heartbeat",
      "60",
    ]]),
    feedback(record.id, OTHER, 2_000, [["heartbeat", "1"]]),
  ]).get(record.id)!;
  assertEquals([beats.lastBeat, beats.periodS, beats.spend?.cost], [1_020, 60, "4"]);
});

Deno.test("witness beats: with no feedback on the towns, the record's newest event or the deposit's payment is the last beat", () => {
  const paidOnly = makeJobRecord(2, {
    kind: 5603,
    status: "paid",
    provider: PROVIDER,
    payments: [{
      invoiceId: "i",
      amount: 5n,
      asset: "M2M",
      status: "paid",
      startedAtMs: 1_000_000,
      finishedAtMs: 1_500_000,
    }],
  });
  const seen = { ...paidOnly, id: "cc".repeat(32), lastSeenCreatedAt: 1_700 };
  const beats = beatsOf([paidOnly, seen], []);
  assertEquals(beats.get(paidOnly.id), { lastBeat: 1_500 });
  assertEquals(beats.get(seen.id), { lastBeat: 1_700 });
});

Deno.test("witness beats: a worker is stalled only when silent past three periods", () => {
  assertEquals([isStalled(179, 60), isStalled(180, 60), isStalled(181, 60)], [false, false, true]);
  assertEquals(isStalled(4, 1), true);
});
