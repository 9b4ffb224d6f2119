/** Timing helpers for the benchmark: run a program, time it, take medians. */
import { spawn } from "node:child_process";

/** What one timed run of a program did. */
export interface Timed {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program and times it (wall clock). */
export function timed(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ ms: performance.now() - t0, code, stdout, stderr }));
  });
}

export async function must(p: Promise<Timed>, what: string): Promise<Timed> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  return r;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Runs `fn` `runs` times (after `reset`) and returns the median ms. */
export async function measure(runs: number, reset: () => void | Promise<void>, fn: () => Promise<Timed | number>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    await reset();
    const r = await fn();
    ms.push(typeof r === "number" ? r : r.ms);
  }
  return median(ms);
}

/** One case of {@link measureInterleaved}. */
export interface Case {
  name: string;
  reset: () => void | Promise<void>;
  fn: () => Promise<Timed | number>;
}

/**
 * Runs every case `runs` times round-robin (each round in a rotated order), each run after its own
 * reset, and returns the median ms by name: the columns of a row then see the same drift of the load
 * (other work on the cores), where one block per column after another would not.
 */
export async function measureInterleaved(runs: number, cases: Case[]): Promise<Record<string, number>> {
  const ms = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(i + k) % cases.length];
      await c.reset();
      const r = await c.fn();
      ms.get(c.name)?.push(typeof r === "number" ? r : r.ms);
    }
  }
  return Object.fromEntries(cases.map((c) => [c.name, median(ms.get(c.name) ?? [])]));
}
