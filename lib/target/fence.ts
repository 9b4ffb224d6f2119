/**
 * The fence between a target session and the transfers it starts (pure: shell text and a parser).
 *
 * A session (script.ts) holds the target's lock in its shell for as long as that shell lives. rsync
 * runs beside it, on its own channel of the connection, so a run killed on this machine (`kill -9`)
 * ends its session but can leave its rsync writing on the VM (the ssh master stays up for rsync's
 * channel). Hence:
 *  - the session names itself (`<pid> <start> <boot>`: its shell's pid, that process's start time and
 *    the VM's boot id, which together survive no pid reuse), to us on a `SESSION` line and on the VM
 *    in `.repo-sync.session`, which it removes first thing when its input ends;
 *  - every transfer of a session starts on the VM through {@link TRANSFER_WRAPPER}: it records itself
 *    in the target directory (`.repo-sync.xfer.*`: pid, start, boot), then checks that its session is
 *    alive and still named in `.repo-sync.session` (so it holds the lock and is not ending), and only
 *    then becomes rsync (`exec`, same pid);
 *  - a session, right after taking the lock (before anything changes) and again when it ends, kills
 *    every recorded transfer still alive, with its process group, and waits for it to be gone.
 * Why this holds: a wrapper that passed its check had written its record before its session began to
 * end, and before the lock could pass on; the ending session and the next one read the records only
 * after that. A wrapper that checks later refuses. A record is acted on only for a process owned by
 * the record's owner: nobody gets a process killed that they could not kill themselves.
 */
import { SESSION_FILE, TRANSFER_RECORD_PREFIX } from "../config/ownFiles";

/** Who a session is on its VM: enough to tell, from /proc, whether that very shell still runs. */
export interface SessionFence {
  /** The session shell's pid. */
  pid: string;
  /** Its start time (clock ticks since boot, /proc/<pid>/stat field 22). */
  start: string;
  /** The VM's boot id (or `-` where the kernel has none). */
  boot: string;
}

/** `pstat PID` prints `STATE PGRP START` (/proc/PID/stat fields 3, 5, 22); fails when there is no such process. */
const PSTAT =
  'pstat() { L=; read -r L < "/proc/$1/stat" 2>/dev/null || return 1; L=${L##*) }; set -- $L; echo "$1 $3 ${20}"; }';

/** `$BOOT`: the VM's boot id, `-` when unreadable. */
const BOOT_ID =
  'BOOT=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null); case "$BOOT" in ""|*[!0-9a-f-]*) BOOT=- ;; esac';

/** True (status 0) when `pstat` output `$1` is a live process (not a zombie) that started at `$2`. */
const LIVE = 'live() { [ -n "$1" ] && [ "${1##* }" = "$2" ] && case "${1%% *}" in Z|X) false ;; esac; }';

/**
 * The remote command that every transfer of a session runs before rsync (`sh -c WRAPPER NAME SESSION_PID
 * SESSION_START SESSION_BOOT TARGET_PATH RSYNC rsync-args...`). One line: it travels inside rsync's
 * `--rsync-path`. Values come as arguments, so nothing in it needs quoting.
 */
export const TRANSFER_WRAPPER = [
  'S=$1 ST=$2 SB=$3 P=$4 R=$5',
  "shift 5",
  PSTAT,
  BOOT_ID,
  LIVE,
  'cd -- "$P" || exit 1',
  // Created with O_EXCL under a `mktemp -u` name (never through a link planted under a mktemp name before
  // the shell opens it), readable and writable by its owner only (the session trusts what it names).
  `ME=$(pstat $$) && F=$(mktemp -u ${TRANSFER_RECORD_PREFIX}XXXXXX) && ` +
    `(umask 077 && printf '%s %s %s\\n' $$ "\${ME##* }" "$BOOT" | dd of="$F" conv=excl status=none 2>/dev/null) || ` +
    '{ echo "repo-sync: cannot record this transfer in $P" >&2; exit 1; }',
  `X=$(pstat "$S"); N=; read -r N < ${SESSION_FILE} 2>/dev/null`,
  'if [ "$N" != "$S $ST $SB" ] || ! live "$X" "$ST" || [ "$SB" != "$BOOT" ]; then rm -f -- "$F"; ' +
    'echo "repo-sync: refused: the session that started this transfer has ended (its run is gone)" >&2; exit 1; fi',
  'exec "$R" "$@"',
].join("; ");

