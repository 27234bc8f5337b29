import { assert, assertEquals, assertMatch } from "../../harness/assert.ts";
import { runCli } from "../../harness/run_cli.ts";

Deno.test("turnpike demo: a paid ci-run job through a local town and provider, all stopped", async () => {
  const res = await runCli(["--output", "json", "demo"]);
  assertEquals(res.code, 0, res.stderr);
  const report = JSON.parse(res.stdout.trim().split("\n").pop()!);
  assertEquals(report.status, "done");
  assertEquals(report.result.status, "passed");
  // The provider's quote: ci-run's price (5000) plus its own writes for the job.
  assert(BigInt(report.paidToProvider) > 5000n, report.paidToProvider);
  assertEquals(report.costs.provider.earned, report.paidToProvider);
  assertEquals(report.costs.requester.provider, report.paidToProvider);
  assert(BigInt(report.costs.provider.net) > 0n, `provider net ${report.costs.provider.net}`);
  assertEquals(report.paidAsset, { assetCode: "M2M", assetScale: 6 });
  assertMatch(report.receipt, /^[0-9a-f]{64}$/);
  // The temporary state dir is gone: nothing left behind.
  const gone = await Deno.stat(report.stateDir).then(() => false, () => true);
  assertEquals(gone, true);
});

Deno.test("turnpike demo: human output shows progress and the CI report", async () => {
  const res = await runCli(["demo"]);
  assertEquals(res.code, 0, res.stderr);
  for (
    const line of [
      / (sent|payment-required)$/m,
      / paid +receipt [0-9a-f]{16}$/m,
      /^ci-run +passed \(exit 0/m,
      // Amounts in the asset, not raw base units ("5000 M2M" would read as 5000 tokens).
      /^paid +0\.\d+ M2M to the provider, receipt [0-9a-f]{64}$/m,
      / payment-required: pay 0\.\d+ M2M by ILP/m,
      /^costs +requester 0\.\d+ M2M \(provider 0\.\d+ M2M, town 0\.\d+ M2M\); provider earned/m,
    ]
  ) {
    assertMatch(res.stdout, line);
  }
});

Deno.test("turnpike demo --pipeline: the fixture pipeline demo is still there", async () => {
  const res = await runCli(["--output", "json", "demo", "--pipeline", "--inline"]);
  assertEquals(res.code, 0, res.stderr);
  const report = JSON.parse(res.stdout);
  assertEquals(report.mode, "inline");
  assertEquals(report.eventsIn > 0, true);
});
