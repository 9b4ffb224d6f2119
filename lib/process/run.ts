/**
 * Runs a local program with an argv array (never through a shell) and returns what it did. Callers
 * turn a non-zero exit into their own error kinds; nothing here throws on exit codes.
 */
import { execa } from "execa";

/** What one run produced. */
export interface RunResult {
  command: readonly string[];
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Signal that ended the process, if any. */
  signal?: string;
  durationMs: number;
  /** Set when the program could not be started at all (ENOENT...). */
  spawnError?: Error;
}

/** Options for {@link runProgram}. */
export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Hard wall-clock limit; the process is killed when it passes. */
  timeoutMs?: number;
  input?: string;
  /** Receives stderr chunks as they arrive (progress). */
  onStderr?: (chunk: string) => void;
}

/** Runs `file args...`; resolves with the outcome whatever the exit code. */
export async function runProgram(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const child = execa(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: true,
    timeout: opts.timeoutMs,
    input: opts.input,
    reject: false,
    stripFinalNewline: false,
    encoding: "utf8",
    killSignal: "SIGKILL",
  });
  if (opts.onStderr) child.stderr?.on("data", (d: Buffer) => opts.onStderr?.(d.toString()));
  const r = await child;
  const spawnFailed = r.failed && r.exitCode === undefined && !r.timedOut && !r.isTerminated;
  return {
    command: [file, ...args],
    exitCode: r.exitCode ?? (r.timedOut ? 124 : -1),
    stdout: String(r.stdout ?? ""),
    stderr: String(r.stderr ?? ""),
    timedOut: r.timedOut,
    signal: r.signal ?? undefined,
    durationMs: Date.now() - started,
    spawnError: spawnFailed ? (r.cause instanceof Error ? r.cause : new Error(r.shortMessage)) : undefined,
  };
}
