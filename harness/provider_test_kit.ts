/**
 * For provider tests: a real town (in process, ephemeral ports), a skills dir (the project's
 * built-in skills symlinked, plus test skills), and an independent requester built only from the
 * protocol codecs, nostr-tools and a BtpClient: it pays the town to post a job, watches the
 * town's NIP-01 feed for feedback and results, and pays the provider's invoice.
 *
 * @module
 */
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools";
import type { EventTemplate, NostrEvent } from "../protocol/nostr_event.ts";
import { decodeEventToon } from "../protocol/toon_codec.ts";
import { parseIlpInvoice } from "../protocol/ilp_invoice.ts";
import { conditionOf } from "../protocol/ilp_fulfillment.ts";
import type { IlpReply } from "../protocol/ilp_packet.ts";
import { parseJobFeedback } from "../protocol/nip90_job.ts";
import type { TownNode } from "../roles/town/town_node.ts";
import {
  type ProviderNode,
  type ProviderNodeOptions,
  startProviderNode,
} from "../roles/provider/provider_node.ts";
import { connectPayingClient, type PayingClient, startTestTown } from "./town_test_node.ts";

/** Accounts every provider test town has. */
export const PROVIDER_TOKEN = "beta-token";
export const REQUESTER_TOKEN = "alice-token";

/**
 * A town with a provider account (`beta`) and a requester account (`alice`).
 *
 * {@linkcode withProvider} starts one, its example a job on it.
 */
export function startProviderTestTown(): Promise<TownNode> {
  return startTestTown({
    peers: [
      { account: "beta", token: PROVIDER_TOKEN },
      { account: "alice", token: REQUESTER_TOKEN },
      { account: "bob", token: "bob-token" },
    ],
    verifierWorkers: 0,
  });
}

/** A test skill: name, kinds, price, extra manifest lines, and the `run` script. */
export interface TestSkill {
  name: string;
  kinds: number[];
  price?: number;
  meta?: string;
  run: string;
}

/**
 * A skills dir in `root`: the project's built-in skills (symlinks) plus the given test skills.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeSkillsDir } from "./provider_test_kit.ts";
 *
 * const root = await Deno.makeTempDir();
 * const nap = { name: "nap", kinds: [5010], run: "#!/bin/sh\nsleep 9\n" };
 * const dir = await makeSkillsDir(root, [], [nap]);
 * assert((await Deno.stat(`${dir}/nap/run`)).isFile);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function makeSkillsDir(
  root: string,
  builtIn: string[],
  extra: TestSkill[] = [],
): Promise<string> {
  const dir = `${root}/skills`;
  await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
  await Deno.chmod(root, 0o755);
  await Deno.chmod(dir, 0o755);
  for (const name of builtIn) {
    await Deno.symlink(await Deno.realPath(`skills/${name}`), `${dir}/${name}`);
  }
  for (const s of extra) {
    const d = `${dir}/${s.name}`;
    await Deno.mkdir(d, { mode: 0o755 });
    await Deno.chmod(d, 0o755);
    await Deno.writeTextFile(
      `${d}/SKILL.md`,
      `---\nname: ${s.name}\ndescription: test skill\nmetadata:\n  kinds: [${
        s.kinds.join(", ")
      }]\n` +
        `  price: ${s.price ?? 0}\n${s.meta ?? ""}---\n`,
    );
    await Deno.writeTextFile(`${d}/run`, s.run, { mode: 0o755 });
    await Deno.chmod(`${d}/run`, 0o755);
  }
  return dir;
}

/** An independent requester (see the module doc). */
export interface TestRequester {
  paying: PayingClient;
  pubkey: string;
  secretKey: Uint8Array;
  /** Signs and pays the town to post an event. */
  post(template: EventTemplate): Promise<NostrEvent>;
  /** Resolves with the first event seen (past or future) that matches. */
  waitFor(match: (e: NostrEvent) => boolean, timeoutMs?: number): Promise<NostrEvent>;
  /** Every event seen so far. */
  seen(): NostrEvent[];
  /** Pays the invoice of a payment-required feedback; returns the reply and whether the
   * fulfillment hashes to the invoice's condition. */
  payInvoice(feedback: NostrEvent, amountOverride?: bigint): Promise<
    { reply: IlpReply; receiptOk: boolean }
  >;
  close(): Promise<void>;
}

/** Options for {@linkcode connectTestRequester}. */
export interface TestRequesterOptions {
  town: TownNode;
  token?: string;
}

/**
 * Connects a requester to the town (BTP + SPSP) and subscribes to everything addressed to it.
 *
 * The example of {@linkcode withProvider} posts a job with one.
 */
