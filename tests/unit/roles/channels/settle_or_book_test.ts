/**
 * roles/channels/settle_or_book.ts on a channel found gone from the chain, over a chain stub (the
 * RPC's failures are what is tested; the anvil tests cover the chain itself): the node's JSON-RPC
 * refusal of the log range books by the caller's records (`unreadable`); a timeout or an HTTP
 * error on the way to the node books nothing and is thrown, so the next poll asks again.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { HttpRequestError, RpcRequestError, TimeoutError } from "viem";
import type { ChannelChain } from "../../../../roles/channels/channel_chain_sync.ts";
import { settleOrBook } from "../../../../roles/channels/settle_or_book.ts";

const body = { method: "eth_getLogs", params: [] };
const url = "http://rpc.example";

/** A chain stub whose channel is gone (settled) and whose log read fails with `failure`. */
function goneChannelStub(failure: Error): ChannelChain {
  return {
    getChannel: () => Promise.resolve({ state: "none", settleAt: 0n, participants: {} }),
    channelExisted: () => Promise.resolve(true),
    submittedProofs: () => Promise.reject(failure),
  } as unknown as ChannelChain;
}

const channel = { channelId: `0x${"c5".repeat(32)}`, tokenNetworkAddress: "0x02" } as const;

Deno.test("settle or book: the node's refusal of the logs books by the records, said why", async () => {
  const refusal = new RpcRequestError({
    body,
    error: { code: -32602, message: "query exceeds max block range 10000" },
    url,
  });
  const settlement = await settleOrBook(goneChannelStub(refusal), channel);
  assertEquals(settlement?.outcome, { by: "gone" });
  assertEquals(settlement?.proofs, undefined);
  assertEquals(settlement?.unreadable?.includes("query exceeds max block range 10000"), true);
});

Deno.test("settle or book: a timeout or an HTTP error reaching the node books nothing: thrown, asked again", async () => {
  const transient = [
    new HttpRequestError({ body, status: 429, url, details: "Too Many Requests" }),
    new HttpRequestError({ body, status: 503, url }),
    new TimeoutError({ body, url }),
  ];
  for (const failure of transient) {
    const thrown = await settleOrBook(goneChannelStub(failure), channel).then(
      () => undefined,
      (err: Error) => err,
    );
    assertEquals(thrown, failure);
  }
});
