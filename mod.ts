/**
 * turnpike as a library: the protocol codecs, the pipeline stages and runtime, identity and
 * configuration of a Crosstown node (Nostr + Interledger + TOON), and its settlement layer (EVM
 * payment channels: chain client, balance proofs, claims, channel files). Every name is listed
 * here by hand: a module's helpers stay its own (`tests/unit/project/library_api_test.ts` fails on an
 * `export *` or a name from an internal folder). The roles start from their own entry points:
 * `@turnpike/turnpike/town` (`startTownNode`), `/provider` (`startProviderNode`) and
 * `/requester` (`startRequester`), so a user of the codecs loads none of the roles' code.
 *
 * @example An event signed, encoded as TOON and summarised without decoding it
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeEventToon, extractSummary, localNodeSigner } from "./mod.ts";
 * import { generateSecretKey } from "nostr-tools/pure";
 *
 * const signer = localNodeSigner(generateSecretKey());
 * const event = await signer.signEvent({ kind: 1, created_at: 1700000000, tags: [], content: "hi" });
 * const summary = extractSummary(encodeEventToon(event));
 * assert.deepEqual([summary.kind, summary.pubkey], [1, signer.pubkey]);
 * ```
 *
 * @example A pipeline over chunks it is given (a relay-source stage first reads a relay instead:
 * tests/interop/nostr_relay_source_test.ts runs one against the reference relay)
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPipeline, encodeEventToon, localNodeSigner } from "./mod.ts";
 * import { generateSecretKey } from "nostr-tools/pure";
 *
 * const signer = localNodeSigner(generateSecretKey());
 * const event = await signer.signEvent({ kind: 7000, created_at: 1, tags: [], content: "" });
 * await using pipeline = await createPipeline({
 *   input: [{ type: "toon", toon: encodeEventToon(event) }],
 *   stages: [{ name: "kind-extractor" }],
 * });
 * const outcome = await pipeline.run();
 * assert.deepEqual([outcome.ok, outcome.chunksOut], [true, 1]);
 * ```
 *
 * @module
 */

// The error classes' root and each layer's base (docs/ARCHITECTURE.md "Errors").
export { TurnpikeError } from "./protocol/turnpike_error.ts";
export { ProtocolError } from "./protocol/protocol_error.ts";
export { TransportError } from "./transport/transport_error.ts";
export { IdentityError } from "./identity/identity_error.ts";
export { ChainError } from "./chain/chain_error.ts";
export { StagesError } from "./stages/stages_error.ts";
export { PipelineError } from "./pipeline/pipeline_error.ts";

