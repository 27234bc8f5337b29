/**
 * Test helper: a payer's paid writes in a process of their own, so the process can be SIGKILLed
 * after a write's answer was lost and a new one of the same profile started
 * (tests/e2e/channel_lost_answer_restart_test.ts). Run as `lost_answer_writer.ts <json>`: it
 * connects with claims on the channel of its state dir (resumed from the channel file), opens
 * the profile's payment log, and writes through a town client (harness/patient_town_writer.ts)
 * whose paid writes and writes in doubt are kept in that log, as a requester's are
 * (roles/requester/town_links.ts).
 * It prints `{"start","ready"}` (what its claims had paid when it began, and once its SPSP
 * handshakes were paid), then reads one command a line on stdin: `{"event", "patienceMs"?}`
 * writes that signed event, printing `{"ok":true,"duplicate"}` or `{"error":"<name>"}`. With
 * `loadFirst` it reads the payment log's writes in doubt first, prints `{"loaded":true}` and waits
 * for a line on stdin before it reads the channel and connects: a process of the profile that
 * started while another one pays over the channel, and pays after it.
 *
 * @module
 */
import { hexToBytes } from "viem";
import { channelFilePath, readChannel } from "../state/channels/channel_file.ts";
import { openPaymentLog } from "../state/payments/payment_log.ts";
import { townWriteEntry } from "../state/payments/town_write_entry.ts";
import { loggedInDoubtWrites } from "../roles/town_client/logged_in_doubt_writes.ts";
import { doubtClaims } from "../state/payments/doubt_claims.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import { type ClaimTownContact, connectClaimClient } from "./channel_town.ts";
import { lineReader } from "./line_reader.ts";
import { patientTownWriter } from "./patient_town_writer.ts";

const SCRIPT = new URL(import.meta.url).pathname;

/** Arguments of the writer process. */
export interface LostAnswerWriterArgs extends ClaimTownContact {
  stateDir: string;
  channelId: `0x${string}`;
  /** Alice's key (signs claims), hex. */
  secretKey: `0x${string}`;
  /** Load the writes in doubt, then wait for {@linkcode LoadedLostAnswerWriter.connect}. */
  loadFirst?: boolean;
  /** Without the profile's claims on its doubts (the code before them). Default with. */
  noClaims?: boolean;
}

/** A writer process that has read the log's writes in doubt and waits to connect. */
export interface LoadedLostAnswerWriter {
  /** Lets it read the channel and connect; resolves once it is ready to write. */
  connect(): Promise<LostAnswerWriter>;
  /** SIGKILL (a writer never connected: a test that failed before). */
  kill9(): Promise<void>;
}

/** A write the process was told to make. */
export interface LostAnswerWrite {
  event: NostrEvent;
  /** How long the write waits for its answer; default the BTP client's. */
  patienceMs?: number;
}

/** A running writer process. */
export interface LostAnswerWriter {
  /** Its claims' total when it began and once its SPSP handshakes were paid. */
  paid: { start: bigint; ready: bigint };
  /** Writes `write.event`; resolves with the process's answer line. */
  write(write: LostAnswerWrite): Promise<{ ok?: boolean; duplicate?: boolean; error?: string }>;
  /** SIGKILL. */
  kill9(): Promise<void>;
  /** Closes stdin: the process closes its connection and exits. */
  stop(): Promise<void>;
}

/**
 * Spawns the writer and waits until it is ready to write.
 *
 * It pays a town over a channel on anvil, so it has no example here:
 * tests/e2e/channel_lost_answer_restart_test.ts kills one and starts another.
 */
export async function startLostAnswerWriter(
  args: LostAnswerWriterArgs,
): Promise<LostAnswerWriter> {
  return await (await loadLostAnswerWriter({ ...args, loadFirst: false })).connect();
}

/**
 * Spawns the writer with `loadFirst`: resolves once it has read the payment log's writes in doubt
 * (or at once without `loadFirst`); it connects when told.
 *
 * It pays a town over a channel on anvil, so it has no example here:
 * tests/e2e/channel_lost_answer_restart_test.ts runs two of one profile.
 */
export async function loadLostAnswerWriter(
  args: LostAnswerWriterArgs,
): Promise<LoadedLostAnswerWriter> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, JSON.stringify(args)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = lineReader(child.stdout);
  const stdin = child.stdin.getWriter();
  const readLine = async (): Promise<string> => {
    const line = await lines.read();
    if (line === undefined) throw new Error("the writer process exited");
    return line;
  };
  const release = async () => {
    await lines.cancel().catch(() => {});
    await stdin.close().catch(() => {});
  };
  const firstLine = async <T>(): Promise<T> => {
    try {
      return JSON.parse(await readLine());
    } catch (err) {
      child.kill("SIGKILL");
      await child.status;
      await release();
      throw err;
    }
  };
  if (args.loadFirst) await firstLine<{ loaded: true }>();
  const connect = async (): Promise<LostAnswerWriter> => {
    if (args.loadFirst) await stdin.write(new TextEncoder().encode("connect\n"));
    const first = await firstLine<{ start: string; ready: string }>();
    return writerOf(first);
  };
  const writerOf = (first: { start: string; ready: string }): LostAnswerWriter => ({
    paid: { start: BigInt(first.start), ready: BigInt(first.ready) },
    async write(write) {
      await stdin.write(new TextEncoder().encode(JSON.stringify(write) + "\n"));
      return JSON.parse(await readLine());
    },
    kill9,
    async stop() {
      await stdin.close().catch(() => {});
      await child.status;
      await release();
    },
  });
  const kill9 = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await release();
  };
  return { connect, kill9 };
}

async function runWriter(args: LostAnswerWriterArgs): Promise<void> {
  const payments = await openPaymentLog({ stateDir: args.stateDir });
  const town = { townAddress: args.townAddress, asset: "USD", scale: 6 };
  const claims = args.noClaims ? undefined : doubtClaims(args.stateDir);
  const inDoubt = loggedInDoubtWrites({ payments, ...town, claims });
  const lines = lineReader(Deno.stdin.readable);
  const readLine = () => lines.read();
  if (args.loadFirst) {
    console.log(JSON.stringify({ loaded: true }));
    if (await readLine() === undefined) return;
  }
  const record = await readChannel(channelFilePath(args.stateDir, args.channelId));
  const payer = await connectClaimClient({
    ...args,
    secretKey: hexToBytes(args.secretKey),
    record,
    reconnect: true,
  });
  const { writer, patience } = patientTownWriter(payer, args, {
    // The payment log as a requester keeps it: a line per paid write, and the writes in doubt.
    record: ({ event, amount }) =>
      payments.append(
        townWriteEntry({
          direction: "out",
          kind: "write",
          event,
          amount,
          ...town,
          peer: town.townAddress,
        }),
      ),
    inDoubt,
  });
  await writer.grant();
  console.log(JSON.stringify({
    start: String(record.sent),
    ready: String(payer.signer.transferred),
  }));
  for (let line = await readLine(); line !== undefined; line = await readLine()) {
    const write = JSON.parse(line) as LostAnswerWrite;
    patience(write.patienceMs);
    const before = writer.duplicates;
    const answer = await writer.write(write.event).then(
      () => ({ ok: true, duplicate: writer.duplicates > before }),
      (err: Error) => ({ error: err.name }),
    );
    console.log(JSON.stringify(answer));
  }
  await payments.flush();
  await payer.close();
}

if (import.meta.main) await runWriter(JSON.parse(Deno.args[0]));
