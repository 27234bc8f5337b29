/**
 * A profile's node that has decided to stop (idle) refuses what comes after, before doing
 * anything (roles/requester/node_server.ts `NodeStoppingError`), and a command hands a refused
 * request to the next node (cli/profile_node.ts `callProfileNode`): a command that found the node
 * a moment before its idle stop no longer has its connection cut with its job's fate unknown.
 */
import { assert, assertEquals, assertRejects } from "../../../../harness/assert.ts";
import type { Requester } from "../../../../roles/requester/requester_node.ts";
import { serveNode } from "../../../../roles/requester/node_server.ts";
import { callNode, requestUnanswered, requestUndelivered } from "../../../../cli/node_call.ts";
import { callProfileNode, nodeSettings } from "../../../../cli/profile_node.ts";
import { CliError, cliErrorJson } from "../../../../cli/cli_error.ts";
import { asCliError } from "../../../../cli/job_errors.ts";
import {
  encodeNodeLine,
  nodeSocketPath,
  readNodeLines,
} from "../../../../roles/requester/node_wire.ts";
import type { JobSpec } from "../../../../roles/requester/job_spec.ts";
import { fakeNodeRequester } from "../../../support/fake_node_requester.ts";
import { createCliWallet } from "../../../../harness/cli_wallet.ts";
import { ALICE_MNEMONIC } from "../../../../harness/anvil_channel_pair.ts";
import { loadSettings } from "../../../../config/settings.ts";
import { resolveRequesterSettings } from "../../../../config/requester_settings.ts";
import { Command } from "commander";

const PROOF = "ab".repeat(32);

/** A node over the stand-in, its errors said as the CLI's node says them. */
function startNode(
  stateDir: string,
  requester: Requester,
  options: Partial<Parameters<typeof serveNode>[0]> = {},
) {
  return serveNode({
    requester,
    stateDir,
    settings: {},
    proof: PROOF,
    background: false,
    describeError: (err) => cliErrorJson(asCliError(err)),
    onStop: () => {},
    ...options,
  });
}

