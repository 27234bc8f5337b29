/**
 * Modules stay small (docs/ARCHITECTURE.md "Layers"): a role's root only wires its parts, at most
 * {@linkcode ROOT_LINES} lines; every other module of the source folders at most
 * {@linkcode MODULE_LINES}, except the few listed in {@linkcode LARGER}, each held at the size it
 * had when the limit came in (they may shrink, never grow; when one shrinks under the limit, its
 * entry goes). The anchors' largest files are 100-400 lines.
 */
import { assertEquals } from "../../../harness/assert.ts";
import { SOURCE_FOLDERS, sourceFiles } from "../../support/source_files.ts";

/** A role's root: `roles/<role>/<role>_node.ts`. */
const ROOT_LINES = 450;
/** Any other module under the source folders. */
const MODULE_LINES = 500;
/** Modules above the limit, at the most lines each may have. */
const LARGER: Readonly<Record<string, number>> = {
  "protocol/kind_extractor.ts": 1021,
  "transport/btp_client.ts": 870,
  "state/events/event_store.ts": 809,
  "transport/nodelay_websocket.ts": 794,
  "cli/job_command.ts": 647,
  "chain/token_network_client.ts": 762,
  "state/postgres/postgres_event_store.ts": 748,
  "protocol/nip90_job.ts": 636,
  "config/settings.ts": 636,
  "chain/balance_proof.ts": 580,
  "protocol/ilp_packet.ts": 625,
  "config/town_settings.ts": 607,
  "protocol/payment_channel_cosign.ts": 599,
  "state/blobs/blob_store.ts": 581,
  "state/audit/audit_log.ts": 547,
  "state/jobs/job_repository.ts": 540,
  "stages/ilp_prepare_sink.ts": 513,
};

async function modules(): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (const [path, text] of await sourceFiles(SOURCE_FOLDERS, /\.tsx?$/)) {
    sizes.set(path, text.split("\n").length - (text.endsWith("\n") ? 1 : 0));
  }
  return sizes;
}

Deno.test("module size: each role's root at most 450 lines, every other module at most 500 or its listed size", async () => {
  const sizes = await modules();
  const over: string[] = [];
  for (const [path, lines] of sizes) {
    const isRoot = /^roles\/(\w+)\/\1_node\.ts$/.test(path);
    const limit = isRoot ? ROOT_LINES : LARGER[path] ?? MODULE_LINES;
    if (lines > limit) over.push(`${path}: ${lines} lines, at most ${limit}`);
  }
  assertEquals(over, []);
});

Deno.test("module size: the list of larger modules names only files that exist and are above the limit", async () => {
  const sizes = await modules();
  const stale = Object.keys(LARGER).filter((path) => (sizes.get(path) ?? 0) <= MODULE_LINES);
  assertEquals(stale, [], "remove these from LARGER: they are gone or under the limit");
});
