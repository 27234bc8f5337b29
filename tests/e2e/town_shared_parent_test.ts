/**
 * The parent link of a town on two processes over one PostgreSQL database (a real server this
 * file starts), both children of one account of the Interledger reference connector
 * (`ilp-connector`, run with Node), which takes one connection per account and closes the older
 * one when another logs in: one process holds the link (roles/town/btp/shared_parent_link.ts),
 * the other sends its parent-bound packets to it. Packets from children of both processes reach
 * another town through the connector, every one answered by that town (before: each process
 * dialled, each login closed the other's link, and packets in flight on it failed `T01
 * connection lost`); a packet from the other town reaches a child of the process without the
 * link; the holder SIGKILLed, the other process takes the link over; the killed one started
 * again sends through it.
 */
import { assertEquals } from "../../harness/assert.ts";
import { startReferenceConnector } from "../../harness/reference_connector.ts";
import {
  type SharedTownProcess,
  startSharedTownProcess,
} from "../../harness/shared_town_process.ts";
import { btpOf, within } from "../support/town_network_kit.ts";
import { unfulfillablePayment } from "../../harness/channel_town.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import { BtpClient } from "../../transport/btp_client.ts";
import type { IlpReply } from "../../protocol/ilp_packet.ts";
import { generateSecretKey } from "nostr-tools";

/** Who answered a packet: a REJECT's code and trigger, or the transport's error. */
function answerOf(reply: IlpReply | Error): string {
  if (reply instanceof Error) return `error ${reply.message}`;
  return reply.type === "reject" ? `${reply.code} ${reply.triggeredBy}` : "fulfill";
}

/** A child `alice` of the town process, answering each packet for her F99 from herself. */
async function alice(town: SharedTownProcess): Promise<BtpClient> {
  const client = new BtpClient({
    url: btpOf(town, "alice"),
    authToken: "t",
    reconnect: false,
    onPrepare: () => ({
      type: "reject",
      code: "F99",
      triggeredBy: "test.conn.t0.alice",
      message: "alice says no",
      data: new Uint8Array(0),
    }),
  });
  await client.connect();
  return client;
}

Deno.test("shared parent link: one process of a two-process town dials the connector, the other sends through it; the holder killed, the other takes over", async () => {
  await using connector = await startReferenceConnector({ accounts: { t0: {}, t1: {} } });
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const key = generateSecretKey();
  const parent = { url: connector.accounts.t0.url, token: connector.accounts.t0.secret };
  const processes: SharedTownProcess[] = [];
  const clients: BtpClient[] = [];
  try {
    processes.push(await startSharedTownProcess({ storeUrl, secretKey: key, parent }));
    processes.push(await startSharedTownProcess({ storeUrl, secretKey: key, parent }));
    const other = await startSharedTownProcess({
      secretKey: generateSecretKey(),
      parent: { url: connector.accounts.t1.url, token: connector.accounts.t1.secret },
    });
    processes.push(other);
    // The second process learnt the town's address from the store, not from the parent.
    assertEquals(processes.map((p) => p.ilpAddress), [
      "test.conn.t0",
      "test.conn.t0",
      "test.conn.t1",
    ]);
    for (const p of processes.slice(0, 2)) clients.push(await alice(p));
    const fromOther = new BtpClient({ url: btpOf(other, "bob"), authToken: "t", reconnect: false });
    clients.push(fromOther);
    await fromOther.connect();

    // 60 packets over about 6 s from both processes: each reaches the other town, which has
    // no `nobody` connected (F02 from test.conn.t1). Two links would close each other about
    // once a second.
    const answers = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const reply = await clients[i % 2].sendPrepare(
        unfulfillablePayment("test.conn.t1.nobody", 1n),
      ).catch((err: Error) => err);
      const answer = answerOf(reply);
      answers.set(answer, (answers.get(answer) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 100));
    }
    assertEquals(Object.fromEntries(answers), { "F02 test.conn.t1": 60 });
    // The other way: through the holder to alice on the process without the link.
    const back = await fromOther.sendPrepare(unfulfillablePayment("test.conn.t0.alice.x", 1n));
    assertEquals(answerOf(back), "F99 test.conn.t0.alice", JSON.stringify(back));

    // The holder (the first up) SIGKILLed: the second takes the link over.
    await clients[0].close();
    await processes[0].kill();
    await within(
      "the second process sends through the parent after the holder's kill",
      (async () => {
        for (;;) {
          const reply = await clients[1].sendPrepare(
            unfulfillablePayment("test.conn.t1.nobody", 1n),
          ).catch((err: Error) => err);
          if (answerOf(reply) === "F02 test.conn.t1") return;
          await new Promise((r) => setTimeout(r, 200));
        }
      })(),
      30_000,
    );
    // Started again, the first process finds the link held and sends through the second.
    processes[0] = await startSharedTownProcess({ storeUrl, secretKey: key, parent });
    assertEquals(processes[0].ilpAddress, "test.conn.t0");
    clients[0] = await alice(processes[0]);
    for (let i = 0; i < 20; i++) {
      const reply = await clients[i % 2].sendPrepare(
        unfulfillablePayment("test.conn.t1.nobody", 1n),
      ).catch((err: Error) => err);
      assertEquals(answerOf(reply), "F02 test.conn.t1", `packet ${i}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    for (const c of clients) await c.close().catch(() => {});
    for (const p of processes) await p.stop().catch(() => {});
  }
});
