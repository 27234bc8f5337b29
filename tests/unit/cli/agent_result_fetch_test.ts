/**
 * `job results --apply` (cli/agent_task_command.ts) against a hostile provider's result: its
 * blobs are fetched by hash from the requester's own towns, never from the URL the tag names;
 * a blob over what a provider may seal, or over the size its tag commits to, is refused without
 * being written; a bundle whose files expand to far more than it weighs is refused before git
 * diffs them. Real git, real HTTP servers (one plays the requester's town, one a server of the
 * provider's choosing), the real sealing and delivery key.
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { applyAgentResult } from "../../../cli/agent_task_command.ts";
import { agentTaskFile } from "../../../state/jobs/agent_task_record.ts";
import { CliError } from "../../../cli/cli_error.ts";
import { sealBlob } from "../../../roles/agent_work/sealed_blob.ts";
import { runGit } from "../../../roles/agent_work/git_command.ts";
import { sealDeliveryKey } from "../../../protocol/delivery_key.ts";
import { blobOutputTag } from "../../../protocol/job_blobs.ts";
import { createStreamingSha256 } from "../../../protocol/streaming_sha256.ts";
import { assert, assertEquals, assertRejects } from "../../../harness/assert.ts";
import { withTempDir } from "../../support/temp_dir.ts";
import { tempGitRepo } from "../../../harness/temp_git_repo.ts";
import { makeJobRecord } from "../../../harness/job_record_factory.ts";
import { zeroBlobCommit } from "../../support/zero_blob_tree.ts";

/** A Blossom-like server on loopback: what it was asked for and how many bytes it sent. */
interface BlobServer {
  url: string;
  hits: string[];
  sent: number;
  close(): Promise<void>;
}

/** Serves `blobs` by path; `endless` paths get zeros until the reader stops. */
function blobServer(
  blobs: Map<string, Uint8Array<ArrayBuffer>>,
  endless = new Set<string>(),
): BlobServer {
  const state = { hits: [] as string[], sent: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname.slice(1);
    state.hits.push(path);
    if (endless.has(path)) {
      const chunk = new Uint8Array(64 * 1024);
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            state.sent += chunk.length;
            c.enqueue(chunk);
          },
        }, { highWaterMark: 0 }),
      );
    }
    const body = blobs.get(path);
    if (body === undefined) return new Response("not found", { status: 404 });
    state.sent += body.length;
    return new Response(body);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    get hits() {
      return state.hits;
    },
    get sent() {
      return state.sent;
    },
    close: () => server.shutdown(),
  };
}

function sha256Hex(bytes: Uint8Array): string {
  const h = createStreamingSha256();
  h.update(bytes);
  return h.digestHex();
}

/**
 * A requester's repository with a submitted task at its base, and a provider's result built on
 * it by `work` (in a clone): the sealed bundle, its hash, and what `--apply` is given.
 */
async function hostileResult(
  tmp: string,
  work: (clone: string, base: string) => Promise<string>,
) {
  const repo = await tempGitRepo(`${tmp}/repo`, 2);
  const base = await repo.git("rev-parse", "HEAD");
  await runGit(["clone", "-q", repo.dir, `${tmp}/provider`]);
  const tip = await work(`${tmp}/provider`, base);
  await runGit(["update-ref", "refs/heads/turnpike/work", tip], { dir: `${tmp}/provider` });
  await runGit([
    "bundle",
    "create",
    "-q",
    `${tmp}/result.bundle`,
    "refs/heads/turnpike/work",
    `^${base}`,
  ], {
    dir: `${tmp}/provider`,
  });
  const { sealed, key } = await sealBlob(await Deno.readFile(`${tmp}/result.bundle`));
  const fulfillment = crypto.getRandomValues(new Uint8Array(32));
  const record = makeJobRecord(1, {
    kind: 5603,
    skill: "agent-task",
    status: "done",
    payments: [{
      invoiceId: "delivery",
      amount: 1n,
      asset: "USD",
      status: "paid",
      fulfillment: bytesToHex(fulfillment),
      startedAtMs: 0,
    }],
  });
  const stateDir = `${tmp}/profile`;
  await Deno.mkdir(`${stateDir}/agent-tasks`, { recursive: true });
  await Deno.writeTextFile(
    agentTaskFile(stateDir, record.id),
    JSON.stringify({ repo: repo.dir, base }),
  );
  const content = JSON.stringify({
    verdict: "pass",
    base,
    sealedKey: await sealDeliveryKey(bytesToHex(key), fulfillment),
  });
  return { repo, base, tip, sealed, sha256: sha256Hex(sealed), record, stateDir, content };
}

