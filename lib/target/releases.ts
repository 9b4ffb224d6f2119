/**
 * The releases layout (`repository.layout: releases`): on the VM, `releases/<commit>/` holds one
 * complete tree each (its own `.sync_rev` written last) and `current` is a symlink to the one served,
 * replaced by `rename(2)` only after the release is complete. This file holds the shell pieces the
 * target scripts add for it (script.ts), the parser of what they print, and the pure choices made from
 * it: which release a rollback goes to, which ones pruning removes. The VM's own data is shared
 * between releases (shared.ts).
 */
import { MARKER_FILE, TEMP_PREFIX } from "../config/ownFiles";
import { SHARED_DIR, sharedCalls } from "./shared";
import { defaultOf } from "../config/schema";

/** The symlink the service reads through. */
export const CURRENT_LINK = "current";
/** The folder of releases. */
export const RELEASES_DIR = "releases";
/** Marks a target directory as laid out in releases (an in-place run refuses to `--delete` into it). */
export const LAYOUT_FILE = ".repo-sync.layout";
/** In a release: written once when it first completes; its mtime orders releases. */
export const RELEASE_STAMP = ".repo-sync.release";
/** How many releases are kept when `repository.keep_releases` is not set (the schema's default). */
export const KEEP_RELEASES_DEFAULT = defaultOf<number>("repository", "keep_releases");

/** What the VM's `current` link is. */
export type CurrentState = { kind: "none" } | { kind: "release"; commit: string } | { kind: "bad"; why: string };

/** One release folder on the VM. */
export interface Release {
  commit: string;
  /** Seconds since the epoch it first completed (0: never). */
  stamp: number;
  /** Its `.sync_rev` names its own commit: the tree arrived whole. */
  complete: boolean;
}

/** What a target in the releases layout holds. */
export interface ReleasesView {
  current: CurrentState;
  /** Oldest first (by stamp; incomplete ones first). */
  releases: Release[];
}

// The link is read with a trailing `x` so that command substitution cannot strip a newline that is part
// of the target: only `releases/<40 hex>` exactly, a real folder (not a link) under a real `releases`.
const READ_CURRENT = [
  `H=; if [ -L ${CURRENT_LINK} ]; then`,
  `  L=$(readlink ${CURRENT_LINK}; echo x); L=\${L%x}; L=\${L%?}`,
  `  H=\${L#${RELEASES_DIR}/}`,
  `  case "$L" in ${RELEASES_DIR}/*) ;; *) H= ;; esac`,
  '  case "$H" in *[!0-9a-f]*) H= ;; esac',
  '  [ ${#H} -eq 40 ] || H=',
  `  if [ -n "$H" ] && [ ! -L ${RELEASES_DIR} ] && [ -d "${RELEASES_DIR}/$H" ] && [ ! -L "${RELEASES_DIR}/$H" ]; ` +
    'then echo "CURRENT $H"; else H=; echo "CURRENT bad"; fi',
  `elif [ -e ${CURRENT_LINK} ]; then echo "CURRENT notlink"`,
  'else echo "CURRENT none"; fi',
].join("\n");

// One line per release folder named by a full hash; anything else under releases/ is not ours to list.
const LIST_RELEASES = [
  `if [ -d ${RELEASES_DIR} ] && [ ! -L ${RELEASES_DIR} ]; then for d in ${RELEASES_DIR}/*; do`,
  `  R=\${d#${RELEASES_DIR}/}`,
  '  case "$R" in *[!0-9a-f]*) continue ;; esac',
  '  [ ${#R} -eq 40 ] && [ -d "$d" ] && [ ! -L "$d" ] || continue',
  // Nanoseconds: two deploys within one second are still ordered by when they were made.
  `  S=$(stat -c %.9Y -- "$d/${RELEASE_STAMP}" 2>/dev/null) || S=0`,
  `  case $S in ''|*[!0-9.]*) S=$(stat -c %Y -- "$d/${RELEASE_STAMP}" 2>/dev/null) || S=0 ;; esac`,
  `  C=partial; if [ -f "$d/${MARKER_FILE}" ] && [ ! -L "$d/${MARKER_FILE}" ] && ` +
    `read -r X < "$d/${MARKER_FILE}" && [ "$X" = "$R" ]; then C=complete; fi`,
  '  echo "RELEASE $R $S $C"',
  "done; fi",
].join("\n");

