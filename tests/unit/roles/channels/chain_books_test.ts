import { assert } from "../../../../harness/assert.ts";
import { chainEqualsBooks } from "../../../../roles/channels/chain_books.ts";

const agreed = { deposit: 100n, sent: 30n, received: 30n, payerPayout: 70n, payeePayout: 30n };

Deno.test("chainEqualsBooks: payouts equal to both sides' books", () => {
  assert(chainEqualsBooks(agreed));
  assert(
    chainEqualsBooks({ ...agreed, sent: 0n, received: 0n, payerPayout: 100n, payeePayout: 0n }),
  );
});

Deno.test("chainEqualsBooks: each way the chain or the books can differ", () => {
  // The payer signed a claim the payee does not hold.
  assert(!chainEqualsBooks({ ...agreed, sent: 40n }));
  // The chain paid the payee more than it holds, or the payer less than its deposit less sent.
  assert(!chainEqualsBooks({ ...agreed, payeePayout: 40n }));
  assert(!chainEqualsBooks({ ...agreed, payerPayout: 60n }));
});
