/**
 * The town's expiry on a packet it forwards to a provider (roles/town/btp/btp_router.ts,
 * docs/PROTOCOL.md "Expiry"): the provider gets the packet with the margin taken off its expiry
 * and the town waits half the margin longer for the answer, so a FULFILL the provider sent just
 * before its own deadline reaches the town's books (a FULFILL after the town gave up is the
 * provider's loss, the "late FULFILLs" of docs/SCALE.md); a packet given up is on the books as
 * `rejected` with `R00`. The town's books are a real peer ledger in a temp dir; the provider is
 * a test double of its BTP connection that answers when told (the timing is the subject).
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { createBtpRouter, type IlpNextHop } from "../../../../roles/town/btp/btp_router.ts";
import { createPeerBooks } from "../../../../roles/town/btp/peer_books.ts";
import {
  decodeIlpPrepare,
  encodeIlpReply,
  type IlpPrepare,
} from "../../../../protocol/ilp_packet.ts";
import { openPeerLedger, type PeerLedgerEntry } from "../../../../state/payments/peer_ledger.ts";
import type { WritePipeline } from "../../../../roles/town/write/write_pipeline.ts";

const MARGIN_MS = 400;

/** A provider's connection that answers FULFILL `lateMs` after the expiry it was given. */
function providerAnsweringAt(fulfillment: Uint8Array, lateMs: number) {
  const seen: Date[] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const hop: IlpNextHop = {
    async request(packet, timeoutMs) {
      const prepare = decodeIlpPrepare(packet);
      seen.push(prepare.expiresAt);
      const wait = prepare.expiresAt.getTime() + lateMs - Date.now();
      const answer = new Promise<Uint8Array>((resolve) => {
        const t = setTimeout(
          () => resolve(encodeIlpReply({ type: "fulfill", fulfillment, data: new Uint8Array() })),
          Math.max(0, wait),
        );
        timers.add(t);
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("BTP request timed out")), timeoutMs);
      });
      try {
        return await Promise.race([answer, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
  /** Drops an answer still pending (the town gave the packet up first). */
  const stop = () => timers.forEach((t) => clearTimeout(t));
  return { hop, seen, stop };
}

async function setup(lateMs: number) {
  const dir = await Deno.makeTempDir({ prefix: "btp_router_expiry_" });
  const ledger = await openPeerLedger({ stateDir: dir });
  const fulfillment = crypto.getRandomValues(new Uint8Array(32));
  const provider = providerAnsweringAt(fulfillment, lateMs);
  const router = createBtpRouter({
    townAddress: () => "test.town",
    assetCode: "USD",
    assetScale: 6,
    pipeline: {} as WritePipeline, // not reached: the packets are for a child
    child: (a) => a === "beta" ? provider.hop : undefined,
    forwardExpiryMarginMs: MARGIN_MS,
    forwardBooks: createPeerBooks({
      ledger,
      maxOwed: () => undefined,
      triggeredBy: () => "test.town",
    }),
  });
  const prepare: IlpPrepare = {
    amount: "500",
    destination: "test.town.beta.job",
    executionCondition: sha256(fulfillment),
    expiresAt: new Date(Date.now() + 1_000),
    data: new Uint8Array(),
  };
  const lines = async () =>
    (await Deno.readTextFile(`${dir}/peer_ledger.jsonl`)).trim().split("\n").map((l) =>
      JSON.parse(l) as PeerLedgerEntry
    );
  return { dir, router, prepare, provider, lines, condition: bytesToHex(sha256(fulfillment)) };
}

Deno.test("btp router: the provider's FULFILL sent just after its own expiry still reaches the town's books", async () => {
  const t = await setup(50);
  try {
    const source = {
      kind: "child" as const,
      account: { account: "alpha", maxPacketAmount: 10n ** 9n },
    };
    const reply = await t.router.routePrepare(source, t.prepare);
    assertEquals(reply.type, "fulfill");
    assertEquals(t.provider.seen[0].getTime(), t.prepare.expiresAt.getTime() - MARGIN_MS);
    const events = (await t.lines()).map((e) => [e.event, e.condition]);
    assertEquals(events, [["forward", t.condition], ["fulfilled", t.condition]]);
  } finally {
    t.provider.stop();
    await Deno.remove(t.dir, { recursive: true });
  }
});

Deno.test("btp router: a packet the town gave up at expiry is on its books as rejected R00", async () => {
  const t = await setup(MARGIN_MS + 300);
  try {
    const source = {
      kind: "child" as const,
      account: { account: "alpha", maxPacketAmount: 10n ** 9n },
    };
    const reply = await t.router.routePrepare(source, t.prepare);
    assertEquals(reply.type === "reject" ? reply.code : reply.type, "R00");
    const events = (await t.lines()).map((e) => [e.event, e.code]);
    assertEquals(events, [["forward", undefined], ["rejected", "R00"]]);
  } finally {
    t.provider.stop();
    await Deno.remove(t.dir, { recursive: true });
  }
});
