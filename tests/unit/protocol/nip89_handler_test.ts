import { finalizeEvent, generateSecretKey } from "nostr-tools";
import {
  buildHandlerAnnouncement,
  type HandlerMetadata,
  Nip89HandlerError,
  parseHandlerAnnouncement,
} from "../../../protocol/nip89_handler.ts";
import { assertEquals, assertThrows } from "../../../harness/assert.ts";

Deno.test("NIP-89 announcement: build, sign, parse", () => {
  const metadata = {
    name: "mayor-beta",
    about: "builds things",
    price: { amount: "10", assetCode: "USD", assetScale: 6, per: "job" },
    paymentMethods: ["ilp"],
    encryption: ["nip44", "nip04"],
  };
  const template = buildHandlerAnnouncement({ d: "beta", kinds: [5600, 5601], metadata });
  assertEquals(template.kind, 31990);
  assertEquals(template.tags, [["d", "beta"], ["k", "5600"], ["k", "5601"]]);
  const event = finalizeEvent(template, generateSecretKey());
  assertEquals(parseHandlerAnnouncement(event), { d: "beta", kinds: [5600, 5601], metadata });
});

Deno.test("NIP-89 parser: tolerant on k tags, strict on d, name, types", () => {
  const base = { kind: 31990, content: '{"name":"x","extra":1}' };
  assertEquals(
    parseHandlerAnnouncement({
      ...base,
      tags: [["d", "a"], ["k", "5050"], ["k", "x"], ["k", "5050"]],
    }),
    { d: "a", kinds: [5050], metadata: { name: "x" } },
  );
  const bad: [object, string][] = [
    [{ ...base, kind: 1, tags: [["d", "a"]] }, "not 31990"],
    [{ ...base, tags: [] }, "no d tag"],
    [{ ...base, tags: [["d", "a"]], content: "{" }, "not JSON"],
    [{ ...base, tags: [["d", "a"]], content: "{}" }, "no name"],
    [{ ...base, tags: [["d", "a"]], content: '{"name":"x","price":{"amount":1}}' }, "price amount"],
    [{ ...base, tags: [["d", "a"]], content: '{"name":"x","encryption":"nip44"}' }, "encryption"],
  ];
  for (const [event, msg] of bad) {
    assertThrows(
      () => parseHandlerAnnouncement(event as Parameters<typeof parseHandlerAnnouncement>[0]),
      Nip89HandlerError,
      msg,
    );
  }
  assertThrows(
    () => buildHandlerAnnouncement({ d: "", kinds: [], metadata: { name: "x" } }),
    Nip89HandlerError,
  );
});

Deno.test("NIP-89 skills: each skill's name, kinds and price round-trip; bad ones are refused", () => {
  const skills = [{ name: "wordcount", kinds: [5603], price: "700" }, {
    name: "ci-run",
    kinds: [5600],
    price: "5000",
  }];
  const template = buildHandlerAnnouncement({
    d: "p",
    kinds: [5600, 5603],
    metadata: { name: "beta", skills },
  });
  assertEquals(parseHandlerAnnouncement(template).metadata.skills, skills);
  for (
    const bad of [{ name: "Bad Name", kinds: [5600], price: "1" }, {
      name: "x",
      kinds: [5600],
      price: "-1",
    }, { name: "x", kinds: [70000], price: "1" }]
  ) {
    const content = JSON.stringify({ name: "beta", skills: [bad] });
    assertThrows(
      () => parseHandlerAnnouncement({ kind: 31990, tags: [["d", "p"]], content }),
      Nip89HandlerError,
    );
  }
});

Deno.test("a skill's agent presets are read with it; a malformed list is left out", () => {
  const announce = (agents: unknown) =>
    parseHandlerAnnouncement(buildHandlerAnnouncement({
      d: "beta",
      kinds: [5603],
      metadata: {
        name: "beta",
        skills: [{ name: "agent-task", kinds: [5603], price: "20000", agents }],
      } as HandlerMetadata,
    })).metadata.skills![0];
  const presets = [{ name: "claude", price: "20000", budget: "500000" }];
  assertEquals(announce(presets).agents, presets);
  assertEquals(announce([{ name: "Bad Name", price: "1", budget: "1" }]).agents, undefined);
  assertEquals("agents" in announce(undefined), false);
  // A host preset says so (docs/OPERATIONS.md "Host presets"); anything but true is left out.
  const host = [{ name: "gastown", price: "1", budget: "0", host: true }];
  assertEquals(announce(host).agents, host);
  assertEquals(
    announce([{ ...host[0], host: "yes" }]).agents,
    [{ name: "gastown", price: "1", budget: "0" }],
  );
});

Deno.test("a skill that takes repository deltas says so; anything but true is left out", () => {
  const announce = (repoDeltas: unknown) =>
    parseHandlerAnnouncement(buildHandlerAnnouncement({
      d: "beta",
      kinds: [5603],
      metadata: {
        name: "beta",
        skills: [{ name: "agent-task", kinds: [5603], price: "20000", repoDeltas }],
      } as HandlerMetadata,
    })).metadata.skills![0];
  assertEquals(announce(true).repoDeltas, true);
  assertEquals("repoDeltas" in announce("yes"), false);
  assertEquals("repoDeltas" in announce(undefined), false);
});
