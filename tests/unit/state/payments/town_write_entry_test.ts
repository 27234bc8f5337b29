/**
 * The payment log line of a paid town write (state/payments/town_write_entry.ts), one job-id rule for the
 * requester, the provider and the town: the job named, else the event's `e` tag, else the blob,
 * else the event itself; the invoice is the event paid for, else the blob.
 */
import { assertEquals, assertThrows } from "../../../../harness/assert.ts";
import {
  townWriteEntry,
  type TownWritePayment,
} from "../../../../state/payments/town_write_entry.ts";
import { PaymentEntryError } from "../../../../state/payments/payment_log.ts";

const REQUEST = "a".repeat(64);
const EVENT = "b".repeat(64);
const SHA = "c".repeat(64);
const base = { amount: 120n, asset: "USD", scale: 6, peer: "g.town", ts: "2026-01-01T00:00:00Z" };

function line(payment: Omit<TownWritePayment, keyof typeof base>) {
  const entry = townWriteEntry({ ...base, ...payment });
  return [entry.jobId, entry.invoiceId, entry.category];
}

Deno.test("town write entry: a job request is its own job", () => {
  const request = { id: REQUEST, tags: [["i", "x", "text"], ["p", "d".repeat(64)]] };
  assertEquals(line({ direction: "out", kind: "write", event: request }), [
    REQUEST,
    REQUEST,
    "town-write",
  ]);
});

Deno.test("town write entry: a result, a feedback or a deletion is the job its e tag names", () => {
  const result = { id: EVENT, tags: [["e", REQUEST], ["p", "d".repeat(64)]] };
  assertEquals(line({ direction: "out", kind: "write", event: result }), [
    REQUEST,
    EVENT,
    "town-write",
  ]);
});

Deno.test("town write entry: the job the caller names comes first", () => {
  const result = { id: EVENT, tags: [["e", "f".repeat(64)]] };
  assertEquals(
    line({ direction: "out", kind: "write", event: result, jobId: REQUEST })[0],
    REQUEST,
  );
});

Deno.test("town write entry: a blob outside a job is blob:<sha256>, from the authorization's x tag", () => {
  const auth = { id: EVENT, tags: [["t", "upload"], ["x", SHA]] };
  assertEquals(line({ direction: "out", kind: "blob", event: auth }), [
    `blob:${SHA}`,
    EVENT,
    "town-blob",
  ]);
  assertEquals(line({ direction: "out", kind: "blob", event: auth, jobId: REQUEST })[0], REQUEST);
});

Deno.test("town write entry: the town's income line from what its FULFILL names", () => {
  assertEquals(line({ direction: "in", kind: "write", event: { id: EVENT } }), [
    EVENT,
    EVENT,
    "town-write",
  ]);
  assertEquals(line({ direction: "in", kind: "blob", sha256: SHA }), [
    `blob:${SHA}`,
    `blob-${SHA}`,
    "town-blob",
  ]);
  const entry = townWriteEntry({ ...base, direction: "in", kind: "write", event: { id: EVENT } });
  assertEquals(entry, {
    ts: base.ts,
    direction: "in",
    event: "fulfilled",
    jobId: EVENT,
    invoiceId: EVENT,
    amount: "120",
    asset: "USD",
    scale: 6,
    peer: "g.town",
    category: "town-write",
  });
});

Deno.test("town write entry: neither an event nor a blob is refused", () => {
  assertThrows(
    () => townWriteEntry({ ...base, direction: "in", kind: "write" }),
    PaymentEntryError,
    "names its event or its blob's sha256",
  );
});
