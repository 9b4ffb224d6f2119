/**
 * An amount of VMs as the rollout settings write it (`repository.rollout.waves`, `max_failures`): a
 * whole number, or `N%` of the run's VMs. Read here, when the config loads; what it means for a run is
 * lib/sync/waves.ts. Pure.
 */
import type { Amount } from "./types";

/** Largest number of VMs a size may name (a typo guard; larger sizes mean "all"). */
const MAX_COUNT = 100_000;

/**
 * An amount as written: a whole number, or a string `N%` with a whole N (Ansible's `int()` refuses
 * `12.5%` too). `minPercent`: 1 for a wave (`0%` would be an empty wave), 0 for a failure limit.
 * `minCount` likewise. A reason when it is neither.
 */
export function parseAmount(v: unknown, limits: { minCount: number; minPercent: number }): Amount | { problem: string } {
  const range = `a whole number of VMs from ${limits.minCount} or a whole percentage from ${limits.minPercent}% to 100%`;
  if (typeof v === "number") {
    if (Number.isInteger(v) && v >= limits.minCount && v <= MAX_COUNT) return { count: v };
    return { problem: `must be ${range}, got ${v}` };
  }
  if (typeof v === "string") {
    const m = /^(\d{1,3})%$/.exec(v);
    if (m && Number(m[1]) >= limits.minPercent && Number(m[1]) <= 100) return { percent: Number(m[1]) };
    if (/^\s*\d+\s*$/.test(v)) return { problem: `must be ${range}, got a string (${JSON.stringify(v)}): write a number without quotes` };
    return { problem: `must be ${range}, got ${JSON.stringify(v)}` };
  }
  return { problem: `must be ${range}, got ${v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "a mapping" : `a ${typeof v}`}` };
}
