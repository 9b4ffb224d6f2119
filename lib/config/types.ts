/**
 * The validated shape of `configs/config.yml`: what every other part of repo-sync works from.
 */

/** How a target directory holds its tree: in place, or in releases behind a `current` link (target/releases.ts). */
export type Layout = "in_place" | "releases";

/** One hop on the way to a VM (OpenSSH's ProxyJump), complete: what the hop's connection uses. */
export interface JumpHost {
  host: string;
  port: number;
  user: string;
  /** The key for this hop (default: the VM's key). */
  keyPath: string;
}

/** A hop as written in the config: the parts left out take the VM's user, port 22 and the VM's key. */
export interface JumpHostSpec {
  host: string;
  port?: number;
  user?: string;
  keyPath?: string;
}

/** How every target is reached over SSH. */
export interface SshSettings {
  /** Private key (absolute, `~` expanded). */
  keyPath: string;
  /** known_hosts that pins every target's host key (absolute). */
  knownHostsPath: string;
  /** Seconds to wait for TCP connect and the SSH handshake. */
  connectTimeoutS: number;
  /**
   * Trust a host key on first use and add it to known_hosts. Off unless the user opts in: with it
   * off, an unknown host is refused.
   */
  acceptNewHostKeys: boolean;
  /** Hops to every VM, first hop first (`ssh.jump_hosts`); empty: direct. */
  jumpHosts: JumpHostSpec[];
  /**
   * An OpenSSH client config (`ssh.config_path`, absolute): each VM's HostName, Port, User,
   * IdentityFile, ProxyJump and UserKnownHostsFile come from it where the YAML does not set them.
   */
  configPath?: string;
}

/**
 * The connection keys a VM's YAML sets itself (its own or the `ssh` section's): with `ssh.config_path`
 * they win over the OpenSSH config, like ssh's command line over its config file.
 */
export interface ExplicitKeys {
  user: boolean;
  port: boolean;
  keyPath: boolean;
  jumpHosts: boolean;
  knownHostsPath: boolean;
}

/** One entry of `vms`. */
export interface VmSettings {
  id: string;
  host: string;
  user: string;
  port: number;
  enabled: boolean;
  /** Per-VM key (overrides ssh.key_path). */
  keyPath: string;
  /** Optional command run on the VM after its sync (through @pulumi/command in the Pulumi program). */
  postSyncCommand?: string;
  /** rsync --bwlimit for this VM in KiB/s (overrides repository.bwlimit_kbps). */
  bwlimitKbps?: number;
  /** This VM's hops (overrides ssh.jump_hosts; `[]`: direct). */
  jumpHosts?: JumpHostSpec[];
  /** Run rsync and repo-sync's target script through `sudo -n` (overrides repository.sudo). */
  sudo?: boolean;
  /** The VM's public host key (`vms.<id>.host_key`): pinned instead of a known_hosts line. */
  hostKey?: string;
  /** With `ssh.config_path` only: which connection keys the YAML sets (the rest come from that file). */
  explicit?: ExplicitKeys;
  /** This VM's own health check (replaces `repository.health_check` for it). */
  healthCheck?: HealthCheckSettings;
}

/** A number of VMs, or a whole percentage (of the run's VMs for a wave, of the wave for a failure limit). */
export type Amount = { count: number } | { percent: number };

/** `repository.rollout`: waves, the failure limit and what a failed wave does (lib/sync/rollout.ts). */
export interface RolloutSettings {
  /** Wave sizes as Ansible's `serial` reads them (the last one repeats). */
  waves: Amount[];
  /** The rollout stops when more than this many VMs of one wave fail. */
  maxFailures: Amount;
  /** Seconds to wait after a healthy wave before the next one. */
  bakeS: number;
  onFailure: "stop" | "rollback";
}

/** `health_check`: run on a VM in the served tree after its switch or sync (lib/sync/healthCheck.ts). */
export interface HealthCheckSettings {
  /** A shell command (the user's own: run by /bin/sh on the VM). */
  command: string;
  timeoutS: number;
  /** Attempts after a failed one. */
  retries: number;
  intervalS: number;
}

/** What the source tree is. */
export type SourceMode = "commit" | "worktree";

/** The secret gate. */
export interface SecretScanSettings {
  enabled: boolean;
  tool: "gitleaks";
  /** gitleaks rules; absolute, or undefined for gitleaks' defaults (passed explicitly anyway). */
  configPath?: string;
  blockOnSecrets: boolean;
  /**
   * Report lines carrying an inline `gitleaks:allow` comment too (gitleaks' `--ignore-gitleaks-allow`),
   * so that only `.gitleaksignore` and the rules file can accept a finding.
   */
  ignoreInlineAllow: boolean;
}

