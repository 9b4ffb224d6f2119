/**
 * Builds rsync's argv for pushing a tree to a target and for probing it (dry run). Pure: no I/O.
 * Every user value is one argv element (`--exclude=PATTERN`, the ssh command is built from quoted
 * parts, the remote path travels with `-s` so no remote shell parses it).
 */
import type { Target } from "../config/types";
import { RepoSyncError } from "../errors";

/** Files in the target that belong to repo-sync, never deleted or compared by rsync. */
export const MARKER_FILE = ".sync_rev";
export const MANAGED_FILE = ".repo-sync.managed";
export const LOCK_FILE = ".repo-sync.lock";
export const PROTECTED_FILES = [MARKER_FILE, MANAGED_FILE, LOCK_FILE];

/** What is pushed and how. */
export interface TransferSpec {
  /** Local folder whose contents are pushed (trailing slash semantics: its contents). */
  sourceDir: string;
  /** Extra local paths pushed beside the contents (e.g. the repo's `.git` when not excluded). */
  extraSources?: string[];
  excludes: string[];
  /** Exclude `.git` (worktree mode). */
  excludeDotGit: boolean;
  maxDelete?: number;
  ioTimeoutS: number;
}

/** The ssh options every connection uses: strict host key checking against the configured file. */
export function sshOptionArgs(t: Target): string[] {
  return [
    "-p", String(t.port),
    "-i", t.keyPath,
    "-l", t.user,
    "-o", "BatchMode=yes",
    "-o", "IdentitiesOnly=yes",
    "-o", `StrictHostKeyChecking=${t.acceptNewHostKeys ? "accept-new" : "yes"}`,
    "-o", `UserKnownHostsFile=${t.knownHostsPath}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", `ConnectTimeout=${t.connectTimeoutS}`,
    "-o", "ServerAliveInterval=5",
    "-o", "ServerAliveCountMax=3",
    "-o", "ControlMaster=no",
    "-o", "ControlPath=none",
    "-o", "LogLevel=ERROR",
  ];
}

/**
 * The `-e` value for rsync: rsync splits it on spaces and honours single and double quotes (not
 * backslashes), so an element with a space is quoted; one with both quote kinds is refused.
 */
export function rsyncRemoteShell(t: Target): string {
  return ["ssh", ...sshOptionArgs(t)].map(quoteForRsyncShell).join(" ");
}

/** Quotes one element for rsync's `-e` parser (pure). */
export function quoteForRsyncShell(s: string): string {
  if (s !== "" && !/[\s'"]/.test(s)) return s;
  if (!s.includes("'")) return `'${s}'`;
  if (!s.includes('"')) return `"${s}"`;
  throw new RepoSyncError("config", `a path contains both ' and ": ${JSON.stringify(s)}`, { hint: "rename it or move it to a path without quotes" });
}

/** `host:path/` with IPv6 literals bracketed. */
export function remoteSpec(t: Target): string {
  const host = t.host.includes(":") ? `[${t.host}]` : t.host;
  return `${host}:${t.path}/`;
}

/** argv (without the program) for a push (or, with `dryRun`, a probe that itemizes what would change). */
export function rsyncPushArgs(t: Target, spec: TransferSpec, dryRun = false): string[] {
  const args = [
    "-a", "--no-owner", "--no-group",
    "--omit-dir-times", "--omit-link-times",
    "--delete", "--delete-delay", "--delay-updates",
    "--protect-args",
    `--timeout=${spec.ioTimeoutS}`,
    "--itemize-changes",
    "--stats",
    "-e", rsyncRemoteShell(t),
  ];
  if (dryRun) args.push("--dry-run");
  if (spec.maxDelete !== undefined) args.push(`--max-delete=${spec.maxDelete}`);
  for (const f of PROTECTED_FILES) args.push(`--exclude=/${f}`);
  if (spec.excludeDotGit) args.push("--exclude=.git");
  for (const e of spec.excludes) args.push(`--exclude=${e}`);
  args.push(`${spec.sourceDir.replace(/\/+$/, "")}/`, ...(spec.extraSources ?? []), remoteSpec(t));
  return args;
}
