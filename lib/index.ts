/**
 * The repo-sync library's public surface: the service API (api.ts), its building blocks and their
 * types. Nothing here runs; see api.ts for the operations.
 */

export { ConfigError, loadConfig, parseConfigText, DEFAULT_CONFIG_PATH } from "./config/load";
export type { Config, Target } from "./config/types";
export { RepoSyncError, isRepoSyncError } from "./errors";
export type { ErrorKind } from "./errors";
export { scanRepository } from "./scan/scanRepository";
export { resolveRef } from "./source/ref";
export type { RefKind, ResolvedRef } from "./source/ref";
export type { SecretScanResult } from "./scan/scanRepository";
export type { Finding } from "./scan/gitleaksReport";
export { SecretsFoundError, prepareSource } from "./sync/prepareSource";
export type { PreparedSource } from "./sync/prepareSource";
export { convergeTarget } from "./sync/converge";
export type { SyncResult, SyncAction } from "./sync/converge";
export { checkTarget, describeState, describeStatus, stateOf } from "./sync/status";
export type { RepoStatus, TargetState } from "./sync/status";
export type { SyncSummary } from "./sync/syncAll";
export { syncRepositoryToVm, syncRepositoryToAllVms, expectedState, scanBranch, checkRepoStatus, verifySync } from "./api";
export type { ApiOptions } from "./api";
