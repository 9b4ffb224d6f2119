/**
 * The RepoSyncTarget provider's behaviour, loaded with `require()` when the engine calls a method, so
 * that it runs as an ordinary module and not as serialized closure text (which silently drops class
 * fields, Map state and Error messages).
 *
 * Contracts, per method:
 * - check: validates inputs (property + reason); when every input is known, probes the live target
 *   and records why it differs in `observed` (so `pulumi preview --diff` shows it). A VM that cannot
 *   be probed (down, host key refused...) is recorded as `error: ...`, not a check failure: a check
 *   failure would stop the whole deployment, and the other VMs must still converge. Preview then plans
 *   an update for that VM whose `observed` names the error (so `--expect-no-changes` fails), and the
 *   update itself fails naming the VM; `pulumi up --continue-on-error` converges the others.
 *   In an `up` (the program says so: `dryRun` false) it records instead what the target is after this
 *   step, in sync at the commit: the engine stores check's inputs as the state's, and the next
 *   preview's diff shows them as the old value (see {@link stateAfterStep}).
 * - diff: decides from this run's live probe (the TargetState kind that check or read saw, see
 *   {@link liveKinds}) and the inputs; never from stale state, never from the text of `observed`.
 * - create/update: secret gate, then rsync, then `.sync_rev`. On failure nothing claims success: the
 *   error is raised, the target's marker is absent (never the new commit). After a sync, `drift` is
 *   none (the tree is the commit's).
 * - read: the live `.sync_rev` as `revision`, and when it names the state's commit, the live tree
 *   compared with that commit's as `drift` (a commit that cannot be exported leaves it not compared),
 *   and what it saw as `observed`/`observedState`: a converged target reads back exactly its state.
 *   (`pulumi refresh` then asks diff() whether the refreshed target still matches its inputs.)
 * - delete: removes only repo-sync's marker files (the tree stays), or with removeOnDelete the tree.
 *
 * Errors: a RepoSyncError reaches the engine as its message only (the engine shows it on the target,
 * no stack); messages about a target are logged on that target (engineLog.ts).
 */
import type * as pulumi from "@pulumi/pulumi";
import { isRepoSyncError, RepoSyncError } from "../lib/errors";
import { readProcStat } from "../lib/process/procStat";
import type { Logger } from "../lib/log";
import { servedRevision } from "../lib/target/script";
import { TargetSession, whileConnecting } from "../lib/target/session";
import { convergeTarget } from "../lib/sync/converge";
import { prepareCommit } from "../lib/sync/prepareSource";
import { limiter } from "../lib/sync/pool";
import { describeProgress, RsyncProgress } from "../lib/transfer/rsyncOutput";
import type { PreparedSource } from "../lib/sync/prepareSource";
import { checkTarget, describeState, RepoStatus, stateOf, TargetState } from "../lib/sync/status";
import { describeDrift, driftOutput } from "./drift";
import { resourceLogger, ResourceLogger } from "./engineLog";
import { PROBE_PARALLELISM, probeKey, readProbePlan } from "./probePlan";
import { mark } from "../lib/timeline";
import type { DeployOutcome } from "../lib/sync/waveGate";
import { decideDiff, deployedFrom, hasUnknowns, normalizeInputs, plain, TargetInputs, TargetOutputs, toSourceSettings, toTarget, validateInputs } from "./inputs";

/**
 * Messages about the source (export, scan), shared by every target of the run: on the provider
 * process's stderr, which the engine shows under the stack.
 */
const providerLogger: Logger = {
  info: (m) => process.stderr.write(`repo-sync: ${m}\n`),
  warn: (m) => process.stderr.write(`repo-sync: warning: ${m}\n`),
  alert: (a) => process.stderr.write(`${JSON.stringify({ level: "alert", ...a })}\n`),
};

/**
 * When `pulumi` itself is killed (SIGKILL), the provider process is orphaned: it would hold its
 * targets' locks forever (and Node's dynamic-provider host spins). The provider's parent is the
 * launcher script, whose parent is the engine: once that is gone, exit, which drops our SSH sessions
 * (releasing the locks; a target whose transfer was cut keeps no `.sync_rev`) and kills our rsync.
 */
function exitWhenEngineDies(): void {
  const parentOf = (pid: number) => readProcStat(pid)?.ppid;
  const launcher = process.ppid;
  const engine = parentOf(launcher);
  if (engine === undefined || engine <= 1) return;
  setInterval(() => {
    if (process.ppid !== launcher || parentOf(launcher) !== engine) {
      process.stderr.write("repo-sync: the Pulumi engine is gone; stopping (locks released, no .sync_rev written)\n");
      process.exit(1);
    }
  }, 500).unref();
}
exitWhenEngineDies();
mark("provider.loaded");



