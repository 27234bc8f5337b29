/**
 * Test helper run as a separate process by tests/e2e/town_books_crash_test.ts, so it can be
 * killed with SIGKILL between forwarding a payment and recording its answer: a town at
 * `test.town` from the state dir given (its books per peer resumed from `peer_ledger.jsonl`),
 * peers alice (token `alice-token`) and beta (`beta-token`), printing its BTP URL as JSON.
 *
 * @module
 */
import { generateSecretKey } from "nostr-tools";
import { startTownNode } from "../../roles/town/town_node.ts";
import { claimTownConfig } from "../../harness/channel_town.ts";

const stateDir = Deno.args[0];
const config = claimTownConfig({ stateDir });
config.peers.push({ account: "beta", token: "beta-token" });
const town = await startTownNode({
  config,
  secretKey: generateSecretKey(),
  databasePath: ":memory:",
});
console.log(JSON.stringify({ url: `btp+ws://127.0.0.1:${town.btpPort}` }));
Deno.addSignalListener("SIGTERM", () => town.stop().then(() => Deno.exit(0)));
