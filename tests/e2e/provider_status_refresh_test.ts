/**
 * `provider-status.json` is refreshed every `statusTouchMs` (10 s by default; 1 s here) while
 * the provider runs, even when nothing changed (docs/OPERATIONS.md): the later of its mtime and
 * its `updatedAt` is the liveness a monitor and `node status` read ("last seen" after a crash).
 * Before, an idle provider rewrote it only on change. While only the clock moves the file is
 * touched, not rewritten (a rewrite is a new file renamed over it: a new inode), at least every
 * 60 s whole.
 */
import { assert } from "../../harness/assert.ts";
import { waitUntil, withProvider } from "../../harness/provider_test_kit.ts";
import { readProviderStatus } from "../../roles/provider/provider_status.ts";

Deno.test("provider status: an idle provider still refreshes its status file", async () => {
  await withProvider(["echo"], [], async ({ root }) => {
    const stateDir = `${root}/state`;
    await waitUntil(
      async () => (await readProviderStatus(stateDir).catch(() => undefined))?.state === "serving",
      15_000,
      "serving",
    );
    const path = `${stateDir}/provider-status.json`;
    const first = (await readProviderStatus(stateDir)).updatedAt;
    const seen = new Set([first]);
    const inodes = new Set([(await Deno.stat(path)).ino]);
    // No job, no event: three more distinct refreshes must still come.
    await waitUntil(
      async () => {
        inodes.add((await Deno.stat(path)).ino);
        return seen.add((await readProviderStatus(stateDir)).updatedAt).size >= 4;
      },
      15_000,
      "status refreshes while idle",
    );
    assert(seen.size >= 4);
    // Four refreshes in about 3 s: touches, with one whole rewrite at most among them.
    assert(inodes.size <= 2, `rewritten ${inodes.size} times for ${seen.size} refreshes`);
  }, { statusTouchMs: 1000 });
});
