/**
 * The agent skill (integrations/claude/skills/turnpike-jobs/SKILL.md) is a promise to coding
 * agents: every `turnpike` command it shows is run here, as written, against a real town and a
 * provider with a Docker engine, in a profile set up the usual way (config.toml + the passphrase
 * in TURNPIKE_PASSPHRASE_FILE). Only the placeholders change: `./project` becomes a real project,
 * `<id>` the job just posted, `make test` a test the sample image has. Each must exit 0 with
 * nothing but JSON lines on stdout.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import { startTestDockerEngine } from "../../harness/docker_daemon.ts";
import { dockerSampleContext } from "../../roles/demo/docker_sample_context.ts";

const SKILL = new URL(
  "../../integrations/claude/skills/turnpike-jobs/SKILL.md",
  import.meta.url,
).pathname;
const PASSING = new URL("../../fixtures/projects/passing", import.meta.url).pathname;

/**
 * The `turnpike ...` commands of a markdown file's code (indented or fenced), continuation
 * lines joined.
 */
function shownCommands(markdown: string): string[] {
  const commands: string[] = [];
  let current = "";
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) {
      fenced = !fenced;
      continue;
    }
    const code = fenced || line.startsWith("    ") ? line.trim() : "";
    if (current !== "") current += " " + code.replace(/\\$/, "").trim();
    else if (code.startsWith("turnpike ")) current = code.replace(/\\$/, "").trim();
    else continue;
    if (!code.endsWith("\\")) {
      commands.push(current.replace(/\s+#.*$/, "").replace(/\s+/g, " "));
      current = "";
    }
  }
  return commands;
}

/** Splits a command line the way a shell would for these commands (double quotes only). */
function shellWords(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

Deno.test("agent skill: every command SKILL.md shows works as shown against a real town and provider", async () => {
  const markdown = await Deno.readTextFile(SKILL);
  assert(markdown.startsWith("---\nname: turnpike-jobs\ndescription: "), "front matter");
  const commands = shownCommands(markdown);
  assert(commands.length >= 8, `commands found: ${commands.join("\n")}`);
  await using engine = await startTestDockerEngine();
  const net = await startRequesterNetwork({ providerOptions: { dockerHost: engine.host } });
  const home = `${net.root}/agent-home`;
  const state = `${home}/default`;
  await Deno.mkdir(state, { recursive: true });
  await Deno.writeTextFile(`${home}/pw`, "agent passphrase\n");
  await initWalletWithCli({ stateDir: state, passphraseFile: `${home}/pw` });
  await Deno.writeTextFile(
    `${state}/config.toml`,
    `role = "requester"\nrelay_url = "${net.relayUrl}"\n` +
      `connector_btp_url = "${net.btpUrl}"\nbtp_token = "agent"\n`,
  );
  const env = { TURNPIKE_HOME: home, TURNPIKE_PASSPHRASE_FILE: `${home}/pw` };
  const dockerProject = await dockerSampleContext(`${net.root}/docker-project`);
  const out = `${net.root}/turnpike-out`;
  let lastJob = "";
  try {
    for (const shown of commands) {
      const project = shown.includes("docker-build") ? dockerProject : PASSING;
      const line = shown.replaceAll("./project", project).replaceAll("./turnpike-out", out)
        .replaceAll("make test", "sh /app/test.sh").replaceAll("<id>", lastJob);
      assert(!line.includes("<"), `a placeholder is left: ${line}`);
      const args = shellWords(line).slice(1);
      // `job cancel` needs a job still running: post one nobody serves, then cancel it.
      if (args.includes("cancel")) {
        const posted = await runCli([
          "--json",
          "job",
          "submit",
          "5777",
          "--input",
          "text:x",
          "--force",
          "--timeout",
          "600",
        ], { env });
        args[args.length - 1] = JSON.parse(posted.stdout).id;
      }
      const res = await runCli(args, { env });
      assertEquals(res.code, 0, `${line}\n${res.stdout}\n${res.stderr}`);
      const objects = res.stdout.trim().split("\n").filter((l) => l !== "").map((l) =>
        JSON.parse(l)
      );
      assert(objects.length > 0, `${line}: no JSON on stdout`);
      const result = objects.find((o) => o.type === "result");
      if (result !== undefined) {
        assertEquals(result.status, "done", line);
        lastJob = result.job;
      }
    }
  } finally {
    await net.stop();
  }
});
