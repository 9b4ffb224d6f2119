/**
 * Brings one target to the prepared commit, under the target's lock:
 *   marker differs (or force)  -> remove .sync_rev, rsync, write .sync_rev
 *   marker matches             -> rsync anyway: a no-op when the tree matches, a repair when it drifted
 * `.sync_rev` is only ever written after rsync succeeded, so it never names a tree that did not arrive.
 * The releases layout builds a new release instead and switches to it (convergeRelease.ts).
 */
import type { Target } from "../config/types";
import { RepoSyncError } from "../errors";
import { TargetSession } from "../target/session";
import { runRsync } from "../transfer/runRsync";
import { convergeRelease } from "./convergeRelease";
import { refuseOtherLayout } from "../target/layout";
import type { PreparedSource } from "./prepareSource";
import { pushResult, quickCheckUnsafe, refuseTooManyDeletes } from "./push";
import { recordHistory } from "./history";
import type { ConvergeOptions, SyncResult } from "./result";

export type { ConvergeOptions, SyncAction, SyncResult } from "./result";

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
