import { assertEquals } from "../../../harness/assert.ts";
import { checkInvoiceDestination } from "../../../protocol/invoice_destination.ts";

const reason = (d: ReturnType<typeof checkInvoiceDestination>) => d.pay ? "pay" : d.reason;

Deno.test("an invoice is paid at the provider's announced address or under it", () => {
  assertEquals(reason(checkInvoiceDestination("g.town.bob.0a1b2c", "g.town.bob")), "pay");
  assertEquals(reason(checkInvoiceDestination("g.town.bob", "g.town.bob")), "pay");
});

Deno.test("an invoice elsewhere, or from a provider announcing no address, is refused", () => {
  const cases: [string, string | undefined, string][] = [
    ["g.town.mallory.0a1b2c", "g.town.bob", "foreign-destination"],
    // A longer segment is another account, not one under the provider's.
    ["g.town.bobby.0a1b2c", "g.town.bob", "foreign-destination"],
    ["g.town", "g.town.bob", "foreign-destination"],
    ["g.town.bob.0a1b2c", undefined, "no-announced-address"],
  ];
  for (const [destination, announced, want] of cases) {
    assertEquals(reason(checkInvoiceDestination(destination, announced)), want, destination);
  }
});