/** A small honest commit: one file added. */
async function smallWork(clone: string, base: string): Promise<string> {
  await Deno.writeTextFile(`${clone}/fix.txt`, "fixed\n");
  const git = (...a: string[]) => runGit(a, { dir: clone });
  await git("-c", "user.name=agent", "-c", "user.email=agent@example.invalid", "add", "fix.txt");
  await git(
    "-c",
    "user.name=agent",
    "-c",
    "user.email=agent@example.invalid",
    "commit",
    "-q",
    "-m",
    "fix",
  );
  const tip = (await git("rev-parse", "HEAD")).stdout.trim();
  assert(tip !== base);
  return tip;
}

Deno.test("a result whose blob tag names a server of the provider's choosing is fetched by hash from the requester's own town, never from that server", async () => {
  await withTempDir(async (tmp) => {
    const r = await hostileResult(tmp, smallWork);
    const town = blobServer(new Map([[r.sha256, r.sealed]]));
    // The provider's server has the very bytes: only where they are fetched from differs.
    const foreign = blobServer(new Map([[r.sha256, r.sealed]]));
    try {
      const tag = blobOutputTag({
        name: "result.bundle.sealed",
        url: `${foreign.url}/${r.sha256}`,
        sha256: r.sha256,
        size: r.sealed.length,
      });
      const applied = await applyAgentResult({
        stateDir: r.stateDir,
        record: r.record,
        result: { tags: [tag], content: r.content },
        towns: [town.url],
      });
      // The branch is the delivered commits with the requester's provenance trailers.
      assertEquals(applied.bundleTip, r.tip);
      assertEquals(foreign.hits, []);
      assertEquals(town.hits, [r.sha256]);
    } finally {
      await town.close();
      await foreign.close();
    }
  });
});

Deno.test("a result blob whose tag states more than a provider may seal is refused before a byte of it is fetched", async () => {
  await withTempDir(async (tmp) => {
    const r = await hostileResult(tmp, smallWork);
    const bomb = "ab".repeat(32);
    const town = blobServer(new Map(), new Set([bomb]));
    try {
      const tag = blobOutputTag({
        name: "result.bundle.sealed",
        url: `${town.url}/${bomb}`,
        sha256: bomb,
        size: 256 * 1024 * 1024,
      });
      const err = await assertRejects(
        () =>
          applyAgentResult({
            stateDir: r.stateDir,
            record: r.record,
            result: { tags: [tag], content: r.content },
            towns: [town.url],
          }),
        CliError,
      );
      assertEquals([err.code, err.fields?.reason], ["result-refused", "too-large"]);
      assertEquals([town.hits, town.sent], [[], 0]);
    } finally {
      await town.close();
    }
  });
});

Deno.test("a result bundle of kilobytes whose files expand to 500 GiB is refused before git diffs them, naming both sizes", async () => {
  await withTempDir(async (tmp) => {
    // The probe's bomb: one 256 MiB zero blob under 2,000 names.
    const r = await hostileResult(
      tmp,
      (clone, base) =>
        zeroBlobCommit({ dir: clone, blobBytes: 256 * 1024 * 1024, names: 2000, parent: base }),
    );
    assert(r.sealed.length < 1024 * 1024, `the bundle is ${r.sealed.length} bytes`);
    const town = blobServer(new Map([[r.sha256, r.sealed]]));
    try {
      const tag = blobOutputTag({
        name: "result.bundle.sealed",
        url: `${town.url}/${r.sha256}`,
        sha256: r.sha256,
        size: r.sealed.length,
      });
      const err = await assertRejects(
        () =>
          applyAgentResult({
            stateDir: r.stateDir,
            record: r.record,
            result: { tags: [tag], content: r.content },
            towns: [town.url],
            // The old code diffed until this bound killed git; the check answers long before.
            gitTimeoutMs: 60_000,
          }),
        CliError,
      );
      assertEquals([err.code, err.fields?.reason], ["result-refused", "expanded-too-large"]);
      assert(/expand to \d+ bytes, over the limit of 1073741824 bytes/.test(err.message));
      assertEquals(await r.repo.git("branch", "--list", "turnpike/*"), "");
    } finally {
      await town.close();
    }
  });
});
