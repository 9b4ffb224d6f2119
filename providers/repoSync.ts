/**
 * `RepoSync`: a fleet converged onto one git revision, as one component any Pulumi TypeScript or
 * JavaScript program can declare next to the resources that create its VMs:
 *
 *   const vm = new aws.ec2.Instance("web", {...});
 *   const sync = new RepoSync("app", { configPath: "configs/config.yml", hosts: { vm01: vm.publicIp } });
 *   export const revision = sync.revision;
 *
 * It reads the settings (a config file, or the same document inline), resolves the desired commit once
 * (pull, hash, export, secret gate: once per run, not per VM) and declares one {@link RepoSyncTarget}
 * child per push target, plus a post-sync hook where one is set. A secret found, a bad commit or a bad
 * setting fails the component before any target is registered: no VM changes. Such a failure is one
 * error on the component (its message and fix line, no stack: see resourceError.ts); a VM's failure is
 * an error on that VM's target.
 */
import * as pulumi from "@pulumi/pulumi";
import { randomUUID } from "node:crypto";
import * as command from "@pulumi/command";
import type { Config, Target } from "../lib/config/types";
import { healthCheckLoop } from "../lib/sync/healthCheck";
import { describeWaves, healthCheckOf } from "../lib/sync/rollout";
import { planWaves } from "../lib/sync/waves";
import type { Logger } from "../lib/log";
import { cacheDir } from "../lib/paths";
import { prepareSource } from "../lib/sync/prepareSource";
import type { Drift } from "./drift";
import { normalizeInputs, targetInputsOf } from "./inputs";
import { postSyncHook } from "./postSyncHook";
import { probePlanPath, writeProbePlan } from "./probePlan";
import { openKeptMasters } from "../lib/remote/sshMaster";
import { withPinnedHostKey } from "../lib/remote/pinnedHostKey";
import { observeFailure, resourceError, unlessFailed } from "./resourceError";
import { RepoSyncTarget, type RepoSyncTargetArgs, type TargetPlumbing } from "./repoSyncTarget";
import { RepoSyncWave, type WaveMemberArgs } from "./repoSyncWave";
import { type LoadedSettings, loadSettings, type SettingsArgs } from "./settings";
import type { RepoSyncOptions } from "./settingsArgs";
import { mark } from "../lib/timeline";

export { loadSettings } from "./settings";
export type { HostAddress, HostInput } from "./settings";

/**
 * Inputs of a {@link RepoSync}: the settings (a YAML file, or the same settings typed: `ssh`, `vms`,
 * `repository`) and how this run deploys (`branch`/`ref`, `force`, ...: {@link RepoSyncOptions}).
 */
export interface RepoSyncArgs extends SettingsArgs, RepoSyncOptions {}

/** Options of repo-sync's own program, not for other programs. */
export interface InternalArgs {
  /**
   * Name the children by VM id at the top of the stack's tree, as repo-sync's own program did before
   * the component existed: stacks deployed then keep their targets (aliases, no replacement). Only for
   * one RepoSync per stack.
   */
  topLevelNames?: boolean;
}

/**
 * What the component exposes of one VM. When the VM's target failed (`pulumi up --continue-on-error`)
 * they are unset: its error is on the target, and the program goes on.
 */
export interface RepoSyncVmOutputs {
  host: pulumi.Output<string | undefined>;
  path: pulumi.Output<string | undefined>;
  /** The commit the VM holds after this run. */
  revision: pulumi.Output<string | undefined>;
  /** How its files differ from that commit, as last seen (see {@link RepoSyncTarget.drift}). */
  drift: pulumi.Output<Drift | undefined>;
}

/** Messages from the program go to the engine (shown in preview/up output). */
function programLogger(parent: pulumi.Resource): Logger {
  return {
    info: (m) => void pulumi.log.info(m, parent),
    warn: (m) => void pulumi.log.warn(m, parent),
    // Once, on the component. A blocking alert is not logged: the run fails with the same findings
    // as its error (on the component too), which is what the user must act on.
    alert: (a) => {
      if (a.blocked !== true) void pulumi.log.warn(`ALERT ${a.alert}: ${JSON.stringify(a)}`, parent);
    },
  };
}


/**
 * True when the rollout's waves are gated by RepoSyncWave resources (waveGate.ts): it can roll back or
 * go on past failures, which Pulumi's own "a failure stops the deployment" cannot do.
 */
