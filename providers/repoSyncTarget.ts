/**
 * `RepoSyncTarget`: one VM converged onto one git commit. The provider object below is what Pulumi
 * serializes into state; it stays tiny and loads the real implementation (providers/runtime) with
 * `require()` at call time, by the absolute path it had when the program ran, or else from the
 * project folder the engine runs in.
 */
import * as pulumi from "@pulumi/pulumi";
import type { DeployOutcome } from "../lib/sync/waveGate";
import type { Drift } from "./drift";

/** Secret-scan settings for a target. */
export interface SecretScanArgs {
  enabled: pulumi.Input<boolean>;
  /** gitleaks rules file (absolute); default: gitleaks' built-in rules, passed explicitly. */
  configPath?: pulumi.Input<string>;
  blockOnSecrets: pulumi.Input<boolean>;
  /** Ignore inline `gitleaks:allow` comments (gitleaks' `--ignore-gitleaks-allow`); default false. */
  ignoreInlineAllow?: pulumi.Input<boolean>;
}

/** Inputs of a RepoSyncTarget. Any of them may be an Output (e.g. hosts from another stack). */
export interface RepoSyncTargetArgs {
  /** The VM's id (vm01...): names it in messages and ids; default: the resource name. */
  vm?: string;
  host: pulumi.Input<string>;
  port?: pulumi.Input<number>;
  user: pulumi.Input<string>;
  /** Private key file (absolute path; the key itself never enters state). */
  keyPath: pulumi.Input<string>;
  /** known_hosts that pins the VM's host key (and its jump hosts' keys). */
  knownHostsPath: pulumi.Input<string>;
  /**
   * The VM's public host key, `ssh-ed25519 AAAA...` (ecdsa-sha2-nistp256/384/521, ssh-rsa and the
   * sk- types too; a comment may follow), as @pulumi/command's `connection.hostKey` takes it. Every
   * connection to the VM (sync, probes, refresh, delete) then trusts exactly this key, strictly, and
   * `knownHostsPath` is not read for the VM (its jump hosts still are). A change of it plans an update.
   */
  hostKey?: pulumi.Input<string>;
  connectTimeoutS?: pulumi.Input<number>;
  acceptNewHostKeys?: pulumi.Input<boolean>;
  /** Remote directory that receives the tree (a dedicated directory: rsync --delete runs there). */
  path: pulumi.Input<string>;
  /** The source checkout (vm04's repo) on the machine running Pulumi. */
  repoPath: pulumi.Input<string>;
  branch?: pulumi.Input<string>;
  /** What named `commit` (a branch or tag name, a SHA as given) and its kind, for messages only: not compared. */
  ref?: pulumi.Input<string>;
  refKind?: pulumi.Input<string>;
  /** Desired commit (full hash), resolved once by the program. */
  commit: pulumi.Input<string>;
  excludes?: pulumi.Input<pulumi.Input<string>[]>;
  excludeDotGit?: pulumi.Input<boolean>;
  secretScan?: pulumi.Input<SecretScanArgs>;
  /** Trigger: change it to re-sync even a target that matches. */
  force?: pulumi.Input<string>;
  adoptExisting?: pulumi.Input<boolean>;
  maxDelete?: pulumi.Input<number>;
  lockTimeoutS?: pulumi.Input<number>;
  ioTimeoutS?: pulumi.Input<number>;
  /**
   * Probe by content (rsync --checksum) instead of size + mtime: preview then sees a file edited on the
   * VM with its size and mtime put back. Reads every byte of the tree on both ends at every preview.
   */
  checksum?: pulumi.Input<boolean>;
  /**
   * rsync --bwlimit in KiB/s for this VM's transfers (a way of syncing, not desired state: changing it
   * alone plans no update).
   */
  bwlimitKbps?: pulumi.Input<number>;
  /**
   * Hops to the VM, first hop first (OpenSSH ProxyJump), each `{ host, port, user, keyPath }` and
   * pinned in knownHostsPath (how to reach the VM, not desired state: changing it plans no update).
   */
  jumpHosts?: pulumi.Input<pulumi.Input<{ host: string; port: number; user: string; keyPath: string }>[]>;
  /** rsync and repo-sync's target script run through `sudo -n` on the VM. */
  sudo?: pulumi.Input<boolean>;
  /** The VM's rsync program (absolute path). */
  rsyncPath?: pulumi.Input<string>;
  /** `releases`: each commit in `<path>/releases/<commit>`, `<path>/current` switched atomically; absent: in place. */
  layout?: pulumi.Input<"releases">;
  /** With `layout: releases`: complete releases kept on the VM (default 5; current and previous always). */
  keepReleases?: pulumi.Input<number>;
  /** Owner, group and modes of what lands (rsync --chown/--chmod; ownership needs root on the VM). */
  owner?: pulumi.Input<string>;
  group?: pulumi.Input<string>;
  chmod?: pulumi.Input<string>;
  /** On delete (destroy), remove the synced tree; default false: only repo-sync's markers go. */
  removeOnDelete?: pulumi.Input<boolean>;
}

