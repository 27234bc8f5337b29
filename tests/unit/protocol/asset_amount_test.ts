import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { formatAssetAmount } from "../../../protocol/asset_amount.ts";

Deno.test("formatAssetAmount: base units to a decimal of the asset", () => {
  const m2m = { assetCode: "M2M", assetScale: 6 };
  assertEquals(formatAssetAmount(5000n, m2m), "0.005 M2M");
  assertEquals(formatAssetAmount(50_000_000n, m2m), "50 M2M");
  assertEquals(formatAssetAmount(49_991_250n, m2m), "49.99125 M2M");
  assertEquals(formatAssetAmount(0n, m2m), "0 M2M");
  assertEquals(formatAssetAmount(1n, m2m), "0.000001 M2M");
  assertEquals(formatAssetAmount(-1500n, { assetCode: "USD", assetScale: 3 }), "-1.5 USD");
  assertEquals(formatAssetAmount(12n, { assetCode: "XRP", assetScale: 0 }), "12 XRP");
  assertEquals(
    formatAssetAmount(2n ** 64n, { assetCode: "WEI", assetScale: 18 }),
    "18.446744073709551616 WEI",
  );
  assertThrows(() => formatAssetAmount(1n, { assetCode: "X", assetScale: -1 }), RangeError);
  assertThrows(() => formatAssetAmount(1n, { assetCode: "X", assetScale: 1.5 }), RangeError);
});
