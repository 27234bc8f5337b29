/**
 * The running roles' keys are only in their signer workers, and those workers may do nothing but
 * sign: a whole paid job (town, provider, requester, a payment channel on anvil settled
 * cooperatively) runs with each role's key in a worker that reports, before it takes its key,
 * that it was denied every permission.
 */
import { assertEquals } from "../../harness/assert.ts";
import { runPaidJobDemo } from "../../roles/demo/paid_job_demo.ts";
import { openWorkerNodeSigner } from "../../identity/worker_node_signer.ts";

Deno.test("roles run with their keys in signer workers denied read, write, net, env and run", async () => {
  const probes: Record<string, string[]> = {};
  const report = await runPaidJobDemo({
    openSigner: (role) =>
      openWorkerNodeSigner({ generate: true }, {
        entry: new URL("../support/probing_signer_worker.ts", import.meta.url),
        onLog: (line) => (probes[role] ??= []).push(line),
      }),
  });
  assertEquals(report.status, "done");
  // Signed claims, a co-signed settlement and on-chain transactions all came from the workers.
  assertEquals(report.settlement?.mode, "cooperative");
  const denied = ["read", "write", "net", "env", "run"].map((p) => `${p}: NotCapable`);
  assertEquals(probes, { town: denied, requester: denied, provider: denied });
});
