/**
 * The component's typed settings, camelCase, generated from the settings schema (lib/config/schema.ts)
 * by `npm run settings`: edit the schema, not this file. The YAML file has the same settings in
 * snake_case (`maxDelete` is `max_delete`), with the same defaults, ranges and messages.
 */
import type * as pulumi from "@pulumi/pulumi";

/** How every VM is reached (YAML: `ssh`). */
export interface SshArgs {
  /**
   * private key; must exist and be `chmod 600`; spaces and `%` are fine, quotes, backslashes and `${`
   * are refused (OpenSSH would mangle them). Default: `~/.ssh/id_ed25519`. YAML: `ssh.key_path`.
   */
  keyPath?: string;
  /**
   * pins every target's host key (same path rules as the key); not read for a VM with a `host_key` (or
   * the component's `hosts.<id>.hostKey`), so it may be left out, and the file need not exist, when
   * every push target has one. Jump hosts are always pinned here. Default: `~/.ssh/known_hosts`. YAML:
   * `ssh.known_hosts_path`.
   */
  knownHostsPath?: string;
  /**
   * TCP connect + SSH handshake limit. From 1 to 600. Default: 10. YAML: `ssh.connect_timeout_s`.
   */
  connectTimeoutS?: number;
  /**
   * trust on first use (pins the key it sees). Default: false. YAML: `ssh.accept_new_host_keys`.
   */
  acceptNewHostKeys?: boolean;
  /**
   * bastions on the way to every VM, first hop first, like OpenSSH's `ProxyJump`: `[user@]host[:port]`
   * (user: the VM's `ssh_user`, port 22) or `{ host, port, user, key_path }` (key: the VM's); at most 8.
   * Every hop's host key must be pinned in `known_hosts_path` like the VMs' (the config check names a
   * hop that is not); every connection repo-sync makes (sync, status, preview probes, rsync) goes
   * through them. The hops' options reach their own ssh through a config file written for the connection
   * (OpenSSH applies `-o` options to the destination only), so `~/.ssh/config` is not read for a VM
   * behind jump hosts. An error names the hop: `jump host 1 of 2 on the way to vm01 (ops@10.0.0.5:22):
   * connection ... refused`, a changed bastion key is refused like a VM's. How a VM is reached, not
   * desired state: changing it plans no update. Default: none. YAML: `ssh.jump_hosts`.
   */
  jumpHosts?: Array<string | JumpHostArgs>;
  /**
   * an OpenSSH client config (e.g. `~/.ssh/config`) read the way `ssh` reads it: for each VM, `ssh -G -F
   * FILE -- HOST` (which connects nowhere) gives `HostName`, `Port`, `User`, `IdentityFile` (the first
   * that exists), `ProxyJump` (each hop resolved the same way) and `UserKnownHostsFile` (the first),
   * wherever the YAML does not set `ssh_user`, `ssh_port`, `ssh_key_path`/`key_path`, `jump_hosts`,
   * `known_hosts_path` itself (the YAML wins, like ssh's command line over its config). `vms.<id>.host`
   * may then be an alias, and `ssh_user` may be left out. The resolved values are what every connection
   * uses (sync, status, probes, rsync, and the resource inputs in Pulumi state), and OpenSSH then reads
   * no other client config (`-F /dev/null`): what repo-sync did not resolve (e.g. `Ciphers`) does not
   * apply, in the CLI and the provider alike. Refused with a config error naming the VM, the alias and
   * the `ssh -G` command: `ProxyCommand` (use `ProxyJump`), `%` tokens other than `%% %d %h %i %l %L %n
   * %p %r %u`, a file ssh rejects, a value repo-sync would refuse in the YAML. Not consulted for hosts
   * the Pulumi program supplies; a hop's own `ProxyJump` is not followed (list the whole chain).
   * Default: none. YAML: `ssh.config_path`.
   */
  configPath?: string;
}

/** One hop on the way to a VM (OpenSSH's ProxyJump). */
export interface JumpHostArgs {
  /**
   * the hop's address. Default: required. YAML: `ssh.jump_hosts[].host`.
   */
  host: string;
  /**
   * the hop's SSH port. From 1 to 65535. Default: 22. YAML: `ssh.jump_hosts[].port`.
   */
  port?: number;
  /**
   * login user on the hop. Default: the VM's `ssh_user`. YAML: `ssh.jump_hosts[].user`.
   */
  user?: string;
  /**
   * private key for the hop. Default: the VM's key. YAML: `ssh.jump_hosts[].key_path`.
   */
  keyPath?: string;
}

