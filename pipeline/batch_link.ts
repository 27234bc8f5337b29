/**
 * The two ends of a data link between consecutive stages (see `worker_messages.ts`): the sender
 * holds every message it sent until the pipeline says it is through, so it can send them again
 * on a new port after the receiving worker was restarted; the receiver drops any sequence
 * number it has already taken, so what is sent again is never processed twice by the same
 * receiver. Both run in workers and in the main thread alike.
 *
 * @module
 */
import type { LinkMessage } from "./worker_messages.ts";

/** Options for {@linkcode LinkSender}. */
export interface LinkSenderOptions {
  /** Messages sent and not yet through, at most: `send` waits beyond. */
  window: number;
}

/**
 * Sends link messages in order and holds them until they are through.
 *
 * @example
 * ```ts
 * const { port1 } = new MessageChannel();
 * const sender = new LinkSender(port1, { window: 8 });
 * await sender.send({ t: "batch", seq: 0, chunks: [], work: [] });
 * sender.release(0);
 * ```
 */
export class LinkSender {
  #port: MessagePort | undefined;
  #held: LinkMessage[] = [];
  #heldChunks = 0;
  #window: number;
  #waiters: (() => void)[] = [];
  #closed = false;

  constructor(port: MessagePort | undefined, options: LinkSenderOptions) {
    this.#port = port;
    this.#window = Math.max(1, options.window);
  }

  /** Chunks in messages sent and not yet through. */
  get heldChunks(): number {
    return this.#heldChunks;
  }

  /** Sends once fewer than `window` messages are held; resolves when sent (or closed). */
  async send(message: LinkMessage): Promise<void> {
    while (this.#held.length >= this.#window && !this.#closed) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    if (this.#closed) return;
    this.#held.push(message);
    if (message.t === "batch") this.#heldChunks += message.chunks.length;
    this.#port?.postMessage(message);
  }

  /** Forgets every message with `seq <= through`: it has left the pipeline. */
  release(through: number): void {
    let released = false;
    while (this.#held.length > 0 && this.#held[0].seq <= through) {
      const m = this.#held.shift()!;
      if (m.t === "batch") this.#heldChunks -= m.chunks.length;
      released = true;
    }
    if (released) this.#wake();
  }

  /** Switches to a new port (the receiver was restarted) and sends every held message again. */
  replacePort(port: MessagePort): void {
    this.#port?.close();
    this.#port = port;
    if (this.#closed) return port.close();
    for (const m of this.#held) port.postMessage(m);
  }

  /** Stops sending; pending `send`s resolve without sending. */
  close(): void {
    this.#closed = true;
    this.#port?.close();
    this.#port = undefined;
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

/**
 * Receives link messages, each sequence number once.
 *
 * @example
 * ```ts
 * const { port2 } = new MessageChannel();
 * const receiver = new LinkReceiver(port2, (m) => console.log(m.seq));
 * receiver.close();
 * ```
 */
export class LinkReceiver {
  #port: MessagePort | undefined;
  #last = -Infinity;
  #onMessage: (message: LinkMessage) => void;

  constructor(port: MessagePort | undefined, onMessage: (message: LinkMessage) => void) {
    this.#onMessage = onMessage;
    if (port !== undefined) this.replacePort(port);
  }

  /** Listens on a new port (the sender was restarted); the old one is closed. */
  replacePort(port: MessagePort): void {
    this.#stopListening();
    this.#port = port;
    port.onmessage = (event: MessageEvent<LinkMessage>) => {
      // A message of a replaced port can still be dispatched after `close()` (measured: Deno
      // 2.9.6 delivered a dead sender's later messages after one in between was dropped). Taken,
      // it would move `#last` past the dropped one, and the new port's copy of that one would
      // then be refused as already seen: a batch lost. Only the current port is heard.
      if (this.#port !== port) return;
      const message = event.data;
      // Already taken: a re-delivery after a restart upstream.
      if (message.seq <= this.#last) return;
      this.#last = message.seq;
      this.#onMessage(message);
    };
  }

  /** Stops listening. */
  close(): void {
    this.#stopListening();
    this.#port = undefined;
  }

  #stopListening(): void {
    if (this.#port === undefined) return;
    this.#port.onmessage = null;
    this.#port.close();
  }
}
