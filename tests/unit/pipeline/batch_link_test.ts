import { assertEquals } from "../../../harness/assert.ts";
import { LinkReceiver, LinkSender } from "../../../pipeline/batch_link.ts";
import type { LinkMessage } from "../../../pipeline/worker_messages.ts";

function batch(seq: number): LinkMessage {
  return { t: "batch", seq, chunks: [{ type: "toon", toon: `n: ${seq}` }], work: [] };
}

/** Resolves once `seqs` has `n` entries (messages arrive a macrotask later). */
async function until(seqs: number[], n: number): Promise<void> {
  while (seqs.length < n) await new Promise((resolve) => setTimeout(resolve, 1));
}

Deno.test("a link sender waits at its window and resumes when messages are through", async () => {
  const { port1, port2 } = new MessageChannel();
  const sender = new LinkSender(port1, { window: 2 });
  const seqs: number[] = [];
  const receiver = new LinkReceiver(port2, (m) => void seqs.push(m.seq));
  await sender.send(batch(0));
  await sender.send(batch(1));
  let third = false;
  const sending = sender.send(batch(2)).then(() => (third = true));
  await until(seqs, 2);
  assertEquals([third, sender.heldChunks], [false, 2]);
  sender.release(0);
  await sending;
  await until(seqs, 3);
  assertEquals([seqs, sender.heldChunks], [[0, 1, 2], 2]);
  sender.close();
  receiver.close();
});

Deno.test("a new port gets every held message again and the receiver takes each seq once", async () => {
  const first = new MessageChannel();
  const sender = new LinkSender(first.port1, { window: 8 });
  const seqs: number[] = [];
  const receiver = new LinkReceiver(first.port2, (m) => void seqs.push(m.seq));
  for (let seq = 0; seq < 4; seq++) await sender.send(batch(seq));
  await until(seqs, 4);
  sender.release(1);
  // The sender side moves to a new port, as when the worker upstream was restarted: 2 and 3
  // arrive again and are dropped; 4 is new.
  const second = new MessageChannel();
  receiver.replacePort(second.port2);
  sender.replacePort(second.port1);
  await sender.send(batch(4));
  await until(seqs, 5);
  assertEquals(seqs, [0, 1, 2, 3, 4]);
  // A fresh receiver (a restarted worker downstream) gets everything not yet through.
  const third = new MessageChannel();
  const again: number[] = [];
  const fresh = new LinkReceiver(third.port2, (m) => void again.push(m.seq));
  sender.replacePort(third.port1);
  await until(again, 3);
  assertEquals(again, [2, 3, 4]);
  sender.close();
  receiver.close();
  fresh.close();
});

Deno.test("a receiver hears only its current port: a replaced sender's late messages are not taken", async () => {
  // The dead upstream worker's port: 0 and 1 arrive, then it is replaced; 2 and 3 were posted on
  // it too. The restarted upstream sends 2 and 3 again on the new port, after a pause in which
  // the old port's messages would have been dispatched if anything still listened to them.
  const old = new MessageChannel();
  const seqs: number[] = [];
  const receiver = new LinkReceiver(old.port2, (m) => void seqs.push(m.seq));
  old.port1.postMessage(batch(0));
  old.port1.postMessage(batch(1));
  await until(seqs, 2);
  const fresh = new MessageChannel();
  old.port1.postMessage(batch(2));
  old.port1.postMessage(batch(3));
  receiver.replacePort(fresh.port2);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assertEquals(seqs, [0, 1]);
  for (const seq of [2, 3, 4]) fresh.port1.postMessage(batch(seq));
  await until(seqs, 5);
  assertEquals(seqs, [0, 1, 2, 3, 4]);
  receiver.close();
  old.port1.close();
  fresh.port1.close();
});
