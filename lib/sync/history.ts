/**
 * The audit trail (target/history.ts) as runs use it: an entry recorded in the session that made the
 * change (a failure to record is a warning: what it records did happen), and `repo-sync history`,
 * which reads every selected VM's trail.
 */
import type { Config } from "../config/types";
import { errorMessage, isRepoSyncError, RepoSyncError } from "../errors";
import type { HistoryEntry, HistoryRead } from "../target/history";
import { localActor } from "../target/history";
import { readHistory, type TargetSession } from "../target/session";
import { mapLimit } from "./pool";
import { selectTargets } from "./targets";

/** Who runs this process, once (`user@host`). */
let actor: string | undefined;

/**
 * Appends `entry` (time and actor filled in) to the trail of the VM `session` holds; returns a warning
 * instead of throwing when it cannot (the switch, rollback or check it records happened anyway).
 */
export async function recordHistory(session: TargetSession, vm: string, entry: Omit<HistoryEntry, "time" | "by">): Promise<string | undefined> {
  try {
    await session.appendHistory({ time: new Date().toISOString(), by: (actor ??= localActor()), ...entry });
    return undefined;
  } catch (err) {
    return `${vm}: the ${entry.event} of ${entry.commit.slice(0, 12)} was not recorded in the VM's history (.repo-sync.log): ${isRepoSyncError(err) ? err.reason : errorMessage(err)}`;
  }
}

/** One VM's trail, or why it could not be read. */
export interface VmHistory extends Partial<HistoryRead> {
  vm: string;
  host: string;
  path: string;
  error?: RepoSyncError;
}

/** Reads the trail of the VMs named (all push targets when none); one VM's failure is its own. */
export function historyOf(config: Config, vms?: string[]): Promise<VmHistory[]> {
  return mapLimit(selectTargets(config, vms), Math.max(config.repository.parallelism, 8), async (t): Promise<VmHistory> => {
    try {
      return { vm: t.vm, host: t.host, path: t.path, ...(await readHistory(t)) };
    } catch (err) {
      if (!isRepoSyncError(err)) throw err;
      return { vm: t.vm, host: t.host, path: t.path, error: err };
    }
  });
}
