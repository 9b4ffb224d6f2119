/**
 * The few shell commands repo-sync runs on a target, built from constants plus the quoted target path
 * (pure), and the parsers for what they print. Two scripts:
 *  - the probe (read-only): directory state and `.sync_rev`;
 *  - the session: takes an exclusive flock on the target for as long as our connection lives (a
 *    crashed run releases it with its connection), stops what an earlier run's transfer left running
 *    (fence.ts), reports the directory state and names itself, then obeys one-line commands on stdin:
 *    `invalidate`, `commit <hash>`, `unmanage`, `purge` (remove the whole tree), and in the releases
 *    layout those of releases.ts and `share <hash>` (shared.ts). It starts on `go [OWNER|- GROUP|-]`:
 *    the owner and group of what will land, checked first. When its input ends (the run finished, or
 *    died), it stops the transfers it started before it exits.
 * Neither script follows a symlink under one of repo-sync's own names, nor reads a file through the
 * shell: the marker is sent back hex-encoded.
 */
import { FENCE_CLOSE, FENCE_OPEN, FENCE_START, parseSessionLine, type SessionFence } from "./fence";
import {
  HISTORY_FILE, LEGACY_LOCK_FILE, MANAGED_FILE, MARKER_FILE, SESSION_FILE, TEMP_PREFIX, TRANSFER_RECORD_PREFIX,
} from "../config/ownFiles";
import { HISTORY_COMMAND, TRAIL_END } from "./history";
import {
  currentCommit, HASH_COMMANDS, LAYOUT_FILE, LAYOUT_HELPER, migrateCommands, parseReleases, RELEASE_COMMANDS,
  RELEASES_CLASSIFY, type ReleasesView,
} from "./releases";
import type { Layout } from "../config/types";

export type { Layout } from "../config/types";

import { shQuote } from "./quote";
import { SHARE_FUNCTIONS, shareCommand } from "./shared";

export { shQuote } from "./quote";

/** Wraps a script so that it runs under /bin/sh whatever the login shell is. */
export function asShCommand(script: string, sudo = false): string {
  // sudo -n: a password prompt would hang the session; it fails with "a password is required" instead.
  return `${sudo ? "sudo -n -- " : ""}/bin/sh -c ${shQuote(script)}`;
}

/** What a target directory is, as far as `--delete` is concerned. */
export type DirState = "missing" | "notdir" | "empty" | "managed" | "foreign";

/** What the target's `.sync_rev` is, read as bytes (never through `echo` or a shell variable). */
export type MarkerState = "absent" | "valid" | "malformed" | "symlink" | "notfile";

/** Parsed probe/session header. */
export interface TargetHeader {
  state: DirState;
  /** The commit `.sync_rev` names, only when it holds exactly one full hash and a newline. */
  revision?: string;
  marker: MarkerState;
  /** Set when the script reported an error (ERR ...). */
  error?: string;
  /** A layout other than the one asked for was found (`LAYOUT` line): the run must not go on as if not. */
  otherLayout?: Layout;
  /** In the releases layout: `current` and the releases kept. */
  releases?: ReleasesView;
  /** The session that printed this header (sessions only): what its transfers are fenced by. */
  session?: SessionFence;
}

/** Longest marker read: a 40-hex hash and a newline, plus room to see that it is something else. */
const MARKER_READ_BYTES = 64;

// Classifies the current directory. Tests use -L beside -e so that a dangling symlink under one of our
// names still counts (and is never followed). The marker travels as hex (od), so no byte of it is
// interpreted by the shell or can forge a protocol line.
const CLASSIFY_STATE = [
  // True when the folder holds nothing but a session's transient bookkeeping (fence.ts), which makes a
  // folder nobody's. Globs, not `ls`: a name with a line break in it is one name, never two.
  'only_ours() { for f in * .[!.]* ..?*; do { [ -e "$f" ] || [ -L "$f" ]; } || continue; ' +
    `case $f in ${LEGACY_LOCK_FILE}|${SESSION_FILE}|${TRANSFER_RECORD_PREFIX}*) ;; *) return 1 ;; esac; ` +
    "done; return 0; }",
  `if [ -e ${MANAGED_FILE} ] || [ -L ${MANAGED_FILE} ] || ` +
    `[ -e ${MARKER_FILE} ] || [ -L ${MARKER_FILE} ]; then S=managed`,
  "elif only_ours; then S=empty",
  "else S=foreign; fi",
  'echo "STATE $S"',
].join("\n");

