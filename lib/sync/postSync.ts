/**
 * The post-sync hook (`vms.<id>.post_sync_command`): the user's shell command run on the VM after its
 * tree landed. Through Pulumi it is a `@pulumi/command` remote.Command of its own
 * (providers/postSyncHook.ts), or, in a rollout that can roll back or tolerate failures, run by the
 * wave's gate (waveGate.ts) over the session's connection, so that its failure counts against the wave.
 * Either way the same script runs: in the served tree, told the revision.
 */
import type { Target } from "../config/types";
import { RepoSyncError } from "../errors";
import type { Logger } from "../log";
import { runProgram } from "../process/run";
import { sshOptionArgs } from "../remote/sshArgs";
import { connectionFailure } from "../remote/sshErrors";
import { RELEASES_DIR } from "../target/releases";
import type { TargetSession } from "../target/session";
import { servedDir } from "./healthCheck";
import { recordHistory } from "./history";
import { shQuote } from "../target/script";

/** Output kept of a hook's run (the error shows its end). */
const KEEP_OUTPUT_BYTES = 64 * 1024;

/**
 * The remote command: the user's hook in the target directory, told which revision it runs for (pure).
 * In the releases layout it runs after the switch, in the new release's folder, with its path in
 * `REPO_SYNC_RELEASE` (the revision is then known: a release folder is named by it). The hook is
 * the last line of its own, after steps that each exit when they fail: a hook of several commands
 * (`a; b`, `a || b`, several lines) never runs any of them elsewhere (the login directory) when the
 * folder cannot be entered.
 */
export function hookScript(targetPath: string, hook: string, release?: string): string {
  if (release === undefined) {
    return [`cd -- ${shQuote(targetPath)} || exit 125`, "REPO_SYNC_REVISION=$(cat .sync_rev) || exit 125",
      "export REPO_SYNC_REVISION", hook].join("\n");
  }
  if (!/^[0-9a-f]{40}$/.test(release)) {
    throw new Error(`refusing to run a hook for the malformed revision ${JSON.stringify(release)}`);
  }
  const dir = `${targetPath}/${RELEASES_DIR}/${release}`;
  return [`cd -- ${shQuote(dir)} || exit 125`, `REPO_SYNC_REVISION=${release}`, `REPO_SYNC_RELEASE=${shQuote(dir)}`,
    "export REPO_SYNC_REVISION REPO_SYNC_RELEASE", hook].join("\n");
}

/** The ssh argv of a hook's run on the VM, joining a session's connection at `controlPath` (pure). */
function hookArgs(target: Target, hook: string, commit: string, controlPath: string): string[] {
  const release = target.layout === "releases" ? commit : undefined;
  // As remote.Command runs it: the command string to the login user's shell.
  const script = hookScript(target.path, hook, release);
  return [...sshOptionArgs(target, { path: controlPath, master: false }), "-T", "--", target.host, script];
}

/**
 * Runs the VM's hook for `commit` (no time limit, as a remote.Command has none); resolves with its
 * error when it fails (its exit code and the end of its output), never throws for a failed hook.
 */
async function runPostSyncHook(
  target: Target,
  hook: string,
  commit: string,
  controlPath: string,
  logger: Logger,
): Promise<RepoSyncError | undefined> {
  const args = hookArgs(target, hook, commit, controlPath);
  const r = await runProgram("ssh", args, { env: { LC_ALL: "C" }, keepBytes: KEEP_OUTPUT_BYTES });
  const shown = ["ssh", ...args.slice(0, -1), "<post-sync hook>"];
  if (r.exitCode === 0) {
    logger.info(`${target.vm}: post-sync hook done`);
    return undefined;
  }
  const lost = r.exitCode === 255 ? connectionFailure(target, r.exitCode, r.stderr, shown) : undefined;
  if (lost) return lost;
  return new RepoSyncError("health", `the post-sync hook exited with ${r.exitCode} (in ${servedDir(target, commit)})`, {
    vm: target.vm,
    command: ["sh", "-c", hook],
    exitCode: r.exitCode,
    stderr: `${r.stdout}${r.stderr}`.slice(-4000).trim() || undefined,
    hint: "run the hook on the VM in that folder to see why; the next `pulumi up` runs it again",
  });
}

/**
 * Runs the VM's hook in a session holding its lock (over its connection); a failure is logged and
 * written into the VM's history (`post-sync-hook`, `why` before its exit code), and returned.
 */
export async function hookInSession(
  t: Target,
  hook: string,
  commit: string,
  session: Pick<TargetSession, "controlPath" | "appendHistory">,
  log: Logger,
  why = "",
): Promise<RepoSyncError | undefined> {
  const error = await runPostSyncHook(t, hook, commit, session.controlPath, log);
  if (!error) return undefined;
  log.warn(error.message);
  const how = error.kind === "health" && error.exitCode !== undefined ? `exit ${error.exitCode}` : error.reason;
  const entry = { event: "post-sync-hook" as const, commit, result: "failed" as const, detail: `${why}${how}` };
  const warning = await recordHistory(session, t.vm, entry);
  if (warning) log.warn(warning);
  return error;
}
