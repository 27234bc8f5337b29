/**
 * `turnpike node up` runs a provider: BTP to the town, announcements, job
 * subscription, admission, invoices, sandboxed skills, results. `turnpike node status` asks a
 * requester profile's node (`{"type":"node","running":true|false}`, exit 0 either way: it starts
 * with the next paying command), or reads the status file a running provider maintains and exits
 * 1 when no provider runs there.
 *
 * Settings: the shared ones (`--relay-url`, `--connector-btp-url`, `--price-per-byte`, state
 * dir) through `config/settings.ts`; the provider's own, flags > environment > the
 * `[provider]` table of `config.toml` > defaults:
 *
 * | flag                    | environment                     | `[provider]` key         | default |
 * |-------------------------|---------------------------------|--------------------------|---------|
 * | `--town-pubkey`         | `TURNPIKE_TOWN_PUBKEY`          | `town_pubkey`            | NIP-11 `self` |
 * | `--btp-token`           | `TURNPIKE_BTP_TOKEN`            | `btp_token` (top level, config/settings.ts) | from the URL's `user:token@` |
 * | `--skills-dir`          | `TURNPIKE_SKILLS_DIR`           | `skills_dir`             | `<state dir>/skills`, else the built-in `skills/` |
 * | `--max-in-flight`       | `TURNPIKE_PROVIDER_MAX_IN_FLIGHT` | `max_in_flight`        | 32 |
 * | `--max-per-requester`   | `TURNPIKE_PROVIDER_MAX_PER_REQUESTER` | `max_per_requester` | 8 |
 * | `--max-concurrent`      | `TURNPIKE_PROVIDER_MAX_CONCURRENT` | `max_concurrent`      | 2 |
 * | `--max-age`             | `TURNPIKE_PROVIDER_MAX_AGE`     | `max_age`                | 600 s |
 * | `--max-unpaid`          | `TURNPIKE_PROVIDER_MAX_UNPAID`  | `max_unpaid`             | 8 |
 * | `--max-unpaid-per-requester` | `TURNPIKE_PROVIDER_MAX_UNPAID_PER_REQUESTER` | `max_unpaid_per_requester` | 2 |
 * | `--unpaid-grace`        | `TURNPIKE_PROVIDER_UNPAID_GRACE` | `unpaid_grace`          | 60 s |
 * | `--invoice-expiry`      | `TURNPIKE_PROVIDER_INVOICE_EXPIRY` | `invoice_expiry`      | the unpaid grace (at most) |
 * | `--heartbeat`           | `TURNPIKE_PROVIDER_HEARTBEAT`   | `heartbeat`              | 3600 s |
 * | `--agent-heartbeat`     | `TURNPIKE_AGENT_HEARTBEAT`      | `agent_heartbeat`        | 60 s |
 * | `--addressed-only`      | `TURNPIKE_PROVIDER_ADDRESSED_ONLY` | `addressed_only`      | false |
 * | `--allow-network <skill>` | -                             | `allow_network` (array)  | none |
 * | -                       | `TURNPIKE_PROVIDER_PREPARED_SANDBOXES` | `prepared_sandboxes` | 1 (0: off) |
 * | `--channel <id>`        | `TURNPIKE_CHANNEL`              | `channel`                | none (no claims) |
 * | `--channel-prepay <n>`  | `TURNPIKE_CHANNEL_PREPAY`       | `channel_prepay`         | 0 |
 * | `--alert-webhook <url>` | `TURNPIKE_ALERT_WEBHOOK`        | `[alerts] webhook`       | none |
 *
 * `--channel` names the payment channel whose claims pay the town; without it, `[channels] auto`
 * (config/channel_policy.ts) uses or opens the channel with the town and keeps it funded, and
 * otherwise nothing is picked implicitly. A channel that is not open, not this node's or not
 * with this town stops `node up` (exit 1).
 *
 * @module
 */
