/**
 * The parent link's lock (state/postgres/postgres_uplink.ts, roles/town/btp/shared_parent_link.ts) on a
 * real PostgreSQL server, two processes' sides in one test: the first to ask holds the link and
 * saves the town's address, the second learns the address from the store and dials nothing; the
 * first's session ended from the server (`pg_terminate_backend`, as when its connection dies),
 * the second takes the lock at its next ask and dials, and the first, asking again on a new
 * connection, finds the lock taken and closes its link. The links here are records of the dials
 * (`linkRecorder`): what is under test is who dials, not BTP.
 */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { freshDatabase } from "../../../../harness/postgres_database.ts";
import { startPostgresServer } from "../../../../state/postgres/postgres_server.ts";
import { openPostgresUplink } from "../../../../state/postgres/postgres_uplink.ts";
import { startSharedParentLink } from "../../../../roles/town/btp/shared_parent_link.ts";
import type { ParentLink } from "../../../../roles/town/btp/btp_parent_link.ts";
import postgres from "postgres";

const ILDCP = { clientAddress: "test.conn.t0", assetCode: "M2M", assetScale: 6 };

/** Dials that record themselves: how many were made, how many are open. */
function linkRecorder() {
  const state = { dials: 0, open: 0 };
  const connect = (): Promise<ParentLink> => {
    state.dials++;
    state.open++;
    return Promise.resolve({
      ildcp: ILDCP,
      client: undefined as never,
      request: () => Promise.reject(new Error("no packets here")),
      close: () => {
        state.open--;
        return Promise.resolve();
      },
    });
  };
  return { state, connect };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 1200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  assert(check(), what);
}

Deno.test("shared parent link: one process dials; its session gone, the other takes over and the first closes its link", async () => {
  await using pg = await startPostgresServer();
  const url = await freshDatabase(pg.url);
  const locks = [await openPostgresUplink({ url }), await openPostgresUplink({ url })];
  const dials = [linkRecorder(), linkRecorder()];
  const links = [];
  try {
    for (const i of [0, 1]) {
      links.push(
        await startSharedParentLink({
          lock: locks[i],
          connect: dials[i].connect,
          // The first asks less often than the second: after its session ends, whichever asks
          // first takes the lock, and the second asking first is the takeover under test (the
          // first re-taking it on a new session would be as correct, and tests nothing).
          intervalMs: i === 0 ? 1_000 : 50,
        }),
      );
    }
    assertEquals(links.map((l) => l.ildcp), [ILDCP, ILDCP], "the second read the saved address");
    assertEquals(dials.map((d) => d.state.dials), [1, 0]);
    assert(links[0].current() !== undefined && links[1].current() === undefined);
    // Several asks later (the first's too), still one link.
    await new Promise((r) => setTimeout(r, 2_200));
    assertEquals(dials.map((d) => d.state.open), [1, 0]);

    // The first's session ended by the server: its lock is free, the second takes it.
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted",
      );
    } finally {
      await admin.end();
    }
    await until("the second dials", () => dials[1].state.open === 1);
    await until("the first closes its link", () => dials[0].state.open === 0);
    assert(links[0].current() === undefined && links[1].current() !== undefined);
  } finally {
    for (const l of links) await l.close();
    for (const l of locks) await l.close().catch(() => {});
  }
  assertEquals(dials.map((d) => d.state.open), [0, 0]);
});
