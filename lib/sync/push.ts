/**
 * The parts of a push shared by both layouts (converge.ts, convergeRelease.ts): the `max_delete`
 * guard and the result of a push that went through.
 */
import type { Target } from "../config/types";
import { RepoSyncError } from "../errors";
import type { TargetSession } from "../target/session";
import type { TransferSpec } from "../transfer/rsyncArgs";
import { runRsync, type RsyncOutcome } from "../transfer/runRsync";
import { changeCount } from "../transfer/rsyncOutput";
import { quickCheckBlindPaths } from "../source/quickCheck";
import type { SyncResult } from "./result";
import type { PreparedSource } from "./prepareSource";

/**
 * True when a push to the prepared commit must compare contents (rsync --checksum) because rsync's
 * quick check (size + mtime) could take a changed file for unchanged:
 * - `from` (the commit the target, or the release linked from, holds) and the commit have a changed
 *   file that kept its size and blob-derived mtime (source/quickCheck.ts), or `from` is unknown to the
 *   repository;
 * - `unsure`: the target holds files but no commit names them (a run that was cut, a marker removed):
 *   they may be any commit's;
 * - a worktree snapshot re-copied a file whose size and mtime had been put back (WorktreeSnapshot).
 */
export async function quickCheckUnsafe(source: PreparedSource, from: string | undefined, unsure = false): Promise<boolean> {
  if (source.quickCheckBlind) return true;
  if (!source.mtimesFromBlobs) return false;
  if (unsure) return true;
  if (from === undefined || from === source.commit) return false;
  // Targets at the same commit (the usual fleet) share one diff.
  const key = `${source.repoPath}\0${from}\0${source.commit}`;
  let blind = blindCache.get(key);
  if (!blind) {
    if (blindCache.size > 64) blindCache.clear();
    blindCache.set(key, (blind = quickCheckBlindPaths(source.repoPath, from, source.commit)));
  }
  const paths = await blind;
  return paths === undefined || paths.length > 0;
}

/** Answers of {@link quickCheckBlindPaths} within this process (commits do not change). */
const blindCache = new Map<string, Promise<string[] | undefined>>();

/**
 * rsync's own `--max-delete` stops deleting at the limit but still adds and updates files: a half-applied
 * change. A dry run first refuses the whole run before any byte moves; `--max-delete` stays on the real
 * run as the backstop for a tree that changes in between.
 */
export async function refuseTooManyDeletes(target: Target, transfer: TransferSpec, session: TargetSession): Promise<void> {
  const max = transfer.maxDelete ?? Infinity;
  // Without the limit: a dry run that stops at it would not tell how many deletions there are.
  const plan = (await runRsync(target, { ...transfer, maxDelete: undefined }, true, { controlPath: session.controlPath, fence: session.fence })).changes;
  if (plan.deleted.length <= max) return;
  throw new RepoSyncError("unsafe-target", `the sync would delete ${plan.deleted.length} paths on ${target.path} (first: ${plan.deleted.slice(0, 3).join(", ")}), more than repository.max_delete (${max}); nothing was changed`, {
    vm: target.vm,
    hint: "check that repository.vm_repo_paths points at the right directory and the commit is the one you mean; raise repository.max_delete if the deletions are intended",
  });
}

/** The result of a push that went through: synced, or (the marker matched) unchanged / repaired. */
export function pushResult(target: Target, r: { matches: boolean; revision: string; previous?: string; out: RsyncOutcome; started: number }): SyncResult {
  const n = changeCount(r.out.changes);
  return {
    vm: target.vm,
    host: target.host,
    path: target.path,
    action: r.matches ? (n === 0 ? "unchanged" : "repaired") : "synced",
    revision: r.revision,
    previousRevision: r.previous,
    filesTransferred: r.out.stats.filesTransferred,
    bytesTransferred: r.out.stats.bytesSent,
    literalBytes: r.out.stats.literalData,
    changes: r.out.changes,
    durationMs: Date.now() - r.started,
  };
}
