/**
 * The claims on a profile's payments in doubt (state/payments/doubt_claims.ts), across real
 * processes: a claim held by a live process is waited for, and the waiter reads the log as that
 * process left it; a claim held by a process SIGKILLed is taken over, whatever it wrote or not.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { doubtClaims } from "../../../../state/payments/doubt_claims.ts";
import { openPaymentLog, type PaymentEntry } from "../../../../state/payments/payment_log.ts";

const MODULE = new URL("../../../../state/payments/doubt_claims.ts", import.meta.url).href;
const LOG = new URL("../../../../state/payments/payment_log.ts", import.meta.url).href;

const intent: PaymentEntry = {
  ts: new Date().toISOString(),
  direction: "out",
  event: "intent",
  jobId: "e1",
  invoiceId: "e1",
  amount: "100",
  asset: "USD",
  peer: "g.town",
  category: "town-write",
};

/**
 * A process of the profile that claims the doubt, appends `outcome` (if any) while holding it,
 * says `held` and holds it until its stdin closes or it is killed.
 */
function holder(stateDir: string, outcome?: PaymentEntry) {
  const code = `
    const { doubtClaims } = await import(${JSON.stringify(MODULE)});
    const { openPaymentLog } = await import(${JSON.stringify(LOG)});
    const claim = await doubtClaims(${JSON.stringify(stateDir)}).claim("e1", "g.town");
    const outcome = ${JSON.stringify(outcome ?? null)};
    if (outcome) await (await openPaymentLog({ stateDir: ${
    JSON.stringify(stateDir)
  } })).append(outcome);
    console.log(claim.open ? "held open" : "held settled");
    for await (const _ of Deno.stdin.readable) { /* until closed */ }
    await claim.release();
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  return {
    child,
    async said(): Promise<string> {
      let text = "";
      while (!text.includes("\n")) {
        const { value, done } = await out.read();
        if (done) break;
        text += value;
      }
      return text.trim();
    },
    async end(how: "stop" | "kill"): Promise<void> {
      if (how === "kill") child.kill("SIGKILL");
      await child.stdin.close().catch(() => {});
      await child.status;
      await out.cancel().catch(() => {});
    },
  };
}

Deno.test("doubt claims: a claim held by a live process is waited for, and the waiter finds the outcome that process recorded", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    await (await openPaymentLog({ stateDir })).append(intent);
    const other = holder(stateDir, { ...intent, event: "fulfilled" });
    assertEquals(await other.said(), "held open");
    let got = false;
    const waiting = doubtClaims(stateDir).claim("e1", "g.town").then((c) => {
      got = true;
      return c;
    });
    await new Promise((r) => setTimeout(r, 200)); // it waits while the other holds it
    assertEquals(got, false);
    await other.end("stop");
    const claim = await waiting;
    assertEquals(claim.open, false); // settled on the log by the other: record nothing
    await claim.release();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("doubt claims: a claim held by a process SIGKILLed is taken over, open when it wrote no outcome, settled when it did", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    await (await openPaymentLog({ stateDir })).append(intent);
    const silent = holder(stateDir);
    assertEquals(await silent.said(), "held open");
    const waiting = doubtClaims(stateDir).claim("e1", "g.town");
    await silent.end("kill");
    const open = await waiting;
    assertEquals(open.open, true); // still in doubt: this process sends it again
    await open.release();

    const recorder = holder(stateDir, { ...intent, event: "fulfilled" });
    assertEquals(await recorder.said(), "held open");
    const next = doubtClaims(stateDir).claim("e1", "g.town");
    await recorder.end("kill");
    const settled = await next;
    assertEquals(settled.open, false);
    await settled.release();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
