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
  const cache = opts.cacheDir ?? cacheDir();
  const src = await resolveSource({ repoPath: repo.mainRepoPath, branch: opts.branch ?? repo.defaultBranch, pull: opts.pull });
  for (const w of src.warnings) opts.logger.warn(w);

  let treeDir: string;
  const extraSources: string[] = [];
  if (repo.sourceMode === "worktree") {
    const dirty = await modifiedTrackedFiles(repo.mainRepoPath);
    if (dirty.length > 0 && !repo.allowDirty) {
      throw new RepoSyncError("source", `the checkout ${repo.mainRepoPath} has uncommitted changes to tracked files (${dirty.slice(0, 5).join(", ")}${dirty.length > 5 ? ", ..." : ""}); refusing to push a tree that no commit describes`, {
        hint: "commit or stash them, use source_mode: commit, or set repository.allow_dirty: true",
      });
    }
    treeDir = repo.mainRepoPath;
  } else {
    treeDir = await exportCommitTree(repo.mainRepoPath, src.commit, cache);
    if (!repo.excludeDotGit) extraSources.push(path.join(repo.mainRepoPath, ".git"));
  }

  let scan: SecretScanResult | undefined;
  if (repo.secretScanning.enabled) {
    scan = await scanRepository(treeDir, {
      configPath: repo.secretScanning.configPath,
      // A worktree can change between runs without a new commit: only exported trees are cached.
      cacheKey: repo.sourceMode === "commit" ? src.commit : undefined,
      cacheDir: cache,
    });
    if (scan.hasSecrets) {
      opts.logger.alert({
        alert: "secrets_found",
        tool: "gitleaks",
        repo: repo.mainRepoPath,
        commit: src.commit,
        blocked: repo.secretScanning.blockOnSecrets,
        count: scan.findings.length,
        findings: scan.findings.map((f) => ({ file: f.file, line: f.line, rule: f.rule })),
      });
      if (repo.secretScanning.blockOnSecrets) throw new SecretsFoundError(src.commit, scan.findings);
      opts.logger.warn(`secrets found in ${src.commit.slice(0, 12)} but block_on_secrets is false: pushing anyway`);
    }
  }

  return {
    repoPath: repo.mainRepoPath,
    branch: src.branch,
    commit: src.commit,
    treeDir,
    transfer: {
      sourceDir: treeDir,
      extraSources,
      excludes: repo.rsyncExcludes,
      excludeDotGit: repo.sourceMode === "worktree" && repo.excludeDotGit,
      maxDelete: repo.maxDelete,
      ioTimeoutS: repo.ioTimeoutS,
    },
    scan,
    warnings: src.warnings,
  };
}
