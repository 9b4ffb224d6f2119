/**
 * A spawn timeline for profiling (BENCHMARKS.md): with `REPO_SYNC_TIMELINE=<file>` set, each marked
 * event (a provider call, a probe, an ssh or rsync process starting and ending) is appended to that
 * file as one JSON line, `{ t, pid, ev, ... }` with `t` in epoch milliseconds, so the program, the
 * provider and the CLI of one run land on one clock. Unset (always, outside a benchmark): nothing is
 * written and a mark costs one property read.
 */
import * as fs from "node:fs";

const file = process.env.REPO_SYNC_TIMELINE;

/** Records one event when the timeline is on. Never throws: profiling must not change what a run does. */
export function mark(ev: string, detail: Record<string, string | number | undefined> = {}): void {
  if (!file) return;
  try {
    fs.appendFileSync(file, JSON.stringify({ t: Math.round((performance.timeOrigin + performance.now()) * 10) / 10, pid: process.pid, ev, ...detail }) + "\n");
  } catch {
    // a timeline that cannot be written is no reason to fail a run
  }
}

/** True when the timeline is on (to skip work that only feeds it). */
export function timelineOn(): boolean {
  return file !== undefined && file !== "";
}