/** The `repository` section. */
export interface RepositorySettings {
  /** The source VM's id (never a push target); none: the machine running repo-sync is the source. */
  sourceVm?: string;
  /** `in_place` (default): the target directory is the tree; `releases`: releases/<commit> behind a `current` link. */
  layout: Layout;
  /** With `releases`: how many complete releases stay on each VM (the current and previous always do). */
  keepReleases: number;
  mainRepoPath: string;
  vmRepoPaths: Record<string, string>;
  defaultBranch: string;
  excludeDotGit: boolean;
  rsyncExcludes: string[];
  pushTargets: string[];
  secretScanning: SecretScanSettings;
  /** `commit` pushes exactly the commit's tree; `worktree` pushes the checkout as it is. */
  sourceMode: SourceMode;
  /** With `worktree`: push even when tracked files are modified. */
  allowDirty: boolean;
  /** Refuse a run that would delete more than this many files on one VM (rsync --max-delete). */
  maxDelete?: number;
  /** Allow the first sync into a non-empty directory that repo-sync did not create. */
  adoptExisting: boolean;
  /** VMs synced at the same time. */
  parallelism: number;
  /** Seconds to wait for another run's lock on a target. */
  lockTimeoutS: number;
  /** rsync --timeout: seconds without I/O before a transfer is abandoned. */
  ioTimeoutS: number;
  /** rsync --bwlimit for every VM, in KiB/s (rsync's unit); undefined: no limit. */
  bwlimitKbps?: number;
  /** Every VM's rsync and target script through `sudo -n`. */
  sudo: boolean;
  /** The rsync program on the VMs (absolute path); default: `rsync` from the login PATH. */
  rsyncPath?: string;
  /** What lands is owned by this user (rsync --chown; needs root on the VM). */
  owner?: string;
  /** ... and this group. */
  group?: string;
  /** Modes of what lands (rsync --chmod, e.g. `D2775,F664`). */
  chmod?: string;
  /** Waves, failure limit, bake time and rollback; absent: every VM at once. */
  rollout?: RolloutSettings;
  /** The health check of every VM without one of its own. */
  healthCheck?: HealthCheckSettings;
}

/**
 * What the source side of a run needs (pull, export, scan, transfer spec): the part of the repository
 * settings that a single target's resource also has.
 */
export type SourceSettings = Pick<RepositorySettings, "mainRepoPath" | "defaultBranch" | "excludeDotGit" | "rsyncExcludes" | "secretScanning" | "sourceMode" | "allowDirty" | "maxDelete" | "ioTimeoutS" | "owner" | "group" | "chmod">;

/** Everything needed to reach and update one target. */
export interface Target {
  vm: string;
  host: string;
  port: number;
  user: string;
  keyPath: string;
  /** known_hosts that pins the VM's host key (and every hop's); not used for the VM when `hostKey` is given. */
  knownHostsPath: string;
  /**
   * The VM's public host key as the program gives it (`ssh-ed25519 AAAA...`; remote/hostKey.ts):
   * every connection to the VM trusts exactly this key, strictly (never accept-new), and reads no
   * known_hosts for it. Its jump hosts are still pinned in `knownHostsPath`.
   */
  hostKey?: string;
  /** The private known_hosts file holding `hostKey`, set when connecting (remote/pinnedHostKey.ts); not a setting. */
  hostKeyFile?: string;
  connectTimeoutS: number;
  acceptNewHostKeys: boolean;
  /** Remote directory that receives the tree (passed the safety check). */
  path: string;
  postSyncCommand?: string;
  /** rsync --bwlimit in KiB/s; undefined: no limit. */
  bwlimitKbps?: number;
  /** Hops to reach the VM, first hop first; absent: direct. Every hop's key is pinned in knownHostsPath. */
  jumpHosts?: JumpHost[];
  /** rsync and the target script run through `sudo -n` on the VM. */
  sudo?: boolean;
  /** The VM's rsync program (absolute path); default `rsync`. */
  rsyncPath?: string;
  /**
   * The connection settings were resolved from `ssh.config_path`: OpenSSH reads no client config of
   * its own (`-F /dev/null`), so ~/.ssh/config cannot add to what repo-sync resolved and pinned.
   */
  noUserSshConfig?: boolean;
  /** `releases`: the tree lands in `<path>/releases/<commit>` and `<path>/current` is switched; absent: in place. */
  layout?: "releases";
  /** With `layout: releases`: complete releases kept (default 5). */
  keepReleases?: number;
  /**
   * With `layout: releases`: the paths (from the top of the tree, no slashes at the ends) whose data
   * every release shares through a link to `shared/<path>` (the `rsync_excludes` entries; target/shared.ts).
   */
  shared?: string[];
}

/** The whole validated configuration. */
export interface Config {
  /** File it was read from (absolute), or "<inline>". */
  file: string;
  ssh: SshSettings;
  vms: Record<string, VmSettings>;
  repository: RepositorySettings;
  /** One entry per push target, in push_targets order. */
  targets: Target[];
}

/** One problem found while validating, named by its key path. */
export interface ConfigProblem {
  /** Dotted key path, e.g. `repository.vm_repo_paths.vm02`. */
  key: string;
  message: string;
}
