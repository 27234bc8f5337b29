/**
 * NIP-42 answers for a source stage in a worker, signed in the main thread: the worker sends
 * {@linkcode AuthSignRequest} (the relay's challenge and the URL it connected to) and waits for
 * {@linkcode AuthSignedMessage}; the main thread signs with the node's key, which no stage's
 * worker holds (docs/ARCHITECTURE.md "Pipelines and their permissions").
 *
 * What a worker can get signed is narrow: the main thread builds the event itself (kind 22242,
 * the challenge and relay tags), its `authenticate` refuses a relay other than the stage's
 * (`roles/event_feed.ts`), and one request is signed at a time, the others refused.
 *
 * @module
 */
import type { NostrEvent } from "../protocol/nostr_event.ts";
import type { AuthSignedMessage, AuthSignRequest } from "./worker_messages.ts";
import { PipelineError } from "./pipeline_error.ts";

/** The main thread did not sign a worker's NIP-42 answer. */
export class StageAuthRefusedError extends PipelineError {
  /** `"StageAuthRefusedError"`: explicit so it survives bundling. */
  override name = "StageAuthRefusedError";
}

/** Options for {@linkcode WorkerAuthenticator}. */
export interface WorkerAuthenticatorOptions {
  /** Sends a request to the main thread (the worker's `transport/worker_service.ts` handle). */
  send: (request: AuthSignRequest) => void;
}

/**
 * The worker's side: `authenticate` for the stage's {@linkcode StageContext}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkerAuthenticator } from "./worker_authenticator.ts";
 * import type { AuthSignRequest } from "./worker_messages.ts";
 *
 * const sent: AuthSignRequest[] = [];
 * const auth = new WorkerAuthenticator({ send: (r) => sent.push(r) });
 * const answer = auth.authenticate("c0ffee", "ws://127.0.0.1:7100");
 * auth.onSigned({ t: "auth-signed", id: sent[0].id, error: "no key" });
 * await assert.rejects(answer, { name: "StageAuthRefusedError" });
 * ```
 */
export class WorkerAuthenticator {
  readonly #send: (request: AuthSignRequest) => void;
  readonly #pending = new Map<number, PromiseWithResolvers<NostrEvent>>();
  #nextId = 1;

  constructor(options: WorkerAuthenticatorOptions) {
    this.#send = options.send;
  }

  /** Asks the main thread for the answer to `challenge` from `relayUrl`. */
  authenticate = (challenge: string, relayUrl: string): Promise<NostrEvent> => {
    const id = this.#nextId++;
    const waiter = Promise.withResolvers<NostrEvent>();
    this.#pending.set(id, waiter);
    this.#send({ t: "auth-sign", id, challenge, relayUrl });
    return waiter.promise;
  };

  /** The main thread's reply. */
  onSigned(message: AuthSignedMessage): void {
    const waiter = this.#pending.get(message.id);
    if (waiter === undefined) return;
    this.#pending.delete(message.id);
    if (message.event !== undefined) waiter.resolve(message.event);
    else waiter.reject(new StageAuthRefusedError(message.error ?? "not signed"));
  }
}

/** Options for {@linkcode MainThreadSigner}. */
export interface MainThreadSignerOptions {
  /** Signs the answer with the node's key (it checks `relayUrl` is the stage's relay). */
  authenticate: (challenge: string, relayUrl: string) => Promise<NostrEvent>;
}

/**
 * The main thread's side: answers a worker's requests, one at a time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey } from "nostr-tools";
 * import { MainThreadSigner } from "./worker_authenticator.ts";
 * import { authenticateWith } from "../protocol/nip42_auth.ts";
 * import { localNodeSigner } from "../identity/local_node_signer.ts";
 *
 * const signer = new MainThreadSigner({
 *   authenticate: authenticateWith(localNodeSigner(generateSecretKey())),
 * });
 * const reply = await signer.sign({ t: "auth-sign", id: 1, challenge: "c0", relayUrl: "ws://127.0.0.1:7100" });
 * assert.equal(reply.event?.kind, 22242);
 * ```
 */
export class MainThreadSigner {
  readonly #authenticate: (challenge: string, relayUrl: string) => Promise<NostrEvent>;
  #busy = false;

  constructor(options: MainThreadSignerOptions) {
    this.#authenticate = options.authenticate;
  }

  /** The reply to one request: the signed answer, or why not. */
  async sign(request: AuthSignRequest): Promise<AuthSignedMessage> {
    const { id } = request;
    if (typeof request.challenge !== "string" || typeof request.relayUrl !== "string") {
      return { t: "auth-signed", id, error: "a challenge and a relay URL are strings" };
    }
    // A relay challenges once per connection: more at once is a stage asking for signatures.
    if (this.#busy) return { t: "auth-signed", id, error: "one answer is being signed already" };
    this.#busy = true;
    try {
      return {
        t: "auth-signed",
        id,
        event: await this.#authenticate(request.challenge, request.relayUrl),
      };
    } catch (err) {
      return { t: "auth-signed", id, error: (err as Error).message };
    } finally {
      this.#busy = false;
    }
  }
}
