/**
 * Runs a local program with an argv array (never through a shell) and returns what it did. Callers
 * turn a non-zero exit into their own error kinds; nothing here throws on exit codes.
 * Plain child_process: every CLI run starts here, and loading execa alone cost 120-170 ms of it.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { mark } from "../timeline";

/** What one run produced. */
export interface RunResult {
  command: readonly string[];
  exitCode: number;
  stdout: string;
  /** stdout as bytes (symlink targets and other text that need not be UTF-8). */
  stdoutBytes: Buffer;
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
  input?: string | Buffer;
  /** Send stdout to this open file instead of collecting it (large binary output). */
  stdoutFd?: number;
  /** Receives stderr chunks as they arrive (progress). */
  onStderr?: (chunk: string) => void;
  /** Called with each chunk of stdout as it arrives (stdout is still collected). */
  onStdout?: (chunk: string) => void;
  /**
   * Keep only about the last this many bytes of stdout and of stderr: a program that prints without
   * end (a user's command) must not run this process out of memory. Default: everything.
   */
  keepBytes?: number;
}

/** Collects a stream's chunks, dropping the oldest beyond `keep` bytes (at least `keep` are kept). */
function collector(keep: number | undefined): { push(d: Buffer): void; bytes(): Buffer } {
  let chunks: Buffer[] = [];
  let size = 0;
  return {
    push(d) {
      chunks.push(d);
      size += d.length;
      if (keep !== undefined && size > 2 * keep) {
        const tail = Buffer.concat(chunks).subarray(size - keep);
        chunks = [tail];
        size = tail.length;
      }
    },
    bytes: () => {
      const all = Buffer.concat(chunks);
      return keep !== undefined && all.length > keep ? all.subarray(all.length - keep) : all;
    },
  };
}

/** Runs `file args...`; resolves with the outcome whatever the exit code. */
export function runProgram(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const command = [file, ...args];
  const prog = path.basename(file) === "git" || path.basename(file) === "gitleaks" ? `${path.basename(file)} ${args[0] ?? ""}` : path.basename(file);
  mark("spawn", { prog });
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      // No input: stdin is closed, so a program that asks for something fails instead of hanging.
      stdio: [opts.input === undefined ? "ignore" : "pipe", opts.stdoutFd ?? "pipe", "pipe"],
    });
    const out = collector(opts.keepBytes);
    const err = collector(opts.keepBytes);
    let timedOut = false;
    let spawnError: Error | undefined;
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill("SIGKILL");
        }, opts.timeoutMs)
      : undefined;
    child.stdout?.on("data", (d: Buffer) => {
      out.push(d);
      opts.onStdout?.(d.toString());
    });
    child.stderr?.on("data", (d: Buffer) => {
      err.push(d);
      opts.onStderr?.(d.toString());
    });
    if (opts.input !== undefined) {
      // A program that exits without reading all of its input closes the pipe: not an error of ours.
      child.stdin?.on("error", () => undefined);
      child.stdin?.end(opts.input);
    }
    child.on("error", (e) => {
      spawnError ??= e;
    });
    child.on("close", (code, signal) => {
      mark("exit", { prog, ms: Date.now() - started });
      if (timer) clearTimeout(timer);
      const stdoutBytes = out.bytes();
      resolve({
        command,
        exitCode: child.pid === undefined ? -1 : code ?? (timedOut ? 124 : -1),
        stdout: stdoutBytes.toString("utf8"),
        stdoutBytes,
        stderr: err.bytes().toString("utf8"),
        timedOut,
        signal: signal ?? undefined,
        durationMs: Date.now() - started,
        spawnError: child.pid === undefined ? spawnError : undefined,
      });
    });
  });
}
