/**
 * BtpClient behaviours the reference connector cannot be made to show (oversized, malformed and
 * out-of-order frames, TRANSFERs, dropped sockets on demand), against a real WebSocket server in
 * this process that plays the BTP peer. The happy paths against ilp-plugin-btp itself are in
 * tests/interop/connector_ilp_prepare_sink_test.ts.
 */
import { assert, assertEquals, assertRejects } from "../../../harness/assert.ts";
import { BtpClient, BtpConnectionError, BtpRemoteError } from "../../../transport/btp_client.ts";
import {
  type BtpFrame,
  BtpMessageError,
  decodeBtpFrame,
  encodeBtpFrame,
  getIlpData,
  getTextProtocolData,
  ilpProtocolData,
} from "../../../protocol/btp_message.ts";
import {
  decodeIlpReply,
  encodeIlpFulfill,
  encodeIlpPrepare,
  type IlpPrepare,
} from "../../../protocol/ilp_packet.ts";

type Peer = {
  url: string;
  sockets: WebSocket[];
  frames: BtpFrame[];
  send(ws: WebSocket, frame: BtpFrame | Uint8Array): void;
  close(): Promise<void>;
};

/** A BTP peer on a free port: accepts auth with token "ok", hands other frames to `onFrame`. */
function startPeer(onFrame: (peer: Peer, ws: WebSocket, frame: BtpFrame) => void): Peer {
  const sockets: WebSocket[] = [];
  const closed: Promise<void>[] = [];
  const peer: Peer = {
    url: "",
    sockets,
    frames: [],
    send: (ws, frame) => ws.send(frame instanceof Uint8Array ? frame : encodeBtpFrame(frame)),
    close: async () => {
      for (const ws of sockets) if (ws.readyState < 2) ws.close();
      await Promise.all(closed);
      await server.shutdown();
    },
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    sockets.push(socket);
    closed.push(new Promise((r) => socket.addEventListener("close", () => r())));
    let authed = false;
    socket.addEventListener("message", (e) => {
      const frame = decodeBtpFrame(new Uint8Array(e.data as ArrayBuffer));
      peer.frames.push(frame);
      if (!authed) {
        authed = true;
        const ok = frame.type === "message" && getTextProtocolData(frame, "auth_token") === "ok";
        peer.send(
          socket,
          ok ? { type: "response", requestId: frame.requestId, protocolData: [] } : {
            type: "error",
            requestId: frame.requestId,
            code: "F00",
            name: "NotAcceptedError",
            triggeredAt: new Date(),
            data: "invalid auth_token",
            protocolData: [],
          },
        );
        if (!ok) socket.close();
        return;
      }
      onFrame(peer, socket, frame);
    });
    return response;
  });
  peer.url = `btp+ws://127.0.0.1:${server.addr.port}`;
  return peer;
}

const prepare: IlpPrepare = {
  amount: "1",
  destination: "test.bob",
  expiresAt: new Date(Date.now() + 60_000),
  executionCondition: new Uint8Array(32),
  data: new Uint8Array(0),
};
const fulfill = (n: number) =>
  encodeIlpFulfill({ fulfillment: new Uint8Array(32).fill(n), data: new Uint8Array(0) });

Deno.test("answers are matched by requestId, whatever their order", async () => {
  const held: BtpFrame[] = [];
  const peer = startPeer((p, ws, frame) => {
    held.push(frame);
    if (held.length < 3) return;
    // answer in reverse order, each with a distinct fulfillment
    for (const [i, f] of [...held].reverse().entries()) {
      p.send(ws, {
        type: "response",
        requestId: f.requestId,
        protocolData: [ilpProtocolData(fulfill(3 - i))],
      });
    }
  });
  await using client = new BtpClient({ url: peer.url, authToken: "ok" });
  await client.connect();
  const replies = await Promise.all(
    [1, 2, 3].map((n) => client.sendData(encodeIlpPrepare({ ...prepare, amount: String(n) }))),
  );
  for (const [i, bytes] of replies.entries()) {
    const reply = decodeIlpReply(bytes);
    assert(reply.type === "fulfill");
    assertEquals(reply.fulfillment[0], i + 1);
  }
  await client.close();
  await peer.close();
});