export async function connectTestRequester(options: TestRequesterOptions): Promise<TestRequester> {
  const { town } = options;
  const paying = await connectPayingClient({
    url: `btp+ws://127.0.0.1:${town.btpPort}`,
    token: options.token ?? REQUESTER_TOKEN,
    townAddress: town.ilpAddress,
    townPubkey: town.pubkey,
  });
  const secretKey = generateSecretKey();
  const pubkey = getPublicKey(secretKey);
  const events: NostrEvent[] = [];
  const waiters: { match: (e: NostrEvent) => boolean; resolve: (e: NostrEvent) => void }[] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${town.httpPort}`);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("cannot reach the town's NIP-01 port"));
  });
  const eosed = Promise.withResolvers<void>();
  ws.onmessage = (m) => {
    const msg = JSON.parse(String(m.data));
    if (msg[0] === "EOSE") eosed.resolve();
    if (msg[0] !== "EVENT") return;
    const event = typeof msg[2] === "string" ? decodeEventToon(msg[2]) : msg[2] as NostrEvent;
    events.push(event);
    for (const w of waiters.splice(0)) {
      if (w.match(event)) w.resolve(event);
      else waiters.push(w);
    }
  };
  ws.send(JSON.stringify(["REQ", "mine", { "#p": [pubkey] }]));
  await eosed.promise;
  return {
    paying,
    pubkey,
    secretKey,
    async post(template) {
      const event = finalizeEvent(template, secretKey) as NostrEvent;
      const reply = await paying.write(event);
      if (reply.type !== "fulfill") {
        throw new Error(`town refused the job: ${reply.code} ${reply.message}`);
      }
      return event;
    },
    waitFor(match, timeoutMs = 30_000) {
      const found = events.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const i = waiters.findIndex((w) => w.resolve === done);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error(`no matching event within ${timeoutMs} ms; seen ${events.length}`));
        }, timeoutMs);
        const done = (e: NostrEvent) => {
          clearTimeout(timer);
          resolve(e);
        };
        waiters.push({ match, resolve: done });
      });
    },
    seen: () => [...events],
    async payInvoice(feedback, amountOverride) {
      const fb = parseJobFeedback(feedback);
      if (fb.amount?.paymentRequest === undefined) throw new Error("feedback has no invoice");
      const invoice = parseIlpInvoice(fb.amount.paymentRequest);
      const condition = Uint8Array.from(
        invoice.condition.match(/../g)!.map((h) => parseInt(h, 16)),
      );
      const reply = await paying.client.sendPrepare({
        amount: String(amountOverride ?? invoice.amount),
        destination: invoice.destination,
        executionCondition: condition,
        expiresAt: new Date(Date.now() + 30_000),
        data: new Uint8Array(),
      });
      let receiptOk = false;
      if (reply.type === "fulfill") {
        const c = await conditionOf(reply.fulfillment);
        receiptOk = c.every((b, i) => b === condition[i]);
      }
      return { reply, receiptOk };
    },
    async close() {
      ws.close();
      await new Promise((r) => setTimeout(r, 10));
      await paying.close();
    },
  };
}

/**
 * Predicate: feedback (7000) about `jobId` with `status`.
 *
 * The example of {@linkcode withProvider} waits for an invoice with it.
 */
export function feedbackOf(jobId: string, status: string): (e: NostrEvent) => boolean {
  return (e) =>
    e.kind === 7000 && e.tags.some((t) => t[0] === "e" && t[1] === jobId) &&
    e.tags.some((t) => t[0] === "status" && t[1] === status);
}

/**
 * Predicate: a result (6xxx) for `jobId`.
 *
 * tests/e2e/provider_node_test.ts waits for a provider's result with it.
 */
export function resultOf(jobId: string): (e: NostrEvent) => boolean {
  return (e) =>
    e.kind >= 6000 && e.kind <= 6999 && e.tags.some((t) => t[0] === "e" && t[1] === jobId);
}

/**
 * Polls `check` until it returns true (every 20 ms), failing after `timeoutMs`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { waitUntil } from "./provider_test_kit.ts";
 *
 * let published = false;
 * setTimeout(() => published = true, 10);
 * await waitUntil(() => published, 5_000, "the result published");
 * assert(published);
 * ```
 */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What {@linkcode withProvider} hands the test. */
export interface ProviderWorld {
  town: TownNode;
  provider: ProviderNode;
  alice: TestRequester;
  root: string;
  providerKey: Uint8Array;
}

/**
 * Runs `fn` with a town, a provider (in process, its own temp state dir) serving the given
 * skills, and a connected requester; tears everything down after.
 *
 * @example A job posted to the echo provider gets its invoice (feedbackOf)
 * ```ts
 * import assert from "node:assert/strict";
 * import { feedbackOf, withProvider } from "./provider_test_kit.ts";
 * import { buildJobRequest } from "../protocol/nip90_job.ts";
 *
 * await withProvider(["echo"], [], async ({ provider, alice }) => {
 *   const job = await alice.post(buildJobRequest({
 *     kind: 5601,
 *     inputs: [{ data: "hi", type: "text" }],
 *     bid: 1_000_000n,
 *     providers: [provider.pubkey],
 *   }));
 *   const invoice = await alice.waitFor(feedbackOf(job.id, "payment-required"));
 *   assert.equal(invoice.kind, 7000);
 * });
 * ```
 */
export async function withProvider(
  builtIn: string[],
  extra: TestSkill[],
  fn: (w: ProviderWorld) => Promise<void>,
  overrides: Partial<ProviderNodeOptions> = {},
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "provider-e2e-" });
  const town = await startProviderTestTown();
  const providerKey = generateSecretKey();
  let provider: ProviderNode | undefined;
  let alice: TestRequester | undefined;
  try {
    const skillsDir = await makeSkillsDir(root, builtIn, extra);
    provider = await startProviderNode({
      stateDir: `${root}/state`,
      secretKey: providerKey,
      btpUrl: `btp+ws://127.0.0.1:${town.btpPort}`,
      btpToken: PROVIDER_TOKEN,
      relayUrl: `ws://127.0.0.1:${town.httpPort}`,
      townPubkey: town.pubkey,
      skillsDir,
      log: Deno.env.get("PROVIDER_TEST_LOG") ? (line) => console.error(line) : undefined,
      ...overrides,
    });
    alice = await connectTestRequester({ town });
    await fn({ town, provider, alice, root, providerKey });
  } finally {
    await alice?.close();
    await provider?.stop();
    await town.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}