function gatedRollout(config: Config): boolean {
  const r = config.repository.rollout;
  return r !== undefined && (r.onFailure === "rollback" || ("count" in r.maxFailures ? r.maxFailures.count : r.maxFailures.percent) > 0);
}

/** The targets in waves (one wave without a rollout), named on the component so that `pulumi preview` shows them. */
function rolloutWaves(config: Config, parent: pulumi.Resource, name: string): Target[][] {
  const rollout = config.repository.rollout;
  if (!rollout) return [config.targets];
  const waves = planWaves(config.targets, rollout.waves);
  const how = gatedRollout(config)
    ? `each wave waits for the previous wave's gate, ${name}-wave-N, which runs that wave's hooks and health checks and stops the rollout when more than max_failures fail${rollout.onFailure === "rollback" ? ", switching back every VM this run switched" : ""}`
    : "each wave waits for the previous wave's health checks";
  void pulumi.log.info(`rollout: ${describeWaves(waves.map((w) => w.map((t) => t.vm)))} (${how})`, parent);
  return waves;
}

/**
 * Runs `fn` (a resource's construction) with V8's stack capture off. The SDK records a stack trace on
 * every promise of every input property (runtime/debuggable.js, shown only in its leaked-promise
 * report), and the `source-map-support` hook the Pulumi Node host installs maps each frame through
 * source maps: with ~40 inputs per target that was ~10 ms of the program's CPU per VM, the largest
 * per-VM cost of the program (BENCHMARKS.md, issue 23). The resource's own source position is
 * captured by the SDK with its own stack limit, unaffected. The limit is restored before returning.
 */