/** One VM (YAML: `vms.<id>`). */
export interface VmArgs {
  /**
   * address (optional when hosts come from `repo-sync:vmsStack` or the component's `hosts`). Default:
   * required. YAML: `vms.<id>.host`.
   */
  host?: pulumi.Input<string>;
  /**
   * login user on that VM. Default: required (with `ssh.config_path`: its `User`, else the local user
   * name). YAML: `vms.<id>.ssh_user`.
   */
  sshUser?: pulumi.Input<string>;
  /**
   * SSH port. From 1 to 65535. Default: 22. YAML: `vms.<id>.ssh_port`.
   */
  sshPort?: pulumi.Input<number>;
  /**
   * the VM's public host key, `ssh-ed25519 AAAA...` (a trailing comment allowed), as `@pulumi/command`'s
   * `connection.hostKey` takes it (in a program, typically an output of the resource that creates the
   * VM; or `hosts.<id>.hostKey`). Every connection to the VM (sync, status, probes, refresh, destroy,
   * the post-sync hook) then trusts exactly that key, and `known_hosts_path` is not read for it; a VM
   * showing another key is refused as a changed host key and nothing moves there. Jump hosts are still
   * pinned in `known_hosts_path`. Compared in Pulumi: a new key plans an update that stores it. Default:
   * none. YAML: `vms.<id>.host_key`.
   */
  hostKey?: pulumi.Input<string>;
  /**
   * disabled VMs are never pushed to. Default: true. YAML: `vms.<id>.enabled`.
   */
  enabled?: boolean;
  /**
   * per-VM key. Default: `ssh.key_path`. YAML: `vms.<id>.ssh_key_path`.
   */
  sshKeyPath?: string;
  /**
   * this VM's hops (`[]`: direct). Default: `ssh.jump_hosts`. YAML: `vms.<id>.jump_hosts`.
   */
  jumpHosts?: Array<string | JumpHostArgs>;
  /**
   * this VM through `sudo -n` (see `repository.sudo`). Default: `repository.sudo`. YAML:
   * `vms.<id>.sudo`.
   */
  sudo?: boolean;
  /**
   * this VM's bandwidth limit (see `repository.bwlimit_kbps`). From 1 to 10000000 KiB/s. Default:
   * `repository.bwlimit_kbps`. YAML: `vms.<id>.bwlimit_kbps`.
   */
  bwlimitKbps?: number;
  /**
   * a shell command run on that VM after its tree landed (`pulumi up`; see Post-sync hooks). Default:
   * none. YAML: `vms.<id>.post_sync_command`.
   */
  postSyncCommand?: string;
  /**
   * this VM's own health check: the keys of `repository.health_check`, replacing it whole for this VM
   * (keys left out take their defaults, not the repository's). Default: `repository.health_check`. YAML:
   * `vms.<id>.health_check`.
   */
  healthCheck?: HealthCheckArgs;
  /**
   * free text, for people (ignored). Default: none. YAML: `vms.<id>.description`.
   */
  description?: string;
  /**
   * free text, for people (ignored). Default: none. YAML: `vms.<id>.role`.
   */
  role?: string;
}

/** The gitleaks gate (YAML: `repository.secret_scanning`). */
export interface SecretScanningArgs {
  /**
   * run the gitleaks gate. Default: true. YAML: `repository.secret_scanning.enabled`.
   */
  enabled?: boolean;
  /**
   * the only scanner. Default: `gitleaks`. YAML: `repository.secret_scanning.tool`.
   */
  tool?: "gitleaks";
  /**
   * rules file, always passed with `--config` (see `configs/gitleaks.toml`). It may extend one other
   * file (`[extend] path`, which may itself extend one more or gitleaks' defaults: the two levels
   * gitleaks follows); that path must be absolute, since gitleaks would open a relative one in the tree
   * it scans. Every file loaded counts as the rules: editing an extended file rescans everything.
   * `[extend] url` (which gitleaks ignores), a third level and cycles are refused. Default: gitleaks'
   * built-in rules. YAML: `repository.secret_scanning.config_path`.
   */
  configPath?: string;
  /**
   * findings stop the run before any byte moves; false = alert and push. Default: true. YAML:
   * `repository.secret_scanning.block_on_secrets`.
   */
  blockOnSecrets?: boolean;
  /**
   * true = inline `gitleaks:allow` comments no longer hide a finding (gitleaks
   * `--ignore-gitleaks-allow`); only `.gitleaksignore` and the rules file can accept one. Default:
   * false. YAML: `repository.secret_scanning.ignore_inline_allow`.
   */
  ignoreInlineAllow?: boolean;
}

