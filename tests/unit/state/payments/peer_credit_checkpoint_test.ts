/** The town's peer credit counts start from a checkpoint and hold what summing the whole file gives. */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { openFilePeerCredit, type PeerCredit } from "../../../../state/payments/peer_credit.ts";

async function counts(credit: PeerCredit, accounts: string[]) {
  const out = [];
  for (const a of accounts) {
    out.push([a, await credit.spent(a), await credit.paid(a), await credit.standing(a)]);
  }
  await credit.close();
  return out;
}

Deno.test("peer credit checkpoint: a start sums only the lines after it, to the same counts as the whole file, standings and payouts included", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "peer_credit_cp_" });
  const path = `${stateDir}/peer_credit.jsonl`;
  const accounts = ["beta", "gamma", "delta"];
  try {
    const credit = await openFilePeerCredit({ stateDir, checkpointLines: 3 });
    const terms = { floor: 1_000n, ceiling: 50_000n, graceMs: 60_000 };
    for (let i = 0; i < 12; i++) {
      const a = accounts[i % 3];
      await credit.take(
        a,
        700n,
        i % 2 === 0 ? 10_000n : { owed: 100n * BigInt(i), terms, now: 1_000 + i },
      );
      if (i % 4 === 0) await credit.give(a, 300n);
    }
    await credit.payOut("beta", { owed: 5_000n, cap: 3_000n, claimed: 0n });
    const live = await counts(credit, accounts);
    const checkpoint = JSON.parse(
      await Deno.readTextFile(`${stateDir}/peer_credit.checkpoint.json`),
    );
    assert(checkpoint.offset > 256, `checkpoint at ${checkpoint.offset}`);
    const whole = () => openFilePeerCredit({ stateDir, checkpointLines: 0 });
    assertEquals(await counts(await openFilePeerCredit({ stateDir }), accounts), live);
    assertEquals(await counts(await whole(), accounts), live);
    // A line before the checkpoint spoiled: only the whole sum sees it, so the checkpoint was used.
    const text = await Deno.readTextFile(path);
    const spoiled = text.replace('"d":"700"', '"d":"7x0"');
    assert(spoiled.indexOf("7x0") < checkpoint.offset - 256);
    await Deno.writeTextFile(path, spoiled);
    assertEquals(await counts(await openFilePeerCredit({ stateDir }), accounts), live);
    assertEquals((await counts(await whole(), accounts))[0][1], (live[0][1] as bigint) - 700n);
    // A file that no longer begins with what it covered is summed whole.
    await Deno.writeTextFile(path, text.slice(0, 100));
    assertEquals(
      await counts(await openFilePeerCredit({ stateDir }), accounts),
      await counts(await whole(), accounts),
    );
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
