/**
 * `turnpike skill new|test`: for skill authors. `new` scaffolds a skill that works as it is;
 * `test` runs a skill on an input in the very sandbox a provider runs it in (the same code:
 * roles/provider/sandbox/skill_sandbox.ts) and shows its stdout, stderr and exit. The contract is
 * docs/SKILLS.md.
 *
 * @module
 */
import type { Command } from "commander";
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { CliError } from "./cli_error.ts";
import { CLI_ERRORS } from "./cli_error_map.ts";
import { ExitCode } from "./exit_codes.ts";
import { signEventTemplate } from "../identity/event_signer.ts";
import { buildJobRequest, isJobRequestKind, type JobInputType } from "../protocol/nip90_job.ts";
import { decodeEventToon, encodeEventToon } from "../protocol/toon_codec.ts";
import {
  encodeMessageToon,
  GIFT_WRAP_KIND,
  GiftWrapError,
  unwrapGiftWrap,
} from "../protocol/gift_wrap.ts";
import type { NodeSigner } from "../protocol/node_signer.ts";
import { loadNodeSigner, type PassphraseFlags } from "./node_identity.ts";
import { existingStateDir } from "./state_dir_flags.ts";
import type { GlobalOptions } from "./global_options.ts";
import { hexToBytes } from "@noble/hashes/utils.js";
import {
  missingParams,
  parseSkillManifest,
  SkillManifestError,
} from "../roles/provider/skills/skill_manifest.ts";
import { createSkillSandbox } from "../roles/provider/sandbox/skill_sandbox.ts";
import type { SkillManifest } from "../roles/provider/skills/skill_manifest.ts";
import { probeDockerEngine } from "../roles/provider/docker/docker_engine.ts";
import { createDockerBuildRunner } from "../roles/provider/docker/docker_build_runner.ts";
import { archiveProject, ProjectArchiveError } from "../roles/requester/project_archive.ts";
import { blobInputTags } from "../protocol/job_blobs.ts";
import { createStreamingSha256 } from "../protocol/streaming_sha256.ts";
import { writeSkillScaffold } from "../roles/provider/skills/skill_scaffold.ts";
import { localNodeSigner } from "../identity/local_node_signer.ts";
import { printJsonLine } from "./json_line.ts";
import { EventFileError, eventFileToon } from "./event_file.ts";