// The marker named by $M (empty: none).
const REPORT_MARKER = [
  `if [ -z "$M" ]; then echo "REV absent"`,
  `elif [ -L "$M" ]; then echo "REV symlink"`,
  `elif [ ! -e "$M" ]; then echo "REV absent"`,
  `elif [ ! -f "$M" ]; then echo "REV notfile"`,
  `else printf 'REV hex:'; od -An -v -tx1 -N ${MARKER_READ_BYTES} -- "$M" | tr -d ' \\n'; echo; fi`,
].join("\n");

/** The directory state and the served marker: the top-level one in place, the current release's otherwise. */
function classify(layout: Layout): string {
  if (layout === "releases") return [CLASSIFY_STATE, RELEASES_CLASSIFY, REPORT_MARKER].join("\n");
  // A folder laid out in releases must not take an in-place --delete: flagged for the caller to refuse.
  return [
    CLASSIFY_STATE,
    `if [ -e ${LAYOUT_FILE} ] || [ -L ${LAYOUT_FILE} ]; then echo "LAYOUT releases"; fi`,
    `M=${MARKER_FILE}`,
    REPORT_MARKER,
  ].join("\n");
}

// Refuses a target whose last component is a symlink: rsync, the lock and the markers would all act on
// wherever it points.
const NOT_A_LINK = 'if [ -L "$P" ]; then echo "ERR symlink"; exit 3; fi';

/** Read-only probe: prints `STATE ...` and `REV ...` (and, in releases, `CURRENT`/`RELEASE` lines). */
export function probeScript(targetPath: string, layout: Layout = "in_place"): string {
  return [
    `P=${shQuote(targetPath)}`,
    NOT_A_LINK,
    'if [ ! -e "$P" ]; then echo "STATE missing"; echo "REV absent"; exit 0; fi',
    'if [ ! -d "$P" ]; then echo "STATE notdir"; echo "REV absent"; exit 0; fi',
    'cd -- "$P" || { echo "ERR cd"; exit 3; }',
    classify(layout),
  ].join("\n");
}

/** The line that ends a holding probe's answer. */
export const PROBE_DONE = "DONE";

/**
 * The probe, then a wait for stdin to close: the connection stays up for an rsync dry run over it
 * (see sshLink.ts), and ends when the caller is done. Read-only like the probe.
 */
export function holdingProbeScript(targetPath: string, layout: Layout = "in_place"): string {
  return ["(", probeScript(targetPath, layout), ")", `echo ${PROBE_DONE}`, "read -r _ || true"].join("\n");
}

/** The line that ends the history read script's answer. */
export const HISTORY_DONE = "DONE";

/**
 * Read-only: prints `LOG none|symlink|notfile` or `LOG hex:<the end of the trail>` (history.ts), then
 * DONE. The trail is sent hex-encoded (like the marker) and never read through a link.
 */
export function historyReadScript(targetPath: string): string {
  return [
    `P=${shQuote(targetPath)}`,
    NOT_A_LINK,
    `if [ ! -d "$P" ]; then echo "LOG none"; echo ${HISTORY_DONE}; exit 0; fi`,
    'cd -- "$P" || { echo "ERR cd"; exit 3; }',
    `if [ -L ${HISTORY_FILE} ]; then echo "LOG symlink"`,
    `elif [ ! -e ${HISTORY_FILE} ]; then echo "LOG none"`,
    `elif [ ! -f ${HISTORY_FILE} ] || [ "$(stat -c %h -- ${HISTORY_FILE})" != 1 ]; then echo "LOG notfile"`,
    `else printf 'LOG hex:'; { ${TRAIL_END}; } 2>/dev/null | od -An -v -tx1 | tr -d ' \\n'; echo; fi`,
    `echo ${HISTORY_DONE}`,
  ].join("\n");
}

/**
 * `fresh NAME`: stdin into a file created under NAME, never through anything already there. A name
 * from `mktemp` is not enough: whoever can write the target directory can put a link under it before
 * the shell opens it again (and `chmod` would follow one too), which made repo-sync, maybe as root,
 * write and chmod the file it points at. `conv=excl` is O_CREAT|O_EXCL (no link is followed, nothing
 * existing is opened); the mode comes from the session's umask (022: 644).
 */
export const FRESH_FILE = 'fresh() { dd of="$1" conv=excl status=none 2>/dev/null; }';

