/**
 * Probes the ILP route from a node's uplink to towns (docs/OPERATIONS.md "Several towns",
 * `doctor`): one BTP connection to the uplink, then per town one PREPARE of amount 0 to the
 * town's own ILP address with a random condition, so nothing can be paid. Whoever answers tells
 * the route:
 *
 * - a REJECT triggered by the town itself (its write desk refusing the empty packet), or a
 *   FULFILL: `ok`, the packet got there;
 * - F02 from anyone on the way: `no-route`;
 * - R00/R01/R02, or no answer before the packet's expiry: `timeout`;
 * - another REJECT on the way (T04, F08...): `refused`.
 *
 * @module
 */
import { RoleError } from "./role_error.ts";
import { BtpClient } from "../transport/btp_client.ts";
import { ILP_ERROR } from "../protocol/ilp_packet.ts";

/** One town to probe. */
export interface RouteProbeTarget {
  /** What the line is about (`(home)` or the `[towns.<name>]` name). */
  name: string;
  /** The town's ILP address. */
  address: string;
}

/** Options for {@linkcode probeIlpRoutes}. */
export interface ProbeIlpRoutesOptions {
  /** The node's uplink (its town's BTP URL, or a connector's). */
  btpUrl: string;
  btpToken?: string;
  targets: readonly RouteProbeTarget[];
  /** Each probe's expiry, and the connection's limit. */
  timeoutMs: number;
}

/** The route to one town. */
export interface RouteProbe {
  name: string;
  address: string;
  status: "ok" | "no-route" | "timeout" | "refused";
  /** The answer's code, who triggered it and its message, or what failed. */
  detail: string;
}

/** The uplink itself could not be used (connection, auth, IL-DCP). */
export class RouteProbeUplinkError extends RoleError {
  override name = "RouteProbeUplinkError";
}

/**
 * Probes each target over one connection to the uplink (concurrently); the uplink's own
 * address comes with the answers.
 *
 * It needs an uplink to a connector and towns to reach, so it has no example here:
 * tests/e2e/town_network_views_test.ts probes a routed town and an unrouted one through it
 * (`turnpike doctor`).
 * @throws {RouteProbeUplinkError} when the uplink cannot be connected to.
 */
export async function probeIlpRoutes(
  o: ProbeIlpRoutesOptions,
): Promise<{ uplinkAddress: string; routes: RouteProbe[] }> {
  const btp = new BtpClient({
    url: o.btpUrl,
    authToken: o.btpToken,
    reconnect: false,
    responseTimeoutMs: o.timeoutMs,
  });
  try {
    let uplinkAddress: string;
    try {
      await btp.connect();
      uplinkAddress = (await btp.fetchIldcp({ timeoutMs: o.timeoutMs })).clientAddress;
    } catch (err) {
      throw new RouteProbeUplinkError(`uplink ${redact(o.btpUrl)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const routes = await Promise.all(o.targets.map((t) => probeOne(btp, t, o.timeoutMs)));
    return { uplinkAddress, routes };
  } finally {
    await btp.close().catch(() => {});
  }
}

async function probeOne(
  btp: BtpClient,
  target: RouteProbeTarget,
  timeoutMs: number,
): Promise<RouteProbe> {
  const line = (status: RouteProbe["status"], detail: string): RouteProbe => ({
    name: target.name,
    address: target.address,
    status,
    detail,
  });
  let reply;
  try {
    reply = await btp.sendPrepare({
      amount: "0",
      expiresAt: new Date(Date.now() + timeoutMs),
      executionCondition: crypto.getRandomValues(new Uint8Array(32)),
      destination: target.address,
      data: new Uint8Array(),
    }, { timeoutMs });
  } catch (err) {
    return line("timeout", `no answer from ${target.address}: ${(err as Error).message}`);
  }
  if (reply.type === "fulfill") return line("ok", `${target.address} answered (FULFILL)`);
  const by = reply.triggeredBy === "" ? "an unnamed hop" : reply.triggeredBy;
  const said = `${reply.code} ${reply.message}`.trim().slice(0, 200);
  const fromTown = reply.triggeredBy === target.address ||
    reply.triggeredBy.startsWith(`${target.address}.`);
  if (fromTown) return line("ok", `${target.address} answered (${said})`);
  if (reply.code === ILP_ERROR.unreachable) return line("no-route", `${said} from ${by}`);
  if (reply.code.startsWith("R")) return line("timeout", `${said} from ${by}`);
  return line("refused", `${said} from ${by}`);
}

/** The URL without its token. */
function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}
