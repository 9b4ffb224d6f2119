/**
 * A wave's gate, for a rollout through Pulumi that can roll back or tolerate failures (`on_failure:
 * rollback`, or `max_failures` above 0). Pulumi has no "on failure" step: a failed resource stops the
 * deployment, so nothing could switch back the waves before it. So in such a rollout each VM's
 * RepoSyncTarget reports its outcome as data (its `deployment` output: what it switched, or why its
 * sync failed) and one gate per wave, after that wave's targets, decides as the CLI's rollout does
 * (rollout.ts):
 * - it runs the post-sync hook and the health check of each VM of its wave that now serves the commit
 *   (under the VM's lock, over one connection), and records a failed check in the VM's history;
 * - more failures than `max_failures`: with `rollback`, every VM this run switched, in this wave and
 *   the ones before, goes back to what it served before (undoSwitch: a link switch); then the gate
 *   fails, naming each VM and what it serves now. The next waves wait on this gate: never touched;
 * - else it waits `bake_s` (not after the last wave) and passes; failures within the limit are named,
 *   and the last wave's gate fails the run for them at the end, after its pass is recorded (so the
 *   next `up` hooks and checks again only the VMs that failed).
 * "This run" is one execution of the program: it gives the targets and the gates one run id.
 */
import type { HealthCheckSettings, RolloutSettings, SourceSettings, Target } from "../config/types";
import { errorMessage, isRepoSyncError, RepoSyncError } from "../errors";
import type { Logger } from "../log";
import { servedRevision } from "../target/script";
import { TargetSession } from "../target/session";
import { checkHealthInSession } from "./healthCheck";
import { CommitTrees } from "./keptRelease";
import { mapLimit } from "./pool";
import { hookInSession } from "./postSync";
import { short, undoSwitch } from "./rollback";
import { describeAmount, tooManyFailures } from "./waves";

/** What a VM's target did in a run, as its `deployment` output says (set when it switched or failed). */
export interface DeployOutcome {
  /** The run (one execution of the program) that did it. */
  run: string;
  /** The commit that run deployed. */
  commit: string;
  /** True when that run made the VM serve the commit (a switch of `current`, or a new `.sync_rev`). */
  switched: boolean;
  /** What the VM served before that switch (absent: nothing, or no switch). */
  from?: string;
  /** Why the sync failed (absent: it did not). */
  failure?: string;
}

/** One VM as a gate sees it. */
export interface WaveMember {
  target: Target;
  /** Its wave, 1-based. */
  wave: number;
  hook?: string;
  check?: HealthCheckSettings;
  /** Its target's last outcome (absent: none recorded, e.g. a state from before rollouts). */
  outcome?: DeployOutcome;
}

/** What one gate is asked to decide. */
export interface WaveGateSpec {
  /** This gate's wave (1-based) and how many there are. */
  wave: number;
  waves: number;
  commit: string;
  run: string;
  rollout: RolloutSettings;
  /** The VMs of this wave and of every wave before it. */
  members: WaveMember[];
  /** VMs of earlier waves that failed within `max_failures` in this run (their gates' `failed`). */
  earlierFailures: string[];
  /** VMs of this wave that passed this gate before, by the key of what passed ({@link passKey}). */
  passed: Record<string, string>;
  /** VMs of this wave whose hook passed this gate before, by {@link hookKey} (absent: the gate's first pass). */
  hooked?: Record<string, string>;
  source: SourceSettings;
  lockTimeoutS: number;
  parallelism: number;
}

/** How one VM of the wave came through the gate. */
export interface WaveVerdict {
  vm: string;
  ok: boolean;
  /** Where it failed (`sync`, `hook`, `health`), or `passed`/`checked` when it did not. */
  step: "sync" | "hook" | "health" | "checked" | "passed";
  /** Why it failed. */
  message?: string;
  /** Its hook (if any) passed for this commit: now, or at an earlier pass of this gate. */
  hooked?: boolean;
}

/** What a gate reports. */
export interface WaveGateResult {
  verdicts: WaveVerdict[];
  /** VMs of this wave that failed. */
  failed: string[];
  /** VMs of this wave that passed and serve the commit, by the key of what passed. */
  passed: Record<string, string>;
  /** VMs of this wave whose hook passed, by {@link hookKey}: a retry checks them without hooking again. */
  hooked: Record<string, string>;
  /**
   * Set when the gate fails: the rollout stopped (and what was switched back), or, at the last wave,
   * the VMs that failed within `max_failures`. The rest of the result is still what the gate saw: a
   * Pulumi gate keeps it (`passed`), so that the next `up` does not hook and check those VMs again.
   */
  error?: RepoSyncError;
}

