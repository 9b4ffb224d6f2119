/**
 * The repo-sync library: the original service's API (sync_repository_to_vm, sync_repository_to_all_vms,
 * check_repo_status, verify_sync, scan_repository) in TypeScript, over configs/config.yml.
 */
import { DEFAULT_CONFIG_PATH, loadConfig } from "./config/load";
import type { Config } from "./config/types";
import { stderrLogger, Logger } from "./log";
import { cacheDir } from "./paths";
import { exportHistory } from "./source/exportHistory";
import { exportCommitTree } from "./source/exportTree";
import { resolveSource, SourceState } from "./source/git";
import type { SyncResult } from "./sync/converge";
import { mapLimit } from "./sync/pool";
import type { IncrementalScanResult } from "./scan/scanIncremental";
import { scanSourceTree, transferSpecFor } from "./sync/prepareSource";
import { checkTarget, CheckOptions, Expected, RepoStatus } from "./sync/status";
import { selectTargets, SyncSummary, syncTargets } from "./sync/syncAll";

export { ConfigError, loadConfig, parseConfigText, DEFAULT_CONFIG_PATH } from "./config/load";
export type { Config, Target } from "./config/types";
export { RepoSyncError, isRepoSyncError } from "./errors";
export type { ErrorKind } from "./errors";
export { scanRepository } from "./scan/scanRepository";
export type { SecretScanResult } from "./scan/scanRepository";
export type { Finding } from "./scan/gitleaksReport";
export { SecretsFoundError, prepareSource } from "./sync/prepareSource";
export type { PreparedSource } from "./sync/prepareSource";
export { convergeTarget } from "./sync/converge";
export type { SyncResult, SyncAction } from "./sync/converge";
export { checkTarget, describeState, describeStatus, stateOf } from "./sync/status";
export type { RepoStatus, TargetState } from "./sync/status";
export type { SyncSummary } from "./sync/syncAll";

/** Common options: which config, which branch, where messages go. */
export interface ApiOptions {
  configPath?: string;
  /** An already loaded config (wins over configPath). */
  config?: Config;
  branch?: string;
  logger?: Logger;
}

function configOf(opts: ApiOptions): Config {
  return opts.config ?? loadConfig(opts.configPath ?? DEFAULT_CONFIG_PATH);
}

/** Syncs one VM (pull, hash, scan, export, push, `.sync_rev`). Throws when that VM failed. */
export async function syncRepositoryToVm(vm: string, opts: ApiOptions & { force?: boolean } = {}): Promise<SyncResult> {
  const summary = await syncTargets(configOf(opts), { vms: [vm], branch: opts.branch, force: opts.force, logger: opts.logger ?? stderrLogger });
  const r = summary.results[0];
  if (r.error) throw r.error;
  return r;
}

/** Syncs every push target in parallel; failures are reported per VM in the summary. */
export async function syncRepositoryToAllVms(opts: ApiOptions & { force?: boolean; vms?: string[] } = {}): Promise<SyncSummary> {
  return syncTargets(configOf(opts), { vms: opts.vms, branch: opts.branch, force: opts.force, logger: opts.logger ?? stderrLogger });
}

/**
 * The expected state without side effects on the source: the branch tip as it is (no pull) and the
 * way its exported tree would be pushed (for the drift check).
 */
export async function expectedState(config: Config, branch?: string): Promise<Expected> {
  const repo = config.repository;
  const { src, treeDir } = await branchTree(config, branch);
  const gitDir = repo.excludeDotGit ? undefined : await exportHistory(repo.mainRepoPath, src.commit, src.branch, cacheDir());
  const transfer = transferSpecFor(repo, treeDir, gitDir);
  return { commit: src.commit, transfer };
}

/**
 * The secret gate over what `sync` would push now (the branch tip, no pull), as sync runs it:
 * incremental, or every file with `full` (which also rebuilds the record of files found clean).
 */
export async function scanBranch(config: Config, opts: { branch?: string; full?: boolean } = {}): Promise<IncrementalScanResult> {
  const { src, treeDir } = await branchTree(config, opts.branch);
  return scanSourceTree(config.repository, src.commit, treeDir, cacheDir(), opts.full);
}

/** The branch tip as it is (no pull) and the folder holding what sync would push of it. */
async function branchTree(config: Config, branch?: string): Promise<{ src: SourceState; treeDir: string }> {
  const repo = config.repository;
  const src = await resolveSource({ repoPath: repo.mainRepoPath, branch: branch ?? repo.defaultBranch, pull: false });
  const treeDir = repo.sourceMode === "worktree" ? repo.mainRepoPath : await exportCommitTree(repo.mainRepoPath, src.commit, cacheDir());
  return { src, treeDir };
}

/** Reads one VM's `.sync_rev` (host key verified) and checks its tree for drift. */
export async function checkRepoStatus(vm: string, opts: ApiOptions & CheckOptions = {}): Promise<RepoStatus> {
  const config = configOf(opts);
  const [target] = selectTargets(config, [vm]);
  return checkTarget(target, await expectedState(config, opts.branch), opts);
}

/** Checks every push target concurrently; `ok` when all hold the expected commit with no drift. */
export async function verifySync(opts: ApiOptions & CheckOptions & { vms?: string[] } = {}): Promise<{ ok: boolean; commit: string; statuses: RepoStatus[] }> {
  const config = configOf(opts);
  const targets = selectTargets(config, opts.vms);
  const expected = await expectedState(config, opts.branch);
  const statuses = await mapLimit(targets, Math.max(config.repository.parallelism, 8), (t) => checkTarget(t, expected, opts));
  return { ok: statuses.every((s) => s.inSync), commit: expected.commit, statuses };
}
