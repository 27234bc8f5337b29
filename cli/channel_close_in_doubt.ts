/**
 * `turnpike channel close`'s last step for a payer: the town writes still in doubt on the
 * profile's payment log (their answer lost, never sent again) get their outcome as the town's
 * store says, so the log pays what the close pays (roles/town_client/in_doubt_writes_at_close.ts).
 * Only the home town's (the channel's peer): its ILP address is its NIP-11 fee address.
 *
 * @module
 */
import { loadSettings } from "../config/settings.ts";
import { doubtClaims } from "../state/payments/doubt_claims.ts";
import { categoryOf, openPaymentLog } from "../state/payments/payment_log.ts";
import { PAYMENT_LOG_DIR, PAYMENT_LOG_NAME } from "../state/payments/payment_log_files.ts";
import { pathExists } from "../state/path_exists.ts";
import { fetchRelayInfo } from "../transport/relay_info.ts";
import {
  resolveInDoubtWrites,
  storedOnRelay,
} from "../roles/town_client/in_doubt_writes_at_close.ts";
import { type CosignCliOptions, peerFlags } from "./channel_btp_peer.ts";
import { infoLine } from "./channel_context.ts";
import { terminalText } from "./terminal_text.ts";

/**
 * Resolves the home town's writes in doubt in the payment log of `stateDir`; a town that cannot
 * be read leaves them in doubt (said on stderr), the close stands.
 *
 * It needs a town and a payment log with writes in doubt, so it has no example that runs here:
 * tests/e2e/channel_lost_answer_restart_test.ts resolves them as it does.
 */
export async function resolveWritesInDoubtAtClose(
  opts: CosignCliOptions,
  stateDir: string,
): Promise<void> {
  // A profile with no payment log (a town's, a provider's payout) paid no writes: none made.
  const files = [PAYMENT_LOG_NAME, PAYMENT_LOG_DIR].map((f) => pathExists(`${stateDir}/${f}`));
  if (!(await Promise.all(files)).some(Boolean)) return;
  const payments = await openPaymentLog({ stateDir });
  const doubts = payments.entries().some((e) =>
    e.event === "intent" && categoryOf(e) === "town-write"
  );
  if (!doubts) return; // nothing to ask the town
  const { settings } = await loadSettings({ flags: peerFlags(opts) });
  const relayUrl = settings.relayUrl;
  try {
    const info = await fetchRelayInfo(relayUrl);
    const fee = (info.fees as { publication?: Record<string, unknown>[] } | undefined)
      ?.publication?.[0];
    if (typeof fee?.ilp_address !== "string") return; // no town address: nothing of it to match
    const done = await resolveInDoubtWrites({
      payments,
      townAddress: fee.ilp_address,
      stored: storedOnRelay(relayUrl),
      claims: doubtClaims(stateDir),
    });
    if (done.paid + done.notPaid === 0) return;
    infoLine(
      opts,
      `Town writes in doubt at the close: ${done.paid} stored by the town (paid, ` +
        `${done.paidAmount} base units, now on the payment log), ${done.notPaid} not stored ` +
        `(not paid)`,
    );
  } catch (err) {
    console.error(terminalText(
      `Warning: the town writes in doubt stay in doubt on the payment log: cannot read ` +
        `${relayUrl}: ${(err as Error).message}`,
    ));
  }
}