/**
 * The locking session script (see the file comment). The lock is a flock on the target directory
 * itself, so there is no lock file to plant a symlink under. Every file it writes is created under a
 * `mktemp -u` name with O_EXCL (`fresh`: never through an existing name) and renamed over ours with
 * `mv -T`, which replaces a planted symlink instead of writing through it, and refuses a planted directory.
 */
export function sessionScript(
  targetPath: string,
  lockWaitS: number,
  layout: Layout = "in_place",
  migrate = false,
  shared: string[] = [],
): string {
  const releases = layout === "releases" || migrate;
  return [
    // Nothing happens on the target before `go`: a connection opened early (while the source is still
    // being scanned) ends without a trace when the source is refused.
    'read -r GO OWN GRP && [ "$GO" = go ] || exit 0',
    "umask 022",
    `P=${shQuote(targetPath)}`,
    NOT_A_LINK,
    // rsync --chown to a name the VM lacks only warns and leaves files to the receiving user: refused
    // here, before anything changes. A number is an id as it is; no `getent`: left to rsync's warning.
    'case "$OWN" in -|"") ;; *[!0-9]*) id -u -- "$OWN" >/dev/null 2>&1 || { echo "ERR nouser"; exit 3; } ;; esac',
    'case "$GRP" in -|"") ;; *[!0-9]*) ! command -v getent >/dev/null 2>&1 || ' +
      'getent group -- "$GRP" >/dev/null 2>&1 || { echo "ERR nogroup"; exit 3; } ;; esac',
    'if [ -e "$P" ] && [ ! -d "$P" ]; then echo "ERR notdir"; exit 3; fi',
    'mkdir -p -- "$P" 2>/dev/null || { echo "ERR mkdir"; exit 3; }',
    'cd -- "$P" || { echo "ERR cd"; exit 3; }',
    'command -v flock >/dev/null 2>&1 || { echo "ERR noflock"; exit 3; }',
    // A failed redirection on `exec` ends a POSIX shell on the spot: test readability first.
    '[ -r . ] || { echo "ERR lockfile"; exit 3; }',
    "exec 9<.",
    `flock -w ${Math.max(0, Math.floor(lockWaitS))} 9 || { echo "ERR locked"; exit 4; }`,
    // A directory we cannot write to fails here, before anything is transferred.
    `T=$(mktemp ${TEMP_PREFIX}XXXXXX 2>/dev/null) && rm -f -- "$T" || { echo "ERR notwritable"; exit 3; }`,
    // Before anything changes (or is even looked at): no transfer of an earlier session still writes.
    FENCE_START,
    classify(layout),
    FRESH_FILE,
    // place NAME LINE: writes LINE and a newline to NAME (mode 644) by renaming a fresh temp file over it.
    'place() {',
    `  T=$(mktemp -u ${TEMP_PREFIX}XXXXXX) || return 1`,
    `  if printf '%s\\n' "$2" | fresh "$T" && mv -fT -- "$T" "$1"; then return 0; fi`,
    '  rm -f -- "$T"; return 1',
    '}',
    `flag() { [ -f ${MANAGED_FILE} ] && [ ! -L ${MANAGED_FILE} ] || place ${MANAGED_FILE} repo-sync; }`,
    ...(releases ? [LAYOUT_HELPER, SHARE_FUNCTIONS] : []),
    FENCE_OPEN,
    'echo "READY"',
    'while read -r cmd arg; do',
    `  case "$cmd" in ${HASH_COMMANDS.join("|")}) ` +
      'case "$arg" in *[!0-9a-f]*|"") echo "ERR badrev"; continue ;; esac; ' +
      '[ ${#arg} -eq 40 ] || { echo "ERR badrev"; continue; } ;; esac',
    '  case "$cmd" in',
    `    invalidate) { rm -f -- ${MARKER_FILE} && flag; } 2>/dev/null && echo OK || echo "ERR invalidate" ;;`,
    `    commit) { place ${MARKER_FILE} "$arg" && flag; } 2>/dev/null && echo OK || echo "ERR commit" ;;`,
    HISTORY_COMMAND,
    ...(layout === "releases" ? [RELEASE_COMMANDS] : []),
    ...(releases ? [shareCommand(shared)] : []),
    ...(migrate ? [migrateCommands(shared)] : []),
    // The managed flag stays: it lets a later run take back the tree repo-sync left (see README).
    `    unmanage) rm -f -- ${MARKER_FILE} ${LEGACY_LOCK_FILE} ${TEMP_PREFIX}* 2>/dev/null ` +
      '&& echo OK || echo "ERR unmanage" ;;',
    '    purge) cd / && rm -rf -- "$P" && echo OK || echo "ERR purge" ;;',
    '    *) echo "ERR unknown" ;;',
    "  esac",
    "done",
    // The run is over (or dead): what it started dies with it.
    FENCE_CLOSE,
  ].join("\n");
}

