/**
 * Which `rsync_excludes` entries can be shared paths of the releases layout (target/shared.ts says what
 * a shared path is on a VM): one path from the top of the tree each, not a pattern, not one of
 * repo-sync's own names, not inside another. Pure.
 */
import { RepoSyncError } from "../errors";
import { isOwnName } from "./ownFiles";

/** An entry as a path from the top of the tree: no leading or trailing `/` (pure). */
function relOf(entry: string): string {
  return entry.replace(/^\//, "").replace(/\/$/, "");
}

/**
 * Why an `rsync_excludes` entry cannot be a shared path of the releases layout, or undefined (pure).
 * A leading `/` (anchored) and a trailing `/` (a folder) are allowed and change nothing here.
 */
export function sharedPathProblem(entry: string): string | undefined {
  if (/[*?[\]\\]/.test(entry)) {
    return "is a pattern (it holds one of * ? [ ] \\); with layout: releases each entry names one path from the top of the tree, shared by every release (shared/<path>): name the folder or file instead (e.g. logs/ for the *.log files kept there)";
  }
  const rel = relOf(entry);
  if (/[\r\n\x00]/.test(rel)) return "contains a line break or NUL";
  if (rel.split("/").some((c) => c === "" || c === "." || c === "..")) return "has an empty, `.` or `..` component; with layout: releases each entry names one path from the top of the tree (e.g. uploads/ or /config/local.yml)";
  if (isOwnName(rel.split("/")[0])) return "is one of repo-sync's own names (.sync_rev, .repo-sync.*)";
  return undefined;
}

/**
 * Every problem of a list of entries as shared paths (pure): each entry's own, and an entry inside (or
 * the same as) an earlier one, whose link would have to be made inside the other's shared folder.
 */
export function sharedPathsProblems(entries: string[]): Array<{ index: number; reason: string }> {
  const out: Array<{ index: number; reason: string }> = [];
  entries.forEach((e, i) => {
    const why = sharedPathProblem(e);
    const rel = relOf(e);
    const outer = why ? -1 : entries.findIndex((o, j) => j !== i && !sharedPathProblem(o) && (rel.startsWith(`${relOf(o)}/`) || (j < i && relOf(o) === rel)));
    if (why) out.push({ index: i, reason: why });
    else if (outer >= 0) out.push({ index: i, reason: `is inside (or the same path as) entry ${outer} (${JSON.stringify(entries[outer])}); with layout: releases each entry is shared on its own, so they cannot nest` });
  });
  return out;
}

/** The shared paths (relative, no slashes at the ends) of valid entries; throws on an invalid list. */
export function sharedPaths(entries: string[]): string[] {
  const bad = sharedPathsProblems(entries);
  if (bad.length > 0) {
    throw new RepoSyncError("config", `repository.rsync_excludes[${bad[0].index}]: ${JSON.stringify(entries[bad[0].index])} ${bad[0].reason}`, { hint: "fix repository.rsync_excludes (see README, Releases: VM-local data)" });
  }
  return entries.map(relOf);
}

/** The shared paths among entries that may also hold patterns (those entries left out; pure). */
export function usableSharedPaths(entries: string[]): string[] {
  const bad = new Set(sharedPathsProblems(entries).map((p) => p.index));
  return entries.filter((_, i) => !bad.has(i)).map(relOf);
}
