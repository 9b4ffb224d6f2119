/**
 * The audit trail on each VM: `<target>/.repo-sync.log` (ownFiles.ts), one JSON line per event: a
 * switch (or an in-place sync to another commit), a rollback, a failed health check. Lines are
 * appended by the target session under the target's lock, through a fresh temp file renamed over the
 * trail (a reader sees the old trail or the new one, never half a line), and only the last
 * {@link HISTORY_KEEP_LINES} are kept. An entry travels to the VM as one line on the session's stdin
 * (JSON: no newline in it) and is written with `printf '%s\n' "$arg"`: no byte of it is parsed by a
 * shell. This file: the entry, its line, the session's `log` command, and the parser of what the read
 * script prints (script.ts). Pure but {@link localActor}.
 */
import * as os from "node:os";
import { HISTORY_FILE, TEMP_PREFIX } from "../config/ownFiles";

/** Lines kept on the VM (the oldest go first). */
export const HISTORY_KEEP_LINES = 200;
/** At most this much of the trail is read back (an entry repo-sync writes is under 1 KiB). */
export const HISTORY_READ_BYTES = 256 * 1024;
/** Longest `detail` written (the rest is cut). */
const MAX_DETAIL = 400;

/** What happened on the VM. */
export type HistoryEvent = "deploy" | "rollback" | "health-check" | "post-sync-hook";

/** One line of the trail. */
export interface HistoryEntry {
  /** When (ISO 8601, UTC, the clock of the machine running repo-sync). */
  time: string;
  event: HistoryEvent;
  /** The commit served after the event (deploy, rollback), or the one checked (health-check, post-sync-hook). */
  commit: string;
  /** The commit served before (deploy, rollback); absent: none, or not a change of commit. */
  previous?: string;
  /** Who ran it: `user@host` of the machine running repo-sync. */
  by: string;
  result: "ok" | "failed";
  /** Why, in a few words (a rollout's wave, a check's exit code). */
  detail?: string;
}

/** `user@host` of this machine (a user without a passwd entry: its uid). */
export function localActor(): string {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    user = process.env.USER ?? String(process.getuid?.() ?? "unknown");
  }
  return `${user}@${os.hostname()}`;
}

/** The entry as its line on the VM: one JSON object, no newline (pure). */
export function historyLine(e: HistoryEntry): string {
  const detail = e.detail === undefined ? undefined
    : e.detail.length > MAX_DETAIL ? `${e.detail.slice(0, MAX_DETAIL)}...`
    : e.detail;
  const line = JSON.stringify({
    time: e.time, event: e.event, commit: e.commit, previous: e.previous ?? null, by: e.by, result: e.result,
    ...(detail !== undefined ? { detail } : {}),
  });
  // JSON.stringify escapes every control character: the line cannot end the session's `read`.
  if (/[\n\r\0]/.test(line)) throw new Error("a history line holds a line break (a bug in repo-sync)");
  return line;
}

/**
 * The end of the trail on stdout (a shell command, run in the target directory): read by dd with
 * O_NOFOLLOW (a link put there after the test is not read through: as root that copied any file into
 * this world-readable one) and O_NONBLOCK (a FIFO put there does not hang the session, which holds the
 * lock), seeking to the last bytes and reading no more than those (a file that grows meanwhile, or a
 * FIFO swapped in with a writer behind it, is not read on and on); nothing when the name has more
 * than one hard link (a link to another file, e.g. one only root may read, is not copied into the
 * trail or shown). Used by the `log` command and by `repo-sync history`'s read.
 */
export const TRAIL_END =
  `[ "$(stat -c %h -- ${HISTORY_FILE})" = 1 ] && ` +
  `S=$(stat -c %s -- ${HISTORY_FILE}) && K=0 && ` +
  `{ [ "$S" -le ${HISTORY_READ_BYTES} ] || K=$((S - ${HISTORY_READ_BYTES})); } && ` +
  `dd if=${HISTORY_FILE} iflag=nofollow,nonblock,skip_bytes,count_bytes ` +
  `skip="$K" count=${HISTORY_READ_BYTES} status=none`;

