/**
 * `repo-sync rollback`: points each VM's `current` back at a release still kept there (releases
 * layout), under the target's lock. Nothing is transferred: no rsync runs at all; a release that is
 * not complete on the VM is refused by the session script before the link moves.
 */
import type { Config } from "../config/types";
import { RepoSyncError } from "../errors";
import type { Logger } from "../log";
import { currentCommit, rollbackTarget } from "../target/releases";
import { TargetSession } from "../target/session";
import { refuseOtherLayout } from "./convergeRelease";
import { eachTarget, selectTargets } from "./syncAll";

/** What a rollback did on one VM. */
export interface RollbackResult {
  vm: string;
  host: string;
  path: string;
  /** The release `current` pointed at before (undefined: none). */
  from?: string;
  /** The release it points at now (undefined when the rollback failed). */
  to?: string;
  error?: RepoSyncError;
}

/** Options for {@link rollbackTargets}. */
export interface RollbackOptions {
  /** Only these VM ids (default: every push target). */
  vms?: string[];
  /** A commit (full or a unique prefix) kept on every VM; default: each VM's previous release. */
  to?: string;
  logger: Logger;
}

/** Rolls the selected VMs back; one VM's failure is its own (recorded in its result). */
export async function rollbackTargets(config: Config, opts: RollbackOptions): Promise<RollbackResult[]> {
  const targets = selectTargets(config, opts.vms);
  const notReleases = targets.filter((t) => t.layout !== "releases");
  if (notReleases.length > 0) {
    throw new RepoSyncError("config", `rollback needs the releases layout; ${notReleases.map((t) => t.vm).join(", ")} ${notReleases.length === 1 ? "is" : "are"} updated in place (nothing is kept to go back to)`, {
      hint: "set repository.layout: releases (see README, Releases and rollback); to go back in place, deploy the older commit",
    });
  }
  return eachTarget(targets, config.repository.parallelism, opts.logger, async (t): Promise<RollbackResult> => {
    const session = await TargetSession.open(t, config.repository.lockTimeoutS);
    try {
      refuseOtherLayout(t, session.header.otherLayout);
      const view = session.header.releases ?? { current: { kind: "none" as const }, releases: [] };
      const from = currentCommit(view);
      const choice = rollbackTarget(view, opts.to);
      if ("problem" in choice) throw new RepoSyncError("config", `cannot roll back: ${choice.problem}`, { vm: t.vm, hint: "`repo-sync status VM --json` lists the releases kept on each VM; deploy the commit instead if it is gone" });
      if (choice.commit !== from) await session.switchTo(choice.commit);
      opts.logger.info(`${t.vm}: current ${from?.slice(0, 12) ?? "none"} -> ${choice.commit.slice(0, 12)} (no transfer)`);
      return { vm: t.vm, host: t.host, path: t.path, from, to: choice.commit };
    } finally {
      await session.close();
    }
  }, (t, error) => ({ vm: t.vm, host: t.host, path: t.path, error }));
}