// Protocol: pure codecs and rules.
export { type EventTemplate, type NostrEvent } from "./protocol/nostr_event.ts";
export {
  type NodeSigner,
  NodeSignerError,
  type NodeSignerRequest,
} from "./protocol/node_signer.ts";
export {
  decodeEventToon,
  type DecodeEventToonOptions,
  encodeEventToon,
  ToonDecodeError,
} from "./protocol/toon_codec.ts";
export {
  computeEventId,
  EventValidationError,
  verifyEvent,
  type VerifyEventOptions,
} from "./protocol/event_verifier.ts";
export {
  DEFAULT_MAX_TOON_BYTES,
  extractSummary,
  type ExtractSummaryOptions,
  MAX_EVENT_KIND,
  summarizeEvent,
  ToonShallowParseError,
  type ToonSummary,
} from "./protocol/kind_extractor.ts";
export {
  type ClientMessage,
  DEFAULT_MAX_MESSAGE_BYTES,
  Nip01MessageError,
  parseClientMessage,
  type ParseNip01Options,
  parseRelayMessage,
  type RelayEventMessage,
  type RelayMessage,
  serializeClientMessage,
  serializeRelayMessage,
} from "./protocol/nip01_message.ts";
export {
  type FilterLimits,
  matchFilter,
  matchFilters,
  type NostrFilter,
  NostrFilterError,
  validateFilter,
} from "./protocol/nostr_filter.ts";
export {
  buildJobFeedback,
  buildJobRequest,
  buildJobResult,
  decryptJobParams,
  DEFAULT_MAX_QUOTED_REQUEST_BYTES,
  encryptJobParams,
  type FeedbackStatus,
  isJobRequestKind,
  isJobResultKind,
  isNip04Content,
  JOB_FEEDBACK_KIND,
  JOB_REQUEST_KINDS,
  JOB_RESULT_OFFSET,
  type JobAmount,
  type JobFeedbackOptions,
  type JobInput,
  type JobInputType,
  type JobParam,
  type JobRequestOptions,
  type JobResultOptions,
  Nip90JobError,
  type ParsedJobFeedback,
  type ParsedJobRequest,
  type ParsedJobResult,
  parseJobFeedback,
  parseJobRequest,
  parseJobResult,
} from "./protocol/nip90_job.ts";
export {
  JOB_KIND_NAMES,
  jobKindFromName,
  jobKindLabel,
  jobNameFromKind,
  UnknownJobKindError,
} from "./protocol/job_kind_names.ts";
export {
  buildHandlerAnnouncement,
  HANDLER_KIND,
  type HandlerAnnouncement,
  type HandlerAnnouncementOptions,
  type HandlerMetadata,
  type HandlerPrice,
  type HandlerSkill,
  MAX_HANDLER_CONTENT,
  MAX_HANDLER_SKILLS,
  Nip89HandlerError,
  parseHandlerAnnouncement,
} from "./protocol/nip89_handler.ts";
export {
  buildPeerInfo,
  type BuildPeerInfoOptions,
  MAX_PEER_INFO_CONTENT,
  negotiateSettlementChain,
  parsePeerInfo,
  PEER_INFO_KIND,
  type PeerInfo,
  PeerInfoError,
  validatePeerInfo,
} from "./protocol/peer_info.ts";
export {
  buildSpspRequest,
  buildSpspResponse,
  MAX_SPSP_CONTENT,
  parseSpspRequest,
  parseSpspResponse,
  SPSP_REQUEST_KIND,
  SPSP_RESPONSE_KIND,
  SpspMessageError,
  SpspNip47MessageError,
  type SpspRequest,
  type SpspRequestOptions,
  type SpspResponse,
  type SpspResponseOptions,
} from "./protocol/spsp_message.ts";
export {
  decodeIlpFulfill,
  decodeIlpPacket,
  decodeIlpPrepare,
  decodeIlpReject,
  decodeIlpReply,
  DEFAULT_MAX_ILP_PACKET_BYTES,
  encodeIlpFulfill,
  encodeIlpPrepare,
  encodeIlpReject,
  encodeIlpReply,
  ILP_ERROR,
  ILP_ERROR_CODES,
  type IlpCodecOptions,
  type IlpErrorCode,
  ilpErrorName,
  type IlpFulfill,
  type IlpPacket,
  IlpPacketError,
  IlpPacketType,
  type IlpPrepare,
  type IlpReject,
  type IlpReply,
  isFinalError,
  isIlpErrorCode,
  isRelativeError,
  isTemporaryError,
  isValidIlpAddress,
  MAX_ILP_DATA_BYTES,
  MAX_UINT64,
} from "./protocol/ilp_packet.ts";
export {
  checkFulfillment,
  conditionOf,
  fulfillmentFor,
  FulfillmentKey,
  type FulfillmentPair,
  IlpFulfillmentError,
  importFulfillmentKey,
} from "./protocol/ilp_fulfillment.ts";
export {
  authProtocolData,
  BTP_ERROR,
  type BtpAuthOptions,
  type BtpCodecOptions,
  BtpContentType,
  type BtpError,
  type BtpErrorFrame,
  btpErrorFrame,
  type BtpFrame,
  BtpFrameType,
  BtpMessageError,
  type BtpMessageFrame,
  type BtpProtocolData,
  type BtpTransferFrame,
  decodeBtpFrame,
  DEFAULT_MAX_BTP_FRAME_BYTES,
  encodeBtpFrame,
  getIlpData,
  getProtocolData,
  getTextProtocolData,
  ilpProtocolData,
} from "./protocol/btp_message.ts";
export {
  decodeIldcpRequest,
  decodeIldcpResponse,
  DEFAULT_ILDCP_EXPIRY_MS,
  encodeIldcpRequest,
  encodeIldcpResponse,
  ILDCP_DESTINATION,
  IldcpError,
  type IldcpRequestOptions,
  type IldcpResponse,
  isIldcpRequest,
  PEER_PROTOCOL_CONDITION,
  PEER_PROTOCOL_FULFILLMENT,
} from "./protocol/ildcp.ts";
export {
  DEFAULT_PRICE_PER_BYTE,
  type PricedEvent,
  priceEvent,
  priceToon,
  type RelayPricing,
  RelayPricingError,
} from "./protocol/relay_pricing.ts";
export {
  CLAIM_PROTOCOL_NAME,
  CLAIM_VERSION,
  type ClaimChannel,
  ClaimError,
  claimRejectData,
  type ClaimRejectReason,
  claimRejectReasonOf,
  decodeClaim,
  encodeClaim,
  MAX_CLAIM_BYTES,
  type PaymentChannelClaim,
  validateClaim,
} from "./protocol/payment_channel_claim.ts";
export {
  ChannelCosignError,
  type ChannelCosignErrorOptions,
  type CooperativeSettleRequest,
  COSIGN_PROTOCOL_NAME,
  COSIGN_VERSION,
  type CosignAnswer,
  type CosignChannelRef,
  type CosignLastClaim,
  type CosignReason,
  type CosignRefused,
  type CosignRequest,
  type CosignRequestBase,
  type CosignSigned,
  decodeCosignAnswer,
  decodeCosignRequest,
  encodeCosignAnswer,
  encodeCosignRequest,
  type LastClaimRequest,
  MAX_COSIGN_BYTES,
  refusalOf,
  validateCosignAnswer,
  validateCosignRequest,
  type WithdrawRequest,
} from "./protocol/payment_channel_cosign.ts";
export {
  type AssetAmountOptions,
  formatAssetAmount,
  formatRecordedAmount,
  type RecordedAmountOptions,
} from "./protocol/asset_amount.ts";

