/** Runs the real `bin/repo-sync` as a child process, as a user would. */
import * as path from "node:path";
import { PROJECT_ROOT, runCollect } from "../../tools/pulumiCli";

/** What one CLI run produced. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `repo-sync ARGS` and collects its output; never throws on exit codes. */
export function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliRun> {
  return runCollect(path.join(PROJECT_ROOT, "bin", "repo-sync"), args, { cwd: opts.cwd ?? PROJECT_ROOT, env: { ...process.env, ...opts.env }, timeoutMs: opts.timeoutMs ?? 120_000 });
}

/** Parses the one JSON document `--json` prints on stdout. */
export function json<T = Record<string, unknown>>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch (err) {
    throw new Error(`stdout is not one JSON document (exit ${run.code}):\n${run.stdout}\n--- stderr\n${run.stderr}`, { cause: err });
  }
}
