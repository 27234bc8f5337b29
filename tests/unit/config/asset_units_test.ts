/**
 * One asset per town, shown in its units with its code: recorded amounts with and without a
 * scale, byte sizes of transfers, the channel books `channel list`, `wallet balance` and `dash`
 * share (a settled channel holds nothing; withdrawals counted once), the town's asset from its
 * settlement token, and the CLI's `wallet history` and `wallet balance` over real files.
 */
import { assert, assertEquals, assertMatch, assertThrows } from "../../../harness/assert.ts";
import { formatRecordedAmount } from "../../../protocol/asset_amount.ts";
import { formatByteSize } from "../../../cli/transfer_progress.ts";
import { channelBooks } from "../../../state/channels/channel_books.ts";
import { saveChannel } from "../../../state/channels/channel_file.ts";
import { openPaymentLog } from "../../../state/payments/payment_log.ts";
import { formatJobRecord, parseJobRecord } from "../../../state/jobs/job_record.ts";
import { makeJobRecord } from "../../../harness/job_record_factory.ts";
import { statusAmountText } from "../../../roles/provider/provider_status.ts";
import { loadSettings } from "../../../config/settings.ts";
import { resolveTownSettings } from "../../../config/town_settings.ts";
import { DEFAULT_TOWN_ASSET, townAssetOfToken } from "../../../config/town_asset.ts";
import { ConfigError } from "../../../config/config_error.ts";
import { fixtureChannelRecord } from "../../support/channel_record_fixture.ts";
import { initWalletWithCli, runCli } from "../../../harness/run_cli.ts";

Deno.test("recorded amounts: in the asset's units with its code; without a scale, said to be base units", () => {
  assertEquals(formatRecordedAmount("45800", { asset: "M2M", scale: 6 }), "0.0458 M2M");
  assertEquals(formatRecordedAmount(6000n, { asset: "M2M", scale: 6 }), "0.006 M2M");
  assertEquals(formatRecordedAmount("45800", { asset: "M2M" }), "45800 M2M base units");
  assertEquals(statusAmountText({ assetCode: "M2M", assetScale: 6 }, "285390"), "0.28539 M2M");
  assertEquals(statusAmountText({}, "285390"), "285390 base units");
});

Deno.test("byte sizes: a small upload reads in bytes, a large one in MiB", () => {
  assertEquals(formatByteSize(0), "0 B");
  assertEquals(formatByteSize(501), "501 B");
  assertEquals(formatByteSize(2048), "2.0 KiB");
  assertEquals(formatByteSize(3 * 1024 * 1024), "3.0 MiB");
  assertEquals(formatByteSize(5 * 1024 ** 3), "5.0 GiB");
});

Deno.test("a job record keeps each payment's scale", () => {
  const job = makeJobRecord(1, {
    payments: [{
      invoiceId: "inv-1",
      amount: 45800n,
      asset: "M2M",
      scale: 6,
      status: "paid",
      startedAtMs: 1,
    }],
  });
  const back = parseJobRecord(formatJobRecord(job));
  assertEquals(back.payments[0].scale, 6);
  assertEquals(formatRecordedAmount(back.payments[0].amount, back.payments[0]), "0.0458 M2M");
});

Deno.test("channel books: withdrawals lower what is held; a settled channel has nothing remaining", () => {
  const base = {
    deposit: 70_000_000n,
    withdrawn: 10_000_000n,
    sent: 291_569n,
    received: 0n,
    warnPercent: 20,
  };
  const open = channelBooks({ ...base, status: "open" });
  assertEquals(open.held, 60_000_000n);
  assertEquals(open.remaining, 59_708_431n);
  assertEquals(open.low, false);
  assertEquals(channelBooks({ ...base, status: "closed" }).remaining, 59_708_431n);
  assertEquals(channelBooks({ ...base, status: "settled" }).remaining, 0n);
  // Low is measured against what is held, not the deposit before a withdrawal.
  assert(channelBooks({ ...base, sent: 49_000_000n, status: "open" }).low);
});

