/**
 * What converging a target takes and gives (converge.ts, convergeRelease.ts, push.ts, rollout.ts share
 * these; none of them needs another's code for it).
 */
import type { RepoSyncError } from "../errors";
import type { PendingSession, TargetSession } from "../target/session";
import type { runRsync } from "../transfer/runRsync";
import type { RsyncProgress, TreeChanges } from "../transfer/rsyncOutput";

/** How one VM's check went. */
export interface HealthOutcome {
  ok: boolean;
  /** Attempts made (1 + the retries used). */
  attempts: number;
  /** The last attempt's exit code (124: the VM's `timeout` ended it). */
  exitCode?: number;
  durationMs: number;
  /** Why the VM is not healthy (kind `health`, or the connection's failure). */
  error?: RepoSyncError;
}

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

/** What an in-place convergence needs of its target session (TargetSession; a fake in unit tests). */
export type InPlaceSession = Pick<TargetSession, "header" | "controlPath" | "fence" | "invalidate" | "commit" | "appendHistory">;

/** Runs rsync for a target (transfer/runRsync.ts's runRsync; a fake in unit tests). */
export type RsyncRunner = typeof runRsync;

/** Options for {@link convergeTarget}. */
export interface ConvergeOptions {
  /** The rsync runner (default: the real one). */
  rsync?: RsyncRunner;
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
