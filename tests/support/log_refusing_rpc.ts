/**
 * Test helper: a JSON-RPC proxy in front of a real node (anvil) that refuses every `eth_getLogs`
 * the way a hosted RPC refuses a block range wider than its cap (HTTP 200, JSON-RPC error
 * `-32602`); every other call (state reads, transactions, receipts) goes through to the node. A
 * chain client on it reads the chain but not its logs: the "logs unreadable" case of
 * roles/channels/settle_or_book.ts.
 *
 * @module
 */

/** A running proxy. */
export interface LogRefusingRpc extends AsyncDisposable {
  /** The proxy's URL, an `rpc_url`. */
  url: string;
  /** How many `eth_getLogs` calls it refused so far. */
  refused(): number;
}

interface RpcCall {
  jsonrpc: string;
  id: number | string | null;
  method: string;
  params?: unknown[];
}

/** The message a capped RPC answers (as hosted RPCs word it). */
export const LOGS_REFUSED = "eth_getLogs is limited to a 0 block range on this RPC";

/**
 * Listens on a free loopback port and forwards JSON-RPC calls to `target`, refusing the logs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startLogRefusingRpc } from "./log_refusing_rpc.ts";
 *
 * await using rpc = startLogRefusingRpc("http://127.0.0.1:8545"); // anvil's URL
 * const res = await fetch(rpc.url, {
 *   method: "POST",
 *   body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_getLogs", params: [{}] }),
 * });
 * assert.equal((await res.json()).error.code, -32602);
 * assert.equal(rpc.refused(), 1);
 * ```
 */
export function startLogRefusingRpc(target: string): LogRefusingRpc {
  let refused = 0;
  const answer = async (call: RpcCall): Promise<unknown> => {
    if (call.method === "eth_getLogs") {
      refused++;
      return { jsonrpc: "2.0", id: call.id, error: { code: -32602, message: LOGS_REFUSED } };
    }
    const res = await fetch(target, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(call),
    });
    return await res.json();
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const body = await req.json() as RpcCall | RpcCall[];
      const out = Array.isArray(body) ? await Promise.all(body.map(answer)) : await answer(body);
      return Response.json(out);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    refused: () => refused,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