// Transport: the clients a program talks to a town with.
export {
  BtpAuthError,
  type BtpClaimOptions,
  type BtpClaimSigner,
  BtpClient,
  type BtpClientOptions,
  type BtpClientState,
  BtpClosedError,
  BtpConnectionError,
  type BtpPrepareHandler,
  BtpRemoteError,
  type BtpSendOptions,
  BtpTimeoutError,
} from "./transport/btp_client.ts";
export {
  queryRelay,
  type QueryRelayOptions,
  type RejectedRelayEvent,
  RelayQueryError,
  type RelayQueryErrorReason,
  type RelayQueryResult,
} from "./transport/relay_query.ts";

// Settlement: EVM payment channels (TokenNetwork contract, EIP-712 balance proofs, claims).
export {
  BASE_MAINNET_CHAIN,
  BASE_SEPOLIA_CHAIN,
  type ChainConfig,
  ChainConfigError,
  chainIdOf,
  LOCAL_CHAIN,
  MainnetConsentError,
  networkLabel,
  requireMainnetConsent,
  resolveChainConfig,
  type ResolveChainConfigOptions,
} from "./config/chain_config.ts";
export {
  type ChainNetwork,
  KNOWN_CHAINS,
  type KnownChain,
  knownChain,
  networkText,
} from "./config/known_chains.ts";
export {
  ChainIdMismatchError,
  connectChain,
  readTokenFacts,
  TokenContractError,
} from "./chain/chain_connection.ts";
export {
  type BalanceProof,
  BalanceProofSignatureError,
  type CooperativeSettle,
  type Hex,
  recoverBalanceProofSigner,
  recoverCooperativeSettleSigner,
  recoverWithdrawSigner,
  signBalanceProof,
  signCooperativeSettle,
  type SignOptions,
  signWithdraw,
  type TokenNetworkDomain,
  tokenNetworkDomain,
  type Withdraw,
} from "./chain/balance_proof.ts";
export {
  ClaimBeyondDepositError,
  ClaimSigner,
  type ClaimSignerOptions,
  signClaim,
  type SignClaimOptions,
  WithdrawBelowClaimsError,
} from "./chain/claim_signer.ts";
export {
  type ClaimAcceptance,
  ClaimVerifier,
  type ClaimVerifierOptions,
} from "./chain/claim_verifier.ts";
export { type ChannelBook, type ClaimBook } from "./state/channels/channel_book.ts";
export {
  ChainTxError,
  type ChannelEventRecord,
  InsufficientFundsError,
  InsufficientGasError,
  type OnChainChannel,
  type OnChainChannelState,
  type OnChainParticipant,
  type OpenChannelOptions,
  type OpenedChannel,
  type SetTotalWithdrawOptions,
  type SubmittedProof,
  type SubmittedProofs,
  TokenNetworkClient,
  type TokenNetworkClientOptions,
  TokenNetworkConfigError,
} from "./chain/token_network_client.ts";
export { SAFE_TOKEN_NETWORK_VERSION } from "./chain/token_network_version.ts";
export {
  ChannelFileError,
  channelFilePath,
  type ChannelRecord,
  type ChannelStatus,
  listChannels,
  readChannel,
  saveChannel,
  type SaveChannelOptions,
} from "./state/channels/channel_file.ts";
export {
  changeChannel,
  type ChannelWriteOptions,
  recordChannel,
} from "./state/channels/channel_writer.ts";
export {
  type AuditChange,
  AuditChangeError,
  AuditCommitError,
  type AuditEntry,
  AuditLog,
  type AuditLogOptions,
  openAuditLog,
  parseAuditMessage,
} from "./state/audit/audit_log.ts";