/** What a VM passed the gate with (pure): the commit, the hook and the check. A change checks it again. */
export function passKey(m: Pick<WaveMember, "hook" | "check">, commit: string): string {
  return JSON.stringify([commit, m.hook ?? null, m.check ?? null]);
}

/** What a VM's hook passed with (pure): the commit and the hook. */
export function hookKey(m: Pick<WaveMember, "hook">, commit: string): string {
  return JSON.stringify([commit, m.hook ?? null]);
}

/**
 * Whether the gate runs the VM's hook (pure): after this run's switch, and when it has not passed for
 * this commit and hook (a retry of a VM whose check failed runs the check only, as the `<vm>-health`
 * resource of an ungated rollout is run again and its `<vm>-post-sync` is not). A gate's first pass
 * (`hooked` absent: a new gate) hooks a VM whose target switched it to this commit (in this run, or in
 * an earlier one whose gate never finished) or reported from this run (a new target over a VM that
 * already held the commit, e.g. from the CLI, which runs no hooks); not one whose target reported
 * nothing yet (a stack that just turned to a gated rollout: its VMs' hooks ran as resources of their own).
 */
export function toHook(m: WaveMember, spec: Pick<WaveGateSpec, "commit" | "run" | "hooked">): boolean {
  if (!m.hook) return false;
  const o = m.outcome;
  if (o?.run === spec.run && o.switched) return true;
  if (spec.hooked === undefined) return o !== undefined && o.commit === spec.commit && (o.switched || o.run === spec.run);
  return spec.hooked[m.target.vm] !== hookKey(m, spec.commit);
}

/**
 * Which VMs of the wave the gate hooks and checks (pure): those serving the commit after this run's
 * switch, and those that have not passed this gate for the same commit, hook and check (a gate that
 * did not pass runs them again). A VM whose sync failed is not checked: it failed already.
 */
export function toCheck(spec: Pick<WaveGateSpec, "wave" | "commit" | "run" | "members" | "passed">): WaveMember[] {
  return spec.members.filter((m) => m.wave === spec.wave && !(m.outcome?.run === spec.run && m.outcome.failure !== undefined))
    .filter((m) => (m.outcome?.run === spec.run && m.outcome.switched) || spec.passed[m.target.vm] !== passKey(m, spec.commit));
}

/** The VMs this run switched, in this wave and the ones before (pure): what a rollback undoes. */
export function switchedThisRun(spec: Pick<WaveGateSpec, "wave" | "commit" | "run" | "members">): WaveMember[] {
  return spec.members.filter((m) => m.wave <= spec.wave && m.outcome?.run === spec.run && m.outcome.commit === spec.commit && m.outcome.switched);
}

