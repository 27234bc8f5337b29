// An independent reference Nostr relay for interop tests: @nostr-relay/core + the SQLite event
// repository + the zod validator, on a `ws` server.
// Usage: node nostr_relay.mjs <port> <sqlite file>
// Prints "READY <port>" on stdout once listening (port 0 picks a free port).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { NostrRelay } = require("@nostr-relay/core");
const { EventRepositorySqlite } = require("@nostr-relay/event-repository-sqlite");
const { Validator } = require("@nostr-relay/validator");
const { WebSocketServer } = require("ws");

const port = Number(process.argv[2] ?? 0);
const dbFile = process.argv[3] ?? ":memory:";

// A query without `limit` returns at most defaultLimit events: keep it high so a client that
// re-subscribes with `since` after downtime gets everything it missed.
const repository = new EventRepositorySqlite(dbFile, { defaultLimit: 10000 });
await repository.init();
// filterResultCacheTtl 0: the default 1 s cache answers an identical REQ with the stored
// events of the previous identical REQ, hiding events stored in between from a reconnecting client.
const relay = new NostrRelay(repository, { filterResultCacheTtl: 0, logLevel: 3 });
const validator = new Validator();

const wss = new WebSocketServer({ host: "127.0.0.1", port });
wss.on("connection", (ws) => {
  relay.handleConnection(ws);
  ws.on("message", async (data) => {
    try {
      const message = await validator.validateIncomingMessage(data);
      await relay.handleMessage(ws, message);
    } catch (error) {
      // NIP-01: a refused REQ is answered with CLOSED "invalid: ...", anything else with NOTICE.
      const reason = String(error?.message ?? error);
      let parsed;
      try {
        parsed = JSON.parse(String(data));
      } catch { /* not JSON */ }
      if (Array.isArray(parsed) && parsed[0] === "REQ" && typeof parsed[1] === "string") {
        ws.send(JSON.stringify(["CLOSED", parsed[1], `invalid: ${reason}`]));
      } else {
        ws.send(JSON.stringify(["NOTICE", reason]));
      }
    }
  });
  ws.on("close", () => relay.handleDisconnect(ws));
  ws.on("error", () => relay.handleDisconnect(ws));
});
wss.on("listening", () => {
  process.stdout.write(`READY ${wss.address().port}\n`);
});
