/**
 * A run with a rollout (`repository.rollout`) or health checks (`health_check`): the targets in waves
 * (waves.ts; one wave of all without a rollout), each wave converged with bounded parallelism and each
 * VM's health checked in its session (healthCheck.ts). After a wave, more failures than
 * `max_failures` stop the rollout: later waves are never connected to, and with `on_failure: rollback`
 * every VM this run switched (in every wave so far) is switched back to the release it served before
 * (rollback.ts: a link switch after the release is checked against its commit). Otherwise the run
 * waits `bake_s` and goes on. Every switch, switch back and failed check is in the VM's history.
 */
import type { Config, HealthCheckSettings, RolloutSettings, Target } from "../config/types";
import type { Logger } from "../log";
import type { PendingSession } from "../target/session";
import type { RsyncProgress } from "../transfer/rsyncOutput";
import { convergeInSession, startSession } from "./converge";
import type { SyncResult } from "./result";
import { checkHealthInSession } from "./healthCheck";
import { CommitTrees } from "./keptRelease";
import type { PreparedSource } from "./prepareSource";
import { undoSwitch } from "./rollback";
import { eachTarget, logConverged } from "./targets";
import { describeAmount, planWaves, tooManyFailures } from "./waves";

/** What a rollout did, for the summary and `--json`. */
export interface RolloutReport {
  /** VM ids, wave by wave, in the order they ran (or would have). */
  waves: string[][];
  onFailure: RolloutSettings["onFailure"];
  /** The wave (1-based) whose failures stopped the rollout; absent: every wave ran. */
  stoppedAt?: number;
  /** Why it stopped, one sentence. */
  reason?: string;
  /** VMs this run switched, then switched back to the release they served before. */
  rolledBack: string[];
  /** VMs this run switched that still serve the new commit although the rollout stopped (`stop`, or no way back). */
  leftOnNew: string[];
  /**
   * VMs of the waves that ran that served the new commit before this run (an earlier, interrupted run
   * switched them): this run has nothing of theirs to undo; they are named, not switched back.
   */
  alreadyOnNew: string[];
  /** VMs this run switched whose `current` another run moved since (they serve what that run left). */
  movedByOthers: string[];
  /** VMs of the waves after the stop: never connected to. */
  untouched: string[];
}

/** Options for {@link rollOut}. */
export interface RolloutOptions {
  force?: boolean;
  logger: Logger;
  onProgress?: (vm: string, p: RsyncProgress) => void;
  /** Connections opened while the source was prepared (the first wave's), by VM. */
  early?: Map<string, PendingSession>;
}

/** The health check of a VM: its own, else the repository's (none: no check). */
export function healthCheckOf(config: Config, vm: string): HealthCheckSettings | undefined {
  return config.vms[vm]?.healthCheck ?? config.repository.healthCheck;
}

/** True when a run needs this file's path: a rollout, or a health check on any of `targets`. */
export function needsRollout(config: Config, targets: Target[]): boolean {
  return config.repository.rollout !== undefined || targets.some((t) => healthCheckOf(config, t.vm) !== undefined);
}

/** The waves of a run, named (`wave 1: vm01 | wave 2: vm02, vm03`). */
export function describeWaves(waves: string[][]): string {
  return waves.map((w, i) => `wave ${i + 1}: ${w.join(", ")}`).join(" | ");
}

