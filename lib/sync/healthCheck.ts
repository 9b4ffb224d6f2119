/**
 * A VM's health check (`health_check`): the user's command run on the VM in the tree it now serves,
 * after the switch or the sync, over the connection of the target's session (rsync's way: a client
 * joining its ControlMaster, so no second handshake, and the target stays locked meanwhile). It runs
 * as the login user (never through sudo), by `/bin/sh`, under the VM's `timeout` when it has one; the
 * VM is healthy when an attempt exits 0. The command string is the user's own shell code (like a
 * post-sync hook): it is the one thing run unquoted; every other word is a constant, a checked hash
 * or quoted (shQuote).
 */
import type { HealthCheckSettings, Target } from "../config/types";
import { RepoSyncError } from "../errors";
import type { Logger } from "../log";
import { runProgram } from "../process/run";
import { connectionFailure } from "../remote/sshErrors";
import { RELEASES_DIR } from "../target/releases";
import { asShCommand, shQuote } from "../target/script";
import { sshOptionArgs } from "../remote/sshArgs";
import type { TargetSession } from "../target/session";
import { recordHistory } from "./history";
import type { HealthOutcome } from "./result";

export type { HealthOutcome } from "./result";

/** Exit code of coreutils `timeout` when the limit passed. */
const TIMED_OUT = 124;
/** Seconds the VM's `timeout` waits after TERM before KILL, and this side waits beyond that. */
const KILL_AFTER_S = 5;
const LOCAL_GRACE_S = 15;
/** Output kept of an attempt (the error shows its end): a check that prints without end costs no more memory. */
const KEEP_OUTPUT_BYTES = 64 * 1024;

/** Where the VM serves `commit`: its release folder, or the target directory in place (pure). */
export function servedDir(target: Target, commit: string): string {
  return target.layout === "releases" ? `${target.path}/${RELEASES_DIR}/${commit}` : target.path;
}

/**
 * The remote script of one attempt (pure): into the served tree, the revision (and release) in the
 * environment, then the user's command under `timeout` (plain `/bin/sh -c` on a VM without it). Its
 * output goes to a fresh temp file on the VM (mktemp: O_EXCL, mode 0600), whose end is printed once it
 * exits: a check that leaves a background job holding its stdout (`./server &`) ends when the command
 * does, not when the job does (the ssh channel would stay open until then).
 */
export function healthCheckScript(target: Target, check: HealthCheckSettings, commit: string): string {
  if (!/^[0-9a-f]{40}$/.test(commit)) {
    throw new Error(`refusing a health check for the malformed revision ${JSON.stringify(commit)}`);
  }
  const dir = servedDir(target, commit);
  const cmd = shQuote(check.command);
  return [
    `cd -- ${shQuote(dir)} || exit 125`,
    `REPO_SYNC_REVISION=${commit}; export REPO_SYNC_REVISION`,
    ...(target.layout === "releases" ? [`REPO_SYNC_RELEASE=${shQuote(dir)}; export REPO_SYNC_RELEASE`] : []),
    // The login environment's TMPDIR only when absolute and usable: a relative one would put the file
    // in the served tree (the check would see it), a missing one would fail a check that passes.
    "out=$(case ${TMPDIR-} in (/*) mktemp 2>/dev/null ;; (*) false ;; esac) || out=$(TMPDIR=/tmp mktemp) || exit 125",
    "if command -v timeout >/dev/null 2>&1; " +
      `then timeout -k ${KILL_AFTER_S} ${check.timeoutS} /bin/sh -c ${cmd} >"$out" 2>&1 </dev/null; ` +
      `else /bin/sh -c ${cmd} >"$out" 2>&1 </dev/null; fi`,
    "rc=$?",
    `tail -c ${KEEP_OUTPUT_BYTES} -- "$out" >&2`,
    'rm -f -- "$out"',
    'exit "$rc"',
  ].join("\n");
}

/**
 * The whole check as one `/bin/sh` command, attempts and interval included (pure): what a Pulumi
 * post-sync-style command runs (providers/repoSync.ts), in the served tree with the revision already
 * in the environment (postSyncHook.ts's hookScript puts it there). Exits with the last attempt's code.
 */
export function healthCheckLoop(check: HealthCheckSettings): string {
  const cmd = shQuote(check.command);
  const loop = [
    "n=0",
    "while :; do",
    "  if command -v timeout >/dev/null 2>&1; " +
      `then timeout -k ${KILL_AFTER_S} ${check.timeoutS} /bin/sh -c ${cmd}; else /bin/sh -c ${cmd}; fi`,
    "  rc=$?",
    '  [ "$rc" -eq 0 ] && exit 0',
    "  n=$((n + 1))",
    `  if [ "$n" -gt ${check.retries} ]; then echo "repo-sync: health check failed after $n attempt(s): ` +
      `$([ "$rc" -eq ${TIMED_OUT} ] && echo 'it did not finish within ${check.timeoutS} s' || echo "exit $rc")" >&2; ` +
      'exit "$rc"; fi',
    `  sleep ${check.intervalS}`,
    "done",
  ].join("\n");
  return `/bin/sh -c ${shQuote(loop)}`;
}

