/**
 * The provider's announcer without a network: its writes are signed for real and collected
 * where the node would pay for them. What is announced, in which order, with which created_at,
 * and what it costs per day.
 */
import { assert, assertEquals } from "../../../harness/assert.ts";
import { finalizeEvent, generateSecretKey, verifyEvent } from "nostr-tools";
import {
  type AnnouncedSkill,
  PROVIDER_D_TAG,
  ProviderAnnouncer,
  type ProviderAnnouncerOptions,
} from "../../../roles/provider/announcer.ts";
import type { EventTemplate, NostrEvent } from "../../../protocol/nostr_event.ts";
import { HEARTBEAT_KIND } from "../../../protocol/provider_heartbeat.ts";

/** Signs each write and charges 10 per byte of its JSON, as a town would per TOON byte. */
function collectingWrites(options: { slowMs?: number } = {}) {
  const sk = generateSecretKey();
  const sent: NostrEvent[] = [];
  let spent = 0n;
  let busy = 0;
  let overlapped = false;
  const publish = async (template: EventTemplate): Promise<NostrEvent> => {
    busy++;
    if (busy > 1) overlapped = true;
    if (options.slowMs) await new Promise((r) => setTimeout(r, options.slowMs));
    const event = finalizeEvent(template, sk) as NostrEvent;
    sent.push(event);
    spent += 10n * BigInt(JSON.stringify(event).length);
    busy--;
    return event;
  };
  return { publish, sent, spent: () => spent, overlapped: () => overlapped };
}

const ECHO: AnnouncedSkill = { name: "echo", kinds: [5100], price: "25000" };
const BUILD: AnnouncedSkill = { name: "ci-run", kinds: [5600, 5601], price: "40000" };

function announcer(
  writes: ReturnType<typeof collectingWrites>,
  overrides: Partial<ProviderAnnouncerOptions> = {},
) {
  return new ProviderAnnouncer({
    publish: writes.publish,
    spent: writes.spent,
    ilpAddress: "test.town.beta",
    btpEndpoint: "ws://127.0.0.1:7768",
    assetCode: "USD",
    assetScale: 6,
    skills: () => [ECHO, BUILD],
    inFlight: () => 3,
    onError: (err) => {
      throw err;
    },
    ...overrides,
  });
}

const tagOf = (e: NostrEvent, name: string) => e.tags.find((t) => t[0] === name)?.[1];

Deno.test("announcer: start publishes peer info, the handler with each skill, then a heartbeat", async () => {
  const writes = collectingWrites();
  let changes = 0;
  const a = announcer(writes, { onChange: () => changes++ });
  await a.start();
  a.stop();
  assertEquals(writes.sent.map((e) => e.kind), [10032, 31990, HEARTBEAT_KIND]);
  assert(writes.sent.every((e) => verifyEvent(e)), "every write is signed");
  const [, handler, heartbeat] = writes.sent;
  assertEquals(handler.tags.filter((t) => t[0] === "k").map((t) => t[1]), ["5100", "5600", "5601"]);
  assertEquals(tagOf(handler, "d"), PROVIDER_D_TAG);
  const metadata = JSON.parse(handler.content);
  assertEquals(metadata.skills, [ECHO, BUILD]);
  assertEquals(metadata.price.amount, "25000"); // the cheapest skill
  assertEquals(heartbeat.content, "serving echo,ci-run; 3 jobs in flight");
  // The heartbeat expires after three periods (1 h by default: each beat is a paid write).
  assertEquals(Number(tagOf(heartbeat, "expiration")) - heartbeat.created_at, 3 * 3600);
  assertEquals(a.skills, [ECHO, BUILD]);
  assertEquals(changes, 2);
});

Deno.test("announcer: cost per day is each write's price times how often it goes out", async () => {
  const writes = collectingWrites();
  const a = announcer(writes, { heartbeatMs: 3_600_000, refreshMs: 43_200_000 });
  await a.start();
  a.stop();
  const price = (e: NostrEvent) => 10n * BigInt(JSON.stringify(e).length);
  const [peer, handler, heartbeat] = writes.sent;
  assertEquals(a.costPerDay, 24n * price(heartbeat) + 2n * (price(peer) + price(handler)));
});

Deno.test("announcer: announcements in one second go one at a time, each later than the last", async () => {
  const writes = collectingWrites({ slowMs: 5 });
  let skills = [ECHO, BUILD];
  const frozen = 1_800_000_000_000;
  const a = announcer(writes, { skills: () => skills, now: () => frozen });
  const first = a.announce();
  skills = [ECHO]; // a skill removed while the first announcement is under way
  const second = a.announce();
  const third = a.announce();
  await Promise.all([first, second, third]);
  assertEquals(writes.overlapped(), false);
  const handlers = writes.sent.filter((e) => e.kind === 31990);
  const created = handlers.map((e) => e.created_at);
  assertEquals(created, [1_800_000_000, 1_800_000_001, 1_800_000_002]);
  // The last one, which a town keeps, lists what is served now.
  assertEquals(JSON.parse(handlers[2].content).skills, [ECHO]);
  assertEquals(a.skills, [ECHO]);
});

Deno.test("announcer: with no job skills only the peer info is published", async () => {
  const writes = collectingWrites();
  const a = announcer(writes, { skills: () => [] });
  await a.announce();
  assertEquals(writes.sent.map((e) => e.kind), [10032]);
});
