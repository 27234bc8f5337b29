/**
 * turnpike as a library: the protocol codecs, the pipeline stages and runtime, identity and
 * configuration of a Crosstown node (Nostr + Interledger + TOON), and its settlement layer (EVM
 * payment channels: chain client, balance proofs, claims, channel files).
 *
 * @example
 * ```ts
 * import { createPipeline, encodeEventToon, extractSummary } from "./mod.ts";
 *
 * const summary = extractSummary("kind: 1\n...");
 * await using pipeline = await createPipeline({
 *   stages: [{ name: "relay-source", flags: { relay: "ws://127.0.0.1:7100", kinds: "7000" } },
 *     { name: "kind-extractor" }],
 * });
 * ```
 *
 * @module
 */

// Protocol: pure codecs and rules.
export * from "./protocol/nostr_event.ts";
export * from "./protocol/node_signer.ts";
export * from "./protocol/toon_codec.ts";
export * from "./protocol/event_verifier.ts";
export * from "./protocol/kind_extractor.ts";
export * from "./protocol/nip01_message.ts";
export * from "./protocol/nostr_filter.ts";
export * from "./protocol/nip90_job.ts";
export * from "./protocol/job_kind_names.ts";
export * from "./protocol/nip89_handler.ts";
export * from "./protocol/peer_info.ts";
export * from "./protocol/spsp_message.ts";
export * from "./protocol/ilp_packet.ts";
export * from "./protocol/ilp_fulfillment.ts";
export * from "./protocol/btp_message.ts";
export * from "./protocol/ildcp.ts";
export * from "./protocol/relay_pricing.ts";
export * from "./protocol/payment_channel_claim.ts";
export * from "./protocol/payment_channel_cosign.ts";
export * from "./protocol/asset_amount.ts";

// Transport.
export * from "./transport/btp_client.ts";
export * from "./transport/nodelay_websocket.ts";
export * from "./transport/relay_query.ts";

// Settlement: EVM payment channels (TokenNetwork contract, EIP-712 balance proofs, claims).
export * from "./config/chain_config.ts";
export * from "./chain/balance_proof.ts";
export * from "./chain/claim_signer.ts";
export * from "./chain/claim_verifier.ts";
export * from "./chain/token_network_client.ts";
export * from "./chain/token_network_version.ts";
export * from "./state/channel_file.ts";
export * from "./state/audit_log.ts";

// Stages and their runtime.
export * from "./stages/chunks.ts";
export * from "./stages/stage.ts";
export * from "./stages/record_framing.ts";
export * from "./stages/stage_runner.ts";
export * from "./stages/stage_registry.ts";
export * from "./stages/job_store.ts";
export * from "./stages/kind_extractor.ts";
export * from "./stages/toon_encoder.ts";
export * from "./stages/relay_source.ts";
export * from "./stages/correlator.ts";
export * from "./stages/signer.ts";
export * from "./stages/ilp_prepare_sink.ts";
export * from "./pipeline/pipeline.ts";
export * from "./pipeline/stage_errors.ts";
export * from "./pipeline/stage_metrics.ts";

// Identity, configuration, state.
export * from "./identity/mnemonic.ts";
export * from "./identity/nip06_key.ts";
export * from "./identity/key_vault.ts";
export * from "./identity/wallet.ts";
export * from "./identity/wallet_file.ts";
export * from "./identity/local_node_signer.ts";
export { answerSignerRequest } from "./identity/signer_request_answer.ts";
export * from "./identity/worker_node_signer.ts";
export * from "./config/settings.ts";
export * from "./config/state_dir.ts";
export * from "./config/config_error.ts";
export * from "./state/atomic_file.ts";
