/**
 * Crash safety of paid writes: `turnpike town up` runs as a real subprocess (wallet identity),
 * a client pays for a burst of events over BTP with many in flight, the town is SIGKILLed
 * mid-burst and restarted on the same state dir. Every event that was FULFILLed must be served
 * over NIP-01 after the restart; no event that was REJECTED may be. A packet that had no answer
 * when the process died may or may not be stored (its insert may have committed just before the
 * kill; the sender was not paid-for, which costs the town, never the sender): counted, not judged.
 * The SPSP secret from before the crash still works after it (derived from the wallet key).
 */
import { Relay } from "nostr-tools/relay";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { connectPayingClient } from "../../harness/town_test_node.ts";
import { initWalletWithCli } from "../../harness/run_cli.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import { assert, assertEquals } from "../../harness/assert.ts";
import { BtpClient } from "../../transport/btp_client.ts";
import { buildPaidWrite } from "../../roles/town_client/spsp_handshake.ts";

interface TownProcess {
  child: Deno.ChildProcess;
  info: { ilpAddress: string; pubkey: string; httpPort: number; btpPort: number };
  done: Promise<Deno.CommandStatus>;
}

async function startTown(stateDir: string, passFile: string): Promise<TownProcess> {
  const town = spawnCli([
    "--state-dir",
    stateDir,
    "--output",
    "json",
    "town",
    "up",
    "--town-port",
    "0",
    "--btp-port",
    "0",
    "--peer",
    "writer:tok-writer",
    "--passphrase-file",
    passFile,
    "--non-interactive",
  ]);
  const line = await town.waitForLine((l) => l.startsWith("{") && l.includes('"town-up"'));
  return { child: town.child, info: JSON.parse(line), done: town.done };
}

async function servedIds(port: number, author: string): Promise<Set<string>> {
  const relay = await Relay.connect(`ws://127.0.0.1:${port}`);
  const ids = new Set<string>();
  await new Promise<void>((resolve) => {
    const sub = relay.subscribe([{ authors: [author], limit: 500 }], {
      onevent: (e) => void ids.add((e as NostrEvent).id),
      oneose: () => {
        sub.close();
        resolve();
      },
    });
  });
  relay.close();
  return ids;
}

Deno.test("town crash: SIGKILL mid-burst loses no FULFILLed event and keeps no REJECTed one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "town_crash_" });
  const passFile = `${dir}/pass`;
  await Deno.writeTextFile(passFile, "crash-test-passphrase\n");
  try {
    await initWalletWithCli({ stateDir: dir, passphraseFile: passFile });

    const first = await startTown(dir, passFile);
    const writer = await connectPayingClient({
      url: `btp+ws://127.0.0.1:${first.info.btpPort}`,
      token: "tok-writer",
      townAddress: first.info.ilpAddress,
      townPubkey: first.info.pubkey,
    });
    const fulfilled = new Set<string>();
    const rejected = new Set<string>();
    const unanswered = new Set<string>();
    const TOTAL = 400;
    const WINDOW = 32;
    const KILL_AFTER = 120;
    let next = 0;
    let killed = false;
    // Every third event is underpaid, so REJECTs are interleaved with FULFILLs in the burst.
    const worker = async () => {
      while (next < TOTAL) {
        const i = next++;
        const event = writer.sign({ content: `burst ${i}` });
        try {
          const reply = await writer.write(event, i % 3 === 2 ? { amount: 1n } : {});
          (reply.type === "fulfill" ? fulfilled : rejected).add(event.id);
        } catch {
          unanswered.add(event.id);
        }
        if (!killed && fulfilled.size >= KILL_AFTER) {
          killed = true;
          first.child.kill("SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: WINDOW }, worker));
    await first.done;
    await writer.close();
    assert(killed, "the town was killed mid-burst");
    assert(fulfilled.size >= KILL_AFTER && rejected.size > 0);

    const second = await startTown(dir, passFile);
    try {
      const served = await servedIds(second.info.httpPort, writer.pubkey);
      const lost = [...fulfilled].filter((id) => !served.has(id));
      const leaked = [...rejected].filter((id) => served.has(id));
      assertEquals(lost, [], "every FULFILLed event is served after the restart");
      assertEquals(leaked, [], "no REJECTed event is served");
      const unansweredStored = [...unanswered].filter((id) => served.has(id)).length;
      console.log(
        `fulfilled ${fulfilled.size}, rejected ${rejected.size}, unanswered ${unanswered.size} ` +
          `(${unansweredStored} of them stored), served ${served.size}`,
      );

      // The grant from before the crash still works: the secret is derived, not stored.
      const client = new BtpClient({
        url: `btp+ws://127.0.0.1:${second.info.btpPort}`,
        authToken: "tok-writer",
        reconnect: false,
      });
      await client.connect();
      const { prepare } = await buildPaidWrite({
        event: writer.sign({ content: "after the crash" }),
        grant: writer.grant,
        pricePerByte: 10n,
      });
      const reply = await client.sendPrepare(prepare);
      assertEquals(reply.type, "fulfill");
      await client.close();
    } finally {
      second.child.kill("SIGTERM");
      await second.done;
    }
    assertEquals((await second.child.status).code, 0, "SIGTERM stops the town cleanly");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
