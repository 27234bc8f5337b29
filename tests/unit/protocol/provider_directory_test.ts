/**
 * The provider directory and the pre-payment check, on signed announcement and heartbeat events
 * as providers publish them.
 */
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import { buildHandlerAnnouncement, type HandlerSkill } from "../../../protocol/nip89_handler.ts";
import { HEARTBEAT_KIND } from "../../../protocol/provider_heartbeat.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import {
  buildProviderDirectory,
  kindOfSkill,
  offersFor,
} from "../../../roles/requester/provider_directory.ts";
import { precheckJob } from "../../../roles/requester/job_precheck.ts";
import { resolveJobKind } from "../../../roles/requester/job_spec.ts";
import { UnknownJobKindError } from "../../../protocol/job_kind_names.ts";
import { assertEquals, assertThrows } from "../../../harness/assert.ts";

const NOW = 1_800_000_000;

function provider(name: string, skills: HandlerSkill[], beatExpires?: number, at = NOW - 100) {
  const key = generateSecretKey();
  const events: NostrEvent[] = [
    finalizeEvent({
      ...buildHandlerAnnouncement({
        d: "turnpike-provider",
        kinds: skills.flatMap((s) => s.kinds),
        metadata: {
          name,
          skills,
          price: { amount: skills[0].price, assetCode: "M2M", assetScale: 6 },
        },
        createdAt: at,
      }),
    }, key) as NostrEvent,
  ];
  if (beatExpires !== undefined) {
    events.push(finalizeEvent({
      kind: HEARTBEAT_KIND,
      created_at: at,
      tags: [["d", "turnpike-provider"], ["expiration", String(beatExpires)]],
      content: "serving",
    }, key) as NostrEvent);
  }
  return { pubkey: events[0].pubkey, events };
}

const beta = provider("beta", [{ name: "wordcount", kinds: [5609], price: "700" }, {
  name: "ci-run",
  kinds: [5600],
  price: "5000",
}], NOW + 3600);
const cheap = provider("cheap", [{ name: "ci-run", kinds: [5600], price: "3000" }], NOW + 60);
const gone = provider("gone", [{ name: "translate", kinds: [5002], price: "10" }], NOW - 1);
const directory = buildProviderDirectory([...beta.events, ...cheap.events, ...gone.events], NOW);

Deno.test("provider directory: online from unexpired heartbeats, skills and prices from announcements", () => {
  assertEquals(directory.map((p) => [p.name, p.online]), [["beta", true], ["cheap", true], [
    "gone",
    false,
  ]]);
  assertEquals(offersFor(directory, 5600).map((o) => [o.provider.name, o.price]), [
    ["cheap", 3000n],
    ["beta", 5000n],
  ]);
  assertEquals(offersFor(directory, 5002), [], "an offline provider makes no offer");
  assertEquals(kindOfSkill(directory, "wordcount"), 5609);
  assertEquals(resolveJobKind("wordcount", (n) => kindOfSkill(directory, n)), 5609);
  assertThrows(
    () => resolveJobKind("nobody-serves-this", (n) => kindOfSkill(directory, n)),
    UnknownJobKindError,
  );
});

Deno.test("provider directory: the newest announcement wins; a malformed one is skipped", () => {
  const key = generateSecretKey();
  const old = finalizeEvent({
    ...buildHandlerAnnouncement({
      d: "p",
      kinds: [5600],
      metadata: { name: "v1" },
      createdAt: NOW - 50,
    }),
  }, key) as NostrEvent;
  const fresh = finalizeEvent({
    ...buildHandlerAnnouncement({
      d: "p",
      kinds: [5601],
      metadata: { name: "v2" },
      createdAt: NOW - 10,
    }),
  }, key) as NostrEvent;
  const broken = finalizeEvent(
    { kind: 31990, created_at: NOW, tags: [["d", "p"]], content: "{" },
    generateSecretKey(),
  ) as NostrEvent;
  const listed = buildProviderDirectory([fresh, old, broken], NOW);
  assertEquals(listed.map((p) => [p.name, p.skills]), [["v2", [{
    name: "5601",
    kinds: [5601],
    price: "0",
  }]]]);
});