interface SkillTestOptions extends GlobalOptions, PassphraseFlags {
  dir?: string;
  recipientKey?: string;
  input?: string[];
  param?: string[];
  event?: string;
  message?: string;
  kind?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * Registers `turnpike skill ...`.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerSkillCommand(new Command("turnpike"));
 * ```
 */
export function registerSkillCommand(program: Command): void {
  const skill = program.command("skill").description("write and try skills (docs/SKILLS.md)");
  skill.command("new <name>")
    .description("scaffold a skill that passes `skill test` as it is")
    .option("--dir <dir>", "where to create <name>/ (default: the current dir)", ".")
    .option("--kind <n>", "the job request kind it serves (default 5700)", "5700")
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ dir: string; kind: string; output?: string }>();
      await newSkill(name, o);
    });
  skill.command("test <dir>")
    .description("run a skill on an input in the provider's sandbox; show stdout, stderr, exit")
    .option("--input <type:data>", "a job input: text:<t>, url:<u>, event:<id>, job:<id>", collect)
    .option("--param <name=value>", "a job parameter (repeatable)", collect)
    .option("--kind <n>", "the job kind (default: the skill's first)")
    .option("--event <file>", "an event file as the input (JSON or TOON, any kind)")
    .option(
      "--dir <project>",
      "a project dir as the job's blob input (a tar.gz, as job submit --dir)",
    )
    .option("--message <text>", "a private message (what a kind 1059 skill gets, unwrapped)")
    .option(
      "--recipient-key <hex>",
      "with --event of a gift wrap (kind 1059): open it with this test key instead of the " +
        "profile's wallet (fixtures/events use 0101...01)",
    )
    .option("--passphrase-file <file>", "a gift wrap: the wallet passphrase from this file")
    .option("--passphrase-fd <n>", "a gift wrap: the wallet passphrase from this descriptor")
    .option("--non-interactive", "never prompt")
    .action(async (dir: string, _o: unknown, cmd: Command) => {
      await testSkill(dir, cmd.optsWithGlobals<SkillTestOptions>(), cmd);
    });
}

async function newSkill(name: string, o: { dir: string; kind: string; output?: string }) {
  const kind = Number(o.kind);
  if (!isJobRequestKind(kind)) {
    throw new CliError(`--kind ${o.kind} is not a job request kind (5000-5999)`, {
      exitCode: ExitCode.Usage,
    });
  }
  let dir: string;
  try {
    dir = await writeSkillScaffold({ name, parentDir: o.dir, kind });
  } catch (err) {
    throw CLI_ERRORS.usage(err as Error);
  }
  if (o.output === "json") printJsonLine("skill", { type: "skill", name, dir, kind });
  else {
    console.log(`skill ${name} created in ${dir} (kind ${kind})`);
    console.log(`next: turnpike skill test ${dir} --input "text:three little words"`);
  }
}

async function readManifest(dir: string) {
  try {
    return parseSkillManifest(await Deno.readTextFile(`${dir}/SKILL.md`));
  } catch (err) {
    const what = err instanceof SkillManifestError ? "a bad SKILL.md" : "no SKILL.md";
    throw new CliError(`${dir} has ${what}: ${(err as Error).message}`, {
      exitCode: ExitCode.Usage,
      suggestion:
        "`turnpike skill new <name>` makes a working one; docs/SKILLS.md lists the fields",
      cause: err,
    });
  }
}

/** The skill's stdin for this test, as a provider would hand it over. */
async function testInput(
  o: SkillTestOptions,
  cmd: Command,
  kinds: readonly number[],
  blob?: { path: string; sha256: string },
): Promise<string> {
  if (o.event !== undefined) {
    const text = await Deno.readTextFile(o.event).catch((err) => {
      throw new CliError(`cannot read --event ${o.event}: ${err.message}`, {
        exitCode: ExitCode.Usage,
      });
    });
    let toon: string;
    try {
      toon = eventFileToon(text);
    } catch (err) {
      if (!(err instanceof EventFileError)) throw err;
      throw new CliError(`--event ${o.event} is not an event: ${err.message}`, {
        code: "bad-event",
        suggestion: "give one Nostr event, as JSON (NIP-01) or as TOON",
        cause: err,
      });
    }
    if (o.recipientKey !== undefined) return await openWrap(toon, o.recipientKey);
    // A gift wrap is opened as the node opens it: with the profile's own key.
    return isGiftWrap(toon) ? await openWrapWithProfile(toon, o, cmd) : toon;
  }
  const author = generateSecretKey();
  if (o.message !== undefined) {
    const rumor = {
      kind: 14,
      created_at: Math.floor(Date.now() / 1000),
      tags: [],
      content: o.message,
    };
    const signed = signEventTemplate(rumor, author);
    const { sig: _sig, ...unsigned } = signed;
    return encodeMessageToon({ rumor: unsigned, sender: getPublicKey(author), wrapId: signed.id });
  }
  const kind = o.kind === undefined ? kinds.find(isJobRequestKind) : Number(o.kind);
  if (kind === undefined || !isJobRequestKind(kind)) {
    throw new CliError("no job kind to test with", {
      exitCode: ExitCode.Usage,
      suggestion: "give --kind 5000-5999, --event <file> (JSON or TOON) or --message <text>",
    });
  }
  const inputs = (o.input ?? []).map((text) => {
    const colon = text.indexOf(":");
    const type = text.slice(0, colon) as JobInputType;
    if (colon < 1 || !["text", "url", "event", "job"].includes(type)) {
      throw new CliError(`--input "${text.slice(0, 40)}" is not text:|url:|event:|job:<data>`, {
        exitCode: ExitCode.Usage,
      });
    }
    return { type, data: text.slice(colon + 1) };
  });
  const params = (o.param ?? []).map((p) => {
    const eq = p.indexOf("=");
    if (eq < 1) {
      throw new CliError(`--param "${p}" is not name=value`, { exitCode: ExitCode.Usage });
    }
    return { name: p.slice(0, eq), values: [p.slice(eq + 1)] };
  });
  // A blob input as the provider hands it over: the request names it, the file is in inputs/.
  const extraTags = blob === undefined
    ? []
    : blobInputTags({ url: `http://skill-test.invalid/${blob.sha256}`, sha256: blob.sha256 });
  return encodeEventToon(
    signEventTemplate(buildJobRequest({ kind, inputs, params, extraTags }), author),
  );
}