/**
 * Session script, right after the lock is taken: `$ME` (this shell's `pstat`), `$MYG` (its process
 * group), `$BOOT` and `reap` (kills every recorded transfer still alive; fails naming one it cannot
 * stop), run at once: what an earlier session left running dies before anything changes. Needs `$P`
 * (the target path) and the shell to be in it.
 */
export const FENCE_START = [
  PSTAT,
  BOOT_ID,
  LIVE,
  'ME=$(pstat $$) || { echo "ERR noproc"; exit 3; }',
  'MYG=${ME#* }; MYG=${MYG%% *}',
  "reap() {",
  `  for F in ${TRANSFER_RECORD_PREFIX}*; do`,
  '    [ -e "$F" ] || [ -L "$F" ] || continue',
  '    W=; WT=; WB=',
  // Read only a regular file (never a link, never a FIFO that would block).
  '    [ -f "$F" ] && [ ! -L "$F" ] && read -r W WT WB < "$F"',
  '    case "$W" in ""|*[!0-9]*) W= ;; esac',
  '    case "$WT" in ""|*[!0-9]*) W= ;; esac',
  '    X=; [ -n "$W" ] && [ "$W" != $$ ] && [ "$WB" = "$BOOT" ] && X=$(pstat "$W")',
  '    if live "$X" "$WT"; then',
  // Only a process owned by the record's owner (pid reuse is already ruled out by the start time).
  '      if [ "$(stat -c %u -- "$F" 2>/dev/null)" = "$(stat -c %u "/proc/$W" 2>/dev/null)" ]; then',
  '        G=${X#* }; G=${G%% *}; KIDS=$(cat "/proc/$W/task/$W/children" 2>/dev/null)',
  // The whole process group (rsync's receiver is a child of the recorded pid), where that is not ours;
  // dash's own kill cannot signal a group.
  '        [ "$G" -gt 1 ] && [ "$G" != "$MYG" ] && env kill -s KILL -- "-$G" 2>/dev/null',
  '        for K in $KIDS; do kill -s KILL "$K" 2>/dev/null; done; kill -s KILL "$W" 2>/dev/null',
  '        N=0; while [ $N -lt 100 ]; do ' +
    'A=; for K in $W $KIDS; do Y=$(pstat "$K") && case "${Y%% *}" in Z|X) ;; *) A=1 ;; esac; done; ' +
    '[ -z "$A" ] && break; sleep 0.1 2>/dev/null || sleep 1; N=$((N+1)); done',
  "      fi",
  '      if live "$(pstat "$W")" "$WT"; then ' +
    'echo "repo-sync: a transfer of an earlier run (pid $W, recorded in $P/$F) is still running ' +
    'and cannot be stopped by this user" >&2; return 1; fi',
  "    fi",
  '    rm -f -- "$F" 2>/dev/null',
  "  done",
  "}",
  'reap || { echo "ERR transfer"; exit 3; }',
  // Whoever it names is gone (we hold the lock): no transfer may pass for it.
  `rm -f -- ${SESSION_FILE} 2>/dev/null`,
].join("\n");

/**
 * Session script, last before READY: the session names itself on the VM (through `place`, never
 * through a planted link) and to us. From here on its transfers may run.
 */
export const FENCE_OPEN = [
  `place ${SESSION_FILE} "$$ \${ME##* } $BOOT" || { echo "ERR notwritable"; exit 3; }`,
  'echo "SESSION $$ ${ME##* } $BOOT"',
].join("\n");

/**
 * Session script, once its input ended (the run finished, or died): no transfer may start for it any
 * more, then what it started is killed. Silent: nobody reads (and a write could end the shell first).
 */
export const FENCE_CLOSE = `cd -- "$P" 2>/dev/null && { rm -f -- ${SESSION_FILE}; reap; } >/dev/null 2>&1`;

/** Parses a session's `SESSION <pid> <start> <boot>` line (pure); undefined when it is not one. */
export function parseSessionLine(line: string): SessionFence | undefined {
  const m = /^SESSION ([1-9][0-9]{0,9}) ([0-9]{1,20}) (-|[0-9a-f-]{36})$/.exec(line);
  return m ? { pid: m[1], start: m[2], boot: m[3] } : undefined;
}
