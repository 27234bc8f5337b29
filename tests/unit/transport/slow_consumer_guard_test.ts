import { assert, assertEquals } from "../../../harness/assert.ts";
import { SlowConsumerGuard } from "../../../transport/slow_consumer_guard.ts";

/** A stand-in socket: its backlog is set by the test; `close` records the code. */
class FakeSocket extends EventTarget {
  bufferedAmount = 0;
  readyState: number = WebSocket.OPEN;
  closedWith?: number;
  close(code?: number) {
    this.closedWith = code;
    this.readyState = WebSocket.CLOSING;
  }
  /** The transport dropped the connection: its close event. */
  drop() {
    this.bufferedAmount = 0;
    this.readyState = WebSocket.CLOSED;
    this.dispatchEvent(new Event("close"));
  }
  get ws(): WebSocket {
    return this as unknown as WebSocket;
  }
}

function guard(now: { t: number }) {
  return new SlowConsumerGuard({
    maxBytesPerSocket: 4000,
    highWaterBytes: 2000,
    timeoutMs: 1000,
    maxBytesTotal: 10_000,
    sweepMs: 60_000,
    now: () => now.t,
  });
}

Deno.test("slow consumer guard: a send past the per-socket limit closes that socket (1008)", () => {
  const g = guard({ t: 0 });
  const s = new FakeSocket();
  const reasons: string[] = [];
  const watched = g.watch(s.ws, (reason) => reasons.push(reason));
  s.bufferedAmount = 3000;
  assert(watched.sent());
  assert(g.over(s.ws));
  s.bufferedAmount = 4001;
  assert(!watched.sent());
  assertEquals([s.closedWith, reasons], [1008, ["socket-limit"]]);
  s.drop();
  assertEquals(g.stats().sockets, 0);
  g.close();
});

Deno.test("slow consumer guard: a socket over the high-water mark for the timeout is closed", () => {
  const now = { t: 0 };
  const g = guard(now);
  const s = new FakeSocket();
  g.watch(s.ws);
  s.bufferedAmount = 2500;
  g.sweep();
  now.t = 999;
  g.sweep();
  assertEquals(s.closedWith, undefined);
  now.t = 1000;
  g.sweep();
  assertEquals([s.closedWith, g.stats().closed.stalled], [1008, 1]);
  g.close();
});

Deno.test("slow consumer guard: a socket that drains under the mark starts its time again", () => {
  const now = { t: 0 };
  const g = guard(now);
  const s = new FakeSocket();
  g.watch(s.ws);
  s.bufferedAmount = 2500;
  g.sweep();
  now.t = 900;
  s.bufferedAmount = 100;
  g.sweep();
  s.bufferedAmount = 2500;
  now.t = 1500;
  g.sweep();
  now.t = 2400;
  g.sweep();
  assertEquals(s.closedWith, undefined);
  g.close();
});

Deno.test("slow consumer guard: over the total, the largest backlogs that are behind close first; a fresh burst does not", () => {
  const g = guard({ t: 0 });
  const behind = [new FakeSocket(), new FakeSocket(), new FakeSocket()];
  const reader = new FakeSocket();
  const watched = [...behind, reader].map((s) => g.watch(s.ws));
  behind.forEach((s, i) => s.bufferedAmount = 1500 + i * 100); // 1500, 1600, 1700
  g.sweep(); // they were behind at this sweep; the reader had nothing queued
  reader.bufferedAmount = 1900; // one publish queued this much, not yet written
  watched[3].sent();
  behind[0].bufferedAmount = 3900;
  watched[0].sent();
  behind[1].bufferedAmount = 3800;
  watched[1].sent(); // 3900 + 3800 + 1700 + 1900 = 11300 > 10000
  assertEquals(behind.map((s) => s.closedWith), [1008, undefined, undefined]);
  assertEquals(reader.closedWith, undefined);
  assertEquals(g.stats().closed["total-limit"], 1);
  g.close();
});
