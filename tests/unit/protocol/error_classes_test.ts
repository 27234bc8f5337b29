/**
 * Every named error class has a code, through one base per layer (docs/ARCHITECTURE.md
 * "Errors"): a class named `*Error` under the source folders extends its layer's base (or a more
 * specific class that does), never `Error` itself, so that it is a `TurnpikeError` and its `code`
 * is the class's `name` in kebab-case without `Error`, unique as class names are. A few classes
 * define their own `code` (one from the wire, or the CLI's table): they are listed here.
 */
import { assert, assertEquals } from "../../../harness/assert.ts";
import { TurnpikeError } from "../../../protocol/turnpike_error.ts";
import { ProtocolError } from "../../../protocol/protocol_error.ts";
import { HttpStatusError } from "../../../protocol/http_status_error.ts";
import { SpspMessageError, SpspNip47MessageError } from "../../../protocol/spsp_message.ts";
import { TransportError } from "../../../transport/transport_error.ts";
import { BlossomError } from "../../../transport/blossom_client.ts";
import { BtpRemoteError, BtpTimeoutError } from "../../../transport/btp_client.ts";
import { StateError } from "../../../state/state_error.ts";
import { AtomicWriteError } from "../../../state/atomic_file.ts";
import { ConfigError, ConfigLayerError, InsecureUrlError } from "../../../config/config_error.ts";
import { IdentityError } from "../../../identity/identity_error.ts";
import { WrongPassphraseError } from "../../../identity/vault_errors.ts";
import { ChainError } from "../../../chain/chain_error.ts";
import { StagesError } from "../../../stages/stages_error.ts";
import { PipelineError } from "../../../pipeline/pipeline_error.ts";
import { StageCrashedError, StageError } from "../../../pipeline/stage_errors.ts";
import { RoleError } from "../../../roles/role_error.ts";
import { TownUnreachableError } from "../../../roles/requester/town_link.ts";
import { JobNotPostedError } from "../../../roles/requester/town_down.ts";
import { NoTownStoredError } from "../../../roles/town_client/town_rejection.ts";
import { SpspOverIlpError } from "../../../roles/town_client/spsp_handshake.ts";
import { TownWriteRejection } from "../../../roles/town/write/write_rejection.ts";
import { ILP_ERROR } from "../../../protocol/ilp_packet.ts";
import { CliError, cliErrorJson, CliLayerError } from "../../../cli/cli_error.ts";
import { ExitCode } from "../../../cli/exit_codes.ts";
import { sourceFiles } from "../../support/source_files.ts";

/** Each folder's base: a class of the folder that extends a base directly extends this one. */
const LAYER_BASES: Readonly<Record<string, string>> = {
  protocol: "ProtocolError",
  transport: "TransportError",
  state: "StateError",
  config: "ConfigLayerError",
  identity: "IdentityError",
  chain: "ChainError",
  stages: "StagesError",
  pipeline: "PipelineError",
  roles: "RoleError",
  cli: "CliLayerError",
};

/** Classes whose `code` is their own, not their name's: what they carry means more. */
const OWN_CODES: Readonly<Record<string, string>> = {
  BtpRemoteError: "the peer's BTP error code (F00)",
  TownRejectedError: "the town's ILP error code (F04, T04)",
  SpspOverIlpError: "the ILP reject code, else spsp-over-ilp",
  CliError: "the CLI's documented code (cli/error_codes.ts)",
  NoTownStoredError: "an AggregateError, so not a TurnpikeError: no-town-stored, as the rule says",
  TownWriteRejection: "the ILP reject code the town answers with (F04, T05)",
};

/** Classes that extend Error under a name without `Error`, and why. */
const OTHER_THROWABLES: Readonly<Record<string, string>> = {
  TownWriteRejection: "a RoleError: the town's refusal of a PREPARE, an ILP REJECT to be",
  CloseWith: "private to transport/nodelay_websocket.ts's read loop: a WebSocket close code",
};

interface ClassInfo {
  name: string;
  base: string;
  path: string;
  body: string;
}

async function sourceClasses(): Promise<Map<string, ClassInfo>> {
  const classes = new Map<string, ClassInfo>();
  const found =
    /^(?:export )?(?:abstract )?class (\w+) extends (\w+)[^\n{]*\{(?:\}$|\n([^]*?)^\})/gm;
  for (const [path, text] of await sourceFiles()) {
    for (const m of text.matchAll(found)) {
      assert(!classes.has(m[1]), `${m[1]} is declared twice (${classes.get(m[1])?.path}, ${path})`);
      classes.set(m[1], { name: m[1], base: m[2], path, body: m[3] ?? "" });
    }
  }
  return classes;
}

