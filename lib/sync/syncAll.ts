/**
 * A whole run over several targets: the source is prepared once, then every target converges in
 * parallel (bounded). One VM's failure is that VM's alone: it is recorded and the others go on.
 */
import type { Config, Target } from "../config/types";
import type { Logger } from "../log";
import type { RsyncProgress } from "../transfer/rsyncOutput";
import { PendingSession, TargetSession, whileConnecting } from "../target/session";
import { convergeTarget } from "./converge";
import type { SyncResult } from "./result";
import { lookUpRef } from "../source/git";
import type { RefKind } from "../source/ref";
import { eachTarget, logConverged, selectTargets } from "./targets";
import { prepareSource, PreparedSource, refOfRun } from "./prepareSource";
import { needsRollout, rollOut, type RolloutReport } from "./rollout";
import { planWaves } from "./waves";

/** Outcome of a run over several VMs. */
export interface SyncSummary {
  commit: string;
  /** The branch deployed ("" when a tag or a commit was named). */
  branch: string;
  /** What named the commit (a branch or tag name, or the SHA as given) and its kind. */
  ref?: string;
  refKind?: RefKind;
  results: SyncResult[];
  /** True when every VM succeeded (and, with a rollout, every wave ran). */
  ok: boolean;
  /** With `repository.rollout`: the waves and, when it stopped, why and what each VM holds. */
  rollout?: RolloutReport;
  warnings: string[];
}

/** Options for {@link syncTargets}. */
export interface SyncOptions {
  branch?: string;
  /** A branch, tag or commit to deploy (source/ref.ts); refused together with `branch`. */
  ref?: string;
  force?: boolean;
  pull?: boolean;
  /** Scan every file of the tree, not only those not found clean before. */
  fullScan?: boolean;
  logger: Logger;
  /** Only these VM ids (default: every push target). */
  vms?: string[];
  /** Live progress of each VM's push (asks rsync for it); none: rsync reports none. */
  onProgress?: (vm: string, p: RsyncProgress) => void;
}

/** Prepares the source once and converges every selected target. */
export async function syncTargets(config: Config, opts: SyncOptions): Promise<SyncSummary> {
  const targets = selectTargets(config, opts.vms);
  // A ref refused as written, naming nothing or several things (or given with a branch) stops the run
  // before any connection: looked up locally here, resolved again (with a branch's pull) below.
  const ref = refOfRun(config.repository, opts);
  if (ref !== undefined) await lookUpRef(config.repository.mainRepoPath, ref);
  // The first wave's SSH handshakes run while the source is exported and scanned; nothing happens on
  // a target until its session starts, so a refused source leaves no trace there.
  // With a rollout, only the first wave's VMs: the others may never be touched.
  const first = config.repository.rollout ? planWaves(targets, config.repository.rollout.waves)[0] : targets;
  const early = new Map(first.slice(0, config.repository.parallelism).map((t) => [t.vm, TargetSession.connect(t, config.repository.lockTimeoutS)]));
  const source = await whileConnecting([...early.values()], prepareSource(config.repository, { branch: opts.branch, ref, pull: opts.pull, fullScan: opts.fullScan, logger: opts.logger }));
  const { results, rollout } = needsRollout(config, targets) ? await rollOut(config, targets, source, { ...opts, early }) : { results: await convergeAll(config, targets, source, { ...opts, early }), rollout: undefined };
  const ok = results.every((r) => r.action === "synced" || r.action === "repaired" || r.action === "unchanged");
  return { commit: source.commit, branch: source.branch, ref: source.ref, refKind: source.refKind, results, ok, warnings: source.warnings, ...(rollout ? { rollout } : {}) };
}

/** Converges targets in parallel; failures become `failed` results. `early`: connections already opened, by VM. */
export function convergeAll(config: Config, targets: Target[], source: PreparedSource, opts: Pick<SyncOptions, "force" | "logger" | "onProgress"> & { early?: Map<string, PendingSession> }): Promise<SyncResult[]> {
  const repo = config.repository;
  return eachTarget(targets, repo.parallelism, opts.logger, async (t) => {
    opts.logger.info(`${t.vm}: syncing ${source.commit.slice(0, 12)} to ${t.host}:${t.path}`);
    const r = await convergeTarget(t, source, { force: opts.force, adoptExisting: repo.adoptExisting, lockTimeoutS: repo.lockTimeoutS, session: opts.early?.get(t.vm), onProgress: opts.onProgress && ((p) => opts.onProgress?.(t.vm, p)) });
    logConverged(t, r, opts.logger);
    return r;
  }, (t, error, durationMs) => ({ vm: t.vm, host: t.host, path: t.path, action: "failed" as const, filesTransferred: 0, bytesTransferred: 0, literalBytes: 0, durationMs, error }));
}