// Stages and their runtime.
export {
  type Chunk,
  type CorrelatedChunk,
  type EventChunk,
  type FailedChunk,
  isReportChunk,
  type LogChunk,
  type PrepareChunk,
  type PrepareOutcomeChunk,
  type SkillOutcomeChunk,
  type StageLogEntry,
  type SummaryChunk,
  type TemplateChunk,
  type ToonChunk,
} from "./stages/chunks.ts";
export {
  describePermissions,
  NO_PERMISSIONS,
  type SourceStage,
  type Stage,
  type StageFlags,
  StageOptionsError,
  type StagePermissions,
  type TransformStage,
} from "./stages/stage.ts";
export {
  DEFAULT_MAX_RECORD_BYTES,
  encodeRecord,
  type RecordDecoderOptions,
  RecordDecoderStream,
  RecordEncoderStream,
  RecordFramingError,
} from "./stages/record_framing.ts";
export { runStageAlone, type RunStageAloneOptions, stageMain } from "./stages/stage_runner.ts";
export {
  importStage,
  loadStage,
  StageExportError,
  type StageModuleRef,
  stageNames,
  UnknownStageError,
} from "./stages/stage_registry.ts";
export {
  DirectoryJobStore,
  type DirectoryJobStoreOptions,
  type JobRoute,
  JobRouteError,
  type JobStore,
  MemoryJobStore,
} from "./stages/job_store.ts";
export {
  createKindExtractor,
  type KindExtractorOptions,
  kindExtractorStage,
} from "./stages/kind_extractor.ts";
export {
  createToonEncoder,
  type ToonEncoderOptions,
  toonEncoderStage,
} from "./stages/toon_encoder.ts";
export {
  createRelaySource,
  RelayEventDecodeError,
  type RelaySourceChunk,
  type RelaySourceLogEntry,
  type RelaySourceOptions,
  relaySourceStage,
  RelaySubscriptionRefusedError,
} from "./stages/relay_source.ts";
export {
  CorrelatorInputError,
  type CorrelatorOptions,
  correlatorStage,
  createCorrelator,
} from "./stages/correlator.ts";
export {
  createSigner,
  InvalidTemplateError,
  type SignerEngine,
  type SignerOptions,
  signerStage,
  UnexpectedChunkError,
} from "./stages/signer.ts";
export {
  createIlpPrepareSink,
  IlpPrepareSinkInputError,
  type IlpPrepareSinkOptions,
  ilpPrepareSinkStage,
  type PrepareRetryOptions,
  type PrepareSender,
  type SinkInput,
  type SinkOutput,
} from "./stages/ilp_prepare_sink.ts";
export {
  createPipeline,
  type Pipeline,
  type PipelineMetricsSnapshot,
  type PipelineOptions,
  type PipelineOutcome,
  type PipelineRunOptions,
  PipelineSpecError,
  type PipelineStageSpec,
  type StageErrorRecord,
} from "./pipeline/pipeline.ts";
export {
  classifyStageError,
  StageCrashedError,
  StageError,
  StagePermissionError,
  StageRestartLimitError,
} from "./pipeline/stage_errors.ts";
export { StageMetrics, type StageMetricsSnapshot } from "./pipeline/stage_metrics.ts";

