/**
 * Everything that happens once per run on the source side, before any VM is touched: pull, resolve
 * the commit, export its exact tree, and pass the secret gate on that tree.
 */
import * as path from "node:path";
import type { RepositorySettings } from "../config/types";
import { RepoSyncError } from "../errors";
import type { Logger } from "../log";
import { cacheDir } from "../paths";
import { formatFindings, Finding } from "../scan/gitleaksReport";
import { scanRepository, SecretScanResult } from "../scan/scanRepository";
import { exportCommitTree } from "../source/exportTree";
import { modifiedTrackedFiles, resolveSource } from "../source/git";
import type { TransferSpec } from "../transfer/rsyncArgs";

/** The source side of a run, ready to push. */
export interface PreparedSource {
  repoPath: string;
  branch: string;
  commit: string;
  /** Folder whose contents are pushed. */
  treeDir: string;
  /** How rsync sends it (source folder, excludes, limits). */
  transfer: TransferSpec;
  scan?: SecretScanResult;
  warnings: string[];
}

/** Secrets were found and block the sync; `findings` carry no secret material. */
export class SecretsFoundError extends RepoSyncError {
  readonly findings: Finding[];
  readonly commit: string;
  constructor(commit: string, findings: Finding[]) {
    super("secrets", `secret scan (gitleaks) found ${findings.length} secret${findings.length === 1 ? "" : "s"} in commit ${commit.slice(0, 12)}; nothing was pushed to any VM:\n${formatFindings(findings)}`, {
      hint: "remove the secret from the repository (and rotate it); for a false positive add its fingerprint to .gitleaksignore or an allowlist in the rules file (repository.secret_scanning.config_path)",
    });
    this.name = "RepoSyncError";
    this.findings = findings;
    this.commit = commit;
  }
}

/** Options for {@link prepareSource}. */
export interface PrepareOptions {
  branch?: string;
  /** Pull from origin first (default true). */
  pull?: boolean;
  logger: Logger;
  cacheDir?: string;
}

/** Pull, hash, export, scan: throws SecretsFoundError (after logging an alert) when blocked. */
export async function prepareSource(repo: RepositorySettings, opts: PrepareOptions): Promise<PreparedSource> {
  const src = await resolveSource({ repoPath: repo.mainRepoPath, branch: opts.branch ?? repo.defaultBranch, pull: opts.pull });
  for (const w of src.warnings) opts.logger.warn(w);
  const prepared = await prepareCommit(repo, src.commit, opts);
  return { ...prepared, branch: src.branch, warnings: src.warnings };
}

/**
 * Export and scan one known commit (no pull): what the Pulumi provider does before it pushes, so
 * that no push escapes the gate even when the program was bypassed. Both steps are cached per commit.
 */
export async function prepareCommit(repo: RepositorySettings, commit: string, opts: PrepareOptions): Promise<PreparedSource> {
  const cache = opts.cacheDir ?? cacheDir();
  let treeDir: string;
  if (repo.sourceMode === "worktree") {
    const dirty = await modifiedTrackedFiles(repo.mainRepoPath);
    if (dirty.length > 0 && !repo.allowDirty) {
      throw new RepoSyncError("source", `the checkout ${repo.mainRepoPath} has uncommitted changes to tracked files (${dirty.slice(0, 5).join(", ")}${dirty.length > 5 ? ", ..." : ""}); refusing to push a tree that no commit describes`, {
        hint: "commit or stash them, use source_mode: commit, or set repository.allow_dirty: true",
      });
    }
    treeDir = repo.mainRepoPath;
  } else {
    treeDir = await exportCommitTree(repo.mainRepoPath, commit, cache);
  }

  let scan: SecretScanResult | undefined;
  if (repo.secretScanning.enabled) {
    scan = await scanRepository(treeDir, {
      configPath: repo.secretScanning.configPath,
      // A worktree can change between runs without a new commit: only exported trees are cached.
      cacheKey: repo.sourceMode === "commit" ? commit : undefined,
      cacheDir: cache,
    });
    if (scan.hasSecrets) {
      opts.logger.alert({
        alert: "secrets_found",
        tool: "gitleaks",
        repo: repo.mainRepoPath,
        commit,
        blocked: repo.secretScanning.blockOnSecrets,
        count: scan.findings.length,
        findings: scan.findings.map((f) => ({ file: f.file, line: f.line, rule: f.rule })),
      });
      if (repo.secretScanning.blockOnSecrets) throw new SecretsFoundError(commit, scan.findings);
      opts.logger.warn(`secrets found in ${commit.slice(0, 12)} but block_on_secrets is false: pushing anyway`);
    }
  }

  return {
    repoPath: repo.mainRepoPath,
    branch: repo.defaultBranch,
    commit,
    treeDir,
    transfer: transferSpecFor(repo, treeDir),
    scan,
    warnings: [],
  };
}

/**
 * How a tree is pushed: an exported commit tree gets the repo's `.git` beside it when
 * `exclude_dot_git` is false; a worktree is pushed without `.git` unless asked.
 */
export function transferSpecFor(repo: RepositorySettings, treeDir: string): TransferSpec {
  const worktree = repo.sourceMode === "worktree";
  return {
    sourceDir: treeDir,
    extraSources: !worktree && !repo.excludeDotGit ? [path.join(repo.mainRepoPath, ".git")] : [],
    excludes: repo.rsyncExcludes,
    excludeDotGit: worktree && repo.excludeDotGit,
    maxDelete: repo.maxDelete,
    ioTimeoutS: repo.ioTimeoutS,
  };
}
