/**
 * The original service's API (sync_repository_to_vm, sync_repository_to_all_vms, check_repo_status,
 * verify_sync, scan_repository) over configs/config.yml: what the CLI runs, and what a script that
 * imports the library calls.
 */
import { DEFAULT_CONFIG_PATH, loadConfig } from "./config/load";
import type { Config, SourceSettings } from "./config/types";
import { quietLogger, stderrLogger, Logger } from "./log";
import { cacheDir } from "./paths";
import { resolveSource } from "./source/git";
import { refOrBranch } from "./source/ref";
import type { SyncResult } from "./sync/converge";
import { mapLimit } from "./sync/pool";
import type { IncrementalScanResult } from "./scan/scanIncremental";
import { prepareSource, scanSourceTree } from "./sync/prepareSource";
import { CommitTrees } from "./sync/keptRelease";
import { checkTarget, CheckOptions, Expected, RepoStatus } from "./sync/status";
import { SyncSummary, syncTargets } from "./sync/syncAll";
import { selectTargets } from "./sync/targets";

/** Common options: which config, which branch or ref, where messages go. */
export interface ApiOptions {
  configPath?: string;
  /** An already loaded config (wins over configPath). */
  config?: Config;
  branch?: string;
  /** A branch, tag or commit SHA (full or a unique prefix) to deploy; refused together with `branch`. */
  ref?: string;
  logger?: Logger;
}

function configOf(opts: ApiOptions): Config {
  return opts.config ?? loadConfig(opts.configPath ?? DEFAULT_CONFIG_PATH);
}

/** Syncs one VM (pull, hash, scan, export, push, `.sync_rev`). Throws when that VM failed. */
export async function syncRepositoryToVm(vm: string, opts: ApiOptions & { force?: boolean } = {}): Promise<SyncResult> {
  const summary = await syncTargets(configOf(opts), { vms: [vm], branch: opts.branch, ref: opts.ref, force: opts.force, logger: opts.logger ?? stderrLogger });
  const r = summary.results[0];
  if (r.error) throw r.error;
  return r;
}

/** Syncs every push target in parallel; failures are reported per VM in the summary. */
export async function syncRepositoryToAllVms(opts: ApiOptions & { force?: boolean; vms?: string[] } = {}): Promise<SyncSummary> {
  return syncTargets(configOf(opts), { vms: opts.vms, branch: opts.branch, ref: opts.ref, force: opts.force, logger: opts.logger ?? stderrLogger });
}

/**
 * What a sync of the branch tip (as it is: no pull) would push, built by the same steps as the sync
 * and the Pulumi provider (dirty-worktree and own-name refusals, export, history) minus the secret
 * gate: so `status`, `verify` and `pulumi preview` compare a target with the same tree.
 */
export async function expectedState(repo: SourceSettings, opts: { branch?: string; ref?: string; logger?: Logger; cacheDir?: string } = {}): Promise<Expected> {
  return prepareSource(repo, { branch: opts.branch, ref: opts.ref, pull: false, gate: false, logger: opts.logger ?? quietLogger, cacheDir: opts.cacheDir });
}

/**
 * The secret gate over what `sync` would push now (the branch tip, no pull), as sync runs it:
 * incremental, or every file with `full` (which also rebuilds the record of files found clean).
 */
export async function scanBranch(config: Config, opts: { branch?: string; ref?: string; full?: boolean } = {}): Promise<IncrementalScanResult> {
  const repo = config.repository;
  const src = await resolveSource({ repoPath: repo.mainRepoPath, branch: opts.branch ?? repo.defaultBranch, ref: refOrBranch(opts), pull: false });
  return scanSourceTree(repo, src.commit, cacheDir(), opts.full, src.branch || repo.defaultBranch);
}

/**
 * Releases layout: the tree each kept release's commit should hold, to check them all (a release
 * tampered through a file it shares with `current` still has a complete marker); built once per commit.
 */
function keptTrees(config: Config, expected: Expected, logger: Logger = quietLogger): CheckOptions["keptTree"] {
  if (!config.targets.some((t) => t.layout === "releases")) return undefined;
  const trees = new CommitTrees(config.repository, logger);
  return async (commit) => (commit === expected.commit ? expected.transfer : (await trees.tree(commit))?.transfer);
}

/** Reads one VM's `.sync_rev` (host key verified) and checks its tree (and, in releases, each kept one) for drift. */
export async function checkRepoStatus(vm: string, opts: ApiOptions & CheckOptions = {}): Promise<RepoStatus> {
  const config = configOf(opts);
  const [target] = selectTargets(config, [vm]);
  const expected = await expectedState(config.repository, opts);
  return checkTarget(target, expected, { keptTree: keptTrees(config, expected), ...opts });
}

/** Checks every push target concurrently; `ok` when all hold the expected commit with no drift. */
export async function verifySync(opts: ApiOptions & CheckOptions & { vms?: string[] } = {}): Promise<{ ok: boolean; commit: string; statuses: RepoStatus[] }> {
  const config = configOf(opts);
  const targets = selectTargets(config, opts.vms);
  const expected = await expectedState(config.repository, opts);
  const keptTree = keptTrees(config, expected);
  const statuses = await mapLimit(targets, Math.max(config.repository.parallelism, 8), (t) => checkTarget(t, expected, { keptTree, ...opts }));
  return { ok: statuses.every((s) => s.inSync), commit: expected.commit, statuses };
}