/** Runs the targets wave by wave (see the file comment); results in target order. */
export async function rollOut(config: Config, targets: Target[], source: PreparedSource, opts: RolloutOptions): Promise<{ results: SyncResult[]; rollout?: RolloutReport }> {
  const repo = config.repository;
  const rollout = repo.rollout;
  const log = opts.logger;
  const plan = rollout ? planWaves(targets, rollout.waves) : [targets];
  const report: RolloutReport | undefined = rollout ? { waves: plan.map((w) => w.map((t) => t.vm)), onFailure: rollout.onFailure, rolledBack: [], leftOnNew: [], alreadyOnNew: [], movedByOthers: [], untouched: [] } : undefined;
  if (rollout && report) {
    log.info(`rollout of ${source.commit.slice(0, 12)} in ${plan.length} wave(s) (max_failures ${describeAmount(rollout.maxFailures)} per wave, on_failure ${rollout.onFailure}${rollout.bakeS ? `, bake ${rollout.bakeS} s` : ""}): ${describeWaves(report.waves)}`);
  }
  const results = new Map<string, SyncResult>();
  // VM -> the commit it served before this run switched it (undefined: it served none).
  const switched = new Map<string, string | undefined>();
  try {
    for (let i = 0; i < plan.length; i++) {
      const wave = plan[i];
      if (rollout && plan.length > 1) log.info(`rollout: wave ${i + 1} of ${plan.length}: ${wave.map((t) => t.vm).join(", ")}`);
      const done = await eachTarget(wave, repo.parallelism, log, (t) => deployOne(config, t, source, opts, (from) => switched.set(t.vm, from)), (t, error, durationMs) => ({ vm: t.vm, host: t.host, path: t.path, action: "failed" as const, filesTransferred: 0, bytesTransferred: 0, literalBytes: 0, durationMs, error }));
      for (const r of done) results.set(r.vm, rollout ? { ...r, wave: i + 1 } : r);
      if (!rollout || !report) continue;
      const failed = done.filter((r) => r.action === "failed");
      if (tooManyFailures(failed.length, wave.length, rollout.maxFailures)) {
        report.stoppedAt = i + 1;
        report.reason = `${failed.length} of ${wave.length} VM(s) of wave ${i + 1} failed (${failed.map((r) => r.vm).join(", ")}), more than max_failures ${describeAmount(rollout.maxFailures)}`;
        log.warn(`rollout stopped: ${report.reason}`);
        for (const t of plan.slice(i + 1).flat()) {
          report.untouched.push(t.vm);
          results.set(t.vm, { vm: t.vm, host: t.host, path: t.path, action: "skipped", filesTransferred: 0, bytesTransferred: 0, literalBytes: 0, durationMs: 0, wave: plan.findIndex((w) => w.includes(t)) + 1 });
        }
        const back = targets.filter((t) => switched.has(t.vm));
        // On the new commit without this run's switch: an interrupted earlier run left them there.
        report.alreadyOnNew.push(...plan.slice(0, i + 1).flat().filter((t) => !switched.has(t.vm) && results.get(t.vm)?.revision === source.commit).map((t) => t.vm));
        if (rollout.onFailure === "rollback") {
          await rollBack(config, back, source.commit, switched, results, report, `rollout of ${source.commit.slice(0, 12)}: wave ${i + 1} failed`, log);
        } else {
          report.leftOnNew.push(...back.map((t) => t.vm));
        }
        break;
      }
      if (rollout.bakeS > 0 && i < plan.length - 1) {
        log.info(`rollout: wave ${i + 1} done; baking ${rollout.bakeS} s before wave ${i + 2}`);
        await new Promise((resolve) => setTimeout(resolve, rollout.bakeS * 1000));
      }
    }
  } finally {
    // Connections opened early for VMs that never ran end untouched.
    await Promise.all([...(opts.early ?? new Map<string, PendingSession>()).entries()].filter(([vm]) => !results.has(vm) || results.get(vm)?.action === "skipped").map(([, s]) => s.abandon()));
  }
  return { results: targets.map((t) => results.get(t.vm) as SyncResult), ...(report ? { rollout: report } : {}) };
}

/** Converges one VM and checks its health in the same session (the lock held throughout). */
async function deployOne(config: Config, t: Target, source: PreparedSource, opts: RolloutOptions, onSwitch: (from: string | undefined) => void): Promise<SyncResult> {
  const repo = config.repository;
  const log = opts.logger;
  log.info(`${t.vm}: syncing ${source.commit.slice(0, 12)} to ${t.host}:${t.path}`);
  const session = await startSession(t, source, { session: opts.early?.get(t.vm), lockTimeoutS: repo.lockTimeoutS });
  try {
    let r = await convergeInSession(t, source, { force: opts.force, adoptExisting: repo.adoptExisting, lockTimeoutS: repo.lockTimeoutS, onProgress: opts.onProgress && ((p) => opts.onProgress?.(t.vm, p)), onSwitch }, session);
    logConverged(t, r, log);
    const check = healthCheckOf(config, t.vm);
    if (!check) return r;
    const { health, error, warning } = await checkHealthInSession(t, check, source.commit, session, log);
    r = { ...r, health };
    if (!error) return r;
    return { ...r, action: "failed", error, ...(warning ? { warnings: [...(r.warnings ?? []), warning] } : {}) };
  } finally {
    await session.close();
  }
}

/**
 * Switches each VM of `back` from `commit` to what it served before this run (releases layout), in
 * parallel; each VM's outcome goes into its result and the report. A VM whose `current` another run
 * moved since, or that served nothing before, is left as it is and named.
 */
async function rollBack(config: Config, back: Target[], commit: string, switched: Map<string, string | undefined>, results: Map<string, SyncResult>, report: RolloutReport, why: string, log: Logger): Promise<void> {
  if (back.length === 0) return;
  log.info(`rollout: switching back ${back.map((t) => t.vm).join(", ")}`);
  const trees = new CommitTrees(config.repository, log);
  const outcomes = await eachTarget(back, config.repository.parallelism, log, (t) => undoSwitch(t, commit, switched.get(t.vm), trees, config.repository.lockTimeoutS, log, why), (t, error) => ({ vm: t.vm, host: t.host, path: t.path, error }));
  for (const o of outcomes) {
    const r = results.get(o.vm);
    if (!r) continue;
    if (o.error || !o.to) {
      const serving = o.serving ?? commit;
      if (serving === commit) report.leftOnNew.push(o.vm);
      else report.movedByOthers.push(o.vm);
      results.set(o.vm, { ...r, ...(serving !== commit ? { revision: serving } : {}), rollback: { from: commit, ...(o.error ? { error: o.error } : {}) } });
    } else {
      report.rolledBack.push(o.vm);
      results.set(o.vm, { ...r, action: "rolled-back", revision: o.to, previousRevision: commit, rollback: { from: commit, to: o.to } });
    }
  }
}
