/**
 * How a requester's payment leaves when it has several towns (roles/requester/town_links.ts):
 * by the first open town, by the next when that town's connection is lost or it stays silent
 * (a killed town's socket can look open for a while: measured in
 * bench/town_network_bench_script.ts), the first FULFILL winning, a reject final. The links are
 * stand-ins (`fakeLink`): a socket that stays open after its peer died cannot be made on demand.
 */
import { assertEquals, assertRejects } from "../../../../harness/assert.ts";
import { PaymentInDoubtError, sendHedged } from "../../../../roles/requester/town_links.ts";
import type { TownLink } from "../../../../roles/requester/town_link.ts";
import {
  BtpConnectionError,
  BtpConnectionLostError,
  BtpTimeoutError,
} from "../../../../transport/btp_client.ts";
import type { IlpPrepare, IlpReply } from "../../../../protocol/ilp_packet.ts";

const prepare = (): IlpPrepare => ({
  amount: "100",
  destination: "test.b.provider.x",
  executionCondition: new Uint8Array(32),
  expiresAt: new Date(Date.now() + 30_000),
  data: new Uint8Array(),
});
const fulfill: IlpReply = {
  type: "fulfill",
  fulfillment: new Uint8Array(32),
  data: new Uint8Array(),
};
const reject = (code: string): IlpReply => ({
  type: "reject",
  code,
  triggeredBy: "",
  message: "",
  data: new Uint8Array(),
});

/** A stand-in link: its state and what its `send` does; counts the sends. */
function fakeLink(
  state: string,
  send: () => Promise<IlpReply>,
): TownLink & { sends: number } {
  const link = {
    sends: 0,
    btp: { state },
    send: () => {
      link.sends++;
      return send();
    },
  };
  return link as unknown as TownLink & { sends: number };
}
const never = () => new Promise<IlpReply>(() => {});

Deno.test("town links: a payment goes by the first town when it answers, the others untouched", async () => {
  const a = fakeLink("open", () => Promise.resolve(fulfill));
  const b = fakeLink("open", () => Promise.resolve(fulfill));
  assertEquals((await sendHedged(prepare(), a, [a, b], 50)).type, "fulfill");
  assertEquals([a.sends, b.sends], [1, 0]);
});

Deno.test("town links: a lost connection sends by the next open town, a closed one skipped", async () => {
  const a = fakeLink("open", () => Promise.reject(new Error("connection lost")));
  const down = fakeLink("reconnecting", () => Promise.resolve(fulfill));
  const c = fakeLink("open", () => Promise.resolve(fulfill));
  assertEquals((await sendHedged(prepare(), a, [a, down, c], 10_000)).type, "fulfill");
  assertEquals([a.sends, down.sends, c.sends], [1, 0, 1]);
});

Deno.test("town links: a silent town is hedged by the next after the delay; its late reject loses", async () => {
  let late!: (r: IlpReply) => void;
  const a = fakeLink("open", () => new Promise((r) => late = r));
  const b = fakeLink("open", () => Promise.resolve(fulfill));
  const reply = await sendHedged(prepare(), a, [a, b], 20);
  assertEquals(reply.type, "fulfill");
  late(reject("F99")); // the provider refuses the second PREPARE of a paid invoice
  assertEquals([a.sends, b.sends], [1, 1]);
});

Deno.test("town links: an ILP reject is final (not sent again elsewhere)", async () => {
  const a = fakeLink("open", () => Promise.resolve(reject("F02")));
  const b = fakeLink("open", () => Promise.resolve(fulfill));
  const reply = await sendHedged(prepare(), a, [a, b], 10_000);
  assertEquals(reply.type === "reject" && reply.code, "F02");
  assertEquals(b.sends, 0);
});

Deno.test("town links: every town down: the first error", async () => {
  const a = fakeLink("open", () => Promise.reject(new Error("connection lost")));
  const b = fakeLink("reconnecting", never);
  await assertRejects(() => sendHedged(prepare(), a, [a, b], 10_000), Error, "connection lost");
});

Deno.test("town links: a town lost under the PREPARE, then a reject by the next: in doubt, not a reject", async () => {
  // The first PREPARE may have been fulfilled with its reply lost; the provider then refuses the
  // second for an invoice already paid. Reporting that reject would end a paid job in error.
  const a = fakeLink("open", () => Promise.reject(new Error("connection lost")));
  const b = fakeLink("open", () => Promise.resolve(reject("F02")));
  await assertRejects(() => sendHedged(prepare(), a, [a, b], 10_000), PaymentInDoubtError);
  assertEquals([a.sends, b.sends], [1, 1]);
});

Deno.test("town links: no answer after the PREPARE left (a timeout, the socket lost) is in doubt, not the error", async () => {
  for (const err of [new BtpTimeoutError("no answer"), new BtpConnectionLostError("lost")]) {
    const a = fakeLink("open", () => Promise.reject(err));
    await assertRejects(() => sendHedged(prepare(), a, [a], 10_000), PaymentInDoubtError);
  }
  // Never sent (not connected): nothing moved, the error itself.
  const b = fakeLink("open", () => Promise.reject(new BtpConnectionError("not connected")));
  await assertRejects(() => sendHedged(prepare(), b, [b], 10_000), BtpConnectionError);
});