/**
 * The commit the target serves: in place, what `.sync_rev` names; in releases, the release `current`
 * points at, and only when that release's own marker names it (a partial or foreign one serves none).
 */
export function servedRevision(h: TargetHeader): string | undefined {
  if (!h.releases) return h.revision;
  const current = currentCommit(h.releases);
  return current !== undefined && h.revision === current ? current : undefined;
}

/** Decodes the hex a script printed for `.sync_rev` into what it says (pure). */
export function parseMarker(field: string): { marker: MarkerState; revision?: string } {
  if (field === "symlink" || field === "absent" || field === "notfile") return { marker: field };
  if (!field.startsWith("hex:") || !/^(?:[0-9a-f]{2})*$/.test(field.slice(4))) return { marker: "malformed" };
  const text = Buffer.from(field.slice(4), "hex").toString("latin1");
  const m = /^([0-9a-f]{40})\n?$/.exec(text);
  return m ? { marker: "valid", revision: m[1] } : { marker: "malformed" };
}

/** Parses the `STATE`/`REV`/`ERR` lines a script printed (pure). */
export function parseTargetHeader(stdout: string): TargetHeader {
  const out: TargetHeader = { state: "missing", marker: "absent" };
  for (const line of stdout.split("\n")) {
    if (line.startsWith("STATE ")) out.state = line.slice(6).trim() as DirState;
    else if (line.startsWith("REV ")) Object.assign(out, parseMarker(line.slice(4).trim()));
    else if (line.startsWith("ERR ")) out.error = line.slice(4).trim();
    else if (line === "LAYOUT releases" || line === "LAYOUT in_place") out.otherLayout = line.slice(7) as Layout;
    else if (line.startsWith("SESSION ")) out.session = parseSessionLine(line);
  }
  if (/^CURRENT /m.test(stdout)) out.releases = parseReleases(stdout);
  return out;
}

/** Human explanations for the scripts' ERR codes. */
export const SCRIPT_ERRORS: Record<
  string,
  { reason: string; hint: string; kind: "target-io" | "locked" | "transfer" | "unsafe-target" | "config" }
