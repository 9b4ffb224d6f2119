/**
 * The one way repo-sync runs git (the checkout's refs and pulls, the export, the pushed history, the
 * scan), under one environment policy: nothing from the caller's environment may point git at another
 * repository, index or work tree (GIT_DIR and friends are set inside git hooks, e.g. a post-receive
 * hook that deploys), make it run a program, or change what a command prints; replace refs are not
 * followed. Errors name the git command (gitError).
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { RepoSyncError } from "../errors";
import { runProgram, RunOptions, RunResult } from "../process/run";

/** Other variables through which git could run a program of the caller's choosing. */
const RUNS_PROGRAMS = new Set(["EDITOR", "VISUAL", "PAGER", "SSH_ASKPASS"]);

/**
 * The environment git runs with: every `GIT_*` variable of the caller cleared (`extra` may set some
 * back, e.g. our own `GIT_INDEX_FILE`), no prompts.
 */
export function gitEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const k of Object.keys(process.env)) if (k.toUpperCase().startsWith("GIT_") || RUNS_PROGRAMS.has(k.toUpperCase())) env[k] = undefined;
  // refs/replace would make git show other objects than the commit holds (and than .sync_rev names).
  return { ...env, GIT_TERMINAL_PROMPT: "0", GIT_NO_REPLACE_OBJECTS: "1", ...extra };
}

/** Runs `git -C repoPath args...` under {@link gitEnv}; the outcome whatever the exit code. */
export function runGit(repoPath: string, args: readonly string[], opts: RunOptions & { gitEnv?: Record<string, string> } = {}): Promise<RunResult> {
  const { gitEnv: extra, ...rest } = opts;
  return runProgram("git", ["-C", repoPath, ...args], { timeoutMs: 600_000, ...rest, env: { ...gitEnv(extra), ...rest.env } });
}

/** Runs git and returns stdout as bytes; a non-zero exit is a source error naming `what`. */
export async function gitBytes(repoPath: string, args: readonly string[], what: string): Promise<Buffer> {
  const r = await runGit(repoPath, args);
  if (r.exitCode !== 0) throw gitError(r, what);
  return r.stdoutBytes;
}

/** The error for a failed git command: the command, its exit code and stderr, and what to check. */
export function gitError(r: Pick<RunResult, "command" | "exitCode" | "stderr">, what: string): RepoSyncError {
  return new RepoSyncError("source", `git ${r.command[3] ?? ""} failed while ${what}`, {
    command: r.command,
    exitCode: r.exitCode,
    stderr: r.stderr,
    hint: "check that the repository is intact (git fsck)",
  });
}

/** A (small) blob's bytes, e.g. a tree's `.gitleaksignore`, as git stores them. */
export function blobBytes(repoPath: string, blob: string): Promise<Buffer> {
  return gitBytes(repoPath, ["cat-file", "blob", blob], `reading the blob ${blob}`);
}

/**
 * Starts `git -C repoPath [gitArgs] args...` under {@link gitEnv} with pipes, for a command whose
 * input and output are streamed (cat-file --batch). The caller owns the process.
 */
export function spawnGit(repoPath: string, args: readonly string[]): ChildProcessWithoutNullStreams {
  return spawn("git", ["-C", repoPath, ...args], { env: { ...process.env, ...gitEnv() }, stdio: ["pipe", "pipe", "pipe"] });
}
