/**
 * Town-wide limits held in PostgreSQL (state/postgres/postgres_rate_buckets.ts) on a real server: two
 * SPSP responders, each with its own connections as two town processes would have, answer one
 * account together no more than the town's per-account limit (each alone would allow more);
 * a bucket refills with time and a refused take takes nothing; with the database unreachable a
 * responder falls back to its own share of the limit instead of failing.
 */
import postgres from "postgres";
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { freshDatabase } from "../../../../harness/postgres_database.ts";
import { startPostgresServer } from "../../../../state/postgres/postgres_server.ts";
import { PostgresRateBuckets } from "../../../../state/postgres/postgres_rate_buckets.ts";
import { localNodeSigner } from "../../../../identity/local_node_signer.ts";
import { buildSpspRequest } from "../../../../protocol/spsp_message.ts";
import type { NostrEvent } from "../../../../protocol/nostr_event.ts";
import {
  type SharedRateBuckets,
  SpspResponder,
} from "../../../../roles/town/spsp/spsp_responder.ts";
import { SpspSecrets } from "../../../../roles/town/spsp/spsp_secrets.ts";
import { TownWriteRejection } from "../../../../roles/town/write/write_rejection.ts";

const townKey = generateSecretKey();

async function request(townPubkey: string): Promise<NostrEvent> {
  const key = generateSecretKey();
  const template = await buildSpspRequest({
    signer: localNodeSigner(key),
    receiverPubkey: townPubkey,
  });
  return finalizeEvent(template, key) as NostrEvent;
}

/** One process's responder: its own share per account, the town's limit 6 a minute (burst 1). */
function responder(buckets: SharedRateBuckets, sharePerMinute: number) {
  return new SpspResponder({
    signer: localNodeSigner(townKey),
    secrets: new SpspSecrets({ seed: new Uint8Array(32).fill(3) }),
    townAddress: () => "g.town",
    requestsPerMinute: 6000,
    burst: 1000,
    perAccountPerMinute: sharePerMinute,
    totalPerMinute: 3000,
    shared: { buckets, perAccountPerMinute: 6, totalPerMinute: 6000 },
  });
}

async function outcome(answer: Promise<NostrEvent>): Promise<string> {
  return await answer.then(
    () => "answered",
    (err) => (err instanceof TownWriteRejection ? `${err.code} ${err.message}` : String(err)),
  );
}

Deno.test("shared rate buckets", async (t) => {
  await using pg = await startPostgresServer();

  await t.step("two processes answer one account no more than the town's limit", async () => {
    const url = await freshDatabase(pg.url);
    const pools = [postgres(url, { max: 2, onnotice: () => {} }), postgres(url, { max: 2 })];
    try {
      const responders = await Promise.all(
        // A share far above the town's limit: the test tells which one was applied (each
        // process alone would answer all 8).
        pools.map(async (sql) => responder(await PostgresRateBuckets.open(sql), 600)),
      );
      const pubkey = localNodeSigner(townKey).pubkey;
      // The town's burst per account is 6 / 6 = 1, whichever process answers (a token comes
      // back every 10 s, far longer than these requests take).
      const outcomes = await Promise.all(
        Array.from(
          { length: 8 },
          async (_, i) =>
            await outcome(responders[i % 2].respond(await request(pubkey), { account: "alice" })),
        ),
      );
      assertEquals(outcomes.filter((o) => o === "answered").length, 1, outcomes.join("\n"));
      assert(outcomes.filter((o) => o.includes("town-wide")).length === 7, outcomes.join("\n"));
      // Another account has its own bucket.
      assertEquals(
        await outcome(responders[1].respond(await request(pubkey), { account: "bob" })),
        "answered",
      );
    } finally {
      for (const sql of pools) await sql.end({ timeout: 1 });
    }
  });

  await t.step("a bucket refills with time; a refused take takes nothing", async () => {
    const sql = postgres(await freshDatabase(pg.url), { max: 1, onnotice: () => {} });
    try {
      const buckets = await PostgresRateBuckets.open(sql);
      // One token a second, capacity 1 (a second between two takes is generous under load).
      assertEquals(await buckets.take("k", 1, 1), true);
      assertEquals(await buckets.take("k", 1, 1), false);
      await new Promise((r) => setTimeout(r, 1100)); // > 1 s: one token back
      assertEquals(await buckets.take("k", 1, 1), true);
      // Refused takes do not dig the bucket below empty (one token per 100 s: none comes back).
      assertEquals(await buckets.take("slow", 0.01, 1), true);
      for (let i = 0; i < 5; i++) assertEquals(await buckets.take("slow", 0.01, 1), false);
      const [row] = await sql.unsafe<{ tokens: number }[]>(
        "SELECT tokens FROM turnpike_rate_buckets WHERE key = 'slow'",
      );
      assert(row.tokens >= 0 && row.tokens < 1, `tokens ${row.tokens}`);
      assertEquals(await buckets.take("other", 0.01, 1), true);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  await t.step("the database unreachable: each process's share holds instead", async () => {
    const unreachable: SharedRateBuckets = {
      take: () => Promise.reject(new Error("connection refused")),
    };
    const lone = responder(unreachable, 6);
    const pubkey = localNodeSigner(townKey).pubkey;
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      outcomes.push(await outcome(lone.respond(await request(pubkey), { account: "carol" })));
    }
    // The share: 6 a minute, burst 6 / 6 = 1.
    assertEquals(outcomes[0], "answered");
    assert(outcomes.slice(1).every((o) => o.startsWith("T05")), outcomes.join("\n"));
  });
});