/** Runs the gate (see the file comment); `error` is set when the rollout stops or the run must fail. */
export async function passWave(spec: WaveGateSpec, log: Logger): Promise<WaveGateResult> {
  const wave = spec.members.filter((m) => m.wave === spec.wave);
  const checking = new Set(toCheck(spec).map((m) => m.target.vm));
  const verdicts = await mapLimit(wave, spec.parallelism, async (m): Promise<WaveVerdict> => {
    const failure = m.outcome?.run === spec.run ? m.outcome.failure : undefined;
    if (failure !== undefined) return { vm: m.target.vm, ok: false, step: "sync", message: failure };
    if (!checking.has(m.target.vm)) return { vm: m.target.vm, ok: true, step: "passed", hooked: true };
    return checkMember(m, spec, log).catch((err: unknown) => ({ vm: m.target.vm, ok: false, step: "health" as const, message: isRepoSyncError(err) ? err.message : errorMessage(err) }));
  });
  const failed = verdicts.filter((v) => !v.ok);
  const passed: Record<string, string> = {};
  const hooked: Record<string, string> = {};
  for (const m of wave) {
    const v = verdicts.find((x) => x.vm === m.target.vm);
    if (v?.ok) passed[m.target.vm] = passKey(m, spec.commit);
    if (v?.hooked) hooked[m.target.vm] = hookKey(m, spec.commit);
  }
  const result = { verdicts, failed: failed.map((v) => v.vm), passed, hooked };
  const named = failed.map((v) => `${v.vm} (${v.step}: ${firstLine(v.message, v.vm)})`).join("; ");
  if (tooManyFailures(failed.length, wave.length, spec.rollout.maxFailures)) {
    const why = `${failed.length} of ${wave.length} VM(s) of wave ${spec.wave} failed, more than max_failures ${describeAmount(spec.rollout.maxFailures)}: ${named}`;
    const { error, rolledBack } = await stopped(spec, why, log);
    // A VM switched back serves the old commit: it has not passed for the new one.
    for (const vm of rolledBack) {
      delete passed[vm];
      delete hooked[vm];
    }
    return { ...result, error };
  }
  if (failed.length > 0) log.warn(`rollout: wave ${spec.wave}: ${named}; within max_failures ${describeAmount(spec.rollout.maxFailures)}, the rollout goes on (they stay as they failed)`);
  const all = [...spec.earlierFailures, ...failed.map((v) => v.vm)];
  if (spec.wave === spec.waves && all.length > 0) {
    return { ...result, error: new RepoSyncError("health", `rollout of ${short(spec.commit)} done, but ${all.length} VM(s) failed within max_failures ${describeAmount(spec.rollout.maxFailures)}: ${all.join(", ")} (each one's error is above; they stay as they failed)`, {
      hint: "fix them and run `pulumi up` again: it deploys to them and checks them again",
    }) };
  }
  if (spec.rollout.bakeS > 0 && spec.wave < spec.waves) {
    log.info(`rollout: wave ${spec.wave} ${failed.length > 0 ? "went on within max_failures" : "passed"}; baking ${spec.rollout.bakeS} s before wave ${spec.wave + 1}`);
    await new Promise((resolve) => setTimeout(resolve, spec.rollout.bakeS * 1000));
  }
  return result;
}

/** Hook then check on one VM, under its lock, once it is seen serving the commit. */
async function checkMember(m: WaveMember, spec: WaveGateSpec, log: Logger): Promise<WaveVerdict> {
  const t = m.target;
  const session = await TargetSession.open(t, spec.lockTimeoutS);
  try {
    const serving = servedRevision(session.header);
    if (serving !== spec.commit) {
      return { vm: t.vm, ok: false, step: "health", message: `it serves ${short(serving)}, not ${short(spec.commit)} (another run deployed in between, or its sync did not land)` };
    }
    if (m.hook && toHook(m, spec)) {
      const error = await hookInSession(t, m.hook, spec.commit, session, log);
      if (error) return { vm: t.vm, ok: false, step: "hook", message: error.message };
    } else if (m.hook) {
      log.info(`${t.vm}: post-sync hook passed for ${short(spec.commit)} at an earlier up: not run again`);
    }
    if (!m.check) return { vm: t.vm, ok: true, step: "checked", hooked: true };
    const { error } = await checkHealthInSession(t, m.check, spec.commit, session, log);
    return error ? { vm: t.vm, ok: false, step: "health", message: error.message, hooked: true } : { vm: t.vm, ok: true, step: "checked", hooked: true };
  } finally {
    await session.close();
  }
}

