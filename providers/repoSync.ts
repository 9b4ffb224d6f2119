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
import type * as command from "@pulumi/command";
import { checkLocalFiles, ConfigError, loadConfig, parseConfigDocument } from "../lib/config/load";
import { overlapProblems, sameAddress } from "../lib/config/overlap";
import type { Config, ConfigProblem, Target } from "../lib/config/types";
import type { Logger } from "../lib/log";
import { cacheDir } from "../lib/paths";
import { prepareSource } from "../lib/sync/prepareSource";
import type { Drift } from "./drift";
import { normalizeInputs } from "./inputs";
import { postSyncHook } from "./postSyncHook";
import { probePlanPath, writeProbePlan } from "./probePlan";
import { observeFailure, resourceError, unlessFailed } from "./resourceError";
import { RepoSyncTarget } from "./repoSyncTarget";

/** A VM's address: a host (an Output of the resource that creates the VM), or host and port. */
export type HostInput = pulumi.Input<string> | { host: pulumi.Input<string>; port?: pulumi.Input<number> };

/** Inputs of a {@link RepoSync}. */
export interface RepoSyncArgs {
  /** The YAML config file (configs/config.yml format); relative to the program's folder. */
  configPath?: string;
  /**
   * The same settings inline, as the YAML document's data (`{ ssh, vms, repository }`, snake_case keys,
   * same schema, defaults and messages); used instead of `configPath`. Relative paths resolve against
   * the program's folder.
   */
  config?: Record<string, unknown>;
  /**
   * Addresses per VM id, typically Outputs of the resources that create the VMs; they win over
   * `vms.<id>.host`, which may then be left out. The VM's targets wait on them.
   */
  hosts?: Record<string, HostInput>;
  /** Branch to deploy (default: repository.default_branch). */
  branch?: string;
  /**
   * What to deploy: a branch, a tag (lightweight or annotated: its commit) or a commit SHA (all 40 hex
   * digits or a unique prefix of at least 4), looked up in the local checkout; unset: the branch. A
   * tag or a commit is never pulled. Rolling back is `ref: "<old sha>"`. Revision syntax (`HEAD~1`,
   * `main@{1}`, `a..b`) is refused. Setting both `branch` and `ref` is an error naming both.
   */
  ref?: pulumi.Input<string>;
  /**
   * `true`: fetch the branch from origin (into `origin/<branch>`, leaving the checkout as it is) and
   * deploy origin's tip. Default false: the branch as the checkout holds it (CI checked it out).
   */
  pull?: boolean;
  /** Scan every file, not only those not found clean before. */
  fullScan?: boolean;
  /** Any new value re-syncs every target even when it matches. */
  force?: string;
  /** `pulumi destroy` removes the synced trees (default: only repo-sync's markers). */
  removeOnDelete?: boolean;
  /** Probe by content (rsync --checksum) instead of size + mtime. */
  checksum?: boolean;
  /** A post-sync hook for every VM that has no `post_sync_command` of its own. */
  postSyncCommand?: string;
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
    alert: (a) => {
      process.stderr.write(`${JSON.stringify({ level: "alert", time: new Date().toISOString(), ...a })}\n`);
      void pulumi.log.warn(`ALERT ${a.alert}: ${JSON.stringify(a)}`, parent);
    },
  };
}

/** The connection inputs of a target. */
function connection(t: Target) {
  return {
    vm: t.vm,
    host: t.host,
    port: t.port,
    user: t.user,
    keyPath: t.keyPath,
    knownHostsPath: t.knownHostsPath,
    connectTimeoutS: t.connectTimeoutS,
    acceptNewHostKeys: t.acceptNewHostKeys,
    path: t.path,
    ...(t.bwlimitKbps !== undefined ? { bwlimitKbps: t.bwlimitKbps } : {}),
    ...(t.jumpHosts ? { jumpHosts: t.jumpHosts } : {}),
    ...(t.sudo ? { sudo: true } : {}),
    ...(t.rsyncPath ? { rsyncPath: t.rsyncPath } : {}),
    ...(t.noUserSshConfig ? { noUserSshConfig: true } : {}),
    ...(t.layout === "releases" ? { layout: t.layout, keepReleases: t.keepReleases } : {}),
  };
}

/**
 * The settings, with every problem at once: the schema's, a `hosts` entry for a VM that is not a push
 * target, a push target with no host anywhere, then the local files (keys, known_hosts of the hosts
 * known now, source repo). A VM whose host is supplied is checked against known_hosts on connect.
 */
