/**
 * Rollout waves and the failure limit, as numbers (pure). Wave sizes are read as Ansible reads a
 * play's `serial` (ansible/executor/playbook_executor.py `_get_serialized_batches`, and
 * ansible/utils/helpers.py `pct_to_int`): a list of sizes, each a number of hosts or `N%` of all the
 * play's hosts, rounded down and at least 1; the last size repeats until every host is in a batch.
 * The failure limit is Ansible's `max_fail_percentage` comparison, stated as a count: a wave fails
 * when MORE than the limit fail (`failed / wave size > N%`). Unlike Ansible, a wave whose every VM
 * failed does not stop the rollout by itself when the limit allows that many (the limit is the rule).
 */
import type { Amount } from "../config/types";

/** How many VMs a wave size means when the run has `total` VMs (Ansible's pct_to_int: rounded down, at least 1). */
export function waveSize(size: Amount, total: number): number {
  if ("count" in size) return size.count;
  return Math.floor((size.percent * total) / 100) || 1;
}

/** The sizes of the waves over `total` VMs: the listed sizes, the last one repeated, the final wave cut short. */
export function waveSizes(sizes: readonly Amount[], total: number): number[] {
  const spec = sizes.length > 0 ? sizes : [{ percent: 100 }];
  const out: number[] = [];
  let left = total;
  for (let i = 0; left > 0; i = Math.min(i + 1, spec.length - 1)) {
    const n = Math.min(waveSize(spec[i], total), left);
    out.push(n);
    left -= n;
  }
  return out;
}

/** `items` cut into waves, in order. */
export function planWaves<T>(items: readonly T[], sizes: readonly Amount[]): T[][] {
  const out: T[][] = [];
  let at = 0;
  for (const n of waveSizes(sizes, items.length)) {
    out.push(items.slice(at, at + n));
    at += n;
  }
  return out;
}

/** The most VMs of a wave of `size` that may fail without stopping the rollout. */
export function allowedFailures(limit: Amount, size: number): number {
  return "count" in limit ? limit.count : Math.floor((limit.percent * size) / 100);
}

/** True when `failed` VMs of a wave of `size` stop the rollout: more than the limit allows. */
export function tooManyFailures(failed: number, size: number, limit: Amount): boolean {
  // failed > floor(p * size / 100) is failed * 100 > p * size, Ansible's comparison, in whole numbers.
  return failed > allowedFailures(limit, size);
}

/** An amount as the config writes it: `3`, `25%`. */
export function describeAmount(a: Amount): string {
  return "count" in a ? String(a.count) : `${a.percent}%`;
}
