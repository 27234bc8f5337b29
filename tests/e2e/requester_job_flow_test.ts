import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools";
import { decodeEventToon } from "../../protocol/toon_codec.ts";
import { buildJobFeedback } from "../../protocol/nip90_job.ts";
import { formatIlpInvoice } from "../../protocol/ilp_invoice.ts";
import { conditionOf } from "../../protocol/ilp_fulfillment.ts";
import type { IlpPrepare } from "../../protocol/ilp_packet.ts";
import { buildPeerInfo } from "../../protocol/peer_info.ts";
import { BtpClient } from "../../transport/btp_client.ts";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { readJobSidecar } from "../../roles/requester/job_sidecar.ts";
import { connectPayingClient } from "../../harness/town_test_node.ts";
import {
  callbackLogPath,
  echoSpec,
  startRequesterNetwork,
} from "../../harness/requester_network.ts";

async function callbackLines(stateDir: string): Promise<string[]> {
  const text = await Deno.readTextFile(callbackLogPath(stateDir)).catch(() => "");
  return text.trim().split("\n").filter((l) => l.length > 0);
}

/**
 * A provider that is this test asks a deposit: its `payment-required` feedback with an invoice of
 * `amount` under the town's address, written and paid by `client`; the write's answer.
 */
async function askDeposit(
  client: { write(event: NostrEvent): Promise<{ type: string }> },
  key: Uint8Array,
  request: NostrEvent,
  o: { townAddress: string; amount: bigint },
): Promise<string> {
  const invoice = formatIlpInvoice({
    destination: `${o.townAddress}.greedy.${request.id.slice(0, 16)}`,
    amount: o.amount,
    assetCode: "USD",
    assetScale: 6,
    condition: "ab".repeat(32),
    expiresAt: new Date(Date.now() + 60_000),
    jobId: request.id,
  });
  const feedback = finalizeEvent(
    buildJobFeedback({
      request,
      status: "payment-required",
      amount: { amount: String(o.amount), paymentRequest: invoice },
    }),
    key,
  ) as NostrEvent;
  return (await client.write(feedback)).type;
}