/** Waves, failure limit and what a failed wave does (YAML: `repository.rollout`). */
export interface RolloutArgs {
  /**
   * wave sizes, read as Ansible's `serial`: `[1, 2, "100%"]` is 1 VM, then the next 2, then all the
   * rest. A size is a whole number of VMs (1 or more) or a whole percentage from `1%` to `100%` of the
   * run's VMs (rounded down, at least 1); the last size repeats until every VM is in a wave; one size
   * may be written without the list. VMs go in `push_targets` order, and the run prints the waves before
   * it starts. Default: `["100%"]` (one wave). YAML: `repository.rollout.waves`.
   */
  waves?: number | string | Array<number | string>;
  /**
   * the rollout stops when MORE than this many VMs of one wave fail (their sync or their health check):
   * a whole number of VMs, or `N%` of the wave (`0%` to `100%`: stops when failed x 100 > N x wave size,
   * as Ansible's `max_fail_percentage`). 0: the first failure stops it. Failures within the limit fail
   * the run at its end, but later waves go on. Default: 0. YAML: `repository.rollout.max_failures`.
   */
  maxFailures?: number | string;
  /**
   * seconds to wait after a wave's health checks passed before the next wave starts (not after the
   * last). From 0 to 86400. Default: 0. YAML: `repository.rollout.bake_s`.
   */
  bakeS?: number;
  /**
   * when a wave fails: `stop` leaves the VMs this run switched on the new commit (the run names them);
   * `rollback` switches each of them back to the release it served before (a link switch, no transfer:
   * needs `layout: releases`). Later waves are never touched. Default: `stop`. YAML:
   * `repository.rollout.on_failure`.
   */
  onFailure?: "stop" | "rollback";
}

/** A check run on each VM after its switch or sync (YAML: `repository.health_check`, `vms.<id>.health_check`). */
export interface HealthCheckArgs {
  /**
   * a shell command run by `/bin/sh` on the VM as `ssh_user` (never through sudo), in the served tree
   * (the new release's folder, or the target directory in place) with `REPO_SYNC_REVISION` set to the
   * commit (and `REPO_SYNC_RELEASE` to the release folder); healthy when it exits 0. Default: required.
   * YAML: `repository.health_check.command`.
   */
  command: string;
  /**
   * limit of one attempt (the VM's `timeout` command ends it; it then counts as failed). From 1 to 3600.
   * Default: 30. YAML: `repository.health_check.timeout_s`.
   */
  timeoutS?: number;
  /**
   * attempts after a failed one: 2 means at most 3 attempts in all. From 0 to 100. Default: 2. YAML:
   * `repository.health_check.retries`.
   */
  retries?: number;
  /**
   * seconds between two attempts. From 0 to 3600. Default: 5. YAML:
   * `repository.health_check.interval_s`.
   */
  intervalS?: number;
}