// Identity and configuration.
export {
  createMnemonic,
  type CreateMnemonicOptions,
  importMnemonic,
  InvalidMnemonicError,
  type MnemonicStrength,
} from "./identity/mnemonic.ts";
export {
  deriveNip06SecretKey,
  encodeNsec,
  type Nip06Options,
  parseSecretKey,
  type PublicIdentity,
  publicIdentity,
  SecretKeyFormatError,
} from "./identity/nip06_key.ts";
export {
  DEFAULT_KDF_PARAMS,
  openSecret,
  type SealedSecret,
  sealSecret,
  type VaultKdfParams,
  type VaultOptions,
} from "./identity/key_vault.ts";
export { CorruptVaultError, WrongPassphraseError } from "./identity/vault_errors.ts";
export {
  type CreateWalletOptions,
  createWalletRecord,
  EmptyPassphraseError,
  type UnlockedWallet,
  unlockWallet,
} from "./identity/wallet.ts";
export {
  readWalletFile,
  type SecretKind,
  WALLET_FILE_NAME,
  WalletExistsError,
  WalletFileError,
  walletFilePath,
  WalletNotFoundError,
  type WalletRecord,
  writeWalletFile,
  type WriteWalletFileOptions,
} from "./identity/wallet_file.ts";
export {
  localNodeSigner,
  MissingNodeKeyError,
  type NodeKeyOptions,
  nodeSignerOf,
} from "./identity/local_node_signer.ts";
export {
  openWorkerNodeSigner,
  type WorkerNodeSignerOptions,
} from "./identity/worker_node_signer.ts";
export { type WorkerKeySource } from "./identity/node_signer_worker.ts";
export {
  type ConfigFileContent,
  type LoadedSettings,
  loadSettings,
  type LoadSettingsOptions,
  type Network,
  parseConfigText,
  type Role,
  type SettingKey,
  type SettingsFlags,
  type TurnpikeSettings,
} from "./config/settings.ts";
export {
  DEFAULT_PROFILE,
  type EnvReader,
  resolveStateDir,
  type StateDirOptions,
} from "./config/state_dir.ts";
export {
  ConfigError,
  type ConfigErrorOptions,
  ConfigLayerError,
  InsecureUrlError,
  type SettingSource,
} from "./config/config_error.ts";
