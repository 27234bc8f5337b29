/**
 * Test helper: a TCP proxy on a free loopback port forwarding to a target port, that a test can
 * cut (every connection closed, new ones refused) or hold for a while (every connection closed,
 * new ones closed as they come, until released): one link of a peer (a town's BTP port) going
 * away, for good or for a time, while the rest of it (its relay) still answers. A stall drops
 * the WebSocket data frames the connections send to the target until they are held (their
 * pings and pongs still pass, so the server keeps them): what was sent then never arrives (a
 * payment's PREPARE written to a socket that dies before it is read).
 *
 * @module
 */
import { websocketDataGate } from "./websocket_data_gate.ts";

/** A running proxy. */
export interface TcpProxy extends AsyncDisposable {
  /** The proxy's port. */
  port: number;
  /** Closes every connection and stops listening. */
  cut(): Promise<void>;
  /** Closes every connection; each new one is closed at once until {@linkcode release}. */
  hold(): void;
  /** Drops the WebSocket data frames sent to the target from now until {@linkcode hold}. */
  stall(): void;
  /** How many data frames a stall dropped so far. */
  dropped(): number;
  /** Forwards new connections again. */
  release(): void;
}

/**
 * Listens on a free port and pipes each connection to `127.0.0.1:<targetPort>` both ways.
 *
 * @example
 * ```ts
 * await using proxy = startTcpProxy(7768);
 * const url = `btp+ws://127.0.0.1:${proxy.port}`; // reaches port 7768 until cut
 * proxy.stall(); // what is sent now is lost...
 * proxy.hold(); // ...with the link: each connection is closed as it comes
 * proxy.release(); // and up again
 * await proxy.cut();
 * ```
 */
export function startTcpProxy(targetPort: number): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  let held = false;
  let stalled = false;
  let dropped = 0;
  const pipes: Promise<unknown>[] = [];
  const close = (c: Deno.Conn) => {
    conns.delete(c);
    try {
      c.close();
    } catch {
      // closed already
    }
  };
  const accepting = (async () => {
    for await (const inbound of listener) {
      if (held) {
        close(inbound);
        continue;
      }
      let outbound: Deno.Conn;
      try {
        outbound = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
      } catch {
        close(inbound);
        continue;
      }
      conns.add(inbound);
      conns.add(outbound);
      const pair = () => {
        close(inbound);
        close(outbound);
      };
      // A stall drops the client's WebSocket data frames, whole (its keepalive still answered).
      const gate = websocketDataGate({ dropping: () => stalled, onDrop: () => dropped++ });
      pipes.push(
        inbound.readable.pipeThrough(gate).pipeTo(outbound.writable).catch(() => {}).finally(pair),
        outbound.readable.pipeTo(inbound.writable).catch(() => {}).finally(pair),
      );
    }
  })().catch(() => {});
  let cut: Promise<void> | undefined;
  const stop = () =>
    cut ??= (async () => {
      listener.close();
      for (const c of [...conns]) close(c);
      await accepting;
      await Promise.allSettled(pipes);
    })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    cut: stop,
    hold() {
      held = true;
      stalled = false;
      for (const c of [...conns]) close(c);
    },
    stall() {
      stalled = true;
    },
    dropped: () => dropped,
    release() {
      held = false;
    },
    [Symbol.asyncDispose]: stop,
  };
}
