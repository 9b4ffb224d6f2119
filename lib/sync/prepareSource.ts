/**
 * Everything that happens once per run on the source side, before any VM is touched: pull, resolve
 * the commit, export its exact tree, and pass the secret gate on that tree.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { SourceSettings } from "../config/types";
import { RepoSyncError } from "../errors";
import type { Logger } from "../log";
import { cacheDir } from "../paths";
import { formatFindings, Finding } from "../scan/gitleaksReport";
import { scanHistory } from "../scan/scanHistory";
import { IncrementalScanResult, folderTree, ScanTree, scanTreeIncremental } from "../scan/scanIncremental";
import type { SecretScanResult } from "../scan/scanRepository";
import { exportHistory } from "../source/exportHistory";
import { writeTreeEntries } from "../source/blobWriter";
import { exportCommitTree, exportRoot } from "../source/exportTree";
import { modifiedTrackedFiles, resolveSource } from "../source/git";
import { RefKind, refOrBranch } from "../source/ref";
import { blobBytes } from "../source/runGit";
import { displayPath, listCommitTree, TreeRow } from "../source/treeListing";
import { snapshotWorktree } from "../source/worktreeSnapshot";
import { isOwnName, MANAGED_FILE, MARKER_FILE } from "../config/ownFiles";
import type { TransferSpec } from "../transfer/rsyncArgs";

/** The source side of a run, ready to push. */
export interface PreparedSource {
  repoPath: string;
  /** The branch deployed ("" when a tag or a commit was named). */
  branch: string;
  /** What named the commit, when resolved from a ref or a branch (see source/git.ts SourceState). */
  ref?: string;
  refKind?: RefKind;
  commit: string;
  /** Folder whose contents are pushed. */
  treeDir: string;
  /** How rsync sends it (source folder, excludes, limits). */
  transfer: TransferSpec;
  /** File times are derived from blob hashes (a commit's export), not the checkout's (worktree). */
  mtimesFromBlobs: boolean;
  /** rsync's quick check cannot be trusted for this tree: compare contents (a worktree file edited with its size and mtime put back). */
  quickCheckBlind?: boolean;
  scan?: SecretScanResult;
  warnings: string[];
}

/**
 * Secrets were found and block the sync; `findings` carry no secret material. The message lists each
 * finding with its gitleaks fingerprint, the line `.gitleaksignore` takes.
 */
export class SecretsFoundError extends RepoSyncError {
  readonly findings: Finding[];
  readonly commit: string;
  /** `where` names what was scanned when it is not the commit itself (a worktree's snapshot). */
  constructor(commit: string, findings: Finding[], where = `commit ${commit.slice(0, 12)}`) {
    super("secrets", `secret scan (gitleaks) found ${findings.length} secret${findings.length === 1 ? "" : "s"} in ${where}; nothing was pushed to any VM:\n${formatFindings(findings)}`, {
      hint: "remove the secret from the repository (and rotate it); for a false positive, commit its fingerprint (the text after `fingerprint`, one per line) to .gitleaksignore at the top of the repository, or add an allowlist to the rules file (repository.secret_scanning.config_path)",
    });
    this.findings = findings;
    this.commit = commit;
  }
}

/** Options for {@link prepareSource}. */
export interface PrepareOptions {
  branch?: string;
  /** A branch, tag or commit (source/ref.ts); refused together with `branch`. */
  ref?: string;
  /** Pull from origin first (default true). */
  pull?: boolean;
  /** With `pull`: fetch origin's branch and deploy it, leaving the checkout as it is (source/git.ts). */
  fetchOnly?: boolean;
  logger: Logger;
  cacheDir?: string;
  /** Scan every file again, not only those not found clean before (rules edited by hand, doubt). */
  fullScan?: boolean;
  /**
   * false: build what would be pushed without running the secret gate (`status`/`verify` compare a
   * target with it; whether it may be pushed is `sync`'s question). Default true.
   */
  gate?: boolean;
}

/**
 * The ref of a run (refused together with a branch), or undefined. A ref with `source_mode: worktree`
 * is refused: that mode pushes the checkout as it is, so `.sync_rev` would name a commit whose tree
 * did not land.
 */