import { parseAgentPresets } from "../config/agent_presets.ts";
import { parseModelPresets } from "../config/model_presets.ts";
import { agentCommandChecker } from "../roles/provider/sandbox/sandbox_command.ts";
import { profileTowns } from "../config/town_list.ts";
import { profilePlainRelays } from "../config/plain_relays.ts";
import { resolveTownChannelSettings } from "../config/town_channel_settings.ts";
import { fetchRelayInfo, fetchTownPubkey, townPublicationPrice } from "../transport/relay_info.ts";
import { DEFAULT_MAX_INPUT_BYTES } from "../roles/provider/jobs/blob_inputs.ts";
import {
  DEFAULT_MAX_UNPAID,
  DEFAULT_MAX_UNPAID_PER_REQUESTER,
  DEFAULT_UNPAID_GRACE_SEC,
} from "../roles/provider/payments/unpaid_pool.ts";
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { CLI_ERRORS, untrusted } from "./cli_error_map.ts";
import { nodeHello, stopProfileNode } from "./profile_node.ts";
import { existingStateDir } from "./state_dir_flags.ts";
import type { LoadedSettings } from "../config/settings.ts";
import { networkField } from "./network_line.ts";
import { ConfigError } from "../config/config_error.ts";
import { startNodeSession } from "./node_session.ts";
import { ChannelSenderError } from "../roles/channels/channel_sender.ts";
import { AutoChannelError } from "../roles/channels/channel_auto_open.ts";
import {
  type ProviderNode,
  type ProviderNodeOptions,
  startProviderNode,
} from "../roles/provider/provider_node.ts";
import type { GlobalOptions } from "./global_options.ts";
import { type ProviderFlags, resolveProviderSettings } from "../config/provider_settings.ts";
import { jsonText, printJsonLine } from "./json_line.ts";
import { terminalText } from "./terminal_text.ts";
import { profileChainIds } from "../config/known_chains.ts";
import { serveTrustSocket } from "../roles/provider/trust_socket.ts";
import { addNodeStatusCommand, loadNodeSettings } from "./node_status_command.ts";

/** `node up`'s flags: the root's, the town connection's, and the provider's own. */
interface NodeOptions extends GlobalOptions, ProviderFlags {
  /** `--mainnet`: a profile on a chain of real funds may start. */
  mainnet?: boolean;
  relayUrl?: string;
  connectorBtpUrl?: string;
  btpToken?: string;
  pricePerByte?: string;
  priceCeiling?: string;
  acceptPrice?: boolean;
  name?: string;
  about?: string;
  generateKey?: boolean;
  passphraseFd?: string;
  allowInsecure?: boolean;
  alertWebhook?: string;
}

const BUILT_IN_SKILLS = new URL("../skills", import.meta.url).pathname;

/**
 * Adds `node up` and `node status` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerNodeCommand(new Command("turnpike"));
 * ```
 */
