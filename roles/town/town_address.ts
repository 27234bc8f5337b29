/**
 * The ILP address and asset a town is known by: its configured ones until its parent link's
 * IL-DCP answers, then what the parent told it (docs/OPERATIONS.md). The steps started before
 * the parent link read them when called.
 *
 * @module
 */
import type { IldcpResponse } from "../../protocol/ildcp.ts";

/** The configured address and asset of a town. */
export interface TownAddressSettings {
  ilpAddress: string;
  assetCode: string;
  assetScale: number;
}

/** A town's ILP address and asset, the parent's IL-DCP answer once learnt. */
export class TownAddress {
  #ilpAddress: string;
  #assetCode: string;
  #assetScale: number;

  /**
   * Starts with the configured address and asset.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TownAddress } from "./town_address.ts";
   *
   * const address = new TownAddress({ ilpAddress: "g.town", assetCode: "USD", assetScale: 6 });
   * assert.equal(address.ilpAddress, "g.town");
   * ```
   */
  constructor(config: TownAddressSettings) {
    this.#ilpAddress = config.ilpAddress;
    this.#assetCode = config.assetCode;
    this.#assetScale = config.assetScale;
  }

  /**
   * The town's ILP address now.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TownAddress } from "./town_address.ts";
   *
   * const address = new TownAddress({ ilpAddress: "g.town", assetCode: "USD", assetScale: 6 });
   * address.learn({ clientAddress: "g.parent.town", assetCode: "USD", assetScale: 6 }); // the parent's IL-DCP
   * assert.equal(address.ilpAddress, "g.parent.town");
   * ```
   */
  get ilpAddress(): string {
    return this.#ilpAddress;
  }

  /**
   * The town's asset code now.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TownAddress } from "./town_address.ts";
   *
   * const address = new TownAddress({ ilpAddress: "g.town", assetCode: "USD", assetScale: 6 });
   * assert.equal(address.assetCode, "USD");
   * ```
   */
  get assetCode(): string {
    return this.#assetCode;
  }

  /**
   * The town's asset scale now.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TownAddress } from "./town_address.ts";
   *
   * const address = new TownAddress({ ilpAddress: "g.town", assetCode: "USD", assetScale: 6 });
   * address.learn({ clientAddress: "g.parent.town", assetCode: "USD", assetScale: 9 });
   * assert.equal(address.assetScale, 9);
   * ```
   */
  get assetScale(): number {
    return this.#assetScale;
  }

  /**
   * Takes the address and asset the parent's IL-DCP answered.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TownAddress } from "./town_address.ts";
   *
   * const address = new TownAddress({ ilpAddress: "g.town", assetCode: "USD", assetScale: 6 });
   * address.learn({ clientAddress: "g.parent.town", assetCode: "USD", assetScale: 9 });
   * assert.deepEqual([address.ilpAddress, address.assetScale], ["g.parent.town", 9]);
   * ```
   */
  learn(ildcp: IldcpResponse): void {
    this.#ilpAddress = ildcp.clientAddress;
    this.#assetCode = ildcp.assetCode;
    this.#assetScale = ildcp.assetScale;
  }
}