export function refOfRun(repo: Pick<SourceSettings, "sourceMode">, opts: Pick<PrepareOptions, "branch" | "ref">): string | undefined {
  const ref = refOrBranch(opts);
  if (ref !== undefined && repo.sourceMode === "worktree") {
    throw new RepoSyncError("config", `ref ${JSON.stringify(ref)} cannot be deployed with repository.source_mode: worktree, which pushes the checkout as it is`, {
      hint: "check the ref out and deploy the worktree without --ref, or set repository.source_mode: commit",
    });
  }
  return ref;
}

/** Pull, hash, export, scan: throws SecretsFoundError (after logging an alert) when blocked. */
export async function prepareSource(repo: SourceSettings, opts: PrepareOptions): Promise<PreparedSource> {
  const ref = refOfRun(repo, opts);
  const src = await resolveSource({ repoPath: repo.mainRepoPath, branch: opts.branch ?? repo.defaultBranch, ref, pull: opts.pull, fetchOnly: opts.fetchOnly });
  for (const w of src.warnings) opts.logger.warn(w);
  // A tag's or a commit's pushed .git (exclude_dot_git: false) names the default branch, as before refs.
  const prepared = await prepareCommit(repo, src.commit, { ...opts, branch: src.branch || repo.defaultBranch });
  return { ...prepared, branch: src.branch, ref: src.ref, refKind: src.refKind, warnings: src.warnings };
}

/**
 * Export and scan one known commit (no pull): what the Pulumi provider does before it pushes, so
 * that no push escapes the gate even when the program was bypassed. Both steps are cached per commit.
 */
export async function prepareCommit(repo: SourceSettings, commit: string, opts: PrepareOptions): Promise<PreparedSource> {
  const cache = opts.cacheDir ?? cacheDir();
  const gated = repo.secretScanning.enabled && opts.gate !== false;
  const tree = await sourceTree(repo, commit, cache, opts.logger, opts.fullScan);
  // Export and scan side by side: a new commit's few changed files are scanned straight from git.
  const [treeDir, treeScan] = await Promise.all([tree.dir, gated ? scanTree(repo, tree, cache, opts.fullScan) : undefined]);
  // The checkout's own .git holds more than the commit's history (other branches, stashes, reflogs,
  // remote URLs with credentials): a .git built for this commit is pushed instead, and scanned.
  const gitDir = repo.excludeDotGit ? undefined : await exportHistory(repo.mainRepoPath, commit, opts.branch ?? repo.defaultBranch, cache);

  let scan: SecretScanResult | undefined;
  if (gated) {
    scan = await withHistory(repo, treeScan as IncrementalScanResult, commit, treeDir, gitDir, cache);
    if (scan.hasSecrets) {
      opts.logger.alert({
        alert: "secrets_found",
        tool: "gitleaks",
        repo: repo.mainRepoPath,
        commit,
        blocked: repo.secretScanning.blockOnSecrets,
        count: scan.findings.length,
        findings: scan.findings.map((f) => ({ file: f.file, line: f.line, rule: f.rule, fingerprint: f.fingerprint })),
      });
      if (repo.secretScanning.blockOnSecrets) {
        throw new SecretsFoundError(commit, scan.findings, repo.sourceMode === "worktree" ? `the checkout ${repo.mainRepoPath} as it is (worktree mode, on commit ${commit.slice(0, 12)}; untracked files included)` : undefined);
      }
      opts.logger.warn(`secrets found in ${commit.slice(0, 12)} but block_on_secrets is false: pushing anyway`);
    }
  }

  return {
    repoPath: repo.mainRepoPath,
    branch: repo.defaultBranch,
    commit,
    treeDir,
    transfer: transferSpecFor(repo, treeDir, gitDir),
    mtimesFromBlobs: repo.sourceMode !== "worktree",
    ...(tree.quickCheckBlind ? { quickCheckBlind: true } : {}),
    scan,
    warnings: [],
  };
}