/** How often a long transfer says how far it is (the engine has no progress bar for a provider). */
const PROGRESS_EVERY_MS = 5_000;

/** Export + scan per (repo, commit, settings): one per provider process, however many targets. */
const sources = new Map<string, Promise<PreparedSource>>();

function sourceFor(i: TargetInputs): Promise<PreparedSource> {
  const repo = toSourceSettings(i);
  const key = JSON.stringify([repo, i.commit]);
  let p = sources.get(key);
  if (!p) {
    p = prepareCommit(repo, i.commit, { logger: providerLogger });
    sources.set(key, p);
    p.catch(() => sources.delete(key)); // a failure is not cached: the next call tries again
  }
  return p;
}

async function probe(i: TargetInputs): Promise<RepoStatus> {
  mark("probe.start", { vm: i.vm });
  const src = await sourceFor(i);
  const r = await checkTarget(toTarget(i), { commit: i.commit, transfer: src.transfer }, { checksum: i.checksum });
  mark("probe.end", { vm: i.vm });
  return r;
}

/** Probes of this provider process, by probeKey (see probePlan.ts). */
const probes = new Map<string, Promise<RepoStatus>>();
const plansStarted = new Set<string>();
const gate = limiter(PROBE_PARALLELISM);

/** This target's live status: from the batch of its probe plan when it is in one, else probed alone. */
function statusOf(i: TargetInputs): Promise<RepoStatus> {
  if (i.probePlan && !plansStarted.has(i.probePlan)) {
    plansStarted.add(i.probePlan);
    mark("plan.read", { vm: i.vm });
    for (const t of readProbePlan(i.probePlan)) {
      if (probes.has(probeKey(t))) continue;
      const p = gate(() => probe(t));
      p.catch(() => undefined); // a planned target that is never checked must not be an unhandled rejection
      probes.set(probeKey(t), p);
    }
  }
  const key = probeKey(i);
  let p = probes.get(key);
  if (!p) {
    p = gate(() => probe(i));
    probes.set(key, p);
  }
  return p;
}

/** The sentence for a state; a drift names the count and first paths of each kind (drift.ts). */
function describe(state: TargetState): string {
  return state.kind === "drift" ? describeDrift(state.drift) : describeState(state);
}

/** What `check()` records of the live target: the state's kind and its sentence. */
function observation(state: TargetState): { observedState: TargetState["kind"]; observed: string } {
  return { observedState: state.kind, observed: describe(state) };
}

/**
 * The live state's kind that this process last saw of each target (by {@link liveKey}): check() and
 * read() set it, diff() decides on it. In an `up`, check() stores the state after the step instead of
 * the live one (see {@link stateAfterStep}); `pulumi refresh` calls diff() with the refreshed outputs
 * and the stored inputs. The engine calls check or read before diff for a resource, in this process.
 */
const liveKinds = new Map<string, string>();

function liveKey(i: TargetInputs): string {
  return i.logUrn ?? probeKey(i);
}

/**
 * The `observed`/`observedState` that check() returns, which the engine stores as the state's inputs
 * once the step succeeds. In a preview: the live state, the reason of a planned update (what
 * `pulumi preview --diff` shows). In an `up`: what the target is after this step, in sync at the
 * commit (the step fails otherwise, and then nothing is stored), so that the next preview's old
 * value is what was observed after the last sync, not the live state from before it.
 */
function stateAfterStep(i: TargetInputs, live: TargetState, dryRun: boolean): ReturnType<typeof observation> {
  liveKinds.set(liveKey(i), live.kind);
  return dryRun ? observation(live) : observation({ kind: "in-sync", revision: i.commit });
}

/** Probes the live target. Throws when it cannot be probed (the caller records the error). */
async function observe(i: TargetInputs, log: Logger): Promise<TargetState> {
  const status = await statusOf(i);
  probes.delete(probeKey(i)); // the next check of this target (e.g. during the update) probes afresh
  if (status.error) throw status.error;
  const state = stateOf(status);
  if (state.kind !== "in-sync") log.info(`${i.vm}: ${describe(state)}; up deploys ${deployedFrom(i)}`);
  return state;
}

/** Runs a provider method with the target's logger; its messages are delivered before it returns. */
async function logged<T>(i: TargetInputs, fn: (log: ResourceLogger) => Promise<T>): Promise<T> {
  const log = resourceLogger(i.vm, i.logUrn);
  try {
    return await fn(log);
  } finally {
    await log.flush();
  }
}

/**
 * What read and delete throw for a RepoSyncError. The engine shows its message on the target; the
 * SDK also prints `${err}: ${err.stack}` on stderr (under the stack) for these two methods, which
 * would repeat it with a stack trace: that line is cut down to `repo-sync: <first line>`.
 */
