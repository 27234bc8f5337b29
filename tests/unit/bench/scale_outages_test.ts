/** The scale harness charges each failed job to the chaos outage it lived through. */
import { assertEquals } from "../../../harness/assert.ts";
import { outageOfJob, outagesOf } from "../../../bench/scale_outages.ts";

const events = [
  { atMs: 1_000, what: "town 0 process 1 SIGKILL" },
  { atMs: 2_500, what: "town 0 restarted" },
  { atMs: 3_000, what: "requester host 1 SIGKILL" },
  { atMs: 30_000, what: "requester host 1 restarted" },
  { atMs: 31_000, what: "provider host 4 SIGKILL" },
  { atMs: 70_000, what: "provider host 4 restarted" },
  { atMs: 80_000, what: "PostgreSQL stopped (immediate)" },
  { atMs: 81_500, what: "PostgreSQL restarted" },
  { atMs: 90_000, what: "requester host 2 SIGKILL" },
  { atMs: 95_000, what: "requester host 2 not restarted" },
];

Deno.test("outagesOf pairs each kill with its process's restart, and leaves one never back open", () => {
  assertEquals(outagesOf(events, 100_000), [
    { who: "town 0", fromMs: 1_000, toMs: 2_500 },
    { who: "requester host 1", fromMs: 3_000, toMs: 30_000 },
    { who: "provider host 4", fromMs: 31_000, toMs: 70_000 },
    { who: "postgres", fromMs: 80_000, toMs: 81_500 },
    { who: "requester host 2", fromMs: 90_000, toMs: 100_000 },
  ]);
});

Deno.test("outageOfJob charges a job to the first outage of its own processes in its life", () => {
  const o = outagesOf(events, 100_000);
  const parts = { providerHost: 4, requesterHost: 1, towns: [1, 2], postgres: false };
  // Both hosts were down during its life: its provider's host comes first.
  assertEquals(outageOfJob(o, parts, 0, 40_000), "provider host down");
  assertEquals(outageOfJob(o, parts, 0, 20_000), "requester host down");
  // Another host's outage is not this job's.
  assertEquals(outageOfJob(o, { ...parts, providerHost: 5 }, 35_000, 60_000), "no outage");
  assertEquals(outageOfJob(o, { towns: [0], postgres: true }, 2_000, 2_100), "its town restarting");
  assertEquals(
    outageOfJob(o, { towns: [0], postgres: true }, 79_000, 85_000),
    "PostgreSQL restarting",
  );
  assertEquals(outageOfJob(o, { towns: [1], postgres: false }, 79_000, 85_000), "no outage");
  assertEquals(
    outageOfJob(o, { requesterHost: 2, towns: [1], postgres: false }, 99_000, 99_500),
    "requester host down",
  );
});
