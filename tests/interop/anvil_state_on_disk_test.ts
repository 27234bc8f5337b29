/**
 * anvil moves the states it stops keeping in memory under `$HOME/.foundry/anvil/tmp/` and never
 * removes them; `startAnvil` runs it with a HOME of its own, removed at stop (docs/OPERATIONS.md
 * "anvil's state on disk"). A real anvil mines enough blocks to write states to disk.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { startAnvil } from "../../chain/anvil.ts";

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) names.push(e.name);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return names.sort();
}

/** The anvil temp homes (`turnpike-anvil-*`) in the system's temp dir. */
async function anvilHomes(): Promise<string[]> {
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  return (await entries(tmp)).filter((n) => n.startsWith("turnpike-anvil-")).map((n) =>
    `${tmp}/${n}`
  );
}

async function rpc(url: string, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await res.json() as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(body.error.message);
  return body.result;
}

Deno.test("an anvil startAnvil ran leaves none of its states on disk when stopped, in the user's HOME or elsewhere (anvil)", async () => {
  const userStates = `${Deno.env.get("HOME")}/.foundry/anvil/tmp`;
  const before = await entries(userStates);
  const homesBefore = await anvilHomes();
  const anvil = await startAnvil();
  const mine = (await anvilHomes()).filter((h) => !homesBefore.includes(h));
  assertEquals(mine.length, 1, "the anvil's own HOME, made at start");
  // Enough blocks that anvil moves states out of memory, onto its disk.
  await rpc(anvil.rpcUrl, "anvil_mine", ["0x200"]);
  assertEquals(await rpc(anvil.rpcUrl, "eth_blockNumber", []), "0x200");
  const written = await entries(`${mine[0]}/.foundry/anvil/tmp`);
  assert(written.length > 0, "anvil wrote its states under the HOME it was given");
  assertEquals(await entries(userStates), before, "nothing under the user's HOME");
  await anvil.stop();
  assertEquals(await entries(mine[0]), [], "its HOME is gone");
  assertEquals((await anvilHomes()).includes(mine[0]), false);
});

Deno.test("an anvil startAnvil ran logs no request unless asked to: its log cost it and the drain a write and a read a request (anvil)", async () => {
  for (const log of [false, true]) {
    const anvil = await startAnvil({ log });
    try {
      // The line of the call that turns the log off may still be on its way to the drain.
      await new Promise((r) => setTimeout(r, 300));
      const before = anvil.loggedChars();
      for (let i = 0; i < 50; i++) await rpc(anvil.rpcUrl, "eth_blockNumber", []);
      // The drain reads what anvil printed: kept, wait until it has (at most 2 s); off, give it
      // 300 ms to show anything.
      let after = anvil.loggedChars();
      for (let waited = 0; waited < (log ? 2_000 : 300) && !(log && after > before); waited += 50) {
        await new Promise((r) => setTimeout(r, 50));
        after = anvil.loggedChars();
      }
      if (log) assert(after > before, "kept: the 50 requests are in anvil's log");
      else assertEquals(after, before, "off: nothing logged for the 50 requests");
    } finally {
      await anvil.stop();
    }
  }
});
