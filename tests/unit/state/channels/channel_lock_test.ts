import { localNodeSigner } from "../../../../identity/local_node_signer.ts";
/**
 * One signer per channel (state/channels/channel_lock.ts, roles/channels/channel_sender.ts): a second holder is
 * refused with the first one's pid, in the same process and from another real process; a
 * lock left by a SIGKILLed process does not block the next one.
 */
import { getPublicKey } from "nostr-tools";
import { assertEquals, assertRejects, assertStringIncludes } from "../../../../harness/assert.ts";
import {
  ChannelLockedError,
  channelLockPath,
  lockChannel,
} from "../../../../state/channels/channel_lock.ts";
import { saveChannel } from "../../../../state/channels/channel_file.ts";
import {
  ChannelSenderError,
  openChannelSender,
} from "../../../../roles/channels/channel_sender.ts";
import { deriveNip06SecretKey, publicIdentity } from "../../../../identity/nip06_key.ts";
import { ALICE_MNEMONIC, BOB_MNEMONIC } from "../../../../harness/anvil_channel_pair.ts";
import { fixtureChannelRecord } from "../../../support/channel_record_fixture.ts";

const ID = `0x${"5a".repeat(32)}` as const;
const LOCK_URL = new URL("../../../../state/channels/channel_lock.ts", import.meta.url).href;

/** A real process that takes the lock, prints `locked`, then holds it until killed. */
function holder(stateDir: string) {
  const code = `const { lockChannel } = await import(${JSON.stringify(LOCK_URL)});
await lockChannel(${JSON.stringify(stateDir)}, ${JSON.stringify(ID)});
console.log("locked");
await Deno.stdin.readable.pipeTo(new WritableStream());`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const ready = (async () => {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("locked")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`holder exited: ${text}`);
      text += value;
    }
    reader.releaseLock();
  })();
  return { child, ready };
}

Deno.test("lockChannel refuses a second holder in this process until released", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "channel_lock_" });
  try {
    const lock = await lockChannel(stateDir, ID);
    assertEquals(lock.path, channelLockPath(stateDir, ID));
    assertEquals((await Deno.readTextFile(lock.path)).trim(), String(Deno.pid));
    assertEquals((await Deno.stat(lock.path)).mode! & 0o777, 0o600);
    const err = await assertRejects(() => lockChannel(stateDir, ID), ChannelLockedError);
    assertEquals(err.pid, Deno.pid);
    assertEquals(err.message, `channel ${ID} is in use by another process (pid ${Deno.pid})`);
    await lock.release();
    await lock.release(); // idempotent
    const again = await lockChannel(stateDir, ID);
    await again.release();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("a channel locked by another process is refused; its SIGKILL frees it", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "channel_lock_proc_" });
  const { child, ready } = holder(stateDir);
  try {
    await ready;
    const err = await assertRejects(() => lockChannel(stateDir, ID), ChannelLockedError);
    assertEquals(err.pid, child.pid);
    child.kill("SIGKILL");
    await child.status;
    // The kernel dropped the lock with the process: no stale lock, no waiting.
    const lock = await lockChannel(stateDir, ID);
    assertEquals((await Deno.readTextFile(lock.path)).trim(), String(Deno.pid));
    await lock.release();
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await child.stdin.close().catch(() => {});
    await child.stdout.cancel().catch(() => {});
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("openChannelSender: one sender per channel, the second is told the pid", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "channel_lock_sender_" });
  const aliceKey = deriveNip06SecretKey(ALICE_MNEMONIC);
  const bobKey = deriveNip06SecretKey(BOB_MNEMONIC);
  const record = fixtureChannelRecord({
    channelId: ID,
    selfAddress: publicIdentity(aliceKey).evmAddress,
    peerAddress: publicIdentity(bobKey).evmAddress,
  });
  await saveChannel(record, { stateDir, action: "open" });
  const options = {
    stateDir,
    channelId: ID,
    signer: localNodeSigner(aliceKey),
    townPubkey: getPublicKey(bobKey),
  };
  try {
    const first = await openChannelSender(options);
    const err = await assertRejects(() => openChannelSender(options), ChannelSenderError);
    assertEquals(err.message, `channel ${ID} is in use by another process (pid ${Deno.pid})`);
    assertStringIncludes(err.suggestion, "stop the other node");
    await first.close();
    const second = await openChannelSender(options);
    await second.close();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
