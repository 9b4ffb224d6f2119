/**
 * `repo-sync rollback`: points each VM's `current` back at a release still kept there (releases
 * layout), under the target's lock. Before the link moves, the release is checked against its commit
 * (a dry run: a hand edit through a hard-linked file may have changed it) and repaired when it differs,
 * and the shared paths are linked into it; an intact release is switched to with nothing sent. A
 * release that is not complete on the VM is refused by the session script.
 */
import type { Config, Target } from "../config/types";
import { RepoSyncError } from "../errors";
import type { Logger } from "../log";
import { currentCommit, rollbackTarget } from "../target/releases";
import { TargetSession } from "../target/session";
import { recordHistory } from "./history";
import { describeChanges, type TreeChanges } from "../transfer/rsyncOutput";
import { refuseOtherLayout } from "../target/layout";
import { CommitTrees, verifyRelease } from "./keptRelease";
import { eachTarget, selectTargets } from "./targets";

/** What a rollback did on one VM. */
export interface RollbackResult {
  vm: string;
  host: string;
  path: string;
  /** The release `current` pointed at before (undefined: none). */
  from?: string;
  /** The release it points at now (undefined when the rollback failed). */
  to?: string;
  /** Not switched back because another run moved `current`: the commit it serves now ("" when none). */
  serving?: string;
  /** What was put back in that release before the switch (undefined: it was intact, nothing sent). */
  repaired?: TreeChanges;
  /** Folders under the target path that a release's own copy of a shared path was moved aside to. */
  displaced?: string[];
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
  const trees = new CommitTrees(config.repository, opts.logger);
  return eachTarget(targets, config.repository.parallelism, opts.logger, async (t): Promise<RollbackResult> => {
    const session = await TargetSession.open(t, config.repository.lockTimeoutS);
    try {
      refuseOtherLayout(t, session.header.otherLayout);
      const view = session.header.releases ?? { current: { kind: "none" as const }, releases: [] };
      const from = currentCommit(view);
      const choice = rollbackTarget(view, opts.to);
      if ("problem" in choice) throw new RepoSyncError("config", `cannot roll back: ${choice.problem}`, { vm: t.vm, hint: "`repo-sync status VM --json` lists the releases kept on each VM; deploy the commit instead if it is gone" });
      if (choice.commit === from) {
        opts.logger.info(`${t.vm}: current is ${from.slice(0, 12)} already (nothing to do)`);
        return { vm: t.vm, host: t.host, path: t.path, from, to: from };
      }
      return await switchBack(t, session, from, choice.commit, trees, opts.logger, "repo-sync rollback");
    } finally {
      await session.close();
    }
  }, (t, error) => ({ vm: t.vm, host: t.host, path: t.path, error }));
}

/**
 * Points `current` (now `from`) at the complete release `to` in a session holding the lock: the
 * release checked against its commit first (repaired if it differs), the shared paths linked, the
 * switch, an entry in the VM's history (`why`).
 */
export async function switchBack(t: Target, session: TargetSession, from: string | undefined, to: string, trees: CommitTrees, logger: Logger, why: string): Promise<RollbackResult> {
  const repaired = await verifyRelease(t, to, session, trees, logger);
  const displaced = [...(from ? await session.share(from) : []), ...(await session.share(to))];
  await session.switchTo(to);
  for (const d of displaced) logger.warn(`${t.vm}: a release held its own copy of a shared path (repository.rsync_excludes); it was moved aside to ${t.path}/${d}, shared/ kept as it is`);
  logger.info(`${t.vm}: current ${from?.slice(0, 12) ?? "none"} -> ${to.slice(0, 12)} (${repaired ? `release repaired first: ${describeChanges(repaired)}` : "intact: nothing sent"})`);
  const warning = await recordHistory(session, t.vm, { event: "rollback", commit: to, previous: from, result: "ok", detail: why });
  if (warning) logger.warn(warning);
  return { vm: t.vm, host: t.host, path: t.path, from, to, ...(repaired ? { repaired } : {}), ...(displaced.length > 0 ? { displaced } : {}) };
}

/** A commit as rollout messages name it: its first 12 digits, or `none`. */
export const short = (c?: string): string => (c ? c.slice(0, 12) : "none");

/**
 * Undoes one switch a rollout made: the VM, switched from `from` to `commit` by this run, is switched
 * back to `from` under its lock. Not when it served nothing before (nothing to go back to: an error),
 * nor when its `current` moved since (another run deployed in between: left as it is, named, with
 * what it serves now in `serving`).
 */
export async function undoSwitch(t: Target, commit: string, from: string | undefined, trees: CommitTrees, lockTimeoutS: number, logger: Logger, why: string): Promise<RollbackResult> {
  if (from === undefined) throw new RepoSyncError("config", `not switched back: this run made its first release (it served nothing before), so there is nothing to go back to; it serves ${short(commit)}`, { vm: t.vm, hint: "deploy a known-good commit to it (repo-sync sync --ref SHA)" });
  const session = await TargetSession.open(t, lockTimeoutS);
  try {
    refuseOtherLayout(t, session.header.otherLayout);
    const view = session.header.releases ?? { current: { kind: "none" as const }, releases: [] };
    const now = currentCommit(view);
    if (now !== commit) {
      const error = new RepoSyncError("locked", `not switched back: current moved since this run switched it (now ${short(now)}); another run deployed in between`, { vm: t.vm, hint: "`repo-sync history VM` tells who; roll back by hand with `repo-sync rollback --to COMMIT VM` if needed" });
      logger.warn(error.message);
      return { vm: t.vm, host: t.host, path: t.path, error, serving: now ?? "" };
    }
    const choice = rollbackTarget(view, from);
    if ("problem" in choice) throw new RepoSyncError("unsafe-target", `not switched back: ${choice.problem}`, { vm: t.vm, hint: "deploy the previous commit to it instead (repo-sync sync --ref SHA)" });
    return await switchBack(t, session, now, choice.commit, trees, logger, why);
  } finally {
    await session.close();
  }
}
