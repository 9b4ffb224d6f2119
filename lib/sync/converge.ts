/**
 * Brings one target to the prepared commit, under the target's lock:
 *   marker differs (or force)  -> remove .sync_rev, rsync, write .sync_rev
 *   marker matches             -> rsync anyway: a no-op when the tree matches, a repair when it drifted
 * `.sync_rev` is only ever written after rsync succeeded, so it never names a tree that did not arrive.
 * The releases layout builds a new release instead and switches to it (convergeRelease.ts).
 */
import type { Target } from "../config/types";
import { RepoSyncError } from "../errors";
import { type PendingSession, TargetSession } from "../target/session";
import { runRsync } from "../transfer/runRsync";
import type { RsyncProgress, TreeChanges } from "../transfer/rsyncOutput";
import { convergeRelease, refuseOtherLayout } from "./convergeRelease";
import type { PreparedSource } from "./prepareSource";
import { pushResult, quickCheckUnsafe, refuseTooManyDeletes } from "./push";
import { recordHistory } from "./history";
import type { HealthOutcome } from "./healthCheck";

/**
 * What happened on one VM. A rollout (rollout.ts) adds `rolled-back` (synced, then switched back to
 * the release it served before) and `skipped` (a later wave, never touched: the rollout stopped).
 */
export type SyncAction = "synced" | "repaired" | "unchanged" | "failed" | "rolled-back" | "skipped";

/** Per-VM result of a sync. */
export interface SyncResult {
  vm: string;
  host: string;
  path: string;
  action: SyncAction;
  /** What the target holds now (undefined when it holds no valid marker). */
  revision?: string;
  previousRevision?: string;
  filesTransferred: number;
  /** Bytes sent over the wire (rsync "Total bytes sent"). */
  bytesTransferred: number;
  /** File data sent as literal bytes (rsync "Literal data"): the delta, without file list and checksums. */
  literalBytes: number;
  /** Changes applied (added/modified/deleted paths). */
  changes?: TreeChanges;
  durationMs: number;
  error?: RepoSyncError;
  /**
   * Releases layout: the folder `current` points at, the releases removed by pruning, and the folders
   * (under the target path) a release's own copy of a shared path was moved aside to.
   */
  release?: { path: string; pruned: string[]; displaced?: string[] };
  /** What did not go as it should but did not fail the VM (an audit line that could not be written). */
  warnings?: string[];
  /** A rollout's view of the VM (rollout.ts): its wave, its health check, its switch back. */
  wave?: number;
  health?: HealthOutcome;
  rollback?: { from: string; to?: string; error?: RepoSyncError };
}

/** Options for {@link convergeTarget}. */
export interface ConvergeOptions {
  /** Re-sync even when the marker matches, comparing file contents (so tampering is always repaired). */
  force?: boolean;
  adoptExisting: boolean;
  lockTimeoutS: number;
  onStderr?: (s: string) => void;
  /** Called as the push progresses (rsync --info=progress2); none: no progress is asked of rsync. */
  onProgress?: (p: RsyncProgress) => void;
  /** A connection opened earlier (see {@link TargetSession.connect}); default: connect here. */
  session?: PendingSession;
  /**
   * Called as soon as the VM serves the commit instead of `from` (the switch of `current`, or the
   * marker of an in-place sync), before anything else can fail: what a rollback would undo.
   */
  onSwitch?: (from: string | undefined) => void;
}

/** Converges one target; throws RepoSyncError (kind tells why) on failure. */
export async function convergeTarget(target: Target, source: PreparedSource, opts: ConvergeOptions): Promise<SyncResult> {
  const started = Date.now();
  const session = await startSession(target, source, opts);
  try {
    return await convergeInSession(target, source, opts, session, started);
  } finally {
    await session.close();
  }
}

/** Takes the target's lock (on the connection opened earlier, if any) for a sync of `source`. */
export function startSession(target: Target, source: PreparedSource, opts: Pick<ConvergeOptions, "session" | "lockTimeoutS">): Promise<TargetSession> {
  return (opts.session ?? TargetSession.connect(target, opts.lockTimeoutS)).start({ owner: source.transfer.owner, group: source.transfer.group });
}

/** {@link convergeTarget} in a session already started (the caller closes it; a rollout checks health first). */
export async function convergeInSession(target: Target, source: PreparedSource, opts: ConvergeOptions, session: TargetSession, started = Date.now()): Promise<SyncResult> {
  const { state, revision } = session.header;
  if (state === "foreign" && !opts.adoptExisting) {
    throw new RepoSyncError("unsafe-target", `the target directory ${target.path} holds files that repo-sync did not put there; refusing to run rsync --delete into it`, {
      vm: target.vm,
      hint: "point repository.vm_repo_paths at a dedicated (new or empty) directory, or set repository.adopt_existing: true to let repo-sync take this one over",
    });
  }
  refuseOtherLayout(target, session.header.otherLayout);
  if (target.layout === "releases") return await convergeRelease(target, source, opts, session, started);
  const matches = revision === source.commit && !opts.force;
  // A forced run compares contents: a file edited with its size and mtime put back is repaired too.
  // Nothing there to keep whole (missing or empty folder): files go straight to their names.
  // So does a move between two commits where a changed file kept its size and derived mtime.
  const checksum = opts.force === true || (await quickCheckUnsafe(source, revision, revision === undefined && state !== "missing" && state !== "empty"));
  const transfer = { ...source.transfer, ...(checksum ? { checksum: true } : {}), delayUpdates: state !== "missing" && state !== "empty" };
  if (transfer.maxDelete !== undefined) await refuseTooManyDeletes(target, transfer, session);
  if (!matches) await session.invalidate();
  const out = await runRsync(target, transfer, false, { onStderr: opts.onStderr, onProgress: opts.onProgress, controlPath: session.controlPath, fence: session.fence });
  let warning: string | undefined;
  if (!matches) {
    await session.commit(source.commit);
    if (revision !== source.commit) {
      opts.onSwitch?.(revision);
      warning = await recordHistory(session, target.vm, { event: "deploy", commit: source.commit, previous: revision, result: "ok" });
    }
  }
  return { ...pushResult(target, { matches, revision: source.commit, previous: revision, out, started }), ...(warning ? { warnings: [warning] } : {}) };
}
