/**
 * Writes in doubt kept in the payment log (roles/town_client/logged_in_doubt_writes.ts): a log
 * opened again (a restarted payer) starts with its town's open intents, not another town's, not
 * one a `fulfilled` line closed; the lost attempt's line then sums into the log's spend once. With
 * the profile's claims, two holders of one doubt (two processes of the profile) record it once.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { openPaymentLog } from "../../../../state/payments/payment_log.ts";
import { foldPayments } from "../../../../state/payments/payment_lines.ts";
import { townWriteEntry } from "../../../../state/payments/town_write_entry.ts";
import { loggedInDoubtWrites } from "../../../../roles/town_client/logged_in_doubt_writes.ts";
import { doubtClaims } from "../../../../state/payments/doubt_claims.ts";

const event = (c: string) => ({ id: c.repeat(64), tags: [] });

Deno.test("logged in-doubt writes: a log opened again starts with its town's open intents, and the lost attempt then counts once in the spend", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const first = await openPaymentLog({ stateDir });
    const town = { asset: "USD", scale: 6 };
    const a = loggedInDoubtWrites({ payments: first, townAddress: "g.a", ...town });
    const b = loggedInDoubtWrites({ payments: first, townAddress: "g.b", ...town });
    await a.note({ event: event("1"), amount: 100n }); // stays in doubt across the restart
    await a.note({ event: event("2"), amount: 200n }); // its retry FULFILLed before the restart
    await b.note({ event: event("1"), amount: 300n }); // the same event at another town
    await first.append(townWriteEntry({
      direction: "out",
      kind: "write",
      event: event("2"),
      amount: 210n,
      peer: "g.a",
      ...town,
    }));

    const second = await openPaymentLog({ stateDir }); // the payer restarted
    const again = loggedInDoubtWrites({ payments: second, townAddress: "g.a", ...town });
    assertEquals(again.size, 1);
    const lost = again.take(event("1").id)!;
    assertEquals(lost, 100n);
    await second.append(townWriteEntry({
      direction: "out",
      kind: "write",
      event: event("1"),
      amount: lost,
      peer: "g.a",
      ...town,
    }));
    const spent = foldPayments((await openPaymentLog({ stateDir })).entries())
      .reduce((sum, p) => sum + BigInt(p.amount), 0n);
    assertEquals(spent, 310n, "g.a's lost write and the FULFILLed retry; g.b's still in doubt");
    const third = await openPaymentLog({ stateDir });
    assertEquals(loggedInDoubtWrites({ payments: third, townAddress: "g.a", ...town }).size, 0);
    assertEquals(loggedInDoubtWrites({ payments: third, townAddress: "g.b", ...town }).size, 1);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("logged in-doubt writes: two holders of one doubt with the profile's claims, the second holds it after the first recorded it and forgets it", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const town = { townAddress: "g.a", asset: "USD", scale: 6, claims: doubtClaims(stateDir) };
    const noted = loggedInDoubtWrites({ payments: await openPaymentLog({ stateDir }), ...town });
    await noted.note({ event: event("a"), amount: 500n }); // lost; then the process died
    // Two processes of the profile start, each with its own log and the same doubt.
    const logA = await openPaymentLog({ stateDir });
    const logB = await openPaymentLog({ stateDir });
    const a = loggedInDoubtWrites({ payments: logA, ...town });
    const b = loggedInDoubtWrites({ payments: logB, ...town });
    const heldA = await a.hold(event("a").id);
    const heldB = b.hold(event("a").id); // waits for a's claim
    const lost = a.take(event("a").id)!; // its retry: `duplicate`, so the lost attempt paid
    await logA.append(
      townWriteEntry({
        direction: "out",
        kind: "write",
        event: event("a"),
        amount: lost,
        asset: "USD",
        peer: "g.a",
      }),
    );
    await heldA?.[Symbol.asyncDispose]();
    await (await heldB)?.[Symbol.asyncDispose]();
    assertEquals(b.take(event("a").id), undefined); // settled on the log: b records nothing
    const paid = foldPayments((await openPaymentLog({ stateDir })).entries());
    assertEquals(paid.map((p) => [p.state, p.amount]), [["paid", "500"]]);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
