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
   * const address = new TownAddress({ ilpAddress: "g.town", assetCode: "USD", assetScale: 6 });
   * address.ilpAddress; // "g.town"
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
   * declare const address: TownAddress;
   * console.log(address.ilpAddress);
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
   * declare const address: TownAddress;
   * console.log(address.assetCode);
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
   * declare const address: TownAddress;
   * console.log(address.assetScale);
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
   * const address = new TownAddress({ ilpAddress: "g.town", assetCode: "USD", assetScale: 6 });
   * address.learn({ clientAddress: "g.parent.town", assetCode: "USD", assetScale: 9 });
   * address.ilpAddress; // "g.parent.town"
   * ```
   */
  learn(ildcp: IldcpResponse): void {
    this.#ilpAddress = ildcp.clientAddress;
    this.#assetCode = ildcp.assetCode;
    this.#assetScale = ildcp.assetScale;
  }
}