function isGiftWrap(toon: string): boolean {
  try {
    return decodeEventToon(toon, { verify: false }).kind === GIFT_WRAP_KIND;
  } catch {
    return false;
  }
}

/** A gift wrap opened with the profile's wallet (in its signer worker), as the node opens it. */
async function openWrapWithProfile(
  toon: string,
  o: SkillTestOptions,
  cmd: Command,
): Promise<string> {
  const stateDir = await existingStateDir(o, cmd);
  const signer = await loadNodeSigner({
    ...o,
    stateDir,
    who: "the profile the gift wrap is for",
    missingSuggestion: "run it with the --profile/--state-dir of the recipient, or give a test " +
      "key with --recipient-key",
  });
  try {
    return await openWrapWith(toon, signer);
  } finally {
    signer.close();
  }
}

/** A gift wrap opened as the node opens it, refusals included. */
async function openWrap(toon: string, keyHex: string): Promise<string> {
  if (!/^[0-9a-f]{64}$/i.test(keyHex)) {
    throw new CliError("--recipient-key is not a 64-hex secret key", { exitCode: ExitCode.Usage });
  }
  return await openWrapWith(toon, localNodeSigner(hexToBytes(keyHex.toLowerCase())));
}

async function openWrapWith(toon: string, signer: NodeSigner): Promise<string> {
  try {
    const wrap = decodeEventToon(toon);
    return encodeMessageToon(await unwrapGiftWrap(wrap, { signer }));
  } catch (err) {
    throw new CliError(`the node would refuse this event: ${(err as Error).message}`, {
      code: err instanceof GiftWrapError ? err.reason : "bad-event",
    });
  }
}

async function testSkill(dir: string, o: SkillTestOptions, cmd: Command): Promise<void> {
  const skillDir = await Deno.realPath(dir).catch(() => {
    throw new CliError(`no skill dir ${dir}`, { exitCode: ExitCode.Usage });
  });
  const manifest = await readManifest(skillDir);
  const jobsRoot = await Deno.makeTempDir({ prefix: "turnpike-skill-test-" });
  try {
    const blob = o.dir === undefined ? undefined : await projectBlob(o.dir, jobsRoot);
    const input = await testInput(o, cmd, manifest.kinds, blob);
    await runTest(skillDir, manifest, input, blob, jobsRoot, o);
  } finally {
    await Deno.remove(jobsRoot, { recursive: true }).catch(() => {});
  }
}

/** The project as a tar.gz blob input: its file and sha256. */
async function projectBlob(dir: string, root: string): Promise<{ path: string; sha256: string }> {
  const path = `${root}/context.tar.gz`;
  try {
    await archiveProject(dir, path);
  } catch (err) {
    if (!(err instanceof ProjectArchiveError)) throw err;
    throw new CliError(err.message, { context: "--dir", exitCode: ExitCode.Usage, cause: err });
  }
  const hash = createStreamingSha256();
  hash.update(await Deno.readFile(path));
  return { path, sha256: hash.digestHex() };
}

