/**
 * The requester's deposit shares (docs/OPERATIONS.md "The requester's deposit bound"): how much
 * of a job's bid it pays a provider before delivery, by its trust of the provider
 * (roles/requester/deposit_share.ts).
 *
 * | key (TOML, `[requester]`) | env                              | default            |
 * |---------------------------|----------------------------------|--------------------|
 * | deposit_share             | TURNPIKE_DEPOSIT_SHARE           | 100                |
 * | deposit_share_trusted     | TURNPIKE_DEPOSIT_SHARE_TRUSTED   | the deposit_share  |
 *
 * Both are percent of the bid, 0-100. The defaults bound nothing (the bid already does): today's
 * behaviour.
 *
 * @module
 */
import { ConfigError } from "./config_error.ts";
import type { RoleSettingPicker } from "./settings.ts";

/** The two shares, percent of the bid. */
export interface DepositShares {
  /** A stranger's share. */
  floor: number;
  /** The most a trusted provider's share grows to (at least the floor). */
  ceiling: number;
}

/**
 * The shares from the `[requester]` table's picker (config/settings.ts `roleSettingPicker`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveDepositShares } from "./deposit_share_settings.ts";
 *
 * const table: Record<string, unknown> = { deposit_share: 5, deposit_share_trusted: "40" };
 * const pick = (_flag: unknown, _env: string | undefined, key: string) => table[key];
 * assert.deepEqual(resolveDepositShares(pick), { floor: 5, ceiling: 40 });
 * assert.deepEqual(resolveDepositShares(() => undefined), { floor: 100, ceiling: 100 });
 * ```
 * @throws {ConfigError} naming the key when a share is not 0-100, or the trusted one is below
 * the stranger's.
 */
export function resolveDepositShares(pick: RoleSettingPicker): DepositShares {
  const floor = percent(
    pick(undefined, "TURNPIKE_DEPOSIT_SHARE", "deposit_share"),
    "deposit_share",
  );
  const trusted = pick(undefined, "TURNPIKE_DEPOSIT_SHARE_TRUSTED", "deposit_share_trusted");
  const ceiling = trusted === undefined ? floor : percent(trusted, "deposit_share_trusted");
  if (ceiling < floor) {
    throw new ConfigError(
      `deposit_share_trusted (${ceiling}) is below deposit_share (${floor})`,
      { key: "deposit_share_trusted" },
    );
  }
  return { floor, ceiling };
}

function percent(value: unknown, key: string): number {
  if (value === undefined) return 100;
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0 || n > 100) {
    throw new ConfigError(`${key} must be a percent, 0-100, got ${JSON.stringify(value)}`, { key });
  }
  return n;
}
