/** Which dropped requests get an error feedback: actionable, addressed to us, rate-bounded. */
import { DropNotices } from "../../../roles/provider/jobs/drop_notice.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { isBusyReason } from "../../../protocol/busy_feedback.ts";
import { assertEquals } from "../../../harness/assert.ts";

const me = "a".repeat(64);
const request = (tags: string[][]): NostrEvent => ({
  id: "b".repeat(64),
  pubkey: "c".repeat(64),
  created_at: 1,
  kind: 5601,
  tags,
  content: "",
  sig: "d".repeat(128),
});

Deno.test("drop notices: only actionable drops of requests addressed to this provider, 30 a minute", () => {
  let now = 0;
  const notices = new DropNotices({ pubkey: me, now: () => now });
  const mine = request([["p", me]]);
  assertEquals(
    notices.noticeFor(mine, "bid-below-price", "bid 1 < price 9"),
    "refused: bid-below-price: bid 1 < price 9 (raise the bid)",
  );
  assertEquals(notices.noticeFor(request([]), "bid-below-price", "x"), undefined, "broadcast");
  assertEquals(
    notices.noticeFor(request([["p", "e".repeat(64)]]), "over-capacity", "x"),
    undefined,
  );
  assertEquals(notices.noticeFor(mine, "duplicate", "x"), undefined, "not actionable");
  assertEquals(notices.noticeFor(mine, "expired", "x"), undefined, "not actionable");
  let sent = 1;
  for (let i = 0; i < 100; i++) if (notices.noticeFor(mine, "no-skill", "x")) sent++;
  assertEquals(sent, 30);
  now += 60_000;
  assertEquals(typeof notices.noticeFor(mine, "no-skill", "x"), "string", "a new minute");
});

Deno.test("drop notices: the provider's load is a busy refusal, 120 a minute of their own", () => {
  let now = 0;
  const notices = new DropNotices({ pubkey: me, now: () => now });
  const mine = request([["p", me]]);
  const text = notices.noticeFor(mine, "over-capacity", "32 jobs in flight, max 32");
  assertEquals(
    text,
    "busy: over-capacity: 32 jobs in flight, max 32 (retry later or pick another provider)",
  );
  assertEquals(isBusyReason(text), true);
  assertEquals(isBusyReason(notices.noticeFor(mine, "bid-below-price", "x")), false);
  let busy = 1;
  for (let i = 0; i < 200; i++) if (notices.noticeFor(mine, "over-capacity", "x")) busy++;
  assertEquals(busy, 120);
  assertEquals(typeof notices.noticeFor(mine, "no-skill", "x"), "string", "the other budget");
  now += 60_000;
  assertEquals(typeof notices.noticeFor(mine, "over-capacity", "x"), "string", "a new minute");
});
