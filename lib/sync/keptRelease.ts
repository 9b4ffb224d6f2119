/**
 * A kept release checked against its commit (releases layout), and put back. Files unchanged between
 * releases are one file on disk (rsync --link-dest), so a hand edit written into a file of `current`
 * changes every release that shares it, and a repair of `current` (rsync writes a new file and renames
 * it: the link is broken, not written through) leaves the older ones as edited. Their markers still
 * say complete: only a comparison with the commit's tree tells. The comparison is the one drift
 * detection makes for the served release: an rsync dry run of the exact tree a sync of that commit
 * pushes (its export, cached per commit) into `releases/<commit>`, read by the same itemize parser; a
 * repair pushes that tree into the release (after the secret gate), sending only what differs.
 */
import type { SourceSettings, Target } from "../config/types";
import { errorMessage, isRepoSyncError, RepoSyncError } from "../errors";
import type { Logger } from "../log";
import type { TargetSession } from "../target/session";
import type { TransferSpec } from "../transfer/rsyncArgs";
import { changeCount, type TreeChanges } from "../transfer/rsyncOutput";
import { runRsync } from "../transfer/runRsync";
import { releaseFolder } from "../target/layout";
import { prepareCommit, type PreparedSource } from "./prepareSource";

/** What rsync would do to a target, turned into how the target differs from the tree (pure). */
export function driftOf(plan: TreeChanges): TreeChanges {
  // rsync plans from the source's side: what it would add is what the target lost, and so on.
  return { modified: plan.modified, added: plan.deleted, deleted: plan.added };
}

/** How `releases/<commit>` differs from `transfer`'s tree (a dry run over an open connection). */
export async function releaseDrift(target: Target, transfer: TransferSpec, commit: string, controlPath: string, checksum = false): Promise<TreeChanges> {
  const plan = await runRsync(target, { ...transfer, checksum, destination: releaseFolder(commit) }, true, { controlPath });
  return driftOf(plan.changes);
}

/**
 * The trees of the commits releases hold, built once per run and shared by every VM: the export a
 * sync of that commit pushes, and (only before a repair sends any of it) the same past the secret gate.
 * In worktree mode a release holds what the checkout was, which no commit describes: none.
 */
export class CommitTrees {
  private readonly built = new Map<string, Promise<PreparedSource>>();

  constructor(private readonly repo: SourceSettings, private readonly logger: Logger, private readonly cacheDir?: string) {}

  /** The tree to compare a release with (nothing leaves the source: not gated); undefined in worktree mode. */
  tree(commit: string): Promise<PreparedSource | undefined> {
    return this.repo.sourceMode === "worktree" ? Promise.resolve(undefined) : this.build(commit, false);
  }

  /** The same tree past the secret gate (throws SecretsFoundError when blocked): what a repair may push. */
  gated(commit: string): Promise<PreparedSource> {
    return this.build(commit, true);
  }

  private build(commit: string, gate: boolean): Promise<PreparedSource> {
    const key = `${gate ? "gated" : "tree"} ${commit}`;
    let p = this.built.get(key);
    if (!p) {
      p = prepareCommit(this.repo, commit, { gate, logger: this.logger, cacheDir: this.cacheDir }).catch((err: unknown) => {
        if (isRepoSyncError(err) && err.kind === "secrets") throw err;
        // Most often the commit is gone from the checkout (git reports "not a tree object").
        const why = isRepoSyncError(err) ? err.reason : errorMessage(err).trim();
        throw new RepoSyncError("source", `cannot build the tree of commit ${commit.slice(0, 12)} to check its release against: ${why}`, { hint: "the commit must be in repository.main_repo_path (git fetch it there), or deploy another commit instead", cause: err });
      });
      this.built.set(key, p);
    }
    return p;
  }
}

/**
 * Makes `releases/<commit>` exactly its commit's tree before `current` is switched to it: a dry run
 * first, and only when the release differs, the gated tree pushed into it. Returns the changes made
 * (undefined: the release was intact, nothing sent), or undefined with a warning when no tree can
 * tell (worktree mode).
 */
export async function verifyRelease(target: Target, commit: string, session: TargetSession, trees: CommitTrees, logger: Logger): Promise<TreeChanges | undefined> {
  const tree = await trees.tree(commit).catch((err: unknown) => {
    // Built once for every VM: named here for the one that needs it.
    if (!isRepoSyncError(err) || err.vm) throw err;
    throw new RepoSyncError(err.kind, err.reason, { vm: target.vm, hint: err.hint, cause: err });
  });
  if (!tree) {
    logger.warn(`${target.vm}: ${releaseFolder(commit)} switched to unchecked: with source_mode: worktree a release holds the checkout as it was, which no commit describes`);
    return undefined;
  }
  const drift = await releaseDrift(target, tree.transfer, commit, session.controlPath);
  if (changeCount(drift) === 0) return undefined;
  const gated = await trees.gated(commit);
  const out = await runRsync(target, { ...gated.transfer, destination: releaseFolder(commit) }, false, { controlPath: session.controlPath, fence: session.fence });
  return out.changes;
}
