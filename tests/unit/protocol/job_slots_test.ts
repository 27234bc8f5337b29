/** The requester host's bound on jobs in flight, and the `busy` refusal as a requester reads it. */
import { JobSlots, RequesterBusyError } from "../../../roles/requester/job_slots.ts";
import { isBusyFeedback, isBusyReason } from "../../../protocol/busy_feedback.ts";
import { parseJobFeedback } from "../../../protocol/nip90_job.ts";
import { assert, assertEquals, assertThrows } from "../../../harness/assert.ts";

Deno.test("job slots: a new job past the bound is refused busy, a resumed one is taken, a release frees", () => {
  const slots = new JobSlots(2);
  slots.admit("a");
  slots.admit("a");
  slots.admit("b");
  assertEquals(slots.held, 2);
  const err = assertThrows(() => slots.admit("c"), RequesterBusyError);
  assert(isBusyReason(err.message), err.message);
  assertThrows(() => slots.check(), RequesterBusyError);
  slots.take("resumed");
  assertEquals(slots.held, 3);
  slots.release("a");
  slots.release("resumed");
  slots.release("never-held");
  slots.admit("c");
  assertEquals(slots.full, true);
  assertThrows(() => new JobSlots(0), RangeError);
});

Deno.test("busy feedback: the error refusal with its prefix, and a busy status, read as busy", () => {
  const fb = (status: string[]) => parseJobFeedback({ kind: 7000, tags: [status], content: "" });
  assertEquals(
    isBusyFeedback(fb(["status", "error", "busy: over-capacity: 1 jobs (later)"])),
    true,
  );
  assertEquals(isBusyFeedback(fb(["status", "error", "timeout: 30 s"])), false);
  const own = fb(["status", "busy", "queue full"]);
  assertEquals(own.status, "error");
  assertEquals(own.extraInfo, "busy: queue full");
  assertEquals(isBusyFeedback(own), true);
  assertEquals(isBusyFeedback(fb(["status", "busy"])), true);
});