Deno.test("oversized or malformed answers fail the request precisely", async () => {
  const peer = startPeer((p, ws, frame) => {
    const ilp = getIlpData(frame)!;
    if (ilp[9] === 1) { // last byte of the uint64 amount
      p.send(ws, {
        type: "response",
        requestId: frame.requestId,
        protocolData: [ilpProtocolData(new Uint8Array(5000))],
      });
    } else {
      p.send(ws, {
        type: "error",
        requestId: frame.requestId,
        code: "T00",
        name: "UnreachableError",
        triggeredAt: new Date(),
        data: "boom",
        protocolData: [],
      });
    }
  });
  await using client = new BtpClient({ url: peer.url, authToken: "ok", maxFrameBytes: 1000 });
  await client.connect();
  await assertRejects(
    () => client.sendPrepare({ ...prepare, amount: "1" }),
    BtpMessageError,
    "limit of 1000",
  );
  const err = await assertRejects(
    () => client.sendPrepare({ ...prepare, amount: "2" }),
    BtpRemoteError,
  );
  assertEquals([err.code, err.errorName, err.data], ["T00", "UnreachableError", "boom"]);
  await assertRejects(
    () => client.sendData(new Uint8Array(2000)),
    BtpMessageError,
    "limit of 1000",
  );
  assertEquals(client.state, "open");
  await client.close();
  await peer.close();
});

Deno.test("incoming PREPAREs go to the handler; bad ones and TRANSFERs are refused", async () => {
  const answers = new Map<number, BtpFrame>();
  let waiting: (() => void) | undefined;
  const peer = startPeer((_p, _ws, frame) => {
    answers.set(frame.requestId, frame);
    waiting?.();
  });
  const got: IlpPrepare[] = [];
  await using client = new BtpClient({
    url: peer.url,
    authToken: "ok",
    onPrepare: (p) => {
      got.push(p);
      return { type: "fulfill", fulfillment: new Uint8Array(32).fill(9), data: new Uint8Array(0) };
    },
  });
  await client.connect();
  const ws = peer.sockets[0];
  const ask = async (frame: BtpFrame) => {
    const done = new Promise<void>((r) => waiting = r);
    peer.send(ws, frame);
    await done;
    return answers.get(frame.requestId)!;
  };
  const ok = await ask({
    type: "message",
    requestId: 11,
    protocolData: [ilpProtocolData(encodeIlpPrepare(prepare))],
  });
  assertEquals(ok.type, "response");
  const reply = decodeIlpReply(getIlpData(ok as BtpFrame & { type: "response" })!);
  assert(reply.type === "fulfill" && reply.fulfillment[0] === 9);
  assertEquals(got[0].destination, "test.bob");

  const bad = await ask({
    type: "message",
    requestId: 12,
    protocolData: [ilpProtocolData(new Uint8Array([12, 1, 0]))],
  });
  const badReply = decodeIlpReply(getIlpData(bad as BtpFrame & { type: "response" })!);
  assert(badReply.type === "reject" && badReply.code === "F01");

  const transfer = await ask({ type: "transfer", requestId: 13, amount: "5", protocolData: [] });
  assert(transfer.type === "error" && transfer.code === "F00");

  const garbage = new Uint8Array([6, 0, 0, 0, 14, 5, 1, 2]);
  const done = new Promise<void>((r) => waiting = r);
  peer.send(ws, garbage);
  await done;
  const garbageAnswer = answers.get(14)!;
  assert(garbageAnswer.type === "error" && garbageAnswer.name === "InvalidFieldsError");
  await client.close();
  await peer.close();
});

Deno.test("a dropped socket fails in-flight requests, then the client reconnects", async () => {
  let drop = true;
  const peer = startPeer((p, ws, frame) => {
    if (drop) {
      drop = false;
      ws.close();
      return;
    }
    p.send(ws, {
      type: "response",
      requestId: frame.requestId,
      protocolData: [ilpProtocolData(fulfill(4))],
    });
  });
  const states: string[] = [];
  await using client = new BtpClient({
    url: peer.url,
    authToken: "ok",
    reconnectInitialDelayMs: 20,
    onStateChange: (s) => states.push(s),
  });
  await client.connect();
  await assertRejects(() => client.sendPrepare(prepare), BtpConnectionError, "lost");
  // waits for the reconnect, then goes through
  const reply = await client.sendPrepare(prepare);
  assertEquals(reply.type, "fulfill");
  assertEquals(states, ["connecting", "open", "reconnecting", "open"]);
  await client.close();
  assertEquals(client.state, "closed");
  await peer.close();
});

Deno.test("nobody listening: connect fails with BtpConnectionError", async () => {
  const peer = startPeer(() => {});
  const url = peer.url;
  await peer.close();
  await using client = new BtpClient({ url, authToken: "ok" });
  await assertRejects(() => client.connect(), BtpConnectionError);
});