export function registerNodeCommand(program: Command): void {
  const node = program.command("node").description("run a provider node (sell compute)");
  node.command("up")
    .description("start the provider: announce, take jobs, run skills, get paid (Ctrl-C stops)")
    .option("--relay-url <url>", "the town's NIP-01 URL (default ws://127.0.0.1:7100)")
    .option("--connector-btp-url <url>", "the town's BTP URL (default btp+ws://127.0.0.1:3000)")
    .option("--btp-token <token>", "BTP auth token of this provider's account on the town")
    .option(
      "--town-pubkey <hex>",
      "the town's Nostr pubkey (default: asked from the town, NIP-11 `self`)",
    )
    .option("--skills-dir <dir>", "skills dir (watched; default <state dir>/skills or built-ins)")
    .option(
      "--price-per-byte <n>",
      "the town's price per TOON byte (default: what it publishes in NIP-11, else 10)",
    )
    .option("--price-ceiling <n>", "refuse a town asking more per byte (default 100)")
    .option("--accept-price", "pay a town price per byte above the ceiling anyway")
    .option("--max-in-flight <n>", "paid unfinished jobs at most (default 32)")
    .option("--max-per-requester <n>", "paid unfinished jobs per requester at most (default 8)")
    .option("--max-unpaid <n>", "jobs awaiting payment at most (default 8; oldest withdrawn)")
    .option("--max-unpaid-per-requester <n>", "jobs awaiting payment per requester (default 2)")
    .option("--unpaid-grace <seconds>", "withdraw an invoice unpaid this long (default 60)")
    .option("--max-concurrent <n>", "skills running at once (default 2)")
    .option("--max-age <seconds>", "oldest request accepted (default 600)")
    .option("--max-input-bytes <n>", "largest input blobs of one job (default 268435456)")
    .option("--invoice-expiry <seconds>", "invoice lifetime (default and at most: the grace)")
    .option(
      "--heartbeat <seconds>",
      "heartbeat period, a paid write; offline after 3 (default 3600)",
    )
    .option(
      "--agent-heartbeat <seconds>",
      "a running agent-task's beat (its processing feedback, billed to it; default 60)",
    )
    .option(
      "--addressed-only",
      "take only requests addressed to this provider (p tag): on a busy town, others' jobs " +
        "then cost nothing; open requests are not seen",
    )
    .option(
      "--allow-network <skill>",
      "let this skill use the network when its manifest asks (repeatable)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option("--name <name>", "name in the NIP-89 announcement")
    .option("--about <text>", "description in the NIP-89 announcement")
    .option("--allow-insecure", "allow non-loopback ws:// / btp+ws:// URLs")
    .option("--channel <id>", "pay the town with claims on this payment channel")
    .option("--mainnet", "allow a profile on a mainnet or unknown chain (real funds)")
    .option(
      "--channel-prepay <n>",
      "let each claim cover this much ahead (base units; fewer claims, default 0)",
    )
    .option("--alert-webhook <url>", "POST alerts (low channel balance, relay...) as JSON")
    .option("--generate-key", "use a throwaway identity for this run (dev; no wallet needed)")
    .option(
      "--sandbox <mode>",
      "how skills are confined: root, rootless or auto (default auto: root when run as root)",
    )
    .option("--passphrase-file <file>", "read the wallet passphrase from this file")
    .option("--passphrase-fd <n>", "read the wallet passphrase from this file descriptor")
    .option("--non-interactive", "never prompt")
    .action(async (_opts: unknown, cmd: Command) => {
      await nodeUp(cmd.optsWithGlobals<NodeOptions>(), cmd);
    });
  addNodeStatusCommand(node);
  node.command("stop")
    .description(
      "stop the profile's node (the background requester node, or a `node up`); jobs in " +
        "flight resume at its next start",
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<NodeOptions>();
      const stateDir = await existingStateDir(opts, cmd);
      const hello = await nodeHello(stateDir);
      const stopped = await stopProfileNode(stateDir);
      const line = {
        type: "node",
        stopped,
        pid: hello?.pid,
        activeJobs: hello?.activeJobs,
      };
      if (opts.output === "json") printJsonLine("node", line);
      else if (!stopped) console.log("no node running");
      else {
        console.log(
          `node stopped${hello ? ` (pid ${hello.pid}, ${hello.activeJobs} job(s) in flight)` : ""}`,
        );
      }
    });
}

async function defaultSkillsDir(stateDir: string): Promise<string> {
  const own = `${stateDir}/skills`;
  return (await Deno.stat(own).catch(() => null))?.isDirectory ? own : BUILT_IN_SKILLS;
}

/** Asks the town for its pubkey (NIP-11 `self`) when the operator did not give it. */
/**
 * The price per byte the provider pays for its writes: `--price-per-byte` when given, else what
 * the town publishes (NIP-11 `fees.publication`), else the default; above the ceiling
 * (`--price-ceiling`, `price_ceiling`, default 100) the node does not start unless
 * `--accept-price`, as a requester's `job submit` refuses it.
 */
