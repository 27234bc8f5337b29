/** The requester's deposit shares (config/deposit_share_settings.ts): defaults and refusals. */
import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { resolveDepositShares } from "../../../config/deposit_share_settings.ts";
import { ConfigError } from "../../../config/config_error.ts";

const picker = (table: Record<string, unknown>) => (_f: unknown, _e: unknown, key: string) =>
  table[key];

Deno.test("without deposit shares set, nothing is bounded beyond the bid; the trusted share defaults to the stranger's", () => {
  assertEquals(resolveDepositShares(picker({})), { floor: 100, ceiling: 100 });
  assertEquals(resolveDepositShares(picker({ deposit_share: 5 })), { floor: 5, ceiling: 5 });
});

Deno.test("a share outside 0-100, or a trusted share below the stranger's, is refused naming its key", () => {
  const err = assertThrows(() => resolveDepositShares(picker({ deposit_share: 101 })), ConfigError);
  assertEquals(err.key, "deposit_share");
  const below = assertThrows(
    () => resolveDepositShares(picker({ deposit_share: 10, deposit_share_trusted: 5 })),
    ConfigError,
  );
  assertEquals(below.key, "deposit_share_trusted");
});
