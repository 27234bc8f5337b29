/**
 * What `wallet send` and `wallet receive` run on: the profile's settings, its state dir's lock
 * (the profile's node holds it too: one writer of the payment log and the channel; a node a
 * command started in the background and that follows no job is stopped for it), the wallet
 * unlocked, the payment log and the profile's towns connected (roles/requester/town_links.ts,
 * over the profile's channel when it has one), incoming PREPAREs handed to `onPrepare`.
 *
 * @module
 */
import type { Command } from "commander";
import type { RequesterSettings } from "../config/requester_settings.ts";
import type { NodeSigner } from "../protocol/node_signer.ts";
import { ILP_ERROR, type IlpPrepare, type IlpReply } from "../protocol/ilp_packet.ts";
import { type AuditLog, openAuditLog } from "../state/audit/audit_log.ts";
import { openPaymentLog, type PaymentLog } from "../state/payments/payment_log.ts";
import { lockStateDir, type StateDirLock, StateDirLockedError } from "../state/state_dir_lock.ts";
import {
  connectTownLinks,
  type TownLinks,
  townLinksOptionsOf,
} from "../roles/requester/town_links.ts";
import { holdStateDir } from "./hold_state_dir.ts";
import { nodeHello, stopProfileNode } from "./profile_node.ts";
import { loadRequesterConfig, type RequesterCliOptions } from "./job_read_command.ts";
import { loadNodeSigner } from "./node_identity.ts";
import { printNetworkLine } from "./network_line.ts";
import { terminalText } from "./terminal_text.ts";
import { asCliError } from "./job_errors.ts";

/** An open wallet link; close it with `await using`. */
export interface WalletLink extends AsyncDisposable {
  config: RequesterSettings;
  signer: NodeSigner;
  payments: PaymentLog;
  links: TownLinks;
  /** Where the town's PREPAREs to this wallet go (none: refused `no receiver`). */
  onPrepare?: (prepare: IlpPrepare) => Promise<IlpReply>;
}

/**
 * Opens the wallet's link for `role` (`wallet send`, `wallet receive`).
 *
 * It opens the profile's links to its towns, so it has no example that runs here:
 * tests/e2e/wallet_transfer_test.ts
 */
export async function openWalletLink(
  opts: RequesterCliOptions,
  cmd: Command,
  role: string,
): Promise<WalletLink> {
  const config = await loadRequesterConfig(opts, cmd);
  printNetworkLine(config.network);
  const undo: (() => Promise<unknown> | unknown)[] = [];
  const close = async () => {
    for (const step of undo.reverse()) await Promise.resolve(step()).catch(() => {});
    undo.length = 0;
  };
  try {
    const lock = await holdWalletStateDir(config.stateDir, role);
    undo.push(() => lock.release());
    const signer = await loadNodeSigner({
      ...opts,
      generateKey: false,
      stateDir: config.stateDir,
      who: "the wallet",
    });
    undo.push(() => signer.close());
    const audit: AuditLog = await openAuditLog({ dir: config.stateDir });
    undo.push(() => audit.close());
    const payments = await openPaymentLog({ stateDir: config.stateDir, audit });
    undo.push(() => payments.flush());
    const warn = (line: string) => console.error(terminalText(line));
    const link: Partial<WalletLink> = { config, signer, payments };
    // `home` is asked only once a write is paid: after the links are connected.
    const links: TownLinks = await connectTownLinks(townLinksOptionsOf({ ...config, warn }, {
      signer,
      audit,
      alert: (_kind, message) => warn(message),
      payments,
      home: () => links.home,
      onPrepare: (prepare) =>
        link.onPrepare?.(prepare) ?? {
          type: "reject",
          code: ILP_ERROR.unreachable,
          triggeredBy: "",
          message: "no receiver",
          data: new Uint8Array(),
        },
    }));
    undo.push(() => links.close());
    return Object.assign(link, {
      links,
      [Symbol.asyncDispose]: close,
    }) as WalletLink;
  } catch (err) {
    await close();
    throw asCliError(err);
  }
}

/**
 * The state dir's lock; a background node that follows no job is stopped for it (the next job
 * command starts it again), any other holder is the user's to stop.
 */
async function holdWalletStateDir(stateDir: string, role: string): Promise<StateDirLock> {
  try {
    return await lockStateDir(stateDir, role);
  } catch (err) {
    if (!(err instanceof StateDirLockedError)) throw err;
    const hello = await nodeHello(stateDir);
    if (
      hello === undefined || hello.pid !== err.holder.pid || !hello.background ||
      hello.activeJobs > 0
    ) return await holdStateDir(stateDir, role);
    console.error(`node: stopping the profile's node (pid ${hello.pid}) for \`${role}\``);
    await stopProfileNode(stateDir);
    return await holdStateDir(stateDir, role);
  }
}
