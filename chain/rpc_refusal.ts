/**
 * Whether an RPC call's failure is the node's answer or the way to it: a JSON-RPC error response
 * (the node refused the request: a capped log range, a method it does not serve) is an answer that
 * asking again will not change; a timeout, a refused connection or an HTTP 408/429/5xx is not, and
 * the caller should ask again later (roles/channels/settle_or_book.ts books by its own records
 * only on the former: docs/OPERATIONS.md "A settle someone else sent first").
 *
 * @module
 */
import { BaseError, RpcRequestError } from "viem";

/**
 * The node's JSON-RPC refusal inside `err` (viem's `RpcRequestError`, or anything that wraps
 * one), in a line: viem's first line of `err` and the node's own words (`details`); undefined
 * when the failure is the transport's (timeouts, HTTP errors, connection refused).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HttpRequestError, RpcRequestError } from "viem";
 * import { rpcRefusal } from "./rpc_refusal.ts";
 *
 * const body = { method: "eth_getLogs", params: [] };
 * const refused = new RpcRequestError({
 *   body,
 *   error: { code: -32602, message: "block range too wide" },
 *   url: "http://rpc",
 * });
 * assert.ok(rpcRefusal(refused)?.includes("block range too wide"));
 * assert.equal(rpcRefusal(new HttpRequestError({ body, status: 429, url: "http://rpc" })), undefined);
 * ```
 */
export function rpcRefusal(err: unknown): string | undefined {
  if (!(err instanceof BaseError) || !err.walk((e) => e instanceof RpcRequestError)) {
    return undefined;
  }
  const first = err.message.split("\n")[0];
  return err.details && !first.includes(err.details) ? `${first} (${err.details})` : first;
}