Deno.test("precheck: no online provider, a bid below every price, or a --provider that does not serve it", () => {
  const none = precheckJob(directory, { kind: 5002, providers: [] });
  assertEquals(none.ok ? "" : none.code, "no-provider");
  assertEquals(
    none.ok
      ? ""
      : none.suggestion.startsWith(`gone (${gone.pubkey.slice(0, 12)}) serve it but are offline`),
    true,
  );
  const low = precheckJob(directory, { kind: 5600, bid: 2999n, providers: [] });
  assertEquals(low.ok ? "" : low.code, "bid-below-price");
  assertEquals(
    low.ok ? "" : low.suggestion.includes("cheap") && low.suggestion.includes("3000"),
    true,
  );
  const ok = precheckJob(directory, { kind: 5600, bid: 3000n, providers: [] });
  assertEquals(ok.ok ? ok.offers.length : -1, 2);
  const onlyBeta = precheckJob(directory, { kind: 5600, bid: 4000n, providers: [beta.pubkey] });
  assertEquals(onlyBeta.ok ? "" : onlyBeta.code, "bid-below-price");
  const elsewhere = precheckJob(directory, { kind: 5609, providers: [cheap.pubkey] });
  assertEquals(
    elsewhere.ok ? "" : elsewhere.message,
    "no online provider serves kind 5609 among the --provider ones",
  );
});

Deno.test("precheck: a --max-per-job below every price is refused as a low bid, naming the cap", () => {
  const capped = precheckJob(directory, {
    kind: 5600,
    bid: 9000n,
    maxPerJob: 2999n,
    providers: [],
  });
  assertEquals(capped.ok ? "" : capped.code, "bid-below-price");
  assertEquals(capped.ok ? {} : [capped.fields.maxPerJob, capped.fields.price], ["2999", "3000"]);
  assertEquals(capped.ok ? "" : capped.suggestion.includes("--max-per-job"), true);
  const noBid = precheckJob(directory, { kind: 5600, maxPerJob: 10n, providers: [] });
  assertEquals(noBid.ok ? "" : noBid.code, "bid-below-price");
  // The bid binds when it is lower: the message names the bid.
  const bid = precheckJob(directory, { kind: 5600, bid: 100n, maxPerJob: 200n, providers: [] });
  assertEquals(bid.ok ? "" : bid.message.startsWith("the bid 100"), true);
  const within = precheckJob(directory, {
    kind: 5600,
    bid: 9000n,
    maxPerJob: 3000n,
    providers: [],
  });
  assertEquals(within.ok, true);
});

Deno.test("precheck: an agent-task's preset is priced on top of its skill; a provider without the preset makes no offer", () => {
  const agentSkill = (price: string, agents: { name: string; price: string }[]) => ({
    name: "agent-task",
    kinds: [5603],
    price,
    agents: agents.map((a) => ({ ...a, budget: "1000" })),
  });
  const alpha = provider("alpha", [
    agentSkill("20000", [{ name: "claude", price: "5000" }, { name: "cheap", price: "0" }]),
  ], NOW + 3600);
  const omega = provider(
    "omega",
    [agentSkill("10000", [{ name: "codex", price: "1" }])],
    NOW + 3600,
  );
  const agents = buildProviderDirectory([...alpha.events, ...omega.events], NOW);
  // The skill's price alone (20,000) is within the bid; with the preset (25,000) it is not.
  const low = precheckJob(agents, { kind: 5603, bid: 24999n, providers: [], agent: "claude" });
  assertEquals(low.ok ? "" : low.code, "bid-below-price");
  assertEquals(low.ok ? {} : [low.fields.price, low.fields.agent, low.fields.provider], [
    "25000",
    "claude",
    alpha.pubkey,
  ]);
  assertEquals(low.ok ? "" : low.suggestion.includes("agent-task and its preset claude"), true);
  assertEquals(
    precheckJob(agents, { kind: 5603, bid: 25000n, providers: [], agent: "claude" }).ok,
    true,
  );
  // omega's skill is cheaper, but it has no `claude`: only alpha's offer counts.
  const offers = precheckJob(agents, { kind: 5603, bid: 99999n, providers: [], agent: "claude" });
  assertEquals(offers.ok ? offers.offers.map((o) => [o.provider.name, o.price]) : [], [
    ["alpha", 25000n],
  ]);
  const none = precheckJob(agents, { kind: 5603, bid: 99999n, providers: [], agent: "nosuch" });
  assertEquals(none.ok ? "" : none.code, "no-provider");
  assertEquals(
    none.ok ? "" : none.message,
    'no online provider serves kind 5603 (agent-task) with the agent preset "nosuch"',
  );
  // Without a preset named, the skill's own price as before.
  assertEquals(precheckJob(agents, { kind: 5603, bid: 10000n, providers: [] }).ok, true);
});