/**
 * Prints `CURRENT ...`, one `RELEASE ...` per release, and sets `$M` to the marker of the current
 * release (empty when there is none), for the shared `REV` lines. `LAYOUT in_place` flags an in-place
 * tree (a top-level marker) that a releases run must not build beside without a migration.
 */
export const RELEASES_CLASSIFY = [
  READ_CURRENT,
  LIST_RELEASES,
  `if [ -e ${MARKER_FILE} ] || [ -L ${MARKER_FILE} ]; then echo "LAYOUT in_place"; fi`,
  `M=; [ -n "$H" ] && M="${RELEASES_DIR}/$H/${MARKER_FILE}"`,
].join("\n");

/** Reads the `CURRENT` and `RELEASE` lines (pure); releases come back oldest first. */
export function parseReleases(stdout: string): ReleasesView {
  let current: CurrentState = { kind: "none" };
  const releases: Release[] = [];
  for (const line of stdout.split("\n")) {
    const c = /^CURRENT (\S+)$/.exec(line);
    if (c) {
      current = /^[0-9a-f]{40}$/.test(c[1])
        ? { kind: "release", commit: c[1] }
        : c[1] === "none"
          ? { kind: "none" }
          : {
            kind: "bad",
            why: c[1] === "notlink" ? "is not a symlink" : "does not point at a release folder (releases/<commit>)",
          };
    }
    const r = /^RELEASE ([0-9a-f]{40}) (\d+(?:\.\d+)?) (complete|partial)$/.exec(line);
    if (r) releases.push({ commit: r[1], stamp: Number(r[2]), complete: r[3] === "complete" });
  }
  releases.sort((a, b) => a.stamp - b.stamp || a.commit.localeCompare(b.commit));
  return { current, releases };
}

/** The commit `current` serves, if it is a release. */
export function currentCommit(v: ReleasesView): string | undefined {
  return v.current.kind === "release" ? v.current.commit : undefined;
}

/**
 * Where a rollback goes (pure): `to` (a full hash or a unique prefix of a complete release), or else
 * the newest complete release older than the current one. A reason when there is none.
 */
export function rollbackTarget(v: ReleasesView, to?: string): { commit: string } | { problem: string } {
  const complete = v.releases.filter((r) => r.complete);
  const cur = currentCommit(v);
  if (to !== undefined) {
    if (!/^[0-9a-f]{4,40}$/.test(to)) {
      return { problem: `--to ${JSON.stringify(to)} is not a commit hash (4 to 40 hex digits)` };
    }
    const found = complete.filter((r) => r.commit.startsWith(to));
    if (found.length === 1) return { commit: found[0].commit };
    const kept = complete.map((r) => r.commit.slice(0, 12)).join(", ") || "none";
    return {
      problem: found.length === 0
        ? `no complete release ${to} on the VM (kept: ${kept})`
        : `${to} names ${found.length} releases; give more digits`,
    };
  }
  if (cur === undefined) {
    return { problem: "the VM serves no release (current is missing or not a release): nothing to roll back from" };
  }
  const at = complete.findIndex((r) => r.commit === cur);
  const older = at < 0 ? [] : complete.slice(0, at);
  if (older.length === 0) {
    return { problem: `no complete release older than the current one (${cur.slice(0, 12)}) is kept on the VM` };
  }
  return { commit: older[older.length - 1].commit };
}

/**
 * Releases to remove after `current` moved to `now` (pure): beyond the newest `keep` complete ones,
 * and every incomplete one, but never `now` nor `previous` (the one it replaced, kept for a rollback).
 */
