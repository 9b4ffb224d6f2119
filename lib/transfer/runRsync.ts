/**
 * Runs rsync for one target (push or dry-run probe), parses what it reports, and turns a failure into
 * a RepoSyncError that names the VM, the command, the exit code and the cause.
 */
import type { Target } from "../config/types";
import { RepoSyncError } from "../errors";
import { runProgram } from "../process/run";
import { withPinnedHostKey } from "../remote/pinnedHostKey";
import { connectionFailure } from "../remote/sshErrors";
import type { SessionFence } from "../target/fence";
import { rsyncPushArgs, TransferSpec } from "./rsyncArgs";
import { classifyRsyncFailure, unknownOwner } from "./rsyncErrors";
import { lastProgress, parseItemizedChanges, parseRsyncStats, RsyncProgress, RsyncStats, TreeChanges } from "./rsyncOutput";

/** What one rsync run did (or, dry, would do). */
export interface RsyncOutcome {
  changes: TreeChanges;
  stats: RsyncStats;
  durationMs: number;
}

/** Options for {@link runRsync}. */
export interface RunRsyncOptions {
  rsyncBin?: string;
  onStderr?: (s: string) => void;
  /** The control socket of the target's connection to run over. */
  controlPath?: string;
  /** The session the transfer belongs to: on the VM, rsync runs only while that session holds the lock. */
  fence?: SessionFence;
  onProgress?: (p: RsyncProgress) => void;
}

/** Runs rsync; throws a classified RepoSyncError when it fails. */
export async function runRsync(given: Target, spec: TransferSpec, dryRun: boolean, opts: RunRsyncOptions = {}): Promise<RsyncOutcome> {
  // rsync's ssh joins the session's connection, but falls back to one of its own: pinned the same way.
  const target = withPinnedHostKey(given);
  const onProgress = opts.onProgress;
  const args = rsyncPushArgs(target, { ...spec, progress: onProgress !== undefined }, dryRun, opts.controlPath, opts.fence);
  // A record may be cut between chunks: only whole ones (ended by \r or \n) are read.
  let pending = "";
  const onStdout = onProgress && !dryRun
    ? (chunk: string) => {
        const text = pending + chunk;
        const end = Math.max(text.lastIndexOf("\r"), text.lastIndexOf("\n"));
        pending = text.slice(end + 1);
        const p = end >= 0 ? lastProgress(text.slice(0, end)) : undefined;
        if (p) onProgress(p);
      }
    : undefined;
  const r = await runProgram(opts.rsyncBin ?? "rsync", args, { onStderr: opts.onStderr, onStdout, env: { LC_ALL: "C" } });
  if (r.spawnError) {
    throw new RepoSyncError("transfer", "rsync cannot be started", {
      vm: target.vm, command: r.command, stderr: r.spawnError.message, cause: r.spawnError,
      hint: "install rsync on this machine (apt-get install rsync)",
    });
  }
  if (r.exitCode !== 0) {
    const connection = connectionFailure(target, r.exitCode, r.stderr, r.command);
    if (connection) throw connection;
    const cls = classifyRsyncFailure(r.exitCode, r.stderr);
    throw new RepoSyncError(cls.kind, `${dryRun ? "probe" : "push"} to ${target.host}:${target.path} failed: ${cls.reason}`, {
      vm: target.vm,
      command: r.command,
      exitCode: r.exitCode,
      stderr: r.stderr,
      hint: cls.hint,
    });
  }
  // rsync only warns about an owner or group the VM does not have (exit 0, files left to the receiving
  // user): a deploy that did not do what was asked is a failure, before the marker claims it.
  const unknown = unknownOwner(r.stderr);
  if (unknown) {
    throw new RepoSyncError("config", `${unknown.kind} ${JSON.stringify(unknown.name)} does not exist on ${target.vm} (rsync ${dryRun ? "would leave" : "left"} the files to the user it runs as)`, {
      vm: target.vm, command: r.command, exitCode: r.exitCode, stderr: r.stderr,
      hint: `create the ${unknown.kind} on the VM, or fix repository.${unknown.kind}`,
    });
  }
  return { changes: parseItemizedChanges(r.stdout), stats: parseRsyncStats(r.stdout), durationMs: r.durationMs };
}
