/**
 * The zlib step of a loose object (`state/audit/git_commit_writer.ts`): `deflateSync` at level 1 (what
 * the writer used for every object), at level 0, and the writer's hand-made stored blocks
 * (`zlibStored`), on a job record's blob (about 700 bytes) and a 64 KiB payment log.
 *
 *     deno bench -A bench/loose_object_zlib_bench.ts
 *
 * @module
 */
import { deflateSync } from "node:zlib";
import { zlibStored } from "../state/audit/git_pack_writer.ts";

const record = new TextEncoder().encode(
  `blob 700\0${'id = "' + "ab".repeat(32) + '"\nstatus = "sent"\nkind = 5100\n'}`.repeat(6),
);
const log = new TextEncoder().encode(
  `{"ts":"2026-11-24T12:00:00.000Z","direction":"out","event":"intent","amount":"100"}\n`.repeat(
    780,
  ),
);

for (const [name, raw] of [["job record", record], ["64 KiB log", log]] as const) {
  Deno.bench(`${name}: deflateSync level 1`, { group: name, baseline: true }, () => {
    deflateSync(raw, { level: 1 });
  });
  Deno.bench(`${name}: deflateSync level 0`, { group: name }, () => {
    deflateSync(raw, { level: 0 });
  });
  Deno.bench(`${name}: zlibStored`, { group: name }, () => {
    zlibStored(raw);
  });
}
