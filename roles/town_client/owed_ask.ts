/**
 * One `payment-owed` question (protocol/payment_owed.ts) sent to the town over a BTP session (the
 * session is the question's authentication): a provider's, of its income and the expiries of the
 * PREPAREs it fulfilled (`paidExpiresAt`, roles/provider/payments/owed_questions.ts), or a
 * payer's (`payer`), of a payment in doubt it sent (roles/requester/doubt_at_town.ts).
 *
 * @module
 */
import { BtpContentType } from "../../protocol/btp_message.ts";
import {
  decodeOwedAnswer,
  encodeOwedQuestion,
  OWED_PROTOCOL_NAME,
  type OwedAnswer,
  type OwedQuestionOptions,
} from "../../protocol/payment_owed.ts";
import { type BtpClient, BtpRemoteError } from "../../transport/btp_client.ts";

/** How long the town is given to answer. */
const ASK_TIMEOUT_MS = 10_000;

/**
 * The town's answer about these payments (conditions, hex); undefined when the town does not
 * serve the question: it answered without its protocol data, or BTP ERROR (as a connector that
 * knows no `payment-owed` does; the town refuses nothing else, a question too soon is answered
 * in doubt).
 *
 * It needs a town: no example that runs here: tests/e2e/provider_unfulfilled_income_test.ts.
 *
 * @throws the client's errors when the town cannot be reached in time.
 */
export async function askTownOwed(
  btp: Pick<BtpClient, "sendMessage">,
  conditions: string[],
  options: OwedQuestionOptions = {},
): Promise<OwedAnswer | undefined> {
  let answer;
  try {
    answer = await btp.sendMessage([{
      protocolName: OWED_PROTOCOL_NAME,
      contentType: BtpContentType.json,
      data: encodeOwedQuestion(conditions, options),
    }], { timeoutMs: ASK_TIMEOUT_MS });
  } catch (err) {
    if (err instanceof BtpRemoteError) return undefined;
    throw err;
  }
  const data = answer.find((p) => p.protocolName === OWED_PROTOCOL_NAME)?.data;
  return data === undefined ? undefined : decodeOwedAnswer(data);
}
