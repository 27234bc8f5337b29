/**
 * A town of two `turnpike town up` processes on one PostgreSQL database, watching its payout
 * channels every 0.1 s (`[channels] watch_interval`), lives through PostgreSQL going down and
 * coming back: each process says its poll could not read the channels and stays up, and once
 * PostgreSQL is back payments go through and are claimed again (docs/OPERATIONS.md "The payout
 * channels of a town of several processes"). Before, a poll while PostgreSQL was down rejected
 * unhandled and Deno ended the process (seen in the goal run's chaos: "the database system is
 * starting up").
 */
import { assertEquals } from "../../harness/assert.ts";
import {
  AT_THRESHOLD,
  guard,
  startSharedPayoutTown,
  THRESHOLD,
} from "../support/shared_payout_town.ts";
import type { CliTown } from "../../harness/cli_town.ts";

/** The town process's log line, or its exit (a failure, with the log), whichever comes first. */
async function saysOrEnds(town: CliTown, text: string, logs: () => string): Promise<void> {
  const ended = town.process.done.then((status) => {
    throw new Error(`the town process ended (${JSON.stringify(status)})\n${logs()}`);
  });
  ended.catch(() => {}); // awaited below only if it comes first
  const said = (async () => {
    while (!town.process.stderr.some((l) => l.includes(text))) {
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await guard(Promise.race([said, ended]), () => `"${text}" in a town's log\n${logs()}`);
}

Deno.test("shared payout watch: PostgreSQL down and back; both town processes say their poll failed, stay up, and pay again", async () => {
  await using net = await startSharedPayoutTown({
    prefix: "shared_payout_pg_restart_",
    channels: "watch_interval = 0.1",
  });
  const { pg, towns, logs } = net;
  // beta on A, paid a claim at the threshold (alice pays through B): the payout channel exists.
  const betaLink = await net.connectBeta(towns[0]);
  await net.pay(AT_THRESHOLD, "before the restart");
  await net.kept(THRESHOLD, "before the restart");

  await pg.stop("immediate");
  for (const town of towns) await saysOrEnds(town, "payouts: channels not read", logs);
  await pg.start();
  // Each process polls again and stays up; payments go through and beta is claimed the rest.
  await net.pay(AT_THRESHOLD, "after the restart");
  await net.kept(2n * THRESHOLD, "after the restart");
  for (const town of towns) {
    const exited = await Promise.race([
      town.process.done.then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 0)),
    ]);
    assertEquals(exited, false, `a town process ended\n${logs()}`);
  }
  await betaLink.close();
});
