/**
 * The names repo-sync owns at the top of every target directory: the marker, the managed flag and the
 * temporary files the marker is written through. Nothing else may write them, so a commit that holds
 * one of them is refused at the source (it could otherwise plant a symlink where the marker is
 * written), and rsync neither sends nor deletes them. Pure: no I/O.
 */

/** The commit the target holds; written only after a complete transfer. */
export const MARKER_FILE = ".sync_rev";
/** Present once repo-sync has written into the directory: the `--delete` guard's proof of ownership. */
export const MANAGED_FILE = ".repo-sync.managed";
/** Prefix of the temporary files (made by `mktemp`) that the marker and the flag are renamed from. */
export const TEMP_PREFIX = ".repo-sync.tmp.";
/**
 * Prefix of the records of the transfers running on the target (pid, start time, boot id): what a
 * session kills when it takes the lock (see fence.ts).
 */
export const TRANSFER_RECORD_PREFIX = ".repo-sync.xfer.";
/** Names the session that holds the lock while it accepts transfers (fence.ts); gone when it ends. */
export const SESSION_FILE = ".repo-sync.session";
/**
 * The target's audit trail (history.ts): one line per switch, rollback and failed health check.
 * Like every `.repo-sync.*` name it is never sent, deleted or compared by rsync (OWN_EXCLUDES).
 */
export const HISTORY_FILE = ".repo-sync.log";
/** Written by earlier versions (which locked a file, not the directory); still never shipped. */
export const LEGACY_LOCK_FILE = ".repo-sync.lock";

/** rsync filter patterns (anchored at the transfer root) that keep our names out of every transfer. */
export const OWN_EXCLUDES = [`/${MARKER_FILE}`, `/${MARKER_FILE}.*`, "/.repo-sync.*"];

/** True when `name` (an entry at the top of a tree) is one of the names repo-sync owns on a target. */
export function isOwnName(name: string): boolean {
  return name === MARKER_FILE || name.startsWith(`${MARKER_FILE}.`) || name.startsWith(".repo-sync.");
}
