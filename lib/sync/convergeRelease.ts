/**
 * One target in the releases layout (target/releases.ts), under the target's lock:
 *   current serves the commit (and no force) -> rsync into that release: a no-op, or a repair of drift
 *   otherwise -> rsync into releases/<commit> (unchanged files hard-linked from the current release, so a
 *                one-line commit sends about one line; a release still kept sends nothing), the shared
 *                paths linked into it, its marker, then `current` renamed over in one step, then the
 *                oldest releases pruned.
 * A transfer cut anywhere before the switch leaves `current` and what it serves untouched. The VM's own
 * data (`rsync_excludes`) lives in `shared/`, linked into every release (target/shared.ts).
 */
import type { Target } from "../config/types";
import { currentCommit, KEEP_RELEASES_DEFAULT, releasesToPrune, type ReleasesView } from "../target/releases";
import { releaseFolder } from "../target/layout";
import { servedRevision } from "../target/script";
import type { TargetSession } from "../target/session";
import { runRsync } from "../transfer/runRsync";
import type { ConvergeOptions, SyncResult } from "./result";
import type { PreparedSource } from "./prepareSource";
import { pushResult, quickCheckUnsafe, refuseTooManyDeletes } from "./push";
import { recordHistory } from "./history";

/** Converges one target in the releases layout (see the file comment). */
export async function convergeRelease(target: Target, source: PreparedSource, opts: ConvergeOptions, session: TargetSession, started: number): Promise<SyncResult> {
  const view: ReleasesView = session.header.releases ?? { current: { kind: "none" }, releases: [] };
  const current = currentCommit(view);
  const serving = servedRevision(session.header);
  const matches = serving === source.commit && !opts.force;
  const destination = releaseFolder(source.commit);
  // Readers see the destination when `current` points at it, marker or not (a repair cut short).
  const live = serving === source.commit || current === source.commit;
  // A new release is linked from the current one by rsync's quick check: contents are compared when a
  // changed file kept its size and derived mtime (source/quickCheck.ts).
  // A release of this commit left unfinished (a cut run) may hold files linked from another commit's.
  const unfinished = view.releases.some((r) => r.commit === source.commit && !r.complete);
  const checksum = opts.force === true || (await quickCheckUnsafe(source, live ? serving : current, unfinished));
  const transfer = {
    ...source.transfer,
    ...(checksum ? { checksum: true } : {}),
    destination,
    // The served release changes file by file only in a repair; a new one is not read by anyone yet.
    delayUpdates: live,
    ...(!live && current !== undefined ? { linkDest: `../${current}` } : {}),
  };
  // max_delete guards against deleting what is served: counted against the current release.
  if (transfer.maxDelete !== undefined && current !== undefined) {
    await refuseTooManyDeletes(target, { ...transfer, destination: releaseFolder(current), linkDest: undefined }, session);
  }
  if (!matches) await session.prepareRelease(source.commit);
  const out = await runRsync(target, transfer, false, { onStderr: opts.onStderr, onProgress: opts.onProgress, controlPath: session.controlPath, fence: session.fence });
  // The served release first: what the service wrote at a shared path there becomes shared/ before
  // the new release links it (a no-op once both hold their links).
  const displaced = [...(current !== undefined && current !== source.commit ? await session.share(current) : []), ...(await session.share(source.commit))];
  let pruned: string[] = [];
  const warnings: string[] = [];
  if (!matches) {
    await session.completeRelease(source.commit);
    if (current !== source.commit) {
      await session.switchTo(source.commit);
      opts.onSwitch?.(current);
      const warning = await recordHistory(session, target.vm, { event: "deploy", commit: source.commit, previous: current, result: "ok" });
      if (warning) warnings.push(warning);
    }
    const after: ReleasesView = { current: { kind: "release", commit: source.commit }, releases: [...view.releases.filter((r) => r.commit !== source.commit), { commit: source.commit, stamp: Number.MAX_SAFE_INTEGER, complete: true }] };
    pruned = releasesToPrune(after, source.commit, current, target.keepReleases ?? KEEP_RELEASES_DEFAULT);
    for (const old of pruned) await session.dropRelease(old);
  }
  return {
    ...pushResult(target, { matches, revision: source.commit, previous: serving, out, started }),
    release: { path: `${target.path}/${destination}`, pruned, ...(displaced.length > 0 ? { displaced } : {}) },
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}