export function loadSettings(args: Pick<RepoSyncArgs, "configPath" | "config" | "hosts">): Config {
  const hosts = args.hosts ?? {};
  const options = { hostsSupplied: true, checkLocalFiles: false };
  const file = args.config ? "<inline>" : (args.configPath ?? "configs/config.yml");
  const loaded = args.config ? parseConfigDocument(args.config, file, options) : loadConfig(file, options);
  const config: Config = { ...loaded, targets: loaded.targets.map((t) => (t.vm in hosts ? { ...t, host: "" } : t)) };
  const problems: ConfigProblem[] = [];
  const targetIds = new Set(config.targets.map((t) => t.vm));
  for (const vm of Object.keys(hosts)) {
    if (!targetIds.has(vm)) problems.push({ key: `hosts.${vm}`, message: `names no push target (push targets: ${[...targetIds].join(", ")})` });
  }
  for (const t of config.targets) {
    if (t.host === "" && !(t.vm in hosts)) problems.push({ key: `vms.${t.vm}.host`, message: "is not set, and RepoSync's `hosts` has no entry for it; set one of the two" });
  }
  problems.push(...checkLocalFiles(config));
  // Hosts the program gives as plain values are known now: the same overlap check as the YAML's.
  const plain = config.targets.map((t) => ({ ...t, ...plainAddress(hosts[t.vm]) }));
  problems.push(...overlapProblems(plain, sameAddress).filter((p) => !problems.some((q) => q.message === p.message)));
  if (problems.length > 0) throw new ConfigError(loaded.file, problems);
  return config;
}

/** A `hosts` entry given as plain values (not Outputs), or nothing. */
function plainAddress(h: HostInput | undefined): { host: string; port?: number } | undefined {
  if (typeof h === "string") return { host: h };
  if (typeof h === "object" && h !== null && "host" in h && typeof h.host === "string") return { host: h.host, ...(typeof h.port === "number" ? { port: h.port } : {}) };
  return undefined;
}

function addressOf(h: HostInput): { host: pulumi.Input<string>; port?: pulumi.Input<number> } {
  return typeof h === "object" && h !== null && "host" in h ? h : { host: h };
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
  /** Post-sync hooks, by VM id (VMs with a hook only). */
  readonly hooks: Record<string, command.remote.Command> = {};
  /** host, path, revision and drift per VM id. */
  readonly vms: Record<string, RepoSyncVmOutputs> = {};

  constructor(name: string, args: RepoSyncArgs, opts?: pulumi.ComponentResourceOptions) {
    super("repo-sync:index:RepoSync", name, {}, opts);
    let config: Config;
    try {
      config = loadSettings(args);
    } catch (err) {
      throw resourceError(err, this);
    }
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
    const source = pulumi.output(args.ref).apply((ref) =>
      prepareSource(repo, { branch: args.branch, ref: ref ?? undefined, pull: args.pull === true, fetchOnly: true, fullScan: args.fullScan === true, logger: programLogger(this) }).catch((err: unknown) => {
        throw resourceError(err, this);
      }),
    );
    const commit = source.apply((s) => s.commit);
    const branch = source.apply((s) => s.branch);
    const ref = source.apply((s) => s.ref ?? s.branch);
    const refKind = source.apply((s) => s.refKind ?? "branch");
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
      force: args.force ?? "",
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
    const probePlan = probePlanPath(cacheDir(), process.cwd(), args.topLevelNames ? pulumi.getStack() : `${pulumi.getStack()}/${name}`);
    const known = config.targets.filter((t) => t.host !== "");
    const planned = source.apply((s) => {
      const resolved = { ...common, branch: s.branch || repo.defaultBranch, commit: s.commit, ...(args.ref !== undefined ? { ref: s.ref, refKind: s.refKind } : {}) };
      writeProbePlan(probePlan, known.map((t) => normalizeInputs({ ...resolved, ...connection(t) })));
      return probePlan;
    });

    const childName = (vm: string) => (args.topLevelNames ? vm : `${name}-${vm}`);
    const aliases = (n: string) => (args.topLevelNames ? [{ name: n, parent: pulumi.rootStackResource }] : []);
    for (const t of config.targets) {
      const supplied = args.hosts?.[t.vm];
      const address = supplied === undefined ? { host: t.host, port: t.port } : addressOf(supplied);
      const port = pulumi.output(address.port ?? t.port);
      const target = new RepoSyncTarget(childName(t.vm), { ...connection(t), ...common, host: address.host, port, probePlan: planned }, { parent: this, aliases: aliases(t.vm) });
      this.targets[t.vm] = target;
      observeFailure(target);
      this.vms[t.vm] = { host: unlessFailed(target.host), path: unlessFailed(target.path), revision: unlessFailed(target.revision), drift: unlessFailed(target.drift) };
      const hook = t.postSyncCommand ?? args.postSyncCommand;
      if (hook) {
        const hookName = `${childName(t.vm)}-post-sync`;
        this.hooks[t.vm] = postSyncHook(hookName, { target: t, hook, host: address.host, port, commit, synced: target.urn, owner: target }, { parent: this, dependsOn: [target], aliases: aliases(`${t.vm}-post-sync`) });
      }
    }
    this.revision = commit;
    this.branch = branch;
    this.ref = ref;
    this.refKind = refKind;
    this.registerOutputs({ revision: commit, branch, ref, refKind, vms: this.vms });
  }
}