async function townConfigWith(toml: string) {
  const dir = await Deno.makeTempDir({ prefix: "town_asset_" });
  try {
    await Deno.writeTextFile(`${dir}/config.toml`, toml);
    const loaded = await loadSettings({ flags: { stateDir: dir }, env: () => undefined });
    return resolveTownSettings({ loaded, env: () => undefined });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("town asset: the settlement token's as its contract says (M2M by default), never a second unit", async () => {
  const plain = await townConfigWith("");
  assertEquals([plain.assetCode, plain.assetScale], [
    DEFAULT_TOWN_ASSET.assetCode,
    DEFAULT_TOWN_ASSET.assetScale,
  ]);
  assertEquals(plain.assetCode, "M2M");
  // Unnamed: the town counts in the token it settles in, read at start.
  const sepolia = await townConfigWith('[channels]\nchains = ["evm:base:84532"]\n');
  assertEquals(sepolia.assetFromToken, true);
  const token = { tokenSymbol: "TKN", tokenDecimals: 18 };
  const asset = { assetCode: "M2M", assetScale: 6, assetFromToken: true };
  assertEquals(townAssetOfToken(asset, token, "evm:base:8453"), {
    assetCode: "TKN",
    assetScale: 18,
  });
  // Named otherwise than the token: refused.
  const named = await townConfigWith(
    '[town]\nasset_code = "USD"\n[channels]\nchains = ["evm:base:84532"]\n',
  );
  assertEquals(named.assetFromToken, false);
  const err = assertThrows(
    () =>
      townAssetOfToken(
        { ...named, assetFromToken: false },
        { tokenSymbol: "M2M", tokenDecimals: 6 },
        "evm:base:84532",
      ),
    ConfigError,
  );
  assertMatch(err.message, /one asset per town/);
  // Without a chain an operator may still name the unit.
  assertEquals((await townConfigWith('[town]\nasset_code = "USD"\n')).assetCode, "USD");
});

Deno.test("wallet history and wallet balance print amounts in the asset's units; balance and channel list agree", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "asset_units_cli_" });
  try {
    const log = await openPaymentLog({ stateDir });
    const entry = {
      direction: "out" as const,
      jobId: "ab".repeat(32),
      invoiceId: "inv-1",
      amount: "45800",
      asset: "M2M",
      scale: 6,
      peer: "cd".repeat(32),
    };
    await log.append({ ...entry, ts: new Date().toISOString(), event: "fulfilled" });
    const history = await runCli(["--state-dir", stateDir, "wallet", "history"]);
    assertEquals(history.code, 0, history.stderr);
    assertMatch(history.stdout, /paid {3}fulfilled job {8}0\.0458 M2M {2}job abab/);
    assert(!history.stdout.includes("45800"), history.stdout);

    const record = fixtureChannelRecord(
      { selfAddress: `0x${"33".repeat(20)}`, peerAddress: `0x${"44".repeat(20)}` },
      { deposit: 70_000_000n, withdrawn: 10_000_000n, sent: 291_569n, status: "settled" },
    );
    await saveChannel(record, { stateDir, action: "open" });
    const list = await runCli(["--state-dir", stateDir, "channel", "list"]);
    assertEquals(list.code, 0, list.stderr);
    assertMatch(list.stdout, /deposit 70 M2M \(10 withdrawn\).*, 0 M2M remaining/);
    await Deno.writeTextFile(`${stateDir}/pass`, "correct horse battery staple\n");
    await initWalletWithCli({ stateDir, passphraseFile: `${stateDir}/pass` });
    const balance = await runCli(["--state-dir", stateDir, "wallet", "balance"]);
    assertEquals(balance.code, 0, balance.stderr);
    assertMatch(balance.stdout, /settled: deposit 70 M2M \(10 withdrawn\), .*, 0 M2M remaining/);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
