/**
 * Builds rsync's argv for pushing a tree to a target and for probing it (dry run). Pure: no I/O.
 * Every user value is one argv element (`--exclude=PATTERN`, the ssh command is built from quoted
 * parts, the remote path travels with `-s` so no remote shell parses it).
 */
import { invalidRsyncPathReason, unsafeTargetPathReason } from "../config/safety";
import { sshOptionArgs } from "../remote/sshArgs";
import type { Target } from "../config/types";
import { RepoSyncError } from "../errors";
import { OWN_EXCLUDES } from "../config/ownFiles";
import { releaseExcludes } from "../target/shared";
import { TRANSFER_WRAPPER, type SessionFence } from "../target/fence";
import { shQuote } from "../target/script";

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
  /**
   * Compare file contents (rsync `--checksum`) instead of size + mtime: finds (and repairs) a file
   * edited on the target with its size and mtime put back. Reads every byte on both ends.
   */
  checksum?: boolean;
  /**
   * Put changed files in place in one sweep at the end (`--delay-updates`), so that a failed transfer
   * leaves the tree that was there. Default true; false for a target with nothing to keep (missing or
   * empty), where it would only cost a second rename of every file (~30% of an initial sync).
   */
  delayUpdates?: boolean;
  /** Owner and group of what lands (rsync --chown; the receiver must be root: sudo or a root login). */
  owner?: string;
  group?: string;
  /** Modes of what lands (rsync --chmod). */
  chmod?: string;
  /** A folder under the target path that receives the tree (releases layout: `releases/<commit>`). */
  destination?: string;
  /** Unchanged files are hard-linked from this folder instead of sent (rsync --link-dest; relative to the destination). */
  linkDest?: string;
  /** Report the whole transfer's progress on stdout (`--info=progress2`); pushes only. */
  progress?: boolean;
}

export { sshFileOption } from "../remote/sshOptions";


/**
 * The `-e` value for rsync: rsync splits it on spaces and honours single and double quotes (not
 * backslashes), so an element with a space is quoted; one with both quote kinds is refused.
 */
export function rsyncRemoteShell(t: Target, controlPath?: string): string {
  return ["ssh", ...sshOptionArgs(t, controlPath ? { path: controlPath, master: false } : undefined)].map(quoteForRsyncShell).join(" ");
}