/**
 * The session's `log` command, as a `case` arm of its loop (script.ts): the kept end of the trail
 * (only when it is a real file: a planted link is not read through; taken into a variable, which
 * drops trailing line feeds, then printed with one: a last line an edit left without its line feed
 * does not swallow the new entry) plus the new line, into a new
 * file (`fresh`: never through a name planted meanwhile) renamed over the trail (`mv -T` replaces a
 * planted link instead of writing through it).
 */
export const HISTORY_COMMAND = [
  "    log)",
  `      T=; H=; { T=$(mktemp -u ${TEMP_PREFIX}XXXXXX) && ` +
    `{ if [ -f ${HISTORY_FILE} ] && [ ! -L ${HISTORY_FILE} ]; ` +
    `then H=$({ ${TRAIL_END}; } 2>/dev/null | tail -n ${HISTORY_KEEP_LINES - 1}) || H=; fi; ` +
    `{ [ -z "$H" ] || printf '%s\\n' "$H"; printf '%s\\n' "$arg"; } | fresh "$T"; } && ` +
    `mv -fT -- "$T" ${HISTORY_FILE}; } ` +
    '2>/dev/null && echo OK || { rm -f -- "$T"; echo "ERR log"; } ;;',
].join("\n");

/** What the read script found (parseHistory). */
export interface HistoryRead {
  /** `none`: no trail yet; `symlink`/`notfile`: something else under its name (not read). */
  state: "file" | "none" | "symlink" | "notfile";
  /** Oldest first. */
  entries: HistoryEntry[];
  /** Lines that are not entries (edited on the VM, or cut at the read limit). */
  unreadable: number;
}

const EVENTS: readonly string[] = ["deploy", "rollback", "health-check", "post-sync-hook"];
const HASH = /^[0-9a-f]{40}$/;

/** One line as an entry, or undefined when it is not one repo-sync wrote (pure). */
export function parseHistoryLine(line: string): HistoryEntry | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (
    typeof o.time !== "string" || typeof o.event !== "string" || !EVENTS.includes(o.event) ||
    typeof o.commit !== "string" || !HASH.test(o.commit)
  ) {
    return undefined;
  }
  if (typeof o.by !== "string" || (o.result !== "ok" && o.result !== "failed")) return undefined;
  if (o.previous !== null && o.previous !== undefined && (typeof o.previous !== "string" || !HASH.test(o.previous))) {
    return undefined;
  }
  if (o.detail !== undefined && typeof o.detail !== "string") return undefined;
  return {
    time: o.time, event: o.event as HistoryEvent, commit: o.commit,
    ...(typeof o.previous === "string" ? { previous: o.previous } : {}),
    by: o.by, result: o.result,
    ...(typeof o.detail === "string" ? { detail: o.detail } : {}),
  };
}

/** Reads the `LOG ...` line the read script printed (pure): the trail comes hex-encoded. */
export function parseHistory(stdout: string): HistoryRead {
  const m = /^LOG (\S*)$/m.exec(stdout);
  const field = m?.[1] ?? "none";
  if (field === "none" || field === "symlink" || field === "notfile") {
    return { state: field, entries: [], unreadable: 0 };
  }
  if (!field.startsWith("hex:") || !/^(?:[0-9a-f]{2})*$/.test(field.slice(4))) {
    return { state: "file", entries: [], unreadable: 1 };
  }
  const lines = Buffer.from(field.slice(4), "hex").toString("utf8").split("\n").filter((l) => l.trim() !== "");
  const entries: HistoryEntry[] = [];
  let unreadable = 0;
  for (const l of lines) {
    const e = parseHistoryLine(l);
    if (e) entries.push(e);
    else unreadable++;
  }
  return { state: "file", entries, unreadable };
}