/** What is pushed, and how (YAML: `repository`). */
export interface RepositoryArgs {
  /**
   * the source VM's id, never a push target. Leave it out when the checkout is on the machine running
   * repo-sync: no `vms` entry is needed for that machine. A source VM's entry needs neither `host` nor
   * `ssh_user` (it is never connected to). Left out while `vms` has a `vm04` with no
   * `vm_repo_paths.vm04`, vm04 is the source, as in the original layout (so those configs never push to
   * their source); a `vm04` with a target path is a push target like any other. Default: none. YAML:
   * `repository.source_vm`.
   */
  sourceVm?: string;
  /**
   * the git checkout on the source. Default: required. YAML: `repository.main_repo_path`.
   */
  mainRepoPath: string;
  /**
   * target directory per VM id: absolute, at least two levels deep, not a system or home directory, no
   * quotes/`$`/backticks/backslashes and no wildcards `* ? [ ] { }` (rsync expands those on the VM); not
   * a symlink on the VM (rsync `--delete` runs there). Two push targets on one machine (the same host,
   * port and jump hosts, or a host key they share in known_hosts) must not have the same or nested
   * folders (`/x/app` and `/x/app/staging`): each sync would delete the other's tree, so the config is
   * refused (exit 2). Default: required per target. YAML: `repository.vm_repo_paths.<id>`.
   */
  vmRepoPaths: Record<string, string>;
  /**
   * branch pulled (fast-forward only) and pushed when no branch or ref is given (see [Which
   * commit](#which-commit-branch-or-ref)). Default: `main`. YAML: `repository.default_branch`.
   */
  defaultBranch?: string;
  /**
   * do not push `.git`. `false` pushes a `.git` built for the commit: its history only (no other
   * branches, stashes, reflogs, remotes or hooks of the checkout), and the gate then scans that whole
   * history and every commit message too. Default: true. YAML: `repository.exclude_dot_git`.
   */
  excludeDotGit?: boolean;
  /**
   * patterns left alone on the targets (not pushed, not deleted). With `layout: releases` each entry is
   * one path from the top of the tree, shared by every release (`uploads/`, `.env`,
   * `/config/local.yml`); a wildcard pattern or a `..` is a config error there (see [VM-local
   * data](#releases-and-rollback)). Default: `[]`. YAML: `repository.rsync_excludes`.
   */
  rsyncExcludes?: string[];
  /**
   * which VMs to push to. Default: enabled VMs except the source. YAML: `repository.push_targets`.
   */
  pushTargets?: string[];
  /**
   * the gitleaks gate (keys below). Default: none. YAML: `repository.secret_scanning`.
   */
  secretScanning?: SecretScanningArgs;
  /**
   * `commit` pushes exactly the commit's tree; `worktree` pushes the checkout as it is (untracked files
   * included; a CLI mode: through Pulumi the commit's tree is pushed). Default: `commit`. YAML:
   * `repository.source_mode`.
   */
  sourceMode?: "commit" | "worktree";
  /**
   * `worktree` mode: push even with modified tracked files. Default: false. YAML:
   * `repository.allow_dirty`.
   */
  allowDirty?: boolean;
  /**
   * refuse a run that would delete more paths (files and folders) than this on one VM: a dry run counts
   * them first, so a refused run changes nothing. From 0 to 100000000. Default: none. YAML:
   * `repository.max_delete`.
   */
  maxDelete?: number;
  /**
   * rsync `--bwlimit` for every transfer, in KiB/s (rsync's unit: 1024 bytes a second; 1250 is about 10
   * Mbit/s). Probes and dry runs are not limited (they move no file data). In Pulumi it is a way of
   * syncing, not desired state: changing only the limit plans no update. From 1 to 10000000 KiB/s.
   * Default: none. YAML: `repository.bwlimit_kbps`.
   */
  bwlimitKbps?: number;
  /**
   * allow the first sync into a non-empty directory repo-sync did not create. Default: false. YAML:
   * `repository.adopt_existing`.
   */
  adoptExisting?: boolean;
  /**
   * VMs synced at once (CLI). From 1 to 64. Default: 4. YAML: `repository.parallelism`.
   */
  parallelism?: number;
  /**
   * how long a run waits for another run's lock on a target. From 0 to 3600. Default: 30. YAML:
   * `repository.lock_timeout_s`.
   */
  lockTimeoutS?: number;
  /**
   * rsync `--timeout`: abandon a transfer after this long without I/O. From 5 to 3600. Default: 60.
   * YAML: `repository.io_timeout_s`.
   */
  ioTimeoutS?: number;
  /**
   * run rsync and repo-sync's target script (lock, marker, checks, removal) on the VMs through `sudo
   * -n`, for a target directory the login user cannot write. Needs a sudoers rule on the VM such as
   * `deploy ALL=(root) NOPASSWD: /bin/sh, /usr/bin/rsync`. Said plainly: `/bin/sh` there is full root
   * for that login user (any command through `sh -c`), because repo-sync's target scripts run as `sh -c
   * <script>`; give it only to a deploy user you would trust with root, or keep `sudo: false` and let
   * the login user own the target directory. A sudo that asks for a password is an `auth` error that
   * names the VM and that rule (repo-sync never answers a prompt), and nothing changes. Default: false.
   * YAML: `repository.sudo`.
   */
  sudo?: boolean;
  /**
   * the VMs' rsync program, an absolute path of plain characters (it is part of the remote command).
   * Default: `rsync`. YAML: `repository.rsync_path`.
   */
  rsyncPath?: string;
  /**
   * what lands is owned by this user (rsync `--chown`, with `--owner`); needs root on every VM (`sudo:
   * true` or `ssh_user: root`, else a config error). A name the VM does not have (`id -u` there) is a
   * config error naming the key before anything changes on it (rsync itself would only warn and leave
   * the files to the receiving user). A file whose owner is changed on a VM is drift. Default: none.
   * YAML: `repository.owner`.
   */
  owner?: string;
  /**
   * the same for the group (rsync `--group`; `getent group` on the VM). Default: none. YAML:
   * `repository.group`.
   */
  group?: string;
  /**
   * modes of what lands (rsync `--chmod`, e.g. `D2775,F664` or `Dg+s,ug+w,Fo-w`); checked against
   * rsync's syntax. Default: none. YAML: `repository.chmod`.
   */
  chmod?: string;
  /**
   * `in_place`: the target directory is the tree. `releases`: each commit lands in
   * `<path>/releases/<commit>` and `<path>/current` (a relative symlink) is switched to it in one
   * `rename(2)` once it is complete (see [Releases and rollback](#releases-and-rollback)). Default:
   * `in_place`. YAML: `repository.layout`.
   */
  layout?: "in_place" | "releases";
  /**
   * releases kept on each VM with `layout: releases`; the current and the previous one are never pruned.
   * From 2 to 100. Default: 5. YAML: `repository.keep_releases`.
   */
  keepReleases?: number;
  /**
   * deploy in waves, with health checks between them and a rollback when a wave fails (keys below; see
   * [Rollouts](#rollouts-waves-health-checks-rollback)). Left out: every VM at once (`parallelism` at a
   * time). Default: none. YAML: `repository.rollout`.
   */
  rollout?: RolloutArgs;
  /**
   * a check run on each VM after its switch or sync (keys below; `vms.<id>.health_check` for one VM). A
   * failed check fails that VM; with a `rollout` it counts against `max_failures`. Default: none. YAML:
   * `repository.health_check`.
   */
  healthCheck?: HealthCheckArgs;
}