/**
 * The tree a run pushes and the gate scans, with its regular files named by content: a commit's export
 * (the listing is checked before anything is written; a commit's few new files are scanned straight
 * from git, so the scan need not wait for the export), or a snapshot of the worktree. `full` (a full
 * scan) also checks a cached export byte for byte.
 */
export async function sourceTree(repo: SourceSettings, commit: string, cache: string, logger?: Logger, full?: boolean): Promise<ScanTree> {
  if (repo.sourceMode === "worktree") {
    const dirty = await modifiedTrackedFiles(repo.mainRepoPath);
    if (dirty.length > 0 && !repo.allowDirty) {
      throw new RepoSyncError("source", `the checkout ${repo.mainRepoPath} has uncommitted changes to tracked files (${dirty.slice(0, 5).join(", ")}${dirty.length > 5 ? ", ..." : ""}); refusing to push a tree that no commit describes`, {
        hint: "commit or stash them, use source_mode: commit, or set repository.allow_dirty: true",
      });
    }
    refuseOwnNames(fs.readdirSync(repo.mainRepoPath), `the checkout ${repo.mainRepoPath}`);
    const snap = await snapshotWorktree(repo.mainRepoPath, path.join(cache, "worktrees", recordIdOf(repo, cache)), cache);
    return { ...folderTree(snap.dir, snap.entries), quickCheckBlind: snap.quickCheckBlind };
  }
  // The export's own git and file work starts at once; nothing of the commit is written before the
  // listing passed its checks (crafted paths, repo-sync's own names).
  const rowsP = listCommitTree(repo.mainRepoPath, commit).then((rows) => {
    refuseOwnNames([...new Set(rows.map((r) => displayPath(r.path.split("/")[0])))], `commit ${commit.slice(0, 12)}`);
    return rows;
  });
  const dir = exportCommitTree(repo.mainRepoPath, commit, cache, { rows: rowsP, full, warn: (m) => logger?.warn(m) });
  dir.catch(() => undefined); // awaited by the caller; a refusal surfaces first through the listing below
  const rows = await rowsP;
  await warnAboutFilters(repo.mainRepoPath, rows, logger);
  const ignore = rows.find((r) => r.path === ".gitleaksignore" && r.mode !== "120000" && r.mode !== "160000");
  const byPath = new Map(rows.map((r) => [r.path, r]));
  return {
    entries: rows.filter((r) => r.mode !== "160000").map((r) => ({ path: r.path, id: r.hash, ...(r.mode === "120000" ? { link: true } : {}) })),
    dir,
    ignoreFile: ignore ? (await blobBytes(repo.mainRepoPath, ignore.hash)).toString("utf8") : undefined,
    // A symlink's target is written as a file's text: that is what the gate reads of a link.
    writeFiles: (files, into) => writeTreeEntries(repo.mainRepoPath, into, files.map((e) => ({ ...(byPath.get(e.path) as TreeRow), mode: e.link ? "100644" : (byPath.get(e.path) as TreeRow).mode }))),
  };
}

/**
 * The secret gate over a source tree. Only files not found clean before are scanned (see
 * scan/scanIncremental.ts); a worktree's files are named by their content hash like a commit's blobs.
 */
export function scanTree(repo: SourceSettings, tree: ScanTree, cache: string, full?: boolean): Promise<IncrementalScanResult> {
  const opts = { configPath: repo.secretScanning.configPath, ignoreInlineAllow: repo.secretScanning.ignoreInlineAllow, cacheDir: cache, full };
  return scanTreeIncremental(tree, recordIdOf(repo, cache), opts);
}

/**
 * The gate over what a run would push for `commit`: {@link sourceTree} then {@link scanTree}, and the
 * pushed history's scan when `.git` goes along (exclude_dot_git: false), as a sync runs them.
 */
export async function scanSourceTree(repo: SourceSettings, commit: string, cache: string, full?: boolean, branch?: string): Promise<IncrementalScanResult> {
  const tree = await sourceTree(repo, commit, cache, undefined, full);
  const [treeDir, scan] = await Promise.all([tree.dir, scanTree(repo, tree, cache, full)]);
  const gitDir = repo.excludeDotGit ? undefined : await exportHistory(repo.mainRepoPath, commit, branch ?? repo.defaultBranch, cache);
  // The folder gitleaks read is a private copy: what a person edits (and commits a .gitleaksignore to) is the repository.
  return { ...(await withHistory(repo, scan, commit, treeDir, gitDir, cache)), scannedPath: repo.mainRepoPath };
}

