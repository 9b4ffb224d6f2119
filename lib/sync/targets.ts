/**
 * The targets of a run: which ones a command names, running a step on each with bounded parallelism
 * (one VM's failure is its own), and what a VM's convergence is logged as. Shared by sync, rollout,
 * rollback, migrate and history.
 */
import type { Config, Target } from "../config/types";
import { isRepoSyncError, RepoSyncError } from "../errors";
import type { Logger } from "../log";
import { describeChanges } from "../transfer/rsyncOutput";
import { mapLimit } from "./pool";
import type { SyncResult } from "./result";

/** Picks the targets named in `vms` (all when empty); unknown or non-target ids are a config error. */
export function selectTargets(config: Config, vms: string[] | undefined): Target[] {
  if (!vms || vms.length === 0) return config.targets;
  const bad = vms.filter((id) => !config.targets.some((t) => t.vm === id));
  if (bad.length > 0) {
    throw new RepoSyncError("config", `not a push target: ${bad.join(", ")} (push targets: ${config.targets.map((t) => t.vm).join(", ")})`, {
      hint: "name VMs listed in repository.push_targets (or enabled VMs other than the source VM)",
    });
  }
  return config.targets.filter((t) => vms.includes(t.vm));
}

/**
 * Runs `run` on every target, at most `limit` at once, results in target order. A RepoSyncError is that
 * VM's alone: logged as a warning and turned into its result by `failed` (told how long that VM took);
 * the others go on.
 */
export function eachTarget<R>(targets: Target[], limit: number, logger: Logger, run: (t: Target) => Promise<R>, failed: (t: Target, err: RepoSyncError, ms: number) => R): Promise<R[]> {
  return mapLimit(targets, limit, async (t) => {
    const started = Date.now();
    try {
      return await run(t);
    } catch (err) {
      if (!isRepoSyncError(err)) throw err;
      logger.warn(err.message);
      return failed(t, err, Date.now() - started);
    }
  });
}

/** Logs what a VM's convergence did (its warnings, folders moved aside, what was sent). */
export function logConverged(t: Target, r: SyncResult, logger: Logger): void {
  for (const w of r.warnings ?? []) logger.warn(w);
  for (const d of r.release?.displaced ?? []) logger.warn(`${t.vm}: a release held its own copy of a shared path (repository.rsync_excludes); it was moved aside to ${t.path}/${d}, shared/ kept as it is`);
  logger.info(`${t.vm}: ${r.action}${r.changes && r.action !== "unchanged" ? ` (${describeChanges(r.changes)})` : ""}, ${r.filesTransferred} files, ${r.bytesTransferred} bytes sent in ${r.durationMs} ms`);
}