async function townPriceChecked(loaded: LoadedSettings, acceptPrice: boolean): Promise<bigint> {
  const s = loaded.settings;
  const given = loaded.sources.pricePerByte?.kind !== "default";
  const published = given
    ? undefined
    : await fetchRelayInfo(s.relayUrl).then(townPublicationPrice, () => undefined);
  const price = published ?? s.pricePerByte;
  if (price > s.priceCeiling) {
    const line = `the town's price per byte (${price}) is above the ceiling (${s.priceCeiling})`;
    if (!acceptPrice) {
      throw new CliError(line, {
        context: "price_ceiling",
        code: "price-above-ceiling",
        suggestion: "pass --accept-price to pay it, or raise --price-ceiling / price_ceiling",
      });
    }
    console.error(`warning: ${line}; paying it (--accept-price)`);
  }
  return price;
}

async function discoverTownPubkey(relayUrl: string): Promise<string> {
  try {
    return await fetchTownPubkey(relayUrl);
  } catch (err) {
    throw new CliError("the town's pubkey is not known", {
      context: (err as Error).message,
      suggestion: "pass --town-pubkey <hex> (printed by `turnpike town up`) or set " +
        "TURNPIKE_TOWN_PUBKEY",
      cause: err,
    });
  }
}

async function resolveNodeOptions(
  opts: NodeOptions,
  loaded: LoadedSettings,
): Promise<Omit<ProviderNodeOptions, "signer" | "secretKey">> {
  const s = loaded.settings;
  const provider = usageError(() =>
    resolveProviderSettings({
      loaded,
      flags: opts,
      defaults: {
        maxInputBytes: DEFAULT_MAX_INPUT_BYTES,
        maxUnpaid: DEFAULT_MAX_UNPAID,
        maxUnpaidPerRequester: DEFAULT_MAX_UNPAID_PER_REQUESTER,
        unpaidGraceSec: DEFAULT_UNPAID_GRACE_SEC,
      },
    })
  );
  const { townPubkey, skillsDir: givenSkillsDir, ...own } = provider;
  const skillsDir = givenSkillsDir ?? await defaultSkillsDir(s.stateDir);
  // Each preset's command must start in the sandbox: refused here, with every other problem.
  const checkCommand = await agentCommandChecker({
    skillsDir,
    hidden: [s.stateDir, ...own.hiddenPaths],
    sandboxMode: own.sandboxMode,
  });
  return {
    ...own,
    stateDir: s.stateDir,
    btpUrl: s.connectorBtpUrl,
    btpToken: s.btpToken ?? "",
    relayUrl: s.relayUrl,
    townPubkey: townPubkey ?? await discoverTownPubkey(s.relayUrl),
    // More towns followed and written to, each by its own uplink when it has a btp_url (else
    // by the home town's; roles/town_client/).
    moreTowns: usageError(() =>
      profileTowns(loaded, { allowInsecure: s.allowInsecure, requireBtp: false })
    ),
    // Plain relays (`[[relays]]`): requests read and answered there for free.
    plainRelays: usageError(() => profilePlainRelays(loaded, { allowInsecure: s.allowInsecure })),
    pricePerByte: await townPriceChecked(loaded, opts.acceptPrice === true),
    skillsDir,
    name: opts.name,
    about: opts.about,
    // The key of each is read here: it stays in this process, never in a job's sandbox.
    agents: usageError(() => parseAgentPresets(loaded.sections.agents, { checkCommand })),
    models: usageError(() => parseModelPresets(loaded.sections.models)),
    ...usageError(() => resolveTownChannelSettings({ loaded, alertWebhook: opts.alertWebhook })),
  };
}

/** A bad setting is a usage error (exit 2), with its message. */
function usageError<T>(resolve: () => T): T {
  try {
    return resolve();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw CLI_ERRORS.usage(err);
  }
}

