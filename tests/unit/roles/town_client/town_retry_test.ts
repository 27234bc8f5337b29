/** The town retry policies (roles/town_client/town_retry.ts): how long before retry n, if at all. */
import { assertEquals } from "../../../../harness/assert.ts";
import {
  JOB_PAYMENT_RETRY,
  nextRetryWait,
  REQUEST_WRITE_RETRY,
} from "../../../../roles/town_client/town_retry.ts";
import { MIN_INVOICE_TIME_LEFT_MS } from "../../../../protocol/spend_policy.ts";

const exact = { jitter: 0 };

Deno.test("town retry: a job payment: 0.5 s doubling to 5 s, 8 attempts in all", () => {
  const policy = { ...JOB_PAYMENT_RETRY, ...exact };
  const waits = Array.from(
    { length: 9 },
    (_, retry) =>
      nextRetryWait(policy, retry, { until: 1e9, now: 0, leaveMs: MIN_INVOICE_TIME_LEFT_MS }),
  );
  assertEquals(waits, [500, 1000, 2000, 4000, 5000, 5000, 5000, undefined, undefined]);
});

Deno.test("town retry: a job payment is not retried when the invoice would leave too little", () => {
  const policy = { ...JOB_PAYMENT_RETRY, ...exact };
  const until = 500 + MIN_INVOICE_TIME_LEFT_MS;
  assertEquals(nextRetryWait(policy, 0, { until, now: 0, leaveMs: MIN_INVOICE_TIME_LEFT_MS }), 500);
  assertEquals(
    nextRetryWait(policy, 0, { until: until - 1, now: 0, leaveMs: MIN_INVOICE_TIME_LEFT_MS }),
    undefined,
  );
});

Deno.test("town retry: a request's write: 1 s doubling to 15 s, only before the deadline", () => {
  const policy = { ...REQUEST_WRITE_RETRY, ...exact };
  assertEquals(nextRetryWait(policy, 0, { until: 1001, now: 0 }), 1000);
  assertEquals(nextRetryWait(policy, 0, { until: 1000, now: 0 }), undefined);
  assertEquals(nextRetryWait(policy, 40, { until: 1e9, now: 0 }), 15_000);
});