/** The ssh argv of one attempt, joining the session's connection at `controlPath` (pure). */
export function healthCheckArgs(
  target: Target,
  check: HealthCheckSettings,
  commit: string,
  controlPath: string,
): string[] {
  return [
    ...sshOptionArgs(target, { path: controlPath, master: false }),
    "-T",
    "--",
    target.host,
    asShCommand(healthCheckScript(target, check, commit)),
  ];
}

/** The error of a check that did not pass (pure): what ran, where, how it ended, how to look. */
export function healthFailure(
  target: Target,
  check: HealthCheckSettings,
  commit: string,
  r: { attempts: number; exitCode: number; timedOut: boolean; output: string },
): RepoSyncError {
  const dir = servedDir(target, commit);
  const how = r.timedOut || r.exitCode === TIMED_OUT ? `did not finish within ${check.timeoutS} s`
    : r.exitCode === 125 ? "exited with 125 (the folder could not be entered, no temp file for its output, " +
      "or the VM's `timeout` failed)"
    : `exited with ${r.exitCode}`;
  return new RepoSyncError("health", `health check failed after ${r.attempts} attempt${r.attempts === 1 ? "" : "s"}: ` +
    `the command ${how} (in ${dir}, REPO_SYNC_REVISION=${commit.slice(0, 12)})`, {
    vm: target.vm,
    command: ["/bin/sh", "-c", check.command],
    exitCode: r.exitCode,
    stderr: r.output.trim() || undefined,
    hint: "run the command on the VM in that folder to see why; " +
      "raise health_check.timeout_s or retries if the service needs longer to come up",
  });
}

/** Runs `check` on the VM (attempts, retries, interval); never throws for an unhealthy VM. */
export async function runHealthCheck(
  target: Target,
  check: HealthCheckSettings,
  commit: string,
  controlPath: string,
  logger: Logger,
): Promise<HealthOutcome> {
  const started = Date.now();
  const args = healthCheckArgs(target, check, commit, controlPath);
  const attempts = check.retries + 1;
  let last = { exitCode: -1, timedOut: false, output: "" };
  for (let n = 1; n <= attempts; n++) {
    const r = await runProgram("ssh", args, {
      timeoutMs: (check.timeoutS + KILL_AFTER_S + LOCAL_GRACE_S) * 1000,
      env: { LC_ALL: "C" },
      keepBytes: KEEP_OUTPUT_BYTES,
    });
    if (r.exitCode === 0 && !r.timedOut) {
      return { ok: true, attempts: n, exitCode: 0, durationMs: Date.now() - started };
    }
    // ssh's own failure (255 with its message): the check could not run at all.
    const lost = r.exitCode === 255
      ? connectionFailure(target, r.exitCode, r.stderr, ["ssh", ...args.slice(0, -1), "<health check>"])
      : undefined;
    if (lost) return { ok: false, attempts: n, exitCode: r.exitCode, durationMs: Date.now() - started, error: lost };
    last = { exitCode: r.exitCode, timedOut: r.timedOut, output: `${r.stdout}${r.stderr}`.slice(-4000) };
    if (n < attempts) {
      logger.info(`${target.vm}: health check attempt ${n} of ${attempts} failed ` +
        `(${r.timedOut || r.exitCode === TIMED_OUT ? "timed out" : `exit ${r.exitCode}`}); ` +
        `again in ${check.intervalS} s`);
      await new Promise((resolve) => setTimeout(resolve, check.intervalS * 1000));
    }
  }
  return {
    ok: false, attempts, exitCode: last.exitCode, durationMs: Date.now() - started,
    error: healthFailure(target, check, commit, { attempts, ...last }),
  };
}

/** What {@link checkHealthInSession} found: the outcome, and for an unhealthy VM its error. */
export interface HealthVerdict {
  health: HealthOutcome;
  /** Why the VM is not healthy (absent: healthy). */
  error?: RepoSyncError;
  /** The history entry could not be written (said, not fatal). */
  warning?: string;
}

/**
 * Runs the VM's check in a session holding its lock and says the outcome; a failed check is logged
 * and written into the VM's history (the CLI's rollout and a Pulumi wave's gate alike).
 */
export async function checkHealthInSession(
  t: Target,
  check: HealthCheckSettings,
  commit: string,
  session: Pick<TargetSession, "controlPath" | "appendHistory">,
  log: Logger,
): Promise<HealthVerdict> {
  const health = await runHealthCheck(t, check, commit, session.controlPath, log);
  if (health.ok) {
    const attempt = health.attempts === 1 ? "first attempt" : `attempt ${health.attempts}`;
    log.info(`${t.vm}: healthy (${attempt}, ${health.durationMs} ms)`);
    return { health };
  }
  const error = health.error ?? new RepoSyncError("health", "health check failed", { vm: t.vm });
  log.warn(error.message);
  const how = health.exitCode === TIMED_OUT ? `did not finish within ${check.timeoutS} s` : `exit ${health.exitCode}`;
  const attempts = `${health.attempts} attempt${health.attempts === 1 ? "" : "s"}`;
  const detail = error.kind === "health" ? `${how}, after ${attempts}` : error.reason;
  const warning = await recordHistory(session, t.vm, { event: "health-check", commit, result: "failed", detail });
  if (warning) log.warn(warning);
  return { health, error, ...(warning ? { warning } : {}) };
}