export function releasesToPrune(v: ReleasesView, now: string, previous: string | undefined, keep: number): string[] {
  const spared = new Set([now, ...(previous ? [previous] : [])]);
  const complete = v.releases.filter((r) => r.complete && !spared.has(r.commit));
  const room = Math.max(0, keep - spared.size);
  const old = complete.slice(0, Math.max(0, complete.length - room)).map((r) => r.commit);
  const partial = v.releases.filter((r) => !r.complete && !spared.has(r.commit)).map((r) => r.commit);
  return [...partial, ...old];
}

/** The session commands whose argument must be a full commit hash (checked before the command runs). */
export const HASH_COMMANDS = ["commit", "prepare", "release", "switch", "drop", "adopt", "flatten", "share"];

/**
 * The session commands of the releases layout, as `case` arms of the session script's loop. Every
 * name written goes through `mktemp` + `mv -T` (never through a planted link); `$arg` is a full hash.
 */
export const RELEASE_COMMANDS = [
  // prepare H: releases/H exists (a real folder) and its marker is gone until the tree is whole again.
  "    prepare)",
  `      { [ ! -L ${RELEASES_DIR} ] && mkdir -p ${RELEASES_DIR} && ` +
    `[ ! -L "${RELEASES_DIR}/$arg" ] && mkdir -p "${RELEASES_DIR}/$arg" && ` +
    `rm -f -- "${RELEASES_DIR}/$arg/${MARKER_FILE}" && flag && layout; } ` +
    '2>/dev/null && echo OK || echo "ERR prepare" ;;',
  // release H: the marker, then the stamp the first time (its mtime orders the releases).
  "    release)",
  `      { place "${RELEASES_DIR}/$arg/${MARKER_FILE}" "$arg" && ` +
    `{ [ -f "${RELEASES_DIR}/$arg/${RELEASE_STAMP}" ] || place "${RELEASES_DIR}/$arg/${RELEASE_STAMP}" "$arg"; }; } ` +
    '2>/dev/null && echo OK || echo "ERR release" ;;',
  // switch H: only to a complete release; a new link renamed over `current` (atomic for readers).
  "    switch)",
  `      if [ -L "${RELEASES_DIR}/$arg" ] || [ -L "${RELEASES_DIR}/$arg/${MARKER_FILE}" ] || ` +
    `! read -r X < "${RELEASES_DIR}/$arg/${MARKER_FILE}" 2>/dev/null || [ "$X" != "$arg" ]; then echo "ERR incomplete"`,
  `      elif [ -e ${CURRENT_LINK} ] && [ ! -L ${CURRENT_LINK} ]; then echo "ERR currentnotlink"`,
  `      else T=$(mktemp -u ${TEMP_PREFIX}XXXXXX) && ln -s "${RELEASES_DIR}/$arg" "$T" && ` +
    `{ mv -fT -- "$T" ${CURRENT_LINK} && echo OK || { rm -f -- "$T"; echo "ERR switch"; }; } ` +
    '|| echo "ERR switch"; fi ;;',
  // drop H: never the one served.
  "    drop)",
  `      if [ "$(readlink ${CURRENT_LINK} 2>/dev/null)" = "${RELEASES_DIR}/$arg" ]; then echo "ERR dropcurrent"; ` +
    `elif [ -L ${RELEASES_DIR} ]; then echo "ERR drop"; ` +
    `else rm -rf -- "${RELEASES_DIR}/$arg" 2>/dev/null && echo OK || echo "ERR drop"; fi ;;`,
].join("\n");

/** The helper the release commands use to mark the folder as laid out in releases. */
export const LAYOUT_HELPER =
  `layout() { [ -f ${LAYOUT_FILE} ] && [ ! -L ${LAYOUT_FILE} ] || place ${LAYOUT_FILE} releases; }`;

/** Prefix of the folder that keeps the releases when a target goes back in place (an own name: never synced over). */
export const KEPT_RELEASES_PREFIX = ".repo-sync.releases.";