Deno.test("requester: chain, timeout, cancel, refused payment, encrypted job", async (t) => {
  const net = await startRequesterNetwork();
  const req = await net.startRequester();
  try {
    await t.step(
      "a 3-step chain: each result feeds the next job, callbacks once each",
      async () => {
        const spec = echoSpec("chain start", {
          then: [echoSpec("", { inputs: [] }), echoSpec("", { inputs: [] })],
        });
        const first = await req.submit(spec);
        const links = await req.waitForChain(first.id);
        assertEquals(links.map((l) => l.status), ["done", "done", "done"]);
        assertEquals(links[1].chain?.prev, links[0].id);
        assertEquals(links[2].chain?.prev, links[1].id);
        // Link 2's input is link 1's result event id: echo returns it.
        const toon1 = await Deno.readTextFile(`${req.stateDir}/cb-${links[1].id}.toon`);
        const toon0 = await Deno.readTextFile(`${req.stateDir}/cb-${links[0].id}.toon`);
        assertEquals(decodeEventToon(toon1).content.trim(), decodeEventToon(toon0).id);
        const lines = await callbackLines(req.stateDir);
        for (const link of links) {
          assertEquals(lines.filter((l) => l.startsWith(link.id)).length, 1);
        }
      },
    );

    await t.step("a paid job reads its record file only where no earlier read serves", async () => {
      const reads = new Map<string, number>();
      const read = req.repo.read.bind(req.repo);
      req.repo.read = (id: string) => {
        reads.set(id, (reads.get(id) ?? 0) + 1);
        return read(id);
      };
      try {
        const job = await req.submit(echoSpec("count my reads"));
        const final = await req.waitFor(job.id);
        assertEquals(final.status, "done");
        assertEquals(final.payments.map((p) => p.status), ["paid"]);
        // 10 here: the id check at submit, #onJobEvent's one per event, and one inside each
        // record update (the repository's own, under its lock); a poll may add one or two on a
        // slow machine (a job quiet for a second). Before: 14 and up, with waitFor's two, a
        // second read in each status change after #onJobEvent's, and the file poll re-reading
        // this node's own writes (docs/SCALE.md).
        const n = reads.get(job.id) ?? 0;
        assert(n <= 12, `${n} reads of one job's record`);
      } finally {
        req.repo.read = read;
      }
    });

    await t.step("a timeout: status timed-out, callback told, nothing left followed", async () => {
      const nobody = getPublicKey(generateSecretKey());
      const job = await req.submit(
        echoSpec("nobody serves this", { providers: [nobody], timeoutMs: 800 }),
      );
      const final = await req.waitFor(job.id);
      assertEquals(final.status, "timed-out");
      const lines = await callbackLines(req.stateDir);
      assert(lines.includes(`${job.id} timed-out 0`), lines.join("\n"));
      assertEquals(final.payments.length, 0);
    });

    await t.step("a cancel: kind 5 at the town, status cancelled, callback told", async () => {
      const nobody = getPublicKey(generateSecretKey());
      const job = await req.submit(echoSpec("to cancel", { providers: [nobody] }));
      const final = await req.cancel(job.id);
      assertEquals(final.status, "cancelled");
      const deletions = await net.town.store.query([{ kinds: [5], authors: [req.pubkey] }]);
      assert(
        deletions.map((e) => JSON.parse(e.json) as NostrEvent)
          .some((e) => e.tags.some((tag) => tag[0] === "e" && tag[1] === job.id)),
      );
      const lines = await callbackLines(req.stateDir);
      assert(lines.includes(`${job.id} cancelled 0`));
    });

    await t.step("a refused payment: invoice above the bid is never paid", async () => {
      const greedyKey = generateSecretKey();
      const greedy = await connectPayingClient({
        url: `btp+ws://greedy:g@127.0.0.1:${net.town.btpPort}`,
        token: "g",
        townAddress: net.town.ilpAddress,
        townPubkey: net.town.pubkey,
      });
      try {
        const job = await req.submit(echoSpec("pay me too much", {
          providers: [getPublicKey(greedyKey)],
          bid: 1000n,
        }));
        const sidecar = await readJobSidecar(req.stateDir, job.id);
        const request = decodeEventToon(sidecar!.requestToon);
        const invoice = { townAddress: net.town.ilpAddress, amount: 5000n };
        assertEquals(await askDeposit(greedy, greedyKey, request, invoice), "fulfill");
        const final = await req.waitFor(job.id);
        assertEquals(final.status, "payment-refused");
        assertStringIncludes(final.error ?? "", "over-bid");
        // Its own write of the request is on record; no payment to the greedy provider is.
        const paid = req.payments.entries().filter((e) => e.jobId === job.id);
        assertEquals(paid.map((e) => e.category), ["town-write"]);
      } finally {
        await greedy.close();
      }
    });

    await t.step("a deposit asked too close to the job's timeout is not paid", async () => {
      const lateKey = generateSecretKey();
      const late = await connectPayingClient({
        url: `btp+ws://greedy:g@127.0.0.1:${net.town.btpPort}`,
        token: "g",
        townAddress: net.town.ilpAddress,
        townPubkey: net.town.pubkey,
      });
      try {
        const job = await req.submit(echoSpec("too late to run", {
          providers: [getPublicKey(lateKey)],
          bid: 1000n,
          timeoutMs: 10_000,
        }));
        const sidecar = (await readJobSidecar(req.stateDir, job.id))!;
        const request = decodeEventToon(sidecar.requestToon);
        // The request carries its timeout (NIP-40), for providers to see.
        const expiration = Number(request.tags.find((t) => t[0] === "expiration")?.[1]);
        assert(Math.abs(expiration * 1000 - sidecar.deadlineMs) <= 1_000, `${expiration}`);
        // Its invoice comes 0.6 s before the timeout: within the last tenth of a 10 s job.
        await new Promise((r) => setTimeout(r, sidecar.deadlineMs - 600 - Date.now()));
        const invoice = { townAddress: net.town.ilpAddress, amount: 500n };
        assertEquals(await askDeposit(late, lateKey, request, invoice), "fulfill");
        const final = await req.waitFor(job.id);
        assertEquals(final.status, "payment-refused", final.error);
        assertMatch(final.error ?? "", /^too-late: the job times out in [01] s/);
        const paid = req.payments.entries().filter((e) => e.jobId === job.id);
        assertEquals(paid.map((e) => e.category), ["town-write"]);
      } finally {
        await late.close();
      }
    });

    await t.step(
      "an invoice to an accomplice's address is never paid; the provider's own still is",
      async () => {
        const townAddress = net.town.ilpAddress;
        const crook = await connectPayingClient({
          url: `btp+ws://crook:c@127.0.0.1:${net.town.btpPort}`,
          token: "c",
          townAddress,
          townPubkey: net.town.pubkey,
        });
        // The accomplice fulfils whatever reaches it: the crook gave it the preimage.
        const fulfillment = crypto.getRandomValues(new Uint8Array(32));
        const received: IlpPrepare[] = [];
        const accomplice = new BtpClient({
          url: `btp+ws://accomplice:a@127.0.0.1:${net.town.btpPort}`,
          authToken: "a",
          reconnect: false,
          onPrepare: (prepare) => {
            received.push(prepare);
            return { type: "fulfill", fulfillment, data: new Uint8Array() };
          },
        });
        try {
          await accomplice.connect();
          const { clientAddress: accompliceAddress } = await accomplice.fetchIldcp();
          // The crook announces its own address, as every provider does.
          const announced = await crook.write(crook.sign(buildPeerInfo({
            ilpAddress: crook.client.ilpAddress!,
            btpEndpoint: `btp+ws://127.0.0.1:${net.town.btpPort}`,
            assetCode: "USD",
            assetScale: 6,
            supportedChains: [],
            settlementAddresses: {},
            tokenNetworks: {},
            preferredTokens: {},
          })));
          assertEquals(announced.type, "fulfill");
          const job = await req.submit(echoSpec("pay my friend", {
            providers: [crook.pubkey],
            bid: 1000n,
            timeoutMs: 5_000,
          }));
          const request = decodeEventToon(
            (await readJobSidecar(req.stateDir, job.id))!.requestToon,
          );
          const invoice = formatIlpInvoice({
            destination: `${accompliceAddress}.${job.id.slice(0, 20)}`,
            amount: 500n,
            assetCode: "USD",
            assetScale: 6,
            condition: bytesToHex(await conditionOf(fulfillment)),
            expiresAt: new Date(Date.now() + 60_000),
            jobId: job.id,
          });
          const feedback = await crook.write(crook.sign(buildJobFeedback({
            request,
            status: "payment-required",
            amount: { amount: "500", paymentRequest: invoice },
          })));
          assertEquals(feedback.type, "fulfill");
          const final = await req.waitFor(job.id);
          assertEquals(final.status, "payment-refused", final.error);
          assertStringIncludes(final.error ?? "", "foreign-destination");
          assertStringIncludes(final.error ?? "", crook.client.ilpAddress!);
          assertEquals(received.length, 0);
          const paid = req.payments.entries().filter((e) => e.jobId === job.id);
          assertEquals(paid.map((e) => e.category), ["town-write"]);

          const honest = await req.submit(echoSpec("pay the provider", {
            providers: [net.providerPubkey!],
          }));
          const done = await req.waitFor(honest.id);
          assertEquals(done.status, "done", done.error);
          assertEquals(done.payments.map((p) => p.status), ["paid"]);
        } finally {
          await accomplice.close();
          await crook.close();
        }
      },
    );

    await t.step(
      "an encrypted job: params hidden at the town, result still delivered",
      async () => {
        const job = await req.submit(echoSpec("secret text", {
          providers: [net.providerPubkey!],
          encrypt: true,
        }));
        const stored = (await net.town.store.query([{ ids: [job.id] }]))
          .map((e) => JSON.parse(e.json) as NostrEvent);
        assertEquals(stored.length, 1);
        assert(!stored[0].content.includes("secret text"));
        assert(stored[0].tags.some((tag) => tag[0] === "encrypted"));
        const final = await req.waitFor(job.id);
        assertEquals(final.status, "done", final.error);
        const toon = await Deno.readTextFile(`${req.stateDir}/cb-${job.id}.toon`);
        assertMatch(toon, /kind: 6601/);
      },
    );
  } finally {
    await req.close();
    await net.stop();
  }
});