Deno.test("profile node: once it decides to stop when idle, a request (hello, submit) is refused with node-stopping and nothing is done", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "turnpike-node-" });
  const { requester, submitted } = fakeNodeRequester();
  const idle = Promise.withResolvers<string>();
  // The node's close is the test's to call: the window between the decision and it is held open.
  const node = await startNode(stateDir, requester, {
    background: true,
    idleMs: 100,
    onStop: (reason) => idle.resolve(reason),
  });
  try {
    assertEquals(await idle.promise, "idle");
    const ask = async (request: Parameters<typeof callNode>[1]) => {
      const err = await assertRejects(async () => {
        for await (const _ of callNode(stateDir, request)) { /* nothing expected */ }
      }, CliError);
      return err as CliError;
    };
    const hello = await ask({ op: "hello" });
    assertEquals(hello.code, "node-stopping");
    const spec = { kind: 5900, inputs: [], params: [], then: [] } as unknown as JobSpec;
    const refused = await ask({ op: "submit", spec, uploads: [], wait: false, proof: PROOF });
    assertEquals(refused.code, "node-stopping", refused.message);
    assert(/stopping \(idle\)/.test(refused.message), refused.message);
    assertEquals(submitted, []);
  } finally {
    await node.close();
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("profile node: a connection that has not sent its request when the node closes is answered node-stopping, not cut", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "turnpike-node-" });
  const { requester, submitted } = fakeNodeRequester();
  const node = await startNode(stateDir, requester);
  try {
    const silent = await Deno.connect({ transport: "unix", path: nodeSocketPath(stateDir) });
    // Accepted once a hello counts it among the node's connections (the hello's own is the other).
    for (let clients = 0; clients < 2;) {
      for await (const line of callNode(stateDir, { op: "hello" })) {
        clients = Number(line.clients);
      }
    }
    const closing = node.close();
    const spec = { kind: 5900, inputs: [], params: [], then: [] } as unknown as JobSpec;
    const writer = silent.writable.getWriter();
    await writer.write(
      new TextEncoder().encode(
        encodeNodeLine({ op: "submit", spec, uploads: [], wait: false, proof: PROOF }),
      ),
    );
    const lines = [];
    for await (const line of readNodeLines(silent.readable)) lines.push(line);
    assertEquals(lines.length, 1, JSON.stringify(lines));
    assertEquals(lines[0].type, "error");
    assertEquals((lines[0].error as { code?: string }).code, "node-stopping");
    await closing;
    assertEquals(submitted, []);
  } finally {
    await node.close();
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("callProfileNode: a request a stopping node refused goes to the next node, once; a node that always refuses ends node-stopping", async () => {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-stopping-" });
  const alice = await createCliWallet({ dir, name: "alice", mnemonic: ALICE_MNEMONIC });
  const env = (name: string) => name === "TURNPIKE_STATE_DIR" ? alice.stateDir : undefined;
  const loaded = await loadSettings({ readFile: false, env });
  const config = resolveRequesterSettings({ loaded, env });
  assertEquals(config.stateDir, alice.stateDir);
  // A stand-in for the profile's node (the real one needs a town): it answers `hello` with the
  // command's own settings and refuses the first `refusals` other requests as a stopping node does.
  const seen: string[] = [];
  let refusals = 1;
  const listener = Deno.listen({ transport: "unix", path: nodeSocketPath(alice.stateDir) });
  const serving = (async () => {
    for await (const conn of listener) {
      (async () => {
        const first = await readNodeLines(conn.readable).next();
        const request = first.value as { op: string; id?: string };
        seen.push(request.op);
        const lines = request.op === "hello"
          ? [{
            type: "hello",
            pid: Deno.pid,
            settings: nodeSettings(config),
            activeJobs: 0,
            background: true,
          }, { type: "done" }]
          : refusals-- > 0
          ? [{
            type: "error",
            error: cliErrorJson(
              new CliError("the profile's node is stopping (idle)", { code: "node-stopping" }),
            ),
          }]
          : [{ type: "record", record: { id: request.id, status: "success" } }, {
            type: "done",
          }];
        const writer = conn.writable.getWriter();
        await writer.write(new TextEncoder().encode(lines.map(encodeNodeLine).join("")));
        await writer.close().catch(() => {});
      })().catch(() => {});
    }
  })();
  const o = {
    config,
    cmd: new Command(),
    connectionOptions: [],
    passphraseFile: alice.passphraseFile,
    quiet: true,
  };
  try {
    const lines: Record<string, unknown>[] = [];
    for await (const line of callProfileNode(o, { op: "wait", id: "job-1" })) lines.push(line);
    assertEquals(lines, [{ type: "record", record: { id: "job-1", status: "success" } }]);
    assertEquals(seen, ["hello", "wait", "hello", "wait"]);

    seen.length = 0;
    refusals = 100;
    const err = await assertRejects(async () => {
      for await (const _ of callProfileNode(o, { op: "wait", id: "job-1" })) { /* refused */ }
    }, CliError);
    assertEquals((err as CliError).code, "node-stopping");
    assertEquals(seen.filter((op) => op === "wait").length, 5);
  } finally {
    listener.close();
    await serving.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("profile node: idle stops under a stream of commands never cut a request: each is served, refused node-stopping, or never read (sent again by callProfileNode)", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "turnpike-node-" });
  const { requester, submitted } = fakeNodeRequester();
  // Each node closes as the CLI's node does when it decides to stop, and the next one starts.
  let stops = 0;
  let node: Awaited<ReturnType<typeof startNode>> | undefined;
  let restarting = Promise.resolve();
  const start = async (): Promise<void> => {
    node = await startNode(stateDir, requester, {
      background: true,
      idleMs: 150,
      onStop: () => {
        stops++;
        const stopping = node!;
        restarting = (async () => {
          await stopping.close();
          await start();
        })();
      },
    });
  };
  await start();
  const spec = { kind: 5900, inputs: [], params: [], then: [] } as unknown as JobSpec;
  const outcomes = { served: 0, refused: 0, unread: 0, cut: [] as string[] };
  try {
    for (let i = 0; i < 150; i++) {
      // A command: `hello`, then its request at once, as ensureProfileNode and callNode do.
      try {
        for await (const _ of callNode(stateDir, { op: "hello" })) { /* found */ }
      } catch (err) {
        if (!(err instanceof CliError)) throw err;
      }
      try {
        const request = { op: "submit" as const, spec, uploads: [], wait: false, proof: PROOF };
        for await (const _ of callNode(stateDir, request)) { /* the record */ }
        outcomes.served++;
      } catch (err) {
        if (!(err instanceof CliError)) throw err;
        if (err.code === "node-stopping") outcomes.refused++;
        else if (requestUndelivered(err)) outcomes.unread++;
        else outcomes.cut.push(err.message);
      }
      // Spread over the idle check's ticks (every 50 ms here): some commands meet a stop.
      await new Promise((r) => setTimeout(r, 120 + (i % 7) * 10));
    }
    assert(stops > 10, `only ${stops} idle stops`);
    assertEquals(outcomes.cut, []);
    assertEquals(submitted.length, outcomes.served);
  } finally {
    await restarting;
    await node?.close();
    await Deno.remove(stateDir, { recursive: true });
  }
  console.log(`${stops} idle stops; ${JSON.stringify(outcomes)}`);
});

Deno.test("callNode: a request no node read is unread; one a node read and left without a line is unanswered", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "turnpike-node-" });
  const ask = async () => {
    try {
      for await (const _ of callNode(stateDir, { op: "hello" })) { /* no answer expected */ }
    } catch (err) {
      return err;
    }
    throw new Error("answered");
  };
  try {
    const none = await ask(); // no node on the socket
    assertEquals([requestUndelivered(none), requestUnanswered(none)], [true, false]);
    // A stand-in node that reads the request and goes away without a line.
    const listener = Deno.listen({ transport: "unix", path: nodeSocketPath(stateDir) });
    const served = (async () => {
      const conn = await listener.accept();
      await readNodeLines(conn.readable).next();
      conn.close();
    })();
    const gone = await ask();
    await served;
    listener.close();
    assertEquals([requestUndelivered(gone), requestUnanswered(gone)], [false, true]);
    assertEquals((gone as CliError).code, "node-unreachable");
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