> = {
  nouser: {
    kind: "config", reason: "repository.owner names a user this VM does not have; nothing was changed",
    hint: "create the user on the VM (e.g. `useradd --system NAME`) or fix repository.owner",
  },
  nogroup: {
    kind: "config", reason: "repository.group names a group this VM does not have; nothing was changed",
    hint: "create the group on the VM (e.g. `groupadd --system NAME`) or fix repository.group",
  },
  symlink: {
    kind: "unsafe-target", reason: "the target path is a symlink; repo-sync does not write through links",
    hint: "point repository.vm_repo_paths at the real directory (resolve the link on the VM with `readlink -f`)",
  },
  notdir: {
    kind: "target-io", reason: "the target path exists and is not a directory",
    hint: "fix repository.vm_repo_paths for this VM, or remove the file on the VM",
  },
  mkdir: {
    kind: "target-io", reason: "the target directory cannot be created (permission denied or read-only file system)",
    hint: "create it on the VM and give the ssh_user write access",
  },
  cd: { kind: "target-io", reason: "the target directory cannot be entered", hint: "give the ssh_user access to it" },
  lockfile: {
    kind: "target-io", reason: "the target directory cannot be opened for its lock (not readable by the ssh_user)",
    hint: "give the ssh_user read and write access to the target directory",
  },
  notwritable: {
    kind: "target-io", reason: "the target directory is not writable (permission denied or read-only file system)",
    hint: "give the ssh_user write access to the target directory",
  },
  noproc: {
    kind: "transfer", reason: "the VM's /proc cannot be read (repo-sync tells its own processes on the VM apart " +
      "through /proc/<pid>/stat)",
    hint: "mount /proc on the VM (Linux), readable by the ssh_user",
  },
  transfer: {
    kind: "locked", reason: "a transfer of an earlier, killed run is still running on the VM and this session cannot " +
      "stop it (nothing was changed)",
    hint: "stop it on the VM (`kill PID`, the pid is in the details below), or run with the repository.sudo setting " +
      "it was started with",
  },
  noflock: {
    kind: "transfer", reason: "the VM has no `flock` command (util-linux)",
    hint: "install util-linux on the VM",
  },
  locked: {
    kind: "locked", reason: "another repo-sync run holds the lock on this target",
    hint: "wait for it to finish (or raise repository.lock_timeout_s); a crashed run releases the lock when its " +
      "connection drops",
  },
  invalidate: {
    kind: "target-io", reason: "cannot remove .sync_rev or write .repo-sync.managed before the transfer",
    hint: "give the ssh_user write access to the target directory; remove a directory planted under one of those " +
      "names",
  },
  commit: {
    kind: "target-io", reason: "cannot write .sync_rev after the transfer",
    hint: "check free space and permissions in the target directory; remove a directory planted under that name",
  },
  badrev: {
    kind: "transfer", reason: "refused to write a malformed revision",
    hint: "this is a bug in repo-sync; please report it",
  },
  unmanage: {
    kind: "target-io", reason: "cannot remove repo-sync's marker files",
    hint: "check permissions in the target directory",
  },
  purge: {
    kind: "target-io", reason: "cannot remove the synced tree",
    hint: "check permissions on the target directory and its parent",
  },
  prepare: {
    kind: "target-io", reason: "cannot create the release folder (releases/<commit>)",
    hint: "give the ssh_user write access to the target directory; remove a symlink planted as releases or " +
      "releases/<commit>",
  },
  release: {
    kind: "target-io", reason: "cannot write the release's .sync_rev after the transfer",
    hint: "check free space and permissions in the release folder",
  },
  incomplete: {
    kind: "target-io", reason: "the release to switch to is not complete on the VM (its .sync_rev does not name it)",
    hint: "deploy that commit again (the release is rebuilt) or pick another one",
  },
  currentnotlink: {
    kind: "unsafe-target", reason: "`current` in the target directory is not a symlink; repo-sync does not replace a " +
      "real file or folder there",
    hint: "move it away on the VM (it may be an in-place tree: see README, Migration)",
  },
  switch: {
    kind: "target-io", reason: "cannot switch `current` to the release",
    hint: "check permissions in the target directory",
  },
  dropcurrent: {
    kind: "target-io", reason: "refused to remove the release `current` points at",
    hint: "this is a bug in repo-sync; please report it",
  },
  drop: { kind: "target-io", reason: "cannot remove an old release", hint: "check permissions in releases/ on the VM" },
  adoptmarker: {
    kind: "target-io", reason: "the in-place tree's .sync_rev does not name the commit it was read as",
    hint: "run `repo-sync sync` in place first, then migrate",
  },
  adoptnames: {
    kind: "unsafe-target", reason: "the in-place tree has its own `releases` or `current` entry; it cannot be moved " +
      "into a release without a clash",
    hint: "rename that entry in the repository (or on the VM), sync, then migrate",
  },
  adopt: {
    kind: "target-io", reason: "cannot move the in-place tree into its release folder",
    hint: "check permissions in the target directory; what was moved is under releases/<commit>",
  },
  flattenmarker: {
    kind: "target-io", reason: "`current` does not point at a complete release",
    hint: "deploy a commit in the releases layout first (or roll back to a complete release), then migrate",
  },
  flattennames: {
    kind: "unsafe-target", reason: "the target directory holds entries other than releases and current; moving a " +
      "release up could clash with them",
    hint: "move those entries away on the VM, then migrate",
  },
  flatten: {
    kind: "target-io", reason: "cannot move the current release back in place",
    hint: "check permissions in the target directory; the releases are under .repo-sync.releases.<time>",
  },
  share: {
    kind: "unsafe-target", reason: "cannot link the shared paths (repository.rsync_excludes) into the release: a " +
      "symlink, or a file where a folder belongs, is on the way to one of them under the release or under shared/ " +
      "(or permission is denied); the release was not switched to",
    hint: "look at releases/<commit>/<path> and shared/<path> in the target directory on the VM (see README, " +
      "Releases: VM-local data)",
  },
  log: {
    kind: "target-io", reason: "cannot append to the target's history (.repo-sync.log)",
    hint: "check free space and permissions in the target directory; remove a directory planted under that name",
  },
  unknown: {
    kind: "transfer", reason: "the target session did not understand a command",
    hint: "this is a bug in repo-sync; please report it",
  },
};
