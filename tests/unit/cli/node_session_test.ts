/**
 * cli/node_session.ts: a started node command holds the state dir (a second one is refused
 * naming the holder), its signer signs, and disposing the session closes the signer and lets the
 * state dir go; a wallet that cannot be unlocked lets the lock go too.
 */
import { assertEquals, assertRejects, assertStringIncludes } from "../../../harness/assert.ts";
import { startNodeSession } from "../../../cli/node_session.ts";
import { CliError } from "../../../cli/cli_error.ts";

Deno.test("node session: holds the state dir while open, lets it go when disposed", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "node_session_" });
  try {
    const signer = { stateDir, who: "the town", generateKey: true };
    const first = await startNodeSession({ command: "town up", network: "local", signer });
    try {
      const event = await first.signer.signEvent({
        kind: 1,
        created_at: 1,
        tags: [],
        content: "hi",
      });
      assertEquals(event.pubkey, first.signer.pubkey);
      const err = await assertRejects(
        () => startNodeSession({ command: "node up", network: "local", signer }),
        CliError,
      );
      assertStringIncludes(err.suggestion ?? "", "`turnpike town up`");
    } finally {
      await first[Symbol.asyncDispose]();
    }
    // The signer is closed with the session.
    await assertRejects(
      () => first.signer.signEvent({ kind: 1, created_at: 1, tags: [], content: "x" }),
      Error,
    );
    // The lock is free again.
    await using again = await startNodeSession({ command: "town up", network: "local", signer });
    assertEquals(again.signer.pubkey.length, 64);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("node session: no wallet is a CliError and the state dir stays free", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "node_session_" });
  try {
    const signer = { stateDir, who: "the town", nonInteractive: true };
    await assertRejects(
      () => startNodeSession({ command: "town up", network: "local", signer }),
      CliError,
    );
    await using session = await startNodeSession({
      command: "town up",
      network: "local",
      signer: { ...signer, generateKey: true },
    });
    assertEquals(session.signer.pubkey.length, 64);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