/** The provider's runner for this skill: its docker-build runner, else the skill sandbox. */
async function runnerFor(manifest: SkillManifest, jobsRoot: string) {
  if (manifest.runner === "agent") {
    throw new CliError(`${manifest.name} runs an agent preset of a provider's config`, {
      exitCode: ExitCode.Usage,
      suggestion: "test it through a provider (`node up` with [agents.<name>]) and " +
        '`job submit agent-task` (docs/OPERATIONS.md "Agent presets")',
    });
  }
  if (manifest.runner === "model") {
    throw new CliError(`${manifest.name} calls a model preset of a provider's config`, {
      exitCode: ExitCode.Usage,
      suggestion: "test it through a provider (`node up` with [models.<name>]) and " +
        '`job submit text-generation` (docs/OPERATIONS.md "Model presets")',
    });
  }
  if (manifest.runner !== "docker") {
    // As the provider runs it: its own Deno cache, filled once by a warm-up run on empty input,
    // read-only for the job (roles/provider/skills/provider_skills.ts, docs/SKILLS.md).
    const denoCacheDir = `${jobsRoot}/skill-deno-cache`;
    await Deno.mkdir(denoCacheDir);
    return await createSkillSandbox({ jobsRoot, hiddenPaths: [], denoCacheDir });
  }
  const dockerHost = Deno.env.get("DOCKER_HOST");
  try {
    const engine = await probeDockerEngine({ dockerHost });
    return { ...createDockerBuildRunner({ jobsRoot, engine, dockerHost }), mode: "docker" };
  } catch (err) {
    throw new CliError((err as Error).message, {
      context: `${manifest.name} runs on a Docker engine`,
      suggestion: "start one, or point DOCKER_HOST at one",
      cause: err,
    });
  }
}

async function runTest(
  skillDir: string,
  manifest: SkillManifest,
  input: string,
  blob: { path: string; sha256: string } | undefined,
  jobsRoot: string,
  o: SkillTestOptions,
): Promise<void> {
  const missing = o.event === undefined && o.message === undefined
    ? missingParams(decodeEventToon(input, { verify: false }).tags, manifest.requiredParams)
    : [];
  if (missing.length > 0) {
    // What a provider answers before any invoice: the skill would not even run.
    throw new CliError(
      `missing param ${missing.join(", ")} (the ${manifest.name} skill needs it)`,
      {
        code: "missing-param",
        exitCode: ExitCode.Usage,
        suggestion: `add --param ${missing[0]}=...`,
      },
    );
  }
  {
    const runner = await runnerFor(manifest, jobsRoot);
    if ("warmDenoCache" in runner) await runner.warmDenoCache?.({ skillDir, manifest });
    const files = blob === undefined ? [] : [{ path: blob.path, name: blob.sha256 }];
    const outcome = await runner.run({ jobId: "skill-test", skillDir, manifest, input, files });
    const stdout = new TextDecoder().decode(outcome.stdout);
    const report = {
      type: "skill-test",
      skill: manifest.name,
      status: outcome.status,
      exitCode: outcome.exitCode,
      reason: outcome.reason,
      durationMs: Math.round(outcome.durationMs),
      sandbox: runner.mode,
      stdout,
      stderr: outcome.stderrTail,
    };
    if (o.output === "json") printJsonLine("skill-test", report);
    else printReport(report);
    if (outcome.status !== "ok") {
      throw new CliError(`skill ${manifest.name} ended ${outcome.status}: ${outcome.reason}`, {
        code: outcome.status,
        printed: o.output === "json",
      });
    }
  }
}

function printReport(r: {
  skill: string;
  status: string;
  exitCode: number | null;
  durationMs: number;
  sandbox: string;
  stdout: string;
  stderr: string;
}): void {
  console.log(
    `skill ${r.skill}: ${r.status} (exit ${r.exitCode}, ${r.durationMs} ms, ${r.sandbox} sandbox)`,
  );
  console.log("--- stdout");
  console.log(r.stdout.endsWith("\n") ? r.stdout.slice(0, -1) : r.stdout);
  console.log("--- stderr");
  console.log(r.stderr.endsWith("\n") ? r.stderr.slice(0, -1) : r.stderr);
}