function quiet(err: unknown): unknown {
  if (!isRepoSyncError(err)) return err; // a bug: its stack is wanted
  const e = new Error(err.message);
  Object.defineProperty(e, "toString", { value: () => "repo-sync", enumerable: false });
  e.stack = err.message.split("\n")[0];
  return e;
}

/** A problem of the source side (the same for every VM: nothing changes on any), not of one VM. */
function sourceSide(err: RepoSyncError): boolean {
  return err.kind === "secrets" || err.kind === "source" || err.kind === "scan" || err.kind === "config";
}

export async function check(_olds: Record<string, unknown>, raw: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  // `dryRun` says whether this is a preview (absent: a program from before it existed, taken as one);
  // it is not an input of the target, and never stored.
  const { dryRun, ...news } = raw;
  const inputs = normalizeInputs(news);
  mark("check.start", { vm: inputs.vm });
  try {
    return await checkMarked(news, inputs, dryRun);
  } finally {
    mark("check.end", { vm: inputs.vm });
  }
}

async function checkMarked(news: Record<string, unknown>, inputs: TargetInputs, dryRun: unknown): Promise<pulumi.dynamic.CheckResult> {
  const failures = validateInputs(inputs);
  if (failures.length > 0) return { inputs: news, failures };
  if (hasUnknowns(news)) return { inputs: plain({ ...news, observed: undefined, observedState: undefined }) };
  return logged(inputs, async (log) => {
    try {
      return { inputs: plain({ ...news, ...stateAfterStep(inputs, await observe(inputs, log), dryRun !== false) }) };
    } catch (err) {
      if (!isRepoSyncError(err)) throw err;
      // The source side is the same for every VM: a problem there is an input failure (nothing changes).
      if (sourceSide(err)) {
        return { inputs: news, failures: [{ property: "commit", reason: err.message }] };
      }
      // Not a check failure, which would stop every VM: the update fails on this one (with the command
      // and its stderr); the preview names the reason and the fix here.
      log.warn(`${inputs.vm}: ${err.reason}${err.hint ? `\n  fix: ${err.hint}` : ""}`);
      return { inputs: plain({ ...news, ...stateAfterStep(inputs, { kind: "error", error: err }, dryRun !== false) }) };
    }
  });
}

export async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  mark("diff", { vm: typeof news.vm === "string" ? news.vm : undefined });
  const live = liveKinds.get(liveKey(normalizeInputs(news)));
  return decideDiff(olds, live === undefined ? news : { ...news, observedState: live });
}

async function converge(raw: Record<string, unknown>, force: boolean, olds?: Record<string, unknown>): Promise<TargetOutputs> {
  const i = normalizeInputs(raw);
  mark("converge.start", { vm: i.vm });
  try {
    return await logged(i, (log) => convergeLogged(i, force, log, olds));
  } finally {
    mark("converge.end", { vm: i.vm });
  }
}

/**
 * A gated rollout's target (`rolloutRun`): a failed sync is its outcome, for the wave's gate to count
 * (lib/sync/waveGate.ts), not an error that would stop the deployment before the gate could switch the
 * earlier waves back. Only a VM's own failure: a source or config problem fails as ever. The state then
 * records what was tried; the next preview probes the VM and plans the sync again.
 */
function failedInRollout(i: TargetInputs, err: unknown, switched: { from?: string } | undefined, olds: Record<string, unknown> | undefined, log: Logger): TargetOutputs | undefined {
  if (i.rolloutRun === undefined || !isRepoSyncError(err)) return undefined;
  if (sourceSide(err)) return undefined;
  // The message names the VM and carries the command, stderr and fix lines already.
  log.warn(`${err.message}\n  (the wave's gate counts this failure)`);
  const deployment: DeployOutcome = { run: i.rolloutRun, commit: i.commit, switched: switched !== undefined, ...(switched?.from ? { from: switched.from } : {}), failure: err.message.split("\n")[0] };
  return plain({
    ...i,
    ...observation({ kind: "error", error: err }),
    revision: switched ? i.commit : typeof olds?.revision === "string" ? olds.revision : "",
    filesTransferred: 0,
    bytesTransferred: 0,
    syncedAt: typeof olds?.syncedAt === "string" ? olds.syncedAt : "",
    drift: (olds?.drift as TargetOutputs["drift"] | undefined) ?? driftOutput(undefined),
    deployment,
  });
}

