/**
 * What a provider is started with (`startProviderNode`'s options): its town, its more towns, its
 * skills, its limits and the knobs of its status, feed and announcements (docs/OPERATIONS.md).
 *
 * @module
 */
import type { ModelPreset } from "../../config/model_presets.ts";
import type { AgentPreset } from "../../config/agent_presets.ts";
import type { TownChannelSettings } from "../../config/town_channel_settings.ts";
import type { NodeKeyOptions } from "../../identity/local_node_signer.ts";
import type { LaterTown } from "../town_client/town_clients.ts";
import type { SkillSandbox } from "./sandbox/skill_sandbox.ts";
import type { SandboxMode } from "./sandbox/sandbox_probe.ts";
import type { EventFeedOptions } from "../event_feed.ts";
import type { PreparedSandboxOptions } from "./sandbox/sandbox_pool.ts";
import type { AgentTaskRunnerOptions } from "../agent_work/provider/agent_task_runner.ts";

/** One more town a provider follows and writes to. */
export interface ProviderTown extends LaterTown {
  /** Its own uplink (BTP URL of the town or of a connector); absent: the home town's. */
  btpUrl?: string;
  btpToken?: string;
}

/** Options for {@linkcode startProviderNode}. */
export interface ProviderNodeOptions extends TownChannelSettings, NodeKeyOptions {
  stateDir: string;
  /** BTP URL of the town (or a connector in front of it). */
  btpUrl: string;
  btpToken: string;
  /** How long the first connection to the town is tried at start (default 60 s). */
  firstConnectMs?: number;
  /** The town's NIP-01 URL (reads are free). */
  relayUrl: string;
  /** The town's Nostr pubkey (SPSP answers are signed with it). */
  townPubkey: string;
  /** The town's ILP address; default: our IL-DCP address minus its last segment. */
  townAddress?: string;
  /** Town price per TOON byte. Default 10. */
  pricePerByte?: bigint;
  /**
   * More towns of the profile (`[towns.<name>]`): followed for requests, announced on, and
   * written to when a request names them (roles/town_client/town_clients.ts); a town with its
   * own `btpUrl` is paid through its own uplink, else (or when that one is down) through the
   * home town's.
   */
  moreTowns?: ProviderTown[];
  /**
   * Plain relays (`[[relays]]`, not towns): followed for requests of the skills' kinds, their
   * jobs answered there for free (docs/PROTOCOL.md "Plain relays"; bounds in
   * roles/provider/jobs/plain_relay_gate.ts).
   */
  plainRelays?: string[];
  skillsDir: string;
  name?: string;
  about?: string;
  /** Paid unfinished jobs at most (default 32) and per requester (default 8). */
  maxInFlight?: number;
  maxInFlightPerRequester?: number;
  /**
   * Jobs waiting for payment, in a pool of their own (`unpaid_pool.ts`): at most `maxUnpaid`
   * (default 8; when full the oldest invoice is withdrawn), `maxUnpaidPerRequester` per
   * requester (default 2), each withdrawn when unpaid after `unpaidGraceMs` (default 60 s).
   */
  maxUnpaid?: number;
  maxUnpaidPerRequester?: number;
  /**
   * The most unpaid jobs a requester with paid history here may have: its share grows from
   * `maxUnpaidPerRequester` with its trust (payments/requester_share.ts). Default: no growth.
   */
  maxUnpaidPerTrustedRequester?: number;
  unpaidGraceMs?: number;
  /**
   * How often the status file is refreshed while nothing changed: its liveness touch, the
   * precision of "last seen" after a crash (default `PROVIDER_STATUS_TOUCH_MS` of
   * provider_status.ts, 10 s; at least 1 s). Changes are written within a second whatever this
   * is (docs/OPERATIONS.md).
   */
  statusTouchMs?: number;
  /** Skills running at once (default 2). */
  maxConcurrentRuns?: number;
  /** Oldest request accepted, seconds (default 600). */
  maxAgeSec?: number;
  /** Invoice lifetime (default and at most: the unpaid grace). */
  invoiceExpiryMs?: number;
  /**
   * How long a result paid on delivery waits for its payment (default a day); past it the job
   * is declined and its key never released (docs/PROTOCOL.md "Paid on delivery").
   */
  deliveryExpiryMs?: number;
  /**
   * Heartbeat period (default 1 h; it expires after 3 periods); announcements are refreshed
   * every `refreshMs` (default 24 h) and whenever the skills change. Both are paid writes: rare
   * by default (their cost per day is in the status).
   */
  heartbeatMs?: number;
  refreshMs?: number;
  /** Operator's network consent for skills that ask (see the sandbox). */
  allowNetwork?: boolean | string[];
  /** A sandbox to use instead of the namespace sandbox (benchmarks comparing with direct runs). */
  sandbox?: SkillSandbox;
  /** Extra paths hidden from skills (the state dir is always hidden). */
  hiddenPaths?: string[];
  /** Largest input blobs of one job, bytes (default 256 MiB). */
  maxInputBytes?: number;
  /** The town's blob price per MiB; default its NIP-11 `fees.blob`, else 200. */
  blobPricePerMiB?: bigint;
  /**
   * The Docker engine docker-build skills use (`DOCKER_HOST` form); default the environment's.
   * `false`: serve no docker-build skill. Without an answering engine they are not served.
   */
  dockerHost?: string | false;
  /**
   * The agent presets agent-task skills run (`[agents.<name>]`, config/agent_presets.ts); none:
   * those skills are not served.
   */
  agents?: Readonly<Record<string, AgentPreset>>;
  /**
   * The model presets text-generation skills call (`[models.<name>]`, config/model_presets.ts);
   * none: those skills are not served.
   */
  models?: Readonly<Record<string, ModelPreset>>;
  /** Least time between two `partial` feedbacks of a text-generation job, ms (default 1000). */
  partialEveryMs?: number;
  /** Sandbox mode: `root`, `rootless` or `auto` (default: root when running as uid 0). */
  sandboxMode?: SandboxMode | "auto";
  /**
   * Sandboxes set up ahead for skills that ran a job lately (sandbox_pool.ts,
   * docs/ARCHITECTURE.md "Prepared sandboxes"); default: its defaults (one per skill); false:
   * none, every job's sandbox made when the job comes.
   */
  preparedSandboxes?: PreparedSandboxOptions | false;
  /** One line per event of note (admissions, drops with reasons, payments, errors). */
  log?: (line: string) => void;
  /** BTP endpoint others may reach us at, for 10032 (informational). */
  btpEndpoint?: string;
  /**
   * Publish the `processing` feedback only for runs still going after this many ms (default
   * 100; 0: as each run starts). A quicker job's result is its own progress report, and the
   * feedback, a signed paid write the town verifies and the requester records, would compete
   * with the skill for the CPU on the job's critical path (measured: +20-40 ms p50 per job).
   */
  processingFeedbackMs?: number;
  /**
   * How long a feedback or result write that failed for a passing reason (the town restarting
   * or out of reach) is sent again, the same event, before the write is given up (default 30 s).
   * A result given up is published again later while the node runs (docs/OPERATIONS.md
   * "Stopping a town").
   */
  writeRetryMs?: number;
  /**
   * The least time between two reports of an agent-task's model spend, each a `processing`
   * feedback (default 10 s; docs/PROTOCOL.md "Live spend").
   */
  agentSpendEveryMs?: number;
  /**
   * An agent-task's heartbeat period: its spend reported again as `processing` feedback when
   * nothing was reported for this long (default 60 s; docs/PROTOCOL.md "Agent heartbeat").
   */
  agentHeartbeatMs?: number;
  /**
   * Tests only: a cheating provider's delivery (roles/agent_work/provider/agent_task_runner.ts).
   */
  agentDeliveryForTests?: AgentTaskRunnerOptions["deliveryForTests"];
  /** How the feed's stages run: "workers" (default) or "inline" (benchmarks comparing). */
  feedMode?: EventFeedOptions["mode"];
  /**
   * Audit group commit window (ms, default 1000: docs/SCALE.md "Where a no-op job's CPU goes"): a
   * longer one batches more changes into each commit, at the price of a change reaching history
   * later (the files, written first, stay the truth).
   */
  auditWindowMs?: number;
  /**
   * Take only requests addressed to this provider (default false: every request of its kinds).
   * The request subscription then carries `#p: [own pubkey]`, a plain NIP-01 filter the town
   * indexes by `p`: a job for another provider costs neither this provider nor the town
   * anything for it, however many providers share the town (docs/SCALE.md). Open requests (no
   * `p` tag) are then never seen: the choice of a provider on a busy town that is reached by
   * name (its announcement, a requester's `--provider`).
   */
  addressedOnly?: boolean;
  /** Feed stage modules to load instead of the registered ones (plugins, boundary tests). */
  feedStageModules?: EventFeedOptions["stageModules"];
  /**
   * Most the town may owe this provider unclaimed (`[provider] max_town_debt`, base units):
   * past it the node alerts and refuses new jobs until the town pays (roles/provider/payments/town_debt.ts).
   * Default: no limit.
   */
  maxTownDebt?: bigint;
}
