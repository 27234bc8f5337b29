/**
 * The CLI's error tables name classes by their `name` (cli/cli_error_map.ts), so a case matches
 * an error of exactly a class it names: each case must name every subclass of the classes it
 * takes, as `instanceof` took them, and only classes the source declares (a class renamed or gone
 * fails here, not silently as `internal`). The tables are read from the cli/ source; the classes
 * from the source folders, as tests/unit/protocol/error_classes_test.ts reads them.
 */
import { assert, assertEquals, assertStringIncludes } from "../../../harness/assert.ts";
import { asCliError } from "../../../cli/job_command.ts";
import { cliErrorJson } from "../../../cli/cli_error.ts";
import { CLI_ERRORS } from "../../../cli/cli_error_map.ts";
import { ConfigError } from "../../../config/config_error.ts";
import { townReadError } from "../../../cli/town_read.ts";
import { ChannelNotOpenError } from "../../../roles/channels/channel_sender.ts";
import { JobEndedError, RequesterJobError } from "../../../roles/requester/requester_job_error.ts";
import { RelayQueryError } from "../../../transport/relay_query.ts";
import { BlossomError } from "../../../transport/blossom_client.ts";
import { sourceFiles } from "../../support/source_files.ts";
import { makeCertificates } from "../../support/test_certificates.ts";
import { relayStatus } from "../../../cli/relay_command.ts";

/** Each class the source folders declare, with the class it extends. */
async function sourceBases(): Promise<Map<string, string>> {
  const bases = new Map<string, string>();
  for (const text of (await sourceFiles()).values()) {
    for (const m of text.matchAll(/^(?:export )?(?:abstract )?class (\w+) extends (\w+)/gm)) {
      bases.set(m[1], m[2]);
    }
  }
  return bases;
}

/** The classes named in each `errorCase("X", ...)` / `errorCase(["X", "Y"], ...)` of cli/. */
async function namedCases(): Promise<{ path: string; names: string[] }[]> {
  const cases: { path: string; names: string[] }[] = [];
  for (const [path, text] of await sourceFiles(["cli"])) {
    if (path === "cli/cli_error_map.ts") continue; // its examples
    for (const m of text.matchAll(/errorCase(?:<[^>(]*>)?\(\s*("[^"]*"|\[[^\]]*\])/g)) {
      const names = [...m[1].matchAll(/"(\w+)"/g)].map((n) => n[1]);
      if (names.length > 0) cases.push({ path, names });
    }
  }
  return cases;
}

Deno.test("cli error cases: each names real classes, and every subclass of them", async () => {
  const bases = await sourceBases();
  const cases = await namedCases();
  const count = (path: string) => cases.filter((c) => c.path === path).length;
  // The walk found the tables: the job commands', the wallet's, the town readers', the
  // passphrase's.
  assertEquals([count("cli/job_errors.ts"), count("cli/wallet_command.ts")], [13, 9]);
  assertEquals(count("cli/town_read.ts"), 1);
  assertEquals(count("cli/passphrase_error.ts"), 2);
  const isA = (name: string, of: string) => {
    for (let c: string | undefined = name; c !== undefined; c = bases.get(c)) {
      if (c === of) return true;
    }
    return false;
  };
  const wrong: string[] = [];
  for (const { path, names } of cases) {
    for (const name of names) {
      if (!bases.has(name)) wrong.push(`${path}: ${name} is no class of the source`);
      const missing = [...bases.keys()].filter((c) => isA(c, name) && !names.includes(c));
      if (missing.length > 0) wrong.push(`${path}: ${name} without ${missing.join(", ")}`);
    }
  }
  assertEquals(wrong, []);
});

Deno.test("cli error cases: a class named matches its instances and its subclasses' named", () => {
  const ended = cliErrorJson(asCliError(new JobEndedError("ab".repeat(32), "done")));
  assertEquals([ended.code, ended.exit, ended.status], ["no-job", 2, "done"]);
  const noJob = cliErrorJson(asCliError(new RequesterJobError("no job ab12")));
  assertEquals([noJob.code, noJob.exit, noJob.message], ["no-job", 2, "no job ab12"]);
  const notOpen = cliErrorJson(asCliError(new ChannelNotOpenError("0xc4", "closed")));
  assertEquals([notOpen.code, notOpen.exit], ["channel", 1]);
  const blob = cliErrorJson(asCliError(new BlossomError(413, "too large")));
  assert(String(blob.message).startsWith("cannot upload a blob input: "), blob.message);
  const unread = cliErrorJson(townReadError(new RelayQueryError("timeout", "no EOSE"), "ws://t"));
  assertEquals([unread.code, unread.exit], ["town-unreachable", 1]);
  // Anything else is left as it is (printed as `internal`).
  const other = new Error("something else");
  assertEquals(asCliError(other), other);
});

Deno.test("cli error cases: relay status of a town whose CA is not trusted suggests ca_file, not a town that is down", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relay_status_ca_" });
  await makeCertificates(dir);
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(`${dir}/server-1001.pem`),
    key: await Deno.readTextFile(`${dir}/server-1001.key`),
    onListen: () => {},
  }, () => Response.json({ name: "a town" }));
  try {
    const url = `wss://127.0.0.1:${server.addr.port}`;
    const err = await relayStatus(url, 5000).then(() => undefined, (e: Error) => e);
    assert(err !== undefined, "an untrusted certificate was accepted");
    const said = cliErrorJson(CLI_ERRORS.relaySilent(err));
    assertStringIncludes(String(said.suggestion), "set ca_file");
    assertStringIncludes(String(said.context), "UnknownIssuer");
    // A town that is down: the suggestion says so.
    await server.shutdown();
    const down = await relayStatus(url, 5000).then(() => undefined, (e: Error) => e);
    assertStringIncludes(
      String(cliErrorJson(CLI_ERRORS.relaySilent(down!)).suggestion),
      "is `turnpike town up` running?",
    );
  } finally {
    await server.shutdown().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli error cases: a setting that does not resolve is a usage error naming it", () => {
  const bad = new ConfigError("must be a port number 0-65535, got 70000", {
    key: "btpPort",
    source: { kind: "env", name: "TURNPIKE_BTP_PORT" },
  });
  assertEquals(cliErrorJson(CLI_ERRORS.badSetting(bad)), {
    type: "error",
    code: "usage",
    message: bad.message,
    context: "ConfigError",
    exit: 2,
  });
});

Deno.test("cli error cases: input the command refuses is a usage error, said as it is", () => {
  const line = cliErrorJson(CLI_ERRORS.usage(new Error("--older-than: not an age")));
  assertEquals(line, {
    type: "error",
    code: "usage",
    message: "--older-than: not an age",
    exit: 2,
  });
});