/** How a run deploys (the stack config of repo-sync's own program offers the same). */
export interface RepoSyncOptions {
  /**
   * the YAML above (relative to the program's folder); the component also takes the same settings as
   * typed arguments (`ssh`, `vms`, `repository`). Default: `configs/config.yml`.
   */
  configPath?: string;
  /**
   * deploy another branch. Default: `repository.default_branch`.
   */
  branch?: pulumi.Input<string>;
  /**
   * deploy a branch, a tag or a commit SHA (all 40 hex digits, or a unique prefix of at least 4): see
   * [Which commit](#which-commit-branch-or-ref). Rolling back is setting it to the old commit's SHA.
   * Setting both `branch` and `ref` is an error naming both. Default: none.
   */
  ref?: pulumi.Input<string>;
  /**
   * any new value re-syncs every target even when it matches, comparing file contents (so a file edited
   * on a VM with its size and mtime put back is repaired too). Default: none.
   */
  force?: pulumi.Input<string>;
  /**
   * `true`: the secret gate scans every file at each run, not only those not scanned before. Default:
   * false.
   */
  fullScan?: boolean;
  /**
   * `true`: preview probes compare file contents (rsync `--checksum`), not size + mtime; reads every
   * byte of every tree at each preview. Default: false.
   */
  checksum?: boolean;
  /**
   * `true`: fetch the branch from origin into `origin/<branch>` (the checkout, its branches and work
   * tree are left as they are: a preview changes nothing) and deploy origin's tip; default: the branch
   * as the checkout holds it (CI checked it out). A push that lands between `up`'s preview and its
   * update is deployed: pin with `ref` for exactness. Default: false.
   */
  pull?: boolean;
  /**
   * `true`: `pulumi destroy` removes the synced trees. Default: false.
   */
  removeOnDelete?: boolean;
  /**
   * a post-sync hook for every VM that has no `post_sync_command` of its own. Default: none.
   */
  postSyncCommand?: string;
}
