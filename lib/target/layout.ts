/**
 * The two layouts a target directory can have, in one place: which layout a target asks for, where a
 * release lives, and the refusal to treat a folder laid out one way as the other (details of each:
 * target/releases.ts for releases, target/script.ts for what a probe reads of either).
 */
import type { Layout, Target } from "../config/types";
import { RepoSyncError } from "../errors";
import { RELEASES_DIR } from "./releases";

export type { Layout } from "../config/types";

/** The folder of a release, relative to the target path. */
export function releaseFolder(commit: string): string {
  return `${RELEASES_DIR}/${commit}`;
}

/**
 * A target laid out the other way is never converted silently: an in-place `--delete` would remove
 * every release, and a release built beside an in-place tree would leave the service reading the old one.
 */
export function refuseOtherLayout(target: Target, found: Layout | undefined): void {
  if (found === undefined) return;
  const wanted: Layout = target.layout ?? "in_place";
  if (found === wanted) return;
  const reason = found === "releases"
    ? `the target directory ${target.path} is laid out in releases (current -> releases/<commit>); ` +
      "an in-place sync would --delete them"
    : `the target directory ${target.path} holds an in-place tree (.sync_rev at its top); ` +
      "releases are not built beside it without a migration";
  throw new RepoSyncError("unsafe-target", reason, {
    vm: target.vm,
    hint: `set repository.layout: ${found} again, or convert this VM explicitly: ` +
      `\`repo-sync migrate --to ${wanted} ${target.vm}\` (see README, Migration)`,
  });
}