function withoutPromiseStacks<T>(fn: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** A fleet converged onto one git revision: one RepoSyncTarget per push target. */
export class RepoSync extends pulumi.ComponentResource {
  /** The commit deployed by this run. */
  readonly revision: pulumi.Output<string>;
  /** The branch it came from ("" when `ref` named a tag or a commit). */
  readonly branch: pulumi.Output<string>;
  /** What named the commit: the branch or tag name, or the SHA as given in `ref`. */
  readonly ref: pulumi.Output<string>;
  /** Its kind: `branch`, `tag` or `commit`. */
  readonly refKind: pulumi.Output<string>;
  /** The targets, by VM id. */
  readonly targets: Record<string, RepoSyncTarget> = {};
  /** Post-sync hooks, by VM id (VMs with a hook only; none in a gated rollout: its gates run them). */
  readonly hooks: Record<string, command.remote.Command> = {};
  /** Health checks (`health_check`), by VM id (VMs with a check only; none in a gated rollout). */
  readonly healthChecks: Record<string, command.remote.Command> = {};
  /** The gates of a rollout that can roll back or go on past failures (`<name>-wave-N`), wave by wave. */
  readonly gates: RepoSyncWave[] = [];
  /** host, path, revision and drift per VM id. */
  readonly vms: Record<string, RepoSyncVmOutputs> = {};

  constructor(name: string, args: RepoSyncArgs, opts?: pulumi.ComponentResourceOptions) {
    super("repo-sync:index:RepoSync", name, {}, opts);
    let settings: LoadedSettings;
    try {
      settings = loadSettings(args);
    } catch (err) {
      throw resourceError(err, this);
    }
    const { config, supplied } = settings;
    const internal = args as RepoSyncArgs & InternalArgs;
    const repo = config.repository;
    if (repo.sourceMode === "worktree") {
      // The provider converges a commit (its diff compares commits): a worktree is a CLI mode.
      pulumi.log.warn("repository.source_mode: worktree applies to the repo-sync CLI only; through Pulumi the commit's tree is pushed (untracked and uncommitted files are not, and a sync by the CLI in worktree mode is undone by the next up)", this);
    }
    // Once per run, before any target registers: a refused source fails every target's inputs, so none
    // is registered and no VM changes; it is reported once, on the component.
    // `ref` may come from another resource: unknown in a preview, the commit (and each target's
    // inputs) is unknown too, and no target is probed.
    // No pull by default, and never one that changes the checkout: a preview must leave it as it is,
    // and `up` must deploy the commit its preview showed. The program deploys what the checkout (CI's,
    // or yours) holds, like any file a Pulumi program reads; `pull: true` fetches origin's branch
    // into `origin/<branch>` only, and deploys that.
    mark("program.component", { name });
    const source = pulumi.all([args.ref, args.branch]).apply(([ref, branch]) =>
      (mark("program.prepare"), prepareSource(repo, { branch: branch || undefined, ref: ref ?? undefined, pull: args.pull === true, fetchOnly: true, fullScan: args.fullScan === true, logger: programLogger(this) })).then((s) => (mark("program.prepared"), s)).catch((err: unknown) => {
        throw resourceError(err, this);
      }),
    );
    const commit = source.apply((s) => s.commit);
    const branch = source.apply((s) => s.branch);
    const ref = source.apply((s) => s.ref ?? s.branch);
    const refKind = source.apply((s) => s.refKind ?? "branch");
    const force = pulumi.output(args.force).apply((f) => f ?? "");
    const common = {
      repoPath: repo.mainRepoPath,
      // The name the pushed .git's HEAD carries (exclude_dot_git: false): a tag or a commit keeps the default branch's.
      branch: source.apply((s) => s.branch || repo.defaultBranch),
      commit,
      // What named the commit, for the targets' messages; only with `ref`, so that stacks that never set it keep identical inputs.
      ...(args.ref !== undefined ? { ref, refKind } : {}),
      excludes: repo.rsyncExcludes,
      excludeDotGit: repo.excludeDotGit,
      secretScan: {
        enabled: repo.secretScanning.enabled,
        configPath: repo.secretScanning.configPath,
        blockOnSecrets: repo.secretScanning.blockOnSecrets,
        // Only when set: stacks that never used the option keep identical inputs (no diff on upgrade).
        ...(repo.secretScanning.ignoreInlineAllow ? { ignoreInlineAllow: true } : {}),
      },
      force,
      adoptExisting: repo.adoptExisting,
      maxDelete: repo.maxDelete,
      lockTimeoutS: repo.lockTimeoutS,
      ioTimeoutS: repo.ioTimeoutS,
      removeOnDelete: args.removeOnDelete === true,
      ...(repo.owner ? { owner: repo.owner } : {}),
      ...(repo.group ? { group: repo.group } : {}),
      ...(repo.chmod ? { chmod: repo.chmod } : {}),
      // Only when set, like ignoreInlineAllow: a probe option, not a change of what the target holds.
      ...(args.checksum ? { checksum: true } : {}),
    };
    // Every target whose address is known now is probed in one batch by the provider (see probePlan.ts).
    const probePlan = probePlanPath(cacheDir(), process.cwd(), internal.topLevelNames ? pulumi.getStack() : `${pulumi.getStack()}/${name}`);
    const known = config.targets.filter((t) => t.host !== "" && supplied[t.vm] === undefined);
    // Their SSH handshakes start now, two at a time, beside the source's preparation and the provider's
    // start; the probes then join the kept masters (lib/remote/sshMaster.ts; measured in BENCHMARKS.md,
    // where REPO_SYNC_PREOPEN=0 turns this off for an A/B).
    void openKeptMasters(known, process.env.REPO_SYNC_PREOPEN === "0" ? 0 : 2, withPinnedHostKey);
    const planned = pulumi.all([source, force]).apply(([s, f]) => {
      const resolved = { ...common, force: f, branch: s.branch || repo.defaultBranch, commit: s.commit, ...(args.ref !== undefined ? { ref: s.ref, refKind: s.refKind } : {}) };
      writeProbePlan(probePlan, known.map((t) => normalizeInputs({ ...resolved, ...targetInputsOf(t) })));
      mark("program.plan", { targets: known.length });
      return probePlan;
    });

    const childName = (vm: string) => (internal.topLevelNames ? vm : `${name}-${vm}`);
    const aliases = (n: string) => (internal.topLevelNames ? [{ name: n, parent: pulumi.rootStackResource }] : []);
    // A rollout: each wave's targets wait for the previous wave's health checks (or syncs and hooks),
    // so a failed check leaves the later waves untouched; a rollout that can roll back or go on past
    // failures waits instead on each wave's gate (RepoSyncWave), which decides as the CLI's rollout.
    const waves = rolloutWaves(config, this, name);
    const gated = gatedRollout(config);
    // One id per execution of the program: the gates tell this run's switches from earlier ones by it.
    const run = gated ? randomUUID() : undefined;
    const members: WaveMemberArgs[] = [];
    const passed: pulumi.Resource[][] = waves.map(() => []);
    // `bake_s`: a wait on this machine between a wave's health checks and the next wave, run when a new
    // commit lands (its trigger), as the CLI waits (a no-change up or a drift repair does not wait).
    // A gated rollout's gate waits itself.
    const bakeS = config.repository.rollout?.bakeS ?? 0;
    const gateOf = (wave: number): pulumi.Resource[] => {
      if (wave === 0) return [];
      if (gated) return [this.gates[wave - 1]];
      if (bakeS === 0) return passed[wave - 1];
      return [new command.local.Command(`${name}-bake-${wave}`, { create: `sleep ${bakeS}`, triggers: [commit] }, { parent: this, dependsOn: passed[wave - 1] })];
    };
    for (const [wave, inWave] of waves.entries()) {
      const gate = gateOf(wave);
      for (const t of inWave) {
        const from = supplied[t.vm] ?? {};
        const host = from.host ?? t.host;
        const port = pulumi.output(from.port ?? t.port);
        const user = from.user ?? t.user;
        // Given, even as an Output that turns out empty: pinned (an empty key fails the target's check).
        const hostKey = from.hostKey !== undefined ? pulumi.output(from.hostKey).apply((k) => k ?? "") : t.hostKey;
        const pinned = hostKey !== undefined ? { hostKey } : {};
        const reach: RepoSyncTargetArgs & TargetPlumbing = { ...targetInputsOf(t), ...common, host, port, user, ...pinned };
        const targetArgs = { ...reach, probePlan: planned, ...(run ? { rolloutRun: run } : {}) };
        const target = withoutPromiseStacks(() => new RepoSyncTarget(childName(t.vm), targetArgs, { parent: this, aliases: aliases(t.vm), ...(gate.length > 0 ? { dependsOn: gate } : {}) }));
        this.targets[t.vm] = target;
        observeFailure(target);
        this.vms[t.vm] = { host: unlessFailed(target.host), path: unlessFailed(target.path), revision: unlessFailed(target.revision), drift: unlessFailed(target.drift) };
        const hook = t.postSyncCommand ?? args.postSyncCommand;
        const check = healthCheckOf(config, t.vm);
        if (gated) {
          // The gate runs the hook and the check, so that their failures count against the wave.
          members.push({ target: reach, wave: wave + 1, ...(hook ? { hook } : {}), ...(check ? { check } : {}), outcome: target.deployment });
          passed[wave].push(target);
          continue;
        }
        if (hook) {
          const hookName = `${childName(t.vm)}-post-sync`;
          this.hooks[t.vm] = postSyncHook(hookName, { target: t, hook, host, port, user, ...pinned, commit, synced: target.urn, owner: target }, { parent: this, dependsOn: [target], aliases: aliases(`${t.vm}-post-sync`) });
        }
        // The health check: a command of its own (`<vm>-health`), after the sync and the hook.
        if (check) {
          this.healthChecks[t.vm] = postSyncHook(`${childName(t.vm)}-health`, { target: t, hook: healthCheckLoop(check), host, port, user, ...pinned, commit, synced: target.urn, owner: target }, { parent: this, dependsOn: [target, ...(this.hooks[t.vm] ? [this.hooks[t.vm]] : [])] });
        }
        passed[wave].push(this.healthChecks[t.vm] ?? this.hooks[t.vm] ?? target);
      }
      const rollout = config.repository.rollout;
      if (gated && rollout) {
        const earlier = this.gates[wave - 1];
        this.gates.push(new RepoSyncWave(`${name}-wave-${wave + 1}`, {
          wave: wave + 1, waves: waves.length, commit, run: run ?? "",
          rollout: { maxFailures: rollout.maxFailures, bakeS: rollout.bakeS, onFailure: rollout.onFailure },
          members: [...members],
          // Every earlier gate's: the last gate fails the up for a failure of any wave, not only the one before.
          earlierFailures: pulumi.all(this.gates.map((g) => g.failed)).apply((lists) => lists.flatMap((f) => f ?? [])),
          lockTimeoutS: repo.lockTimeoutS, parallelism: repo.parallelism,
        }, { parent: this, dependsOn: [...passed[wave], ...(earlier ? [earlier] : [])] }));
      }
    }
    this.revision = commit;
    this.branch = branch;
    this.ref = ref;
    this.refKind = refKind;
    mark("program.registered", { targets: config.targets.length });
    this.registerOutputs({ revision: commit, branch, ref, refKind, vms: this.vms });
  }
}
