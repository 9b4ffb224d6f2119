/**
 * `repo-sync migrate --to releases|in_place`: converts a target between the two layouts, explicitly and
 * under its lock, moving files within the VM's file system (no transfer) and deleting nothing. The
 * config must already name the new layout, so that the next sync keeps it.
 */
import type { Config, Layout, Target } from "../config/types";
import { RepoSyncError } from "../errors";
import type { Logger } from "../log";
import { currentCommit } from "../target/releases";
import { servedRevision } from "../target/script";
import { TargetSession } from "../target/session";
import { usableSharedPaths } from "../config/sharedPaths";
import { shQuote } from "../target/quote";
import { releaseFolder } from "../target/layout";
import { eachTarget, selectTargets } from "./targets";

/** What a migration did on one VM. */
export interface MigrateResult {
  vm: string;
  host: string;
  path: string;
  /** `migrated`, or `already` (nothing to convert: the layout is there, or the folder holds no tree yet). */
  action?: "migrated" | "already";
  /** The commit the tree holds, as it was moved. */
  revision?: string;
  /** Going back in place: the folder under the target path that keeps every release. */
  keptReleases?: string;
  /** Folders under the target path that something in the way of a shared path was moved aside to. */
  displaced?: string[];
  error?: RepoSyncError;
}

/** Migrates the selected VMs to `to`; one VM's failure is its own. */
export async function migrateTargets(config: Config, opts: { to: Layout; vms?: string[]; logger: Logger }): Promise<MigrateResult[]> {
  if (config.repository.layout !== opts.to) {
    throw new RepoSyncError("config", `repository.layout is ${config.repository.layout}, not ${opts.to}: set it first, so that the next sync keeps the layout the VMs are migrated to`, {
      hint: `set repository.layout: ${opts.to} in ${config.file}, then run \`repo-sync migrate --config ${shQuote(config.file)} --to ${opts.to}\` again`,
    });
  }
  const targets = selectTargets(config, opts.vms);
  return eachTarget(targets, config.repository.parallelism, opts.logger, async (t): Promise<MigrateResult> => {
    // Back in place, the entries that were shared come back from shared/ (those that can be shared
    // paths: in place, rsync_excludes may also hold patterns, which the releases layout never shared).
    const shared = opts.to === "in_place" ? { shared: usableSharedPaths(config.repository.rsyncExcludes) } : {};
    const r = await migrateOne({ ...t, ...shared }, opts.to, config.repository.lockTimeoutS);
    opts.logger.info(`${t.vm}: ${r.action === "already" ? `already ${opts.to}` : `migrated to ${opts.to} at ${r.revision?.slice(0, 12)}`}${r.keptReleases ? ` (releases kept in ${t.path}/${r.keptReleases})` : ""}`);
    return { vm: t.vm, host: t.host, path: t.path, ...r };
  }, (t, error) => ({ vm: t.vm, host: t.host, path: t.path, error }));
}

async function migrateOne(t: Target, to: Layout, lockWaitS: number): Promise<Pick<MigrateResult, "action" | "revision" | "keptReleases" | "displaced">> {
  // The session reads the folder as it is now: in the layout being left.
  const from: Target = to === "releases" ? { ...t, layout: undefined } : { ...t, layout: "releases" };
  const session = await TargetSession.open(from, lockWaitS, true);
  try {
    const h = session.header;
    if (h.state === "missing" || h.state === "empty") return { action: "already" };
    if (h.state === "foreign") {
      throw new RepoSyncError("unsafe-target", `the target directory ${t.path} holds files that repo-sync did not put there; it migrates only what it deployed`, { vm: t.vm, hint: "sync it first (repository.adopt_existing: true takes a folder over), then migrate" });
    }
    if (to === "releases") {
      if (h.otherLayout === "releases") return { action: "already" };
      if (!h.revision) throw new RepoSyncError("target-io", `the in-place tree in ${t.path} has no valid .sync_rev: it is not known to be one commit's tree`, { vm: t.vm, hint: "run `repo-sync sync` in place first, then migrate" });
      await session.adopt(h.revision);
      // The VM's own data (rsync_excludes) moves on to shared/, linked from the release.
      const displaced = await session.share(h.revision);
      return { action: "migrated", revision: h.revision, ...(displaced.length > 0 ? { displaced } : {}) };
    }
    if (h.otherLayout === "in_place" || !h.releases || (h.releases.current.kind === "none" && h.releases.releases.length === 0)) return { action: "already" };
    const cur = servedRevision(h);
    const linked = currentCommit(h.releases);
    if (!cur) throw new RepoSyncError("target-io", `current in ${t.path} does not point at a complete release (${linked ? releaseFolder(linked) : "none"})`, { vm: t.vm, hint: "deploy or roll back to a complete release first, then migrate" });
    const kept = await session.flatten(cur);
    return { action: "migrated", revision: cur, keptReleases: kept };
  } finally {
    await session.close();
  }
}
