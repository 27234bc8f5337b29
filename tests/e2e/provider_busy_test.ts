/**
 * Graceful overload against real processes (docs/PROTOCOL.md "Feedback sequence", `busy`): a town
 * process, a provider in a process of its own with room for one paid job at a time
 * (`maxInFlight` 1, a skill that takes seconds), and a requester here. A second job sent while the
 * first runs is refused at once with `busy` feedback, before any invoice: it ends while the first
 * still runs, nothing paid for it; sent again once the first is done, it is served and paid once.
 */
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { bytesToHex } from "@noble/hashes/utils.js";
import { assert, assertEquals } from "../../harness/assert.ts";
import { startSharedTownProcess } from "../../harness/shared_town_process.ts";
import { startRequester } from "../../roles/requester/requester_node.ts";
import type { ProviderHostPlan } from "../../bench/scale_provider_host.ts";
import { scaleJobSpec } from "../../bench/scale_requester_host.ts";
import { isBusyReason } from "../../protocol/busy_feedback.ts";
import { categoryOf } from "../../state/payments/payment_log.ts";

Deno.test("provider over its bound answers busy before any invoice; the requester pays nothing for it and is served when it sends again", async () => {
  const root = await Deno.makeTempDir({ prefix: "provider_busy_" });
  const townKey = generateSecretKey();
  await using town = await startSharedTownProcess({ secretKey: townKey });
  const relayUrl = `ws://127.0.0.1:${town.httpPort}`;
  const btp = `btp+ws://127.0.0.1:${town.btpPort}`;
  const providerKey = generateSecretKey();
  const skillsDir = `${root}/skills`;
  await Deno.mkdir(`${skillsDir}/slow`, { recursive: true });
  await Deno.writeTextFile(
    `${skillsDir}/slow/SKILL.md`,
    "---\nname: slow\ndescription: t\nmetadata:\n  kinds: [5601]\n  price: 100\n  timeout: 30\n" +
      "  idempotent: false\n---\n",
  );
  await Deno.writeTextFile(
    `${skillsDir}/slow/run`,
    "#!/bin/sh\ncat > /dev/null\nsleep 4\necho ok\n",
    {
      mode: 0o755,
    },
  );
  const plan: ProviderHostPlan = {
    root,
    skillsDir,
    runsFile: `${root}/runs.txt`,
    auditWindowMs: 50,
    addressedOnly: true,
    maxInFlight: 1,
    providers: [{
      index: 0,
      secretKeyHex: bytesToHex(providerKey),
      relayUrl,
      btpUrl: btp.replace("btp+ws://", "btp+ws://prov0:p@"),
      townPubkey: getPublicKey(townKey),
      townAddress: "test.town",
    }],
  };
  await Deno.writeTextFile(`${root}/host.json`, JSON.stringify(plan));
  const host = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../bench/scale_provider_host.ts", import.meta.url).pathname,
      `${root}/host.json`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const requester = await (async () => {
    const out = host.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("ready\n")) {
      const { value, done } = await out.read();
      if (done) throw new Error(`provider host ended before ready: ${text}`);
      text += value;
    }
    out.releaseLock();
    host.stdout.cancel().catch(() => {});
    await Deno.mkdir(`${root}/r0`);
    return await startRequester({
      stateDir: `${root}/r0`,
      secretKey: generateSecretKey(),
      relayUrl,
      btpUrl: btp.replace("btp+ws://", "btp+ws://req0:r@"),
      btpToken: "r",
      townPubkey: getPublicKey(townKey),
      townAddress: "test.town",
      feedMode: "inline",
      durable: false,
    });
  })();
  try {
    const spec = scaleJobSpec(getPublicKey(providerKey), 60_000);
    const first = await requester.submit(spec);
    // Paid (its one slot taken) before the second is sent.
    for (;;) {
      const r = await requester.repo.read(first.id);
      if (r!.payments.some((p) => p.status === "paid")) break;
      assert(!["error", "timed-out", "done"].includes(r!.status), `first job: ${r!.status}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const second = await requester.submit({ ...spec, inputs: [{ data: "pong", type: "text" }] });
    const ends: string[] = [];
    const [firstEnd, secondEnd] = await Promise.all([
      requester.waitFor(first.id).then((r) => (ends.push("first"), r)),
      requester.waitFor(second.id).then((r) => (ends.push("second"), r)),
    ]);
    assertEquals(secondEnd.status, "error");
    assert(isBusyReason(secondEnd.error), `a busy refusal: ${secondEnd.error}`);
    assertEquals(ends, ["second", "first"], "refused while the first still ran, not queued");
    assertEquals(secondEnd.payments, [], "no invoice, nothing paid");
    assertEquals(firstEnd.status, "done", firstEnd.error);
    // Sent again, as a busy refusal says, later (the provider may still be publishing the first
    // job's result when the requester has it): served, paid once.
    let again = secondEnd;
    for (let attempt = 0; attempt < 20 && isBusyReason(again.error); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      again = await requester.waitFor(
        (await requester.submit({ ...spec, inputs: [{ data: "pong", type: "text" }] })).id,
      );
    }
    assertEquals(again.status, "done", again.error);
    for (const job of [firstEnd, again]) {
      assertEquals(job.payments.filter((p) => p.status === "paid").length, 1);
    }
    // The payment log: job payments only for the two jobs served, one each (the paid writes to
    // the town are there too, category `write`).
    const jobPayments = requester.payments.entries().filter((e) =>
      e.direction === "out" && e.event === "fulfilled" && categoryOf(e) === "job"
    );
    assertEquals(jobPayments.map((e) => e.jobId).sort(), [firstEnd.id, again.id].sort());
  } finally {
    await requester.close();
    host.kill("SIGTERM");
    await host.status;
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});