async function nodeUp(opts: NodeOptions, cmd: Command): Promise<void> {
  const loaded = await loadNodeSettings(opts, cmd);
  const resolved = await resolveNodeOptions(opts, loaded);
  // The lock before the passphrase prompt and the first write (the status file above all: a
  // second provider would overwrite the running one's); the lock and the signer held until this
  // function returns or throws, after the provider has stopped.
  let proof: string | undefined;
  await using session = await startNodeSession({
    command: "node up",
    network: loaded.settings.network,
    chains: profileChainIds(loaded.sections, loaded.settings.chain),
    allowMainnet: opts.mainnet || loaded.settings.mainnet,
    signer: {
      ...opts,
      stateDir: resolved.stateDir,
      who: "the provider",
      missingSuggestion:
        "run `turnpike wallet init` first, or pass --generate-key for a dev provider",
      onPassphraseProof: (p) => proof = p,
    },
  });
  const { signer } = session;
  const json = opts.output === "json";
  let node: ProviderNode;
  try {
    node = await startProviderNode({
      ...resolved,
      signer,
      log: (line) => console.error(json ? jsonText({ event: "log", line }) : terminalText(line)),
    });
  } catch (err) {
    if (err instanceof ChannelSenderError || err instanceof AutoChannelError) {
      throw new CliError(err.message, {
        context: "payment channel",
        suggestion: err.suggestion,
        cause: err,
      });
    }
    throw new CliError(`the provider did not start: ${(err as Error).message}`, {
      context: `town ${resolved.btpUrl}, relay ${resolved.relayUrl}`,
      suggestion: untrusted(err as Error) ??
        "check that the town is up, the BTP token and the town pubkey; " +
          "`turnpike doctor` checks this machine",
      cause: err,
    });
  }
  const info = {
    event: "node-up",
    pubkey: node.pubkey,
    ilpAddress: node.ilpAddress,
    relayUrl: resolved.relayUrl,
    btpUrl: resolved.btpUrl,
    skillsDir: resolved.skillsDir,
    stateDir: resolved.stateDir,
    network: networkField(loaded.settings.network).line.replace("Network: ", ""),
    sandbox:
      `${node.sandbox.mode} (${node.sandbox.modeReason}; memory ${node.sandbox.limits.memory}, ` +
      `processes ${node.sandbox.limits.processes}; setup ${node.sandbox.setup})`,
    periodic: `heartbeat every ${
      Math.round((resolved.heartbeatMs ?? 3_600_000) / 1000)
    } s, announcements daily: ${node.periodicCostPerDay} base units per day`,
    feed: node.feedDescription ?? "none",
    requests: resolved.addressedOnly
      ? "addressed to this provider only (--addressed-only: a #p subscription)"
      : "every request of its kinds, addressed here or to no one",
    docker: "platform" in node.docker
      ? `${node.docker.version} builds ${node.docker.platform} at ${node.docker.host}`
      : `none (${node.docker.unavailable}): docker-build not served`,
  };
  // The profile's `trust publish` asks this node, which holds the state dir (a wallet's key only).
  await using _trust = proof === undefined ? undefined : await serveTrustSocket({
    stateDir: resolved.stateDir,
    proof,
    signer,
    write: (event) => node.writeToTowns(event),
  });
  if (json) printJsonLine("node-up", info);
  else {
    console.log("provider up");
    for (const [k, v] of Object.entries(info)) {
      if (k !== "event") console.log(`  ${k.padEnd(11)} ${v}`);
    }
  }
  // A provider without its key can publish and bill nothing: it stops too.
  const lost = await session.stopped;
  await node.stop();
  if (lost) throw new CliError(`the provider stopped: ${lost.message}`, { cause: lost });
  if (json) printJsonLine("node-stopped", { event: "node-stopped" });
  else console.log("provider stopped");
}