/** Quotes one element for rsync's `-e` parser (pure). */
export function quoteForRsyncShell(s: string): string {
  if (s !== "" && !/[\s'"]/.test(s)) return s;
  if (!s.includes("'")) return `'${s}'`;
  if (!s.includes('"')) return `"${s}"`;
  throw new RepoSyncError("config", `a path contains both ' and ": ${JSON.stringify(s)}`, { hint: "rename it or move it to a path without quotes" });
}

/** The VM's rsync program: its path, checked (it is part of a remote shell command). */
function rsyncProgram(t: Target): string {
  const p = t.rsyncPath ?? "rsync";
  const why = t.rsyncPath === undefined ? undefined : invalidRsyncPathReason(p);
  if (why) throw new RepoSyncError("config", `rsync path ${JSON.stringify(p)} ${why}`, { vm: t.vm, hint: "fix repository.rsync_path" });
  return p;
}

/** The VM's rsync command: its path behind `sudo -n` (-n: never a password prompt, which would hang the transfer). */
export function remoteRsync(t: Target): string {
  const p = rsyncProgram(t);
  return t.sudo ? `sudo -n ${p}` : p;
}

/**
 * The VM's rsync command for a transfer of a session: rsync started through the fence's wrapper
 * (target/fence.ts), which runs it only while `fence` (the session) still holds the target's lock,
 * behind `sudo -n` like the session itself. rsync hands this string to the login shell: every value in
 * it is quoted, and the session's numbers are checked again here.
 */
export function fencedRemoteRsync(t: Target, fence: SessionFence): string {
  if (!/^[1-9][0-9]{0,9}$/.test(fence.pid) || !/^[0-9]{1,20}$/.test(fence.start) || !/^(-|[0-9a-f-]{36})$/.test(fence.boot)) {
    throw new RepoSyncError("transfer", `refusing a malformed session name ${JSON.stringify(fence)}`, { vm: t.vm, hint: "this is a bug in repo-sync; please report it" });
  }
  const why = unsafeTargetPathReason(t.path);
  if (why) throw new RepoSyncError("unsafe-target", `target path ${JSON.stringify(t.path)} ${why}`, { vm: t.vm, hint: "fix repository.vm_repo_paths for this VM" });
  const command = ["/bin/sh", "-c", shQuote(TRANSFER_WRAPPER), "repo-sync-transfer", fence.pid, fence.start, fence.boot, shQuote(t.path), shQuote(rsyncProgram(t))].join(" ");
  return t.sudo ? `sudo -n -- ${command}` : command;
}

/**
 * `host:path/` with IPv6 literals bracketed. The path is checked again here, at the last step before
 * it reaches rsync (which expands wildcards in it on the VM), whoever built the Target.
 */
export function remoteSpec(t: Target, destination?: string): string {
  const why = unsafeTargetPathReason(t.path);
  if (why) throw new RepoSyncError("unsafe-target", `target path ${JSON.stringify(t.path)} ${why}`, { vm: t.vm, hint: "fix repository.vm_repo_paths for this VM" });
  // Only repo-sync's own release folders: never a path from a VM or a config value.
  if (destination !== undefined && !/^releases\/[0-9a-f]{40}$/.test(destination)) throw new RepoSyncError("unsafe-target", `refusing the destination ${JSON.stringify(destination)} under ${t.path}`, { vm: t.vm });
  const host = t.host.includes(":") ? `[${t.host}]` : t.host;
  return `${host}:${t.path}/${destination ? `${destination}/` : ""}`;
}

/**
 * argv (without the program) for a push (or, with `dryRun`, a probe that itemizes what would change).
 * `controlPath`: the socket of an open connection to the target (see remote/sshLink.ts) to run over;
 * `fence`: the session the transfer belongs to (every transfer under a lock has one; see target/fence.ts).
 */
export function rsyncPushArgs(t: Target, spec: TransferSpec, dryRun = false, controlPath?: string, fence?: SessionFence): string[] {
  const args = [
    "-a",
    // Ownership only where asked for (--chown maps every file; it needs -o/-g to take effect).
    spec.owner ? "--owner" : "--no-owner",
    spec.group ? "--group" : "--no-group",
    ...(spec.owner || spec.group ? [`--chown=${spec.owner ?? ""}:${spec.group ?? ""}`] : []),
    ...(spec.chmod ? [`--chmod=${spec.chmod}`] : []),
    ...(fence ? [`--rsync-path=${fencedRemoteRsync(t, fence)}`] : t.sudo || t.rsyncPath ? [`--rsync-path=${remoteRsync(t)}`] : []),
    "--omit-dir-times", "--omit-link-times",
    "--delete", "--delete-delay",
    ...(spec.delayUpdates === false ? [] : ["--delay-updates"]),
    "--protect-args",
    `--timeout=${spec.ioTimeoutS}`,
    "--itemize-changes",
    "--stats",
    "-e", rsyncRemoteShell(t, controlPath),
  ];
  if (dryRun) {
    args.push("--dry-run");
  } else {
    // A dry run moves no file data and reports no progress: both are for real transfers only.
    if (spec.progress) args.push("--info=progress2");
    if (t.bwlimitKbps !== undefined) args.push(`--bwlimit=${t.bwlimitKbps}`);
  }
  if (spec.checksum) args.push("--checksum");
  if (spec.maxDelete !== undefined) args.push(`--max-delete=${spec.maxDelete}`);
  if (spec.linkDest !== undefined) {
    if (!/^\.\.\/[0-9a-f]{40}$/.test(spec.linkDest)) throw new RepoSyncError("unsafe-target", `refusing the link folder ${JSON.stringify(spec.linkDest)}`, { vm: t.vm });
    args.push(`--link-dest=${spec.linkDest}`);
  }
  for (const f of OWN_EXCLUDES) args.push(`--exclude=${f}`);
  if (spec.excludeDotGit) args.push("--exclude=.git");
  // Into a release, an excluded path is shared (target/shared.ts): anchored, and its link never deleted.
  for (const e of spec.destination === undefined ? spec.excludes : releaseExcludes(spec.excludes)) args.push(`--exclude=${e}`);
  args.push(`${spec.sourceDir.replace(/\/+$/, "")}/`, ...(spec.extraSources ?? []), remoteSpec(t, spec.destination));
  return args;
}