/** Inputs the RepoSync component sets and a program does not: not in the public type. */
export interface TargetPlumbing {
  /** OpenSSH reads no client config (`-F /dev/null`): the connection was resolved from `ssh.config_path`. */
  noUserSshConfig?: pulumi.Input<boolean>;
  /** A probe plan written by the program (see providers/probePlan.ts): faster previews of many VMs. */
  probePlan?: pulumi.Input<string>;
  /** A gated rollout's run id: a failed sync is reported as `deployment`, for the wave's gate. */
  rolloutRun?: pulumi.Input<string>;
}

/**
 * The URN the engine gives repo-sync's dynamic resource `kind` (`RepoSyncTarget`, `RepoSyncWave`)
 * named `name` under `parent`. The parent's URN is taken without the parent as a dependency: depending
 * on a component waits for all of its children, this one too.
 */
export function ownUrn(kind: string, name: string, parent: pulumi.Resource | undefined): pulumi.Output<string> {
  const parentUrn = parent ? new Promise<string>((resolve) => parent.urn.apply(resolve)) : undefined;
  return pulumi.createUrn(name, `pulumi-nodejs:dynamic/repo-sync:${kind}`, parentUrn);
}

/** Where the implementation lives: this file's sibling, compiled. */
const runtimeModule: string = require.resolve("./runtime");

/**
 * The serialized provider. Each method loads the implementation at call time; `runtimeModule` is the
 * only value captured. State written by an earlier version keeps working as long as that path or the
 * project's dist/providers/runtime.js exists.
 */
const provider: pulumi.dynamic.ResourceProvider = {
  async check(olds, news) {
    return load().check(olds, news);
  },
  async diff(id, olds, news) {
    return load().diff(id, olds, news);
  },
  async create(inputs) {
    return load().create(inputs);
  },
  async update(id, olds, news) {
    return load().update(id, olds, news);
  },
  async read(id, props) {
    return load().read(id, props);
  },
  async delete(id, props) {
    return load().remove(id, props);
  },
};

type Runtime = typeof import("./runtime");

function load(): Runtime {
  const candidates = [runtimeModule, `${process.cwd()}/dist/providers/runtime.js`, `${process.cwd()}/node_modules/repo-sync/dist/providers/runtime.js`];
  for (const c of candidates) {
    try {
      return require(c) as Runtime;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw err;
    }
  }
  throw new Error(`repo-sync: cannot load the provider implementation (tried ${candidates.join(", ")}); run \`npm run build\` in the project`);
}

/** One VM converged onto one git commit by rsync over SSH, gated by gitleaks. */
export class RepoSyncTarget extends pulumi.dynamic.Resource {
  /** The commit the VM holds ("" when it holds no valid `.sync_rev`). */
  declare readonly revision: pulumi.Output<string>;
  declare readonly host: pulumi.Output<string>;
  declare readonly path: pulumi.Output<string>;
  /** Files sent by the last sync. */
  declare readonly filesTransferred: pulumi.Output<number>;
  /** Bytes sent over the wire by the last sync. */
  declare readonly bytesTransferred: pulumi.Output<number>;
  /** When the last sync ran (ISO 8601). */
  declare readonly syncedAt: pulumi.Output<string>;
  /** Live state seen at the last check: "in sync at ...", a revision mismatch or tree drift. */
  declare readonly observed: pulumi.Output<string>;
  /** Its kind: `in-sync`, `revision`, `drift` or `error`. */
  declare readonly observedState: pulumi.Output<string>;
  /**
   * How the VM's files differ from the commit it holds: counts, then the paths of each kind (at most
   * 100 each, `more` counts the rest). Set by `up` (none after a sync: `compared`, all 0) and by
   * `pulumi refresh` (the live tree). A preview names the counts in `observed`; the engine leaves the
   * outputs of a target it will update unknown there.
   */
  declare readonly drift: pulumi.Output<Drift>;
  /**
   * In a rollout whose wave gates decide (`on_failure: rollback` or `max_failures` above 0): the last
   * switch this target made, or its failed sync, with the run that did it (lib/sync/waveGate.ts).
   * Unset otherwise.
   */
  declare readonly deployment: pulumi.Output<DeployOutcome | undefined>;

  /** @param name the resource name; also the VM id unless `args.vm` is given. */
  constructor(name: string, args: RepoSyncTargetArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        ...args,
        vm: args.vm ?? name,
        // Where the provider logs this target's messages (engineLog.ts): the URN the engine gives it.
        logUrn: ownUrn("RepoSyncTarget", name, opts?.parent),
        // Preview or up: what check() records in `observed` (runtime.ts, stateAfterStep); never stored.
        dryRun: pulumi.runtime.isDryRun(),
        revision: undefined,
        filesTransferred: undefined,
        bytesTransferred: undefined,
        syncedAt: undefined,
        observed: undefined,
        observedState: undefined,
        drift: undefined,
        deployment: undefined,
      },
      opts,
      "repo-sync",
      "RepoSyncTarget",
    );
  }
}