/** The bases of `name`, nearest first, as far as the source folders declare them. */
function chain(classes: Map<string, ClassInfo>, name: string): string[] {
  const bases: string[] = [];
  for (let c = classes.get(name); c !== undefined; c = classes.get(c.base)) bases.push(c.base);
  return bases;
}

function kebab(name: string): string {
  return name.replace(/Error$/, "").replace(/(?<=[a-z0-9])(?=[A-Z])/g, "-").toLowerCase();
}

Deno.test("error classes: each *Error class extends its layer's base and sets its name", async () => {
  const classes = await sourceClasses();
  const wrong: string[] = [];
  for (const c of classes.values()) {
    if (!c.name.endsWith("Error") || c.name === "TurnpikeError") continue;
    const bases = chain(classes, c.name);
    const folder = c.path.split("/")[0];
    const isBase = Object.values(LAYER_BASES).includes(c.name);
    if (isBase) {
      if (c.base !== "TurnpikeError") wrong.push(`${c.path}: ${c.name} (a base) extends ${c.base}`);
      continue;
    }
    if (!bases.includes("TurnpikeError") && OWN_CODES[c.name] === undefined) {
      wrong.push(`${c.path}: ${c.name} extends ${bases.join(" < ")}, not ${LAYER_BASES[folder]}`);
    }
    if (Object.values(LAYER_BASES).includes(c.base) && c.base !== LAYER_BASES[folder]) {
      wrong.push(`${c.path}: ${c.name} extends ${c.base}, not its layer's ${LAYER_BASES[folder]}`);
    }
    if (!new RegExp(`^  override name = "${c.name}";$`, "m").test(c.body)) {
      wrong.push(`${c.path}: ${c.name} does not set name = "${c.name}"`);
    }
    const ownCode = /^ {2}(?:override )?(?:readonly )?code[?!]?:/m.test(c.body);
    if (ownCode !== (OWN_CODES[c.name] !== undefined)) {
      wrong.push(`${c.path}: ${c.name} ${ownCode ? "defines" : "does not define"} its own code`);
    }
  }
  assertEquals(wrong, []);
});

Deno.test("error classes: a class that extends Error is named *Error, or listed", async () => {
  const classes = await sourceClasses();
  const throwables = [...classes.values()].filter((c) =>
    [c.base, ...chain(classes, c.name)].some((b) =>
      /^(Error|AggregateError|TurnpikeError)$/.test(b)
    )
  );
  assertEquals(
    throwables.filter((c) => !c.name.endsWith("Error")).map((c) => c.name).sort(),
    Object.keys(OTHER_THROWABLES).sort(),
  );
  const rejection = classes.get("TownWriteRejection");
  assert(rejection !== undefined && chain(classes, rejection.name).includes("RoleError"));
});

Deno.test("error classes: codes by name are unique and kebab-case; the lists name real classes", async () => {
  const classes = await sourceClasses();
  const errors = [...classes.keys()].filter((n) => n.endsWith("Error") && n !== "TurnpikeError");
  const byCode = new Map<string, string[]>();
  for (const name of errors) {
    if (OWN_CODES[name] !== undefined && name !== "NoTownStoredError") continue;
    const code = kebab(name);
    assert(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(code), `${name}: ${code}`);
    byCode.set(code, [...byCode.get(code) ?? [], name]);
  }
  assertEquals([...byCode].filter(([, names]) => names.length > 1), []);
  const listed = [
    ...Object.keys(OWN_CODES),
    ...Object.values(LAYER_BASES),
    ...Object.keys(OTHER_THROWABLES),
  ];
  assertEquals(listed.filter((name) => !classes.has(name)), [], "gone: remove them from the lists");
});