/** The tree's scan result with the pushed history's findings added (none when no `.git` is pushed). */
async function withHistory<T extends SecretScanResult>(repo: SourceSettings, scan: T, commit: string, treeDir: string, gitDir: string | undefined, cache: string): Promise<T> {
  if (!gitDir) return scan;
  const history = (await scanHistory(gitDir, commit, { rulesPath: scan.configPath, ignoreDir: treeDir, cacheDir: cache, ignoreInlineAllow: repo.secretScanning.ignoreInlineAllow })).findings;
  return { ...scan, findings: [...scan.findings, ...history], hasSecrets: scan.hasSecrets || history.length > 0 };
}

function recordIdOf(repo: SourceSettings, cache: string): string {
  return path.basename(exportRoot(cache, repo.mainRepoPath));
}

/**
 * The export holds blobs as git stores them: a file under a clean/smudge filter (Git LFS, git-crypt)
 * lands as its pointer or ciphertext, a `text eol=crlf` file with LF line ends. Said once per run when
 * the commit's attributes ask for such a conversion.
 */
async function warnAboutFilters(repoPath: string, rows: TreeRow[], logger?: Logger): Promise<void> {
  if (!logger) return;
  const attrs = rows.filter((r) => (r.path === ".gitattributes" || r.path.endsWith("/.gitattributes")) && r.mode !== "120000" && r.mode !== "160000");
  if (attrs.length === 0) return;
  const converts = /(^|\s)(filter=|eol=|ident(\s|$)|working-tree-encoding=|text(\s|$|=))/m;
  const found = await Promise.all(attrs.map((r) => blobBytes(repoPath, r.hash).then((b) => converts.test(b.toString("latin1")))));
  if (found.some(Boolean)) {
    logger.warn("the commit's .gitattributes ask for a conversion at checkout (filter, text/eol, ident or working-tree-encoding): repo-sync pushes files as git stores them (LF line ends, LFS pointers, encrypted bytes), with no such conversion; see README, 'What is pushed'");
  }
}

/**
 * A tree holding one of repo-sync's own names at its top would overwrite a target's marker, or plant a
 * symlink the marker is written through: refused before anything is exported or pushed.
 */
function refuseOwnNames(names: string[], where: string): void {
  const own = names.filter(isOwnName);
  if (own.length === 0) return;
  throw new RepoSyncError("source", `${where} holds ${own.map((n) => JSON.stringify(n)).join(", ")} at the top of the tree, a name repo-sync keeps for its own files on the targets (${MARKER_FILE}, ${MANAGED_FILE}, .repo-sync.*); nothing was pushed`, {
    hint: `rename or remove ${own.length === 1 ? "it" : "them"} in the repository (git mv / git rm) and commit`,
  });
}

/**
 * How a tree is pushed. With `exclude_dot_git: false` the `.git` built for the commit (`gitDir`, see
 * source/exportHistory.ts) goes beside the tree, never the checkout's own `.git`.
 */
export function transferSpecFor(repo: SourceSettings, treeDir: string, gitDir?: string): TransferSpec {
  if (!repo.excludeDotGit && !gitDir) throw new RepoSyncError("source", "exclude_dot_git is false but no .git was built for the commit (a bug in repo-sync; please report it)");
  return {
    sourceDir: treeDir,
    extraSources: gitDir ? [gitDir] : [],
    excludes: repo.rsyncExcludes,
    // Neither an export nor a worktree snapshot holds a .git: the one built for the commit goes beside.
    excludeDotGit: false,
    maxDelete: repo.maxDelete,
    ioTimeoutS: repo.ioTimeoutS,
    ...(repo.owner ? { owner: repo.owner } : {}),
    ...(repo.group ? { group: repo.group } : {}),
    ...(repo.chmod ? { chmod: repo.chmod } : {}),
  };
}
