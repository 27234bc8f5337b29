/**
 * A network of towns (docs/OPERATIONS.md, "Several towns"): three towns, each its own process
 * and key, children of the Interledger reference connector (`ilp-connector`, run with Node); a
 * requester whose home town is A and a provider whose home town is B that follows A and C too.
 * A paid echo job and a paid ci-run with a blob input cross towns: the requester pays the
 * provider A -> connector -> B, the provider pays A's write fees B -> connector -> A, each hop's
 * amount on the books of whoever pays or earns it: the requester's and the provider's payment
 * logs, the towns' income logs and peer ledgers (what B owes the provider), and the reference
 * connector's balance per town (its admin API). Then a requester on A, B and C publishes a blob
 * on all three and posts a ci-run on all three; A (the blob URL's town) is SIGKILLed once the
 * request is written: the provider fetches the input from another town (verifying its hash),
 * the job is still done once, paid once, its callback run once.
 * When that town comes back (same key, store and ports), the nodes reconnect to it: a job posted
 * on it alone is found by the provider (its feed catches up from its since-cursor) and done.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { startReferenceConnector } from "../../harness/reference_connector.ts";
import {
  btpOf,
  paymentLog,
  type PaymentLogEntry,
  relayOf,
  requesterOnTown,
  townPubkeyOf,
  within,
} from "../support/town_network_kit.ts";
import {
  type SharedTownProcess,
  startSharedTownProcess,
} from "../../harness/shared_town_process.ts";
import { callbackLogPath, echoSpec, writeRecordingSkill } from "../../harness/requester_network.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { startProviderNode } from "../../roles/provider/provider_node.ts";
import { startRequester } from "../../roles/requester/requester_node.ts";
import { archiveProject } from "../../roles/requester/project_archive.ts";
import { decodeEventToon } from "../../protocol/toon_codec.ts";
import { readJobSidecar } from "../../roles/requester/job_sidecar.ts";
import { queryRelay } from "../../transport/relay_query.ts";
import { parseRelayList, RELAY_LIST_KIND } from "../../protocol/nip65_relay_list.ts";
import { openPeerLedger } from "../../state/payments/peer_ledger.ts";

async function callbackLines(stateDir: string): Promise<string[]> {
  const text = await Deno.readTextFile(callbackLogPath(stateDir)).catch(() => "");
  return text.trim().split("\n").filter((l) => l !== "");
}

Deno.test("town network: jobs across three towns through the reference connector; a town killed mid-job", async () => {
  await using connector = await startReferenceConnector({
    ilpAddress: "test.conn",
    accounts: { a: {}, b: {}, c: {} },
    books: true,
  });
  const towns: Record<string, SharedTownProcess> = {};
  const root = await Deno.makeTempDir({ prefix: "turnpike-net-" });
  const stops: (() => Promise<unknown>)[] = [];
  const townOptions = (name: string) => ({
    secretKey: townKeys[name],
    databasePath: `${root}/town-${name}.sqlite`,
    stateDir: `${root}/town-${name}`,
    parent: { url: connector.accounts[name].url, token: connector.accounts[name].secret },
  });
  const townKeys: Record<string, Uint8Array> = {};
  try {
    for (const name of ["a", "b", "c"]) {
      townKeys[name] = generateSecretKey();
      await Deno.mkdir(`${root}/town-${name}`);
      towns[name] = await startSharedTownProcess(townOptions(name));
      stops.push(() => towns[name].stop());
    }
    assertEquals(towns.a.ilpAddress, "test.conn.a");
    assertEquals(towns.b.ilpAddress, "test.conn.b");

    const providerKey = generateSecretKey();
    const provider = await startProviderNode({
      stateDir: `${root}/provider`,
      secretKey: providerKey,
      btpUrl: btpOf(towns.b, "provider"),
      btpToken: "t",
      relayUrl: relayOf(towns.b),
      townPubkey: await townPubkeyOf(towns.b),
      moreTowns: [{ relayUrl: relayOf(towns.a) }, { relayUrl: relayOf(towns.c) }],
      skillsDir: new URL("../../skills", import.meta.url).pathname,
      heartbeatMs: 3_600_000,
    });
    stops.unshift(() => provider.stop());
    assertEquals(provider.ilpAddress, "test.conn.b.provider");
    // Its NIP-65 relay list is on each town it is on (read here from A).
    const { events: lists } = await queryRelay(relayOf(towns.a), [
      { kinds: [RELAY_LIST_KIND], authors: [getPublicKey(providerKey)] },
    ]);
    assertEquals(parseRelayList(lists[0]).map((r) => r.url), [
      relayOf(towns.b),
      relayOf(towns.a),
      relayOf(towns.c),
    ]);

    // ---- part 1: a requester whose one town is A hires the provider under B.
    const reqDir = `${root}/requester`;
    const requester = await requesterOnTown(root, "requester", towns.a);
    stops.unshift(() => requester.close());
    assertEquals(requester.town.btp.ilpAddress, "test.conn.a.requester");

    // Generous timeouts: under CPU load (two burners, other work) one run in a few took over
    // 60 s to get its first job through three town processes and the connector.
    const echo = await requester.submit(echoSpec("across towns", { timeoutMs: 90_000 }));
    const echoDone = await within("echo job", requester.waitFor(echo.id), 120_000);
    assertEquals(echoDone.status, "done", echoDone.error);
    assertEquals(echoDone.provider, getPublicKey(providerKey));
    assertEquals(echoDone.payments.map((p) => p.status), ["paid"]);

    // A ci-run with its project as a blob on town A, fetched by the provider from A.
    const project = `${root}/project`;
    await Deno.mkdir(project);
    await Deno.writeTextFile(
      `${project}/test.sh`,
      `#!/bin/sh\necho "ok 1 - across towns"\necho "1 passed, 0 failed"\n`,
      { mode: 0o755 },
    );
    await archiveProject(project, `${root}/project.tar.gz`);
    const blob = await requester.publishBlob(`${root}/project.tar.gz`);
    assert(blob.url.startsWith(`http://127.0.0.1:${towns.a.httpPort}/`), blob.url);
    assertEquals(blob.towns, [relayOf(towns.a)]);
    const ci = await requester.submit(
      echoSpec("", {
        kind: 5600,
        inputs: [],
        params: [{ name: "cmd", values: ["sh test.sh"] }],
        blobs: [{ url: blob.url, sha256: blob.sha256 }],
        bid: 200_000n,
        timeoutMs: 90_000,
      }),
    );
    const ciDone = await within("ci-run job", requester.waitFor(ci.id), 120_000);
    assertEquals(ciDone.status, "done", ciDone.error);
    assertEquals(ciDone.payments.map((p) => p.status), ["paid"]);

    // Every hop on the books: the requester paid A for its writes and the blob, the provider
    // for each job (an address under B); the provider earned each job once and paid A's fees.
    const reqLog = await paymentLog(reqDir);
    const provLog = await paymentLog(`${root}/provider`);
    for (const job of [echoDone, ciDone]) {
      const paidOut = reqLog.filter((e) =>
        e.jobId === job.id && e.category === "job" && e.event === "fulfilled"
      );
      assertEquals(paidOut.length, 1, `job ${job.id} paid once`);
      const earned = provLog.filter((e) =>
        e.jobId === job.id && e.direction === "in" && e.event === "fulfilled"
      );
      assertEquals(earned.length, 1, `job ${job.id} earned once`);
      assertEquals(earned[0].amount, paidOut[0].amount);
      const write = reqLog.find((e) =>
        e.jobId === job.id && e.category === "town-write" && e.event === "fulfilled"
      );
      assertEquals(write?.peer, "test.conn.a");
      // The provider's feedback/result for this job were written on A (the request named A).
      const provWrites = provLog.filter((e) => e.jobId === job.id && e.category === "town-write");
      assert(provWrites.length > 0, "provider paid writes for the job");
      assert(provWrites.every((e) => e.peer === "test.conn.a"), JSON.stringify(provWrites));
    }
    assert(
      reqLog.some((e) => e.category === "town-blob" && e.event === "fulfilled"),
      "blob paid at A",
    );

    // The towns' and the connector's books. What the provider earned (B forwarded it) and
    // what it paid A and C for its writes (announcements, relay list, feedback, results).
    const sum = (es: PaymentLogEntry[]) => es.reduce((n, e) => n + BigInt(e.amount), 0n);
    const fulfilled = (es: PaymentLogEntry[]) => es.filter((e) => e.event === "fulfilled");
    const jobsPaid = sum(fulfilled(reqLog).filter((e) => e.category === "job"));
    assertEquals(jobsPaid, sum(fulfilled(provLog).filter((e) => e.direction === "in")));
    const provTo = (peer: string) =>
      sum(fulfilled(provLog).filter((e) => e.direction === "out" && e.peer === peer));
    const provToA = provTo("test.conn.a");
    const provToC = provTo("test.conn.c");
    assert(jobsPaid > 0n && provToA > 0n && provToC > 0n, `${jobsPaid} ${provToA} ${provToC}`);
    // B forwarded both job payments to its child `provider`: it owes them, all fulfilled.
    const bLedger = await openPeerLedger({ stateDir: `${root}/town-b` });
    const owed = bLedger.balance("provider");
    assertEquals(owed.owed, jobsPaid);
    assertEquals(owed.packets, 2);
    assertEquals(owed.inFlight + owed.inDoubt, 0n);
    // A earned the requester's writes and blob from its child `requester`, and the provider's
    // writes from its parent (the connector); C earned the provider's writes from its parent.
    const aIncome = await paymentLog(`${root}/town-a`);
    const reqPaidA = (category: string) =>
      sum(fulfilled(reqLog).filter((e) => e.category === category && e.peer === "test.conn.a"));
    const aFrom = (peer: string, category: string) =>
      sum(aIncome.filter((e) => e.peer === peer && e.category === category));
    assertEquals(aFrom("requester", "town-write"), reqPaidA("town-write"));
    assertEquals(aFrom("requester", "town-blob"), reqPaidA("town-blob"));
    assertEquals(aFrom("parent", "town-write"), provToA);
    const cIncome = await paymentLog(`${root}/town-c`);
    assertEquals(sum(cIncome.filter((e) => e.peer === "parent")), provToC);
    // The connector, no spread: A's account paid in the jobs and was paid the provider's
    // writes to A; B's paid in those writes (to A and C) and was paid the jobs; C's was paid.
    assertEquals(await connector.balances(), {
      a: jobsPaid - provToA,
      b: provToA + provToC - jobsPaid,
      c: -provToC,
    });
    // Each callback ran once.
    const cbs = await callbackLines(reqDir);
    assertEquals(cbs.map((l) => l.split(" ").slice(0, 2).join(" ")), [
      `${echo.id} done`,
      `${ci.id} done`,
    ]);
    await requester.close();

    // ---- part 2: a requester on A, B and C publishes a blob on all three and posts a ci-run
    // on all three; A, the town of the blob's URL, dies once the request is on.
    const req2Dir = `${root}/requester2`;
    await Deno.mkdir(req2Dir, { recursive: true });
    let aKilled: Promise<void> | undefined;
    const requester2 = await startRequester({
      stateDir: req2Dir,
      secretKey: generateSecretKey(),
      relayUrl: relayOf(towns.a),
      btpUrl: btpOf(towns.a, "requester2"),
      btpToken: "t",
      moreTowns: [
        { relayUrl: relayOf(towns.b), btpUrl: btpOf(towns.b, "requester2"), btpToken: "t" },
        { relayUrl: relayOf(towns.c), btpUrl: btpOf(towns.c, "requester2"), btpToken: "t" },
      ],
      skillsDir: await writeRecordingSkill(req2Dir),
      auditWindowMs: 50,
      // A dies at the job's first step after its request was stored (sent, or the provider's
      // first feedback when it comes first), so the payment and the result most often find
      // their way over B and C; at the latest it dies once `submit` returned.
      onProgress: () => {
        aKilled ??= towns.a.kill();
      },
    });
    stops.unshift(() => requester2.close());
    const { events: reqLists } = await queryRelay(relayOf(towns.b), [
      { kinds: [RELAY_LIST_KIND], authors: [requester2.pubkey] },
    ]);
    assertEquals(parseRelayList(reqLists[0]).map((r) => r.url), [
      relayOf(towns.a),
      relayOf(towns.b),
      relayOf(towns.c),
    ]);
    // Another project (another sha256): the provider has none of it in its blob cache.
    await Deno.writeTextFile(
      `${project}/test.sh`,
      `#!/bin/sh\necho "ok 1 - survives its town"\necho "1 passed, 0 failed"\n`,
      { mode: 0o755 },
    );
    await archiveProject(project, `${root}/project2.tar.gz`);
    const blob2 = await requester2.publishBlob(`${root}/project2.tar.gz`);
    assert(blob2.url.startsWith(`http://127.0.0.1:${towns.a.httpPort}/`), blob2.url);
    assertEquals(blob2.towns, [relayOf(towns.a), relayOf(towns.b), relayOf(towns.c)]);
    const blobPaid = fulfilled(await paymentLog(req2Dir)).filter((e) => e.category === "town-blob");
    assertEquals(blobPaid.map((e) => e.peer).sort(), ["test.conn.a", "test.conn.b", "test.conn.c"]);
    for (const name of ["b", "c"]) {
      const stored = await fetch(`http://127.0.0.1:${towns[name].httpPort}/${blob2.sha256}`, {
        method: "HEAD",
      });
      assertEquals(stored.status, 200, `blob on ${name}`);
    }
    const job = await requester2.submit(
      echoSpec("", {
        kind: 5600,
        inputs: [],
        params: [{ name: "cmd", values: ["sh test.sh"] }],
        blobs: [{ url: blob2.url, sha256: blob2.sha256 }],
        bid: 200_000n,
        timeoutMs: 90_000,
      }),
    );
    assert(job.status !== "error" && job.status !== "pending-send", job.status);
    const request = decodeEventToon((await readJobSidecar(req2Dir, job.id))!.requestToon, {
      verify: false,
    });
    assertEquals(
      request.tags.find((t) => t[0] === "relays"),
      ["relays", relayOf(towns.a), relayOf(towns.b), relayOf(towns.c)],
    );
    aKilled ??= towns.a.kill();
    await aKilled;
    const done = await within("job after its town died", requester2.waitFor(job.id), 120_000);
    assertEquals(done.status, "done", done.error);
    // Its input came from B or C (A was dead before the job was paid, so before it ran), and
    // it is the blob the requester published: the hash was checked on the way.
    const cached = await Deno.readFile(`${root}/provider/blob-cache/${blob2.sha256}`);
    assertEquals(cached, await Deno.readFile(`${root}/project2.tar.gz`));
    assertEquals(done.payments.map((p) => p.status), ["paid"]);
    const log2 = await paymentLog(req2Dir);
    assertEquals(
      log2.filter((e) => e.jobId === job.id && e.category === "job" && e.event === "fulfilled")
        .length,
      1,
    );
    const provLog2 = await paymentLog(`${root}/provider`);
    assertEquals(
      provLog2.filter((e) => e.jobId === job.id && e.direction === "in" && e.event === "fulfilled")
        .length,
      1,
    );
    // The callback ran once.
    const lines = (await callbackLines(req2Dir)).filter((l) => l.startsWith(job.id));
    assertEquals(lines.length, 1, lines.join("\n"));
    assert(lines[0].startsWith(`${job.id} done `), lines[0]);
    await requester2.close();

    // ---- part 3: A comes back; a job posted on A alone is found and done again.
    const dead = towns.a;
    towns.a = await startSharedTownProcess({
      ...townOptions("a"),
      httpPort: dead.httpPort,
      btpPort: dead.btpPort,
    });
    assertEquals(towns.a.ilpAddress, "test.conn.a");
    const requester3 = await requesterOnTown(root, "requester3", towns.a);
    stops.unshift(() => requester3.close());
    const back = await requester3.submit(echoSpec("its town is back", { timeoutMs: 90_000 }));
    const backDone = await within("job on the town come back", requester3.waitFor(back.id));
    assertEquals(backDone.status, "done", backDone.error);
    assertEquals(backDone.payments.map((p) => p.status), ["paid"]);
  } finally {
    for (const stop of stops) await stop().catch(() => {});
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});