// Top-level entries that are not repo-sync's own names (`find` prints them as ./NAME: never an option).
const OTHERS =
  `find . -mindepth 1 -maxdepth 1 ! -name '.repo-sync.*' ! -name ${MARKER_FILE} ! -name '${MARKER_FILE}.*'`;

/**
 * The migration commands (`repo-sync migrate`), as session `case` arms; nothing is deleted by either.
 *  - adopt H: an in-place tree whose top-level marker names H becomes releases/H (renamed within the
 *    file system, not copied), and `current` points at it (its shared paths are then linked: `share H`).
 *  - flatten H: the release `current` points at (H) becomes the tree in place again, the data of its
 *    shared paths back where the links were; every release, that one's empty folder included, is kept
 *    under `.repo-sync.releases.<time>`, with whatever `shared/` still holds.
 */
export function migrateCommands(shared: string[]): string {
  return [
    "    adopt)",
    `      if [ -L ${MARKER_FILE} ] || ! read -r X < ${MARKER_FILE} 2>/dev/null || [ "$X" != "$arg" ]; ` +
      'then echo "ERR adoptmarker"',
    `      elif [ -e ${RELEASES_DIR} ] || [ -L ${RELEASES_DIR} ] || ` +
      `[ -e ${CURRENT_LINK} ] || [ -L ${CURRENT_LINK} ]; then echo "ERR adoptnames"`,
    `      else { mkdir -p "${RELEASES_DIR}/$arg" && ` +
      `${OTHERS} ! -name ${RELEASES_DIR} -exec mv -t "${RELEASES_DIR}/$arg" -- {} + && ` +
      `mv -fT -- ${MARKER_FILE} "${RELEASES_DIR}/$arg/${MARKER_FILE}" && ` +
      `place "${RELEASES_DIR}/$arg/${RELEASE_STAMP}" "$arg" && flag && layout && ` +
      `T=$(mktemp -u ${TEMP_PREFIX}XXXXXX) && ln -s "${RELEASES_DIR}/$arg" "$T" && mv -fT -- "$T" ${CURRENT_LINK}; } ` +
      '2>/dev/null && echo OK || echo "ERR adopt"; fi ;;',
    "    flatten)",
    `      if [ -L ${RELEASES_DIR} ] || [ "$(readlink ${CURRENT_LINK} 2>/dev/null)" != "${RELEASES_DIR}/$arg" ] || ` +
      `[ -L "${RELEASES_DIR}/$arg" ] || [ -L "${RELEASES_DIR}/$arg/${MARKER_FILE}" ] || ` +
      `! read -r X < "${RELEASES_DIR}/$arg/${MARKER_FILE}" 2>/dev/null || [ "$X" != "$arg" ]; ` +
      'then echo "ERR flattenmarker"',
    `      elif [ -n "$(${OTHERS} ! -name ${RELEASES_DIR} ! -name ${CURRENT_LINK} ! -name ${SHARED_DIR} -print)" ]; ` +
      'then echo "ERR flattennames"',
    `      else K="${KEPT_RELEASES_PREFIX}$(date +%Y%m%dT%H%M%S)"; ` +
      `{ mv -T -- ${RELEASES_DIR} "$K" && rm -f -- ${CURRENT_LINK} && ` +
      `find "$K/$arg" -mindepth 1 -maxdepth 1 ! -name ${RELEASE_STAMP} -exec mv -t . -- {} + && ` +
      `${sharedCalls("unshare1", shared)} && ` +
      `{ [ ! -d ${SHARED_DIR} ] || [ -L ${SHARED_DIR} ] || mv -T -- ${SHARED_DIR} "$K/${SHARED_DIR}"; } && ` +
      `rm -f -- ${LAYOUT_FILE}; } 2>/dev/null && echo "KEPT $K" && echo OK || echo "ERR flatten"; fi ;;`,
  ].join("\n");
}
