/**
 * The few shell commands repo-sync runs on a target, built from constants plus the quoted target path
 * (pure), and the parsers for what they print. Two scripts:
 *  - the probe (read-only): directory state and `.sync_rev`;
 *  - the session: takes an exclusive flock on the target for as long as our connection lives (a
 *    crashed run releases it with its connection), reports the directory state, then obeys one-line
 *    commands on stdin: `invalidate`, `commit <hash>`, `unmanage`, `purge` (remove the whole tree).
 */
import { LOCK_FILE, MANAGED_FILE, MARKER_FILE } from "../transfer/rsyncArgs";

/** Quotes a value for a POSIX shell (single quotes; embedded quotes closed and escaped). */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Wraps a script so that it runs under /bin/sh whatever the login shell is. */
export function asShCommand(script: string): string {
  return `/bin/sh -c ${shQuote(script)}`;
}

/** What a target directory is, as far as `--delete` is concerned. */
export type DirState = "missing" | "notdir" | "empty" | "managed" | "foreign";

/** Parsed probe/session header. */
export interface TargetHeader {
  state: DirState;
  /** `.sync_rev` content (first line), or undefined when absent/empty. */
  revision?: string;
  /** Set when the script reported an error (ERR ...). */
  error?: string;
}

// Classifies the current directory. A directory holding only our lock file counts as empty.
const CLASSIFY = [
  `if [ -e ${MANAGED_FILE} ] || [ -e ${MARKER_FILE} ]; then S=managed`,
  `elif [ -z "$(ls -A | grep -v -x -e ${LOCK_FILE})" ]; then S=empty`,
  "else S=foreign; fi",
  `R=$(head -c 200 ${MARKER_FILE} 2>/dev/null | head -n 1)`,
  'echo "STATE $S"',
  'echo "REV $R"',
].join("\n");

/** Read-only probe: prints `STATE ...` and `REV ...`. */
export function probeScript(targetPath: string): string {
  return [
    `P=${shQuote(targetPath)}`,
    'if [ ! -e "$P" ]; then echo "STATE missing"; echo "REV "; exit 0; fi',
    'if [ ! -d "$P" ]; then echo "STATE notdir"; echo "REV "; exit 0; fi',
    'cd -- "$P" || { echo "ERR cd"; exit 3; }',
    CLASSIFY,
  ].join("\n");
}

/** The locking session script (see the file comment). */
export function sessionScript(targetPath: string, lockWaitS: number): string {
  return [
    "umask 022",
    `P=${shQuote(targetPath)}`,
    'if [ -e "$P" ] && [ ! -d "$P" ]; then echo "ERR notdir"; exit 3; fi',
    'mkdir -p -- "$P" 2>/dev/null || { echo "ERR mkdir"; exit 3; }',
    'cd -- "$P" || { echo "ERR cd"; exit 3; }',
    'command -v flock >/dev/null 2>&1 || { echo "ERR noflock"; exit 3; }',
    // A failed redirection on `exec` ends a POSIX shell on the spot: probe writability in a subshell.
    `( : >> ${LOCK_FILE} ) 2>/dev/null || { echo "ERR lockfile"; exit 3; }`,
    `exec 9>>${LOCK_FILE}`,
    `flock -w ${Math.max(0, Math.floor(lockWaitS))} 9 || { echo "ERR locked"; exit 4; }`,
    CLASSIFY,
    'echo "READY"',
    'while read -r cmd arg; do',
    '  case "$cmd" in',
    `    invalidate) { rm -f ${MARKER_FILE} && : > ${MANAGED_FILE}; } 2>/dev/null && echo OK || echo "ERR invalidate" ;;`,
    "    commit)",
    '      case "$arg" in',
    '        *[!0-9a-f]*|"") echo "ERR badrev" ;;',
    `        *) { printf '%s\\n' "$arg" > ${MARKER_FILE}.tmp && mv -f ${MARKER_FILE}.tmp ${MARKER_FILE} && : > ${MANAGED_FILE}; } 2>/dev/null && echo OK || echo "ERR commit" ;;`,
    "      esac ;;",
    `    unmanage) rm -f ${MARKER_FILE} ${MANAGED_FILE} ${MARKER_FILE}.tmp ${LOCK_FILE} && echo OK || echo "ERR unmanage" ;;`,
    '    purge) cd / && rm -rf -- "$P" && echo OK || echo "ERR purge" ;;',
    '    *) echo "ERR unknown" ;;',
    "  esac",
    "done",
  ].join("\n");
}

/** Parses the `STATE`/`REV`/`ERR` lines a script printed (pure). */
export function parseTargetHeader(stdout: string): TargetHeader {
  const out: TargetHeader = { state: "missing" };
  for (const line of stdout.split("\n")) {
    if (line.startsWith("STATE ")) out.state = line.slice(6).trim() as DirState;
    else if (line.startsWith("REV ")) out.revision = line.slice(4).trim() || undefined;
    else if (line.startsWith("ERR ")) out.error = line.slice(4).trim();
  }
  return out;
}

/** Human explanations for the scripts' ERR codes. */
export const SCRIPT_ERRORS: Record<string, { reason: string; hint: string; kind: "target-io" | "locked" | "transfer" }> = {
  notdir: { kind: "target-io", reason: "the target path exists and is not a directory", hint: "fix repository.vm_repo_paths for this VM, or remove the file on the VM" },
  mkdir: { kind: "target-io", reason: "the target directory cannot be created (permission denied or read-only file system)", hint: "create it on the VM and give the ssh_user write access" },
  cd: { kind: "target-io", reason: "the target directory cannot be entered", hint: "give the ssh_user access to it" },
  lockfile: { kind: "target-io", reason: "the target directory is not writable (permission denied or read-only file system)", hint: "give the ssh_user write access to the target directory" },
  noflock: { kind: "transfer", reason: "the VM has no `flock` command (util-linux)", hint: "install util-linux on the VM" },
  locked: { kind: "locked", reason: "another repo-sync run holds the lock on this target", hint: "wait for it to finish (or raise repository.lock_timeout_s); a crashed run releases the lock when its connection drops" },
  invalidate: { kind: "target-io", reason: "cannot remove .sync_rev before the transfer", hint: "give the ssh_user write access to the target directory" },
  commit: { kind: "target-io", reason: "cannot write .sync_rev after the transfer", hint: "check free space and permissions in the target directory" },
  badrev: { kind: "transfer", reason: "refused to write a malformed revision", hint: "this is a bug in repo-sync; please report it" },
  unmanage: { kind: "target-io", reason: "cannot remove repo-sync's marker files", hint: "check permissions in the target directory" },
  purge: { kind: "target-io", reason: "cannot remove the synced tree", hint: "check permissions on the target directory and its parent" },
  unknown: { kind: "transfer", reason: "the target session did not understand a command", hint: "this is a bug in repo-sync; please report it" },
};