Deno.test("error classes: instances keep their name, message and classes, and have a code", () => {
  const config = new ConfigError("must be an integer 0-65535", {
    key: "btpPort",
    source: { kind: "env", name: "TURNPIKE_BTP_PORT" },
    cause: new RangeError("70000"),
  });
  assert(config instanceof ConfigError && config instanceof ConfigLayerError);
  assert(config instanceof TurnpikeError && config instanceof Error);
  assertEquals(
    [config.name, config.code, config.message],
    ["ConfigError", "config", "must be an integer 0-65535 (btpPort from env TURNPIKE_BTP_PORT)"],
  );
  assert(config.cause instanceof RangeError);
  const insecure = new InsecureUrlError("ws://relay.example.com is not encrypted");
  assert(insecure instanceof ConfigError && insecure instanceof ConfigLayerError);
  assertEquals([insecure.name, insecure.code], ["InsecureUrlError", "insecure-url"]);

  const nip47 = new SpspNip47MessageError("a NIP-47 message");
  assert(nip47 instanceof SpspMessageError && nip47 instanceof ProtocolError);
  assert(!(nip47 instanceof TransportError));
  assertEquals([nip47.name, nip47.code], ["SpspNip47MessageError", "spsp-nip47-message"]);
  assertEquals(new SpspMessageError("bad").code, "spsp-message");

  const blossom = new BlossomError(404, "not found");
  assert(blossom instanceof HttpStatusError && blossom instanceof ProtocolError);
  assertEquals([blossom.name, blossom.code, blossom.status], ["BlossomError", "blossom", 404]);

  const timeout = new BtpTimeoutError("no answer in 5 s");
  assert(timeout instanceof TransportError && timeout instanceof TurnpikeError);
  assertEquals([timeout.name, timeout.code, timeout.message], [
    "BtpTimeoutError",
    "btp-timeout",
    "no answer in 5 s",
  ]);
  const remote = new BtpRemoteError("F00", "NotAcceptedError", "invalid auth_token");
  assert(remote instanceof TransportError);
  assertEquals([remote.name, remote.code], ["BtpRemoteError", "F00"]);

  assert(new AtomicWriteError("x") instanceof StateError);
  assertEquals(new AtomicWriteError("x").code, "atomic-write");
  const wrong = new WrongPassphraseError();
  assert(wrong instanceof IdentityError);
  assertEquals([wrong.name, wrong.code, wrong.message], [
    "WrongPassphraseError",
    "wrong-passphrase",
    "wrong passphrase",
  ]);

  const crashed = new StageCrashedError("relay-source", "TypeError", "boom");
  assert(crashed instanceof StageError && crashed instanceof PipelineError);
  assert(!(crashed instanceof StagesError) && !(crashed instanceof ChainError));
  assertEquals([crashed.name, crashed.code, crashed.message, crashed.stage], [
    "StageCrashedError",
    "stage-crashed",
    "stage relay-source crashed: TypeError: boom",
    "relay-source",
  ]);

  const notPosted = new JobNotPostedError("ab".repeat(32), "ws://town");
  assert(notPosted instanceof TownUnreachableError && notPosted instanceof RoleError);
  assertEquals([notPosted.name, notPosted.code], ["JobNotPostedError", "job-not-posted"]);
  const spsp = new SpspOverIlpError("rejected", { code: "T05" });
  assert(spsp instanceof RoleError);
  assertEquals([spsp.code, new SpspOverIlpError("no answer").code], ["T05", "spsp-over-ilp"]);
  const refused = new TownWriteRejection(
    ILP_ERROR.rateLimited,
    "rate-limited",
    new Uint8Array([1]),
  );
  assert(refused instanceof RoleError && refused instanceof TurnpikeError);
  assertEquals([refused.name, refused.code, refused.message, refused.data], [
    "TownWriteRejection",
    "T05",
    "rate-limited",
    new Uint8Array([1]),
  ]);
  const none = new NoTownStoredError([new Error("a")], "no town stored the event");
  assert(none instanceof AggregateError && !(none instanceof TurnpikeError));
  assertEquals([none.name, none.code], ["NoTownStoredError", "no-town-stored"]);
});

Deno.test("error classes: a CliError's code is the one its JSON line has always had", () => {
  const usage = new CliError("bad flag", { exitCode: 2 });
  assert(usage instanceof CliLayerError && usage instanceof TurnpikeError);
  assertEquals([usage.name, usage.code], ["CliError", "usage"]);
  assertEquals(cliErrorJson(usage).code, "usage");
  const noJob = new CliError("no job ab12", { code: "no-job", exitCode: 2 });
  assertEquals([noJob.code, cliErrorJson(noJob).code], ["no-job", "no-job"]);
  assertEquals(new CliError("failed").code, "failed");
  const verdict = new CliError("the verdict is no", { exitCode: ExitCode.Verdict });
  assertEquals([verdict.code, cliErrorJson(verdict).code], ["failed", "failed"]);
});