/** The stop: the rollback (or not) of what this run switched, then the error naming every VM. */
async function stopped(spec: WaveGateSpec, why: string, log: Logger): Promise<{ error: RepoSyncError; rolledBack: string[] }> {
  const back = switchedThisRun(spec);
  const later = `the waves after wave ${spec.wave} were not started`;
  // Every VM of these waves whose target step passed serves the commit (its diff found it there, or
  // its sync landed it): those this run did not switch were on it already (an earlier, interrupted
  // run; a CLI sync; another stack), whatever their last recorded outcome says.
  const switchedNow = new Set(back.map((m) => m.target.vm));
  const already = spec.members.filter((m) => !switchedNow.has(m.target.vm) && !(m.outcome?.run === spec.run && m.outcome.failure !== undefined)).map((m) => m.target.vm);
  const alreadyLine = already.length > 0 ? `; already on ${short(spec.commit)} before this run (not switched back): ${already.join(", ")}` : "";
  if (spec.rollout.onFailure !== "rollback" || back.length === 0) {
    const left = back.length > 0 ? `; left on ${short(spec.commit)} (on_failure: stop): ${back.map((m) => m.target.vm).join(", ")}` : "";
    return { rolledBack: [], error: new RepoSyncError("health", `rollout stopped at wave ${spec.wave} of ${spec.waves}: ${why}${left}${alreadyLine}; ${later}`, {
      hint: "fix the failing VMs and run `pulumi up` again",
    }) };
  }
  log.info(`rollout: switching back ${back.map((m) => m.target.vm).join(", ")}`);
  const trees = new CommitTrees(spec.source, log);
  const reason = `rollout of ${short(spec.commit)}: wave ${spec.wave} failed`;
  const undone = await mapLimit(back, spec.parallelism, (m) => undoSwitch(m.target, spec.commit, m.outcome?.from, trees, spec.lockTimeoutS, log, reason)
    .catch((err: unknown) => ({ vm: m.target.vm, error: isRepoSyncError(err) ? err : new RepoSyncError("transfer", errorMessage(err), { vm: m.target.vm }), to: undefined, serving: undefined })));
  // The hooks once every VM is switched back: a slow (or hung) hook holds no other VM on the commit.
  const outcomes = await mapLimit(undone, spec.parallelism, async (o, i) => {
    const m = back[i];
    return { ...o, after: o.to !== undefined && m.hook ? await hookAfterRollback(m, o.to, spec, log) : {} };
  });
  const lines = outcomes.map((o) => o.to !== undefined && o.after.serving !== undefined
    ? `${o.vm} was switched back to ${short(o.to)} but serves ${short(o.after.serving)} now (another run moved it since; its post-sync hook was not run in ${short(o.to)})`
    : o.to !== undefined ? `${o.vm} serves ${short(o.to)} again${o.after.error ? ` (but its post-sync hook failed there: ${firstLine(o.after.error.message, o.vm)})` : ""}`
    : o.serving !== undefined && o.serving !== spec.commit ? `${o.vm} serves ${short(o.serving)} (another run moved it)`
    : `${o.vm} still serves ${short(spec.commit)} (not switched back: ${firstLine(o.error?.message, o.vm).replace(/^not switched back: /, "")})`);
  const rolledBack = outcomes.filter((o) => o.to !== undefined).map((o) => o.vm);
  return { rolledBack, error: new RepoSyncError("health", `rollout stopped at wave ${spec.wave} of ${spec.waves} and rolled back: ${why}. Now: ${lines.join("; ")}${alreadyLine}; ${later}`, {
    hint: "fix the failing VMs and run `pulumi up` again (it deploys the waves again); `repo-sync history` shows each VM's trail",
  }) };
}

/**
 * The VM's hook again, in the release it was switched back to: the service a hook restarted on the
 * new release is restarted on the old one (as a new deployment of the old revision would). A failure
 * is said (and in the VM's history), not undone. The switch back let go of the VM's lock: when another
 * run moved `current` since, the hook is not run (`serving` says what the VM serves now); a session
 * that cannot be opened is the hook's error (never thrown: the VM was switched back all the same).
 */
async function hookAfterRollback(m: WaveMember, to: string, spec: WaveGateSpec, log: Logger): Promise<{ error?: RepoSyncError; serving?: string }> {
  const hook = m.hook;
  if (hook === undefined) return {};
  try {
    const session = await TargetSession.open(m.target, spec.lockTimeoutS);
    try {
      const serving = servedRevision(session.header);
      if (serving !== to) {
        log.warn(`${m.target.vm}: post-sync hook not run after the switch back to ${short(to)}: it serves ${short(serving)} now (another run moved it)`);
        return { serving: serving ?? "" };
      }
      const error = await hookInSession(m.target, hook, to, session, log, "after the rollback: ");
      return error ? { error } : {};
    } finally {
      await session.close();
    }
  } catch (err) {
    const error = isRepoSyncError(err) ? err : new RepoSyncError("health", errorMessage(err), { vm: m.target.vm });
    log.warn(error.message);
    return { error };
  }
}

/** A message's first line, without the `vm: ` its VM's name already says. */
function firstLine(s: string | undefined, vm?: string): string {
  const line = (s ?? "failed").split("\n")[0];
  return vm !== undefined && line.startsWith(`${vm}: `) ? line.slice(vm.length + 2) : line;
}