async function convergeLogged(i: TargetInputs, force: boolean, log: Logger, olds?: Record<string, unknown>): Promise<TargetOutputs> {
  const target = toTarget(i);
  // What this sync switched from: a gated rollout's gate undoes exactly that.
  let switched: { from?: string } | undefined;
  try {
    // The handshake overlaps the export and scan; the target is untouched until the session starts.
    const session = TargetSession.connect(target, i.lockTimeoutS);
    const src = await whileConnecting([session], sourceFor(i));
    // The engine shows the provider's stderr as it comes: a line every few seconds on a long transfer.
    let lastReport = Date.now();
    const onProgress = (p: RsyncProgress) => {
      if (Date.now() - lastReport < PROGRESS_EVERY_MS) return;
      lastReport = Date.now();
      log.info(`${i.vm}: transferring ${describeProgress(p)}`);
    };
    const onSwitch = (from: string | undefined) => {
      switched = from === undefined ? {} : { from };
    };
    const r = await convergeTarget(target, src, { force, adoptExisting: i.adoptExisting, lockTimeoutS: i.lockTimeoutS, session, onProgress, onSwitch });
    for (const w of r.warnings ?? []) log.warn(w);
    log.info(`${i.vm}: ${r.action} ${i.commit.slice(0, 12)} (${r.filesTransferred} files, ${r.bytesTransferred} bytes sent)`);
    // Kept until the next switch or failure: the gate tells this run's switches by their run id.
    const last = olds?.deployment as DeployOutcome | undefined;
    const deployment = i.rolloutRun === undefined ? undefined
      : switched ? { run: i.rolloutRun, commit: i.commit, switched: true, ...(switched.from ? { from: switched.from } : {}) }
      : last && last.failure === undefined ? last
      : { run: i.rolloutRun, commit: i.commit, switched: false };
    return plain({
      ...i,
      ...observation({ kind: "in-sync", revision: i.commit }),
      revision: r.revision ?? "",
      filesTransferred: r.filesTransferred,
      bytesTransferred: r.bytesTransferred,
      syncedAt: new Date().toISOString(),
      // The tree is now the commit's, exactly.
      drift: driftOutput({ modified: [], added: [], deleted: [] }),
      ...(deployment ? { deployment } : {}),
    });
  } catch (err) {
    const outs = failedInRollout(i, err, switched, olds, log);
    if (outs) return outs;
    throw err;
  }
}

export async function create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
  const outs = await converge(inputs, false);
  return { id: `${outs.vm}@${outs.host}:${outs.port}:${outs.path}`, outs };
}

export async function update(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  return { outs: await converge(news, (olds.force ?? "") !== (news.force ?? ""), olds) };
}

export async function read(id: string, props: Record<string, unknown>): Promise<pulumi.dynamic.ReadResult> {
  const i = normalizeInputs(props);
  return logged(i, async (log) => {
    // The tree is compared with the commit the state names (the one the last sync landed).
    const src = /^[0-9a-f]{40}$/.test(i.commit)
      ? await sourceFor(i).catch((err: unknown) => {
          if (!isRepoSyncError(err)) throw err;
          log.warn(`${i.vm}: the tree was not compared with ${i.commit.slice(0, 12)}: ${err.reason}`);
          return undefined;
        })
      : undefined;
    const expected = src ? { commit: i.commit, transfer: src.transfer } : undefined;
    const status = await checkTarget(toTarget(i), expected, { checkTree: expected !== undefined, checksum: i.checksum });
    if (status.error) throw quiet(status.error);
    // Not compared (no export of the commit): only a revision mismatch is known for sure.
    const state = stateOf({ ...status, expected: i.commit });
    const seen = expected || state.kind === "revision" ? observation(state) : undefined;
    if (seen) liveKinds.set(liveKey(i), seen.observedState);
    if (expected && state.kind !== "in-sync") log.info(`${i.vm}: ${describe(state)}`);
    return { id, props: plain({ ...props, revision: status.actual ?? "", drift: driftOutput(status.drift), ...seen }) };
  });
}

export async function remove(_id: string, props: Record<string, unknown>): Promise<void> {
  const i = normalizeInputs(props);
  try {
    await logged(i, (log) => removeLogged(i, log));
  } catch (err) {
    throw quiet(err);
  }
}

async function removeLogged(i: TargetInputs, log: Logger): Promise<void> {
  const session = await TargetSession.open(toTarget(i), i.lockTimeoutS);
  try {
    if (i.removeOnDelete) {
      if (session.header.state === "foreign") {
        throw new RepoSyncError("unsafe-target", `refusing to remove ${i.path}: it holds files but no repo-sync marker`, { vm: i.vm, hint: "remove it by hand if it really is yours" });
      }
      await session.purge();
      log.info(`${i.vm}: removed the synced tree ${i.path}`);
    } else {
      // Releases layout: the served release's marker goes too (the release stays, `current` still
      // points at it): after a destroy no marker claims a revision (status: none).
      const served = i.layout === "releases" ? servedRevision(session.header) : undefined;
      if (served) await session.prepareRelease(served);
      await session.unmanage();
      log.info(`${i.vm}: left the tree in ${i.path}; removed repo-sync's marker files`);
    }
  } finally {
    await session.close();
  }
}
