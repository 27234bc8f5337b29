/**
 * `provider-status.json` is rewritten every second while the provider runs, even when nothing
 * changed (docs/OPERATIONS.md): its `updatedAt` is the liveness a monitor and `node status` read
 * ("last seen" after a crash). Before, an idle provider rewrote it only on change.
 */
import { assert } from "../support/assert.ts";
import { waitUntil, withProvider } from "../support/provider_test_kit.ts";
import { readProviderStatus } from "../../roles/provider/provider_status.ts";

Deno.test("provider status: an idle provider still refreshes its status file", async () => {
  await withProvider(["echo"], [], async ({ root }) => {
    const stateDir = `${root}/state`;
    await waitUntil(
      async () => (await readProviderStatus(stateDir).catch(() => undefined))?.state === "serving",
      15_000,
      "serving",
    );
    const first = (await readProviderStatus(stateDir)).updatedAt;
    const seen = new Set([first]);
    // No job, no event: three more distinct refreshes must still come.
    await waitUntil(
      async () => seen.add((await readProviderStatus(stateDir)).updatedAt).size >= 4,
      15_000,
      "status refreshes while idle",
    );
    assert(seen.size >= 4);
  });
});
