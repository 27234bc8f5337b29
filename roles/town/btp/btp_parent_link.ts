/**
 * The town's link to its parent connector (e.g. the Interledger reference connector): a BTP
 * client (transport/btp_client.ts) that learns the town's own ILP address and asset by IL-DCP,
 * passes the parent's PREPAREs to the router and carries packets the town cannot route itself.
 *
 * @module
 */
import { BtpClient, type BtpPrepareHandler } from "../../../transport/btp_client.ts";
import type { IldcpResponse } from "../../../protocol/ildcp.ts";
import type { IlpNextHop } from "./btp_router.ts";

/** Options for {@linkcode connectParentLink}. */
export interface ParentLinkOptions {
  /** `btp+ws://[user:token@]host:port` */
  url: string;
  authToken?: string;
  authUsername?: string;
  /** Answers PREPAREs the parent sends to the town. */
  onPrepare: BtpPrepareHandler;
  /** First reconnect delay after a drop. Default 1 s. */
  reconnectInitialDelayMs?: number;
}

/** A connected parent link. */
export interface ParentLink extends IlpNextHop {
  /** What IL-DCP told the town: its address and asset. */
  ildcp: IldcpResponse;
  client: BtpClient;
  close(): Promise<void>;
}

/**
 * Connects to the parent and runs IL-DCP.
 *
 * It needs a parent connector: no example that runs here: tests/e2e/town_network_test.ts.
 */
export async function connectParentLink(options: ParentLinkOptions): Promise<ParentLink> {
  const client = new BtpClient({
    url: options.url,
    authToken: options.authToken,
    authUsername: options.authUsername,
    onPrepare: options.onPrepare,
    reconnectInitialDelayMs: options.reconnectInitialDelayMs,
  });
  try {
    await client.connect();
    const ildcp = await client.fetchIldcp({ timeoutMs: 10_000 });
    return {
      ildcp,
      client,
      request: (packet, timeoutMs) => client.sendData(packet, { timeoutMs }),
      close: () => client.close(),
    };
  } catch (err) {
    await client.close();
    throw err;
  }
}
