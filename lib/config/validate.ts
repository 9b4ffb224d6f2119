/**
 * Turns the parsed config document into a {@link Config}, collecting every problem at once (each named
 * by its key path) instead of stopping at the first. Which keys exist, their defaults, ranges and
 * checks come from the settings schema (schema.ts); what is checked here is what spans keys. Pure: no
 * file system, no network.
 *
 * The document is the YAML's (snake_case keys) or the component's typed arguments (camelCase keys,
 * `naming: "camel"`): the same rules, and messages that name the keys as the user wrote them.
 */
import * as path from "node:path";
import { camelName, describe, range, type Section, sectionKeys, setting, valueProblem, VM_ID } from "./schema";
import { invalidExcludeReason, invalidHostReason, invalidSshFilePathReason, invalidUserReason, unsafeTargetPathReason } from "./safety";
import { parseJumpHost } from "./jumpHost";
import { sharedPaths, sharedPathsProblems } from "./sharedPaths";
import { parseAmount } from "./amount";
import type { Amount, Config, ConfigProblem, HealthCheckSettings, JumpHost, JumpHostSpec, Layout, RepositorySettings, RolloutSettings, SshSettings, Target, VmSettings } from "./types";

export { describe } from "./schema";

/** Where relative paths and `~` resolve, and how the document names its keys. */
export interface PathContext {
  /** Folder of the config file: relative local paths resolve here. */
  baseDir: string;
  /** Home directory for `~`. */
  homeDir: string;
  /** Config file name, for messages. */
  file: string;
  /**
   * The Pulumi program supplies VM hosts (another stack's outputs, or the resources that create the
   * VMs): `vms.<id>.host` may be left out; it is then "" here and filled in by the program.
   */
  hostsSupplied?: boolean;
  /** VMs whose login user the program supplies (an Input): `ssh_user` may be left out ("" here). */
  usersSupplied?: ReadonlySet<string>;
  /** `camel`: the component's typed arguments (`sshUser`, `maxDelete`); default `yaml` (snake_case). */
  naming?: "yaml" | "camel";
}

/** The result of {@link validateConfig}: a config when there is no problem. */
export type ValidationResult = { config: Config; problems: [] } | { config?: undefined; problems: ConfigProblem[] };

/** Hops a connection may go through (OpenSSH's ProxyJump has no limit; a longer chain is a mistake). */
const MAX_HOPS = 8;

/** The shared paths of a releases target, when there are any (the list passed validation). */
function sharedOf(excludes: string[]): Pick<Target, "shared"> {
  return excludes.length > 0 ? { shared: sharedPaths(excludes) } : {};
}

/** Validates a parsed config document. */
export function validateConfig(doc: unknown, ctx: PathContext): ValidationResult {
  const v = new Validator(ctx);
  const root = v.mapping(doc, "(top level)");
  if (!root) return { problems: v.problems };
  const ssh = v.ssh(root.ssh);
  const sourceVm = v.sourceVm(root.repository, root.vms);
  const vms = v.vms(root.vms, sourceVm);
  const repository = v.repository(root.repository, vms, sourceVm);
  if (v.problems.length > 0 || !ssh || !vms || !repository) return { problems: v.problems };
  const targets: Target[] = repository.pushTargets.map((vm) => ({
    vm,
    host: vms[vm].host,
    port: vms[vm].port,
    user: vms[vm].user,
    keyPath: vms[vm].keyPath,
    knownHostsPath: ssh.knownHostsPath,
    connectTimeoutS: ssh.connectTimeoutS,
    acceptNewHostKeys: ssh.acceptNewHostKeys,
    path: repository.vmRepoPaths[vm],
    postSyncCommand: vms[vm].postSyncCommand,
    ...(vms[vm].hostKey !== undefined ? { hostKey: vms[vm].hostKey } : {}),
    bwlimitKbps: vms[vm].bwlimitKbps ?? repository.bwlimitKbps,
    ...hopsOf(vms[vm], ssh),
    ...((vms[vm].sudo ?? repository.sudo) ? { sudo: true } : {}),
    ...(repository.rsyncPath ? { rsyncPath: repository.rsyncPath } : {}),
    ...(repository.layout === "releases" ? { layout: "releases" as const, keepReleases: repository.keepReleases, ...sharedOf(repository.rsyncExcludes) } : {}),
  }));
  // A user still to come from ssh.config_path is checked once it is known (config/load.ts).
  v.problems.push(...ownershipProblems(repository, targets.filter((t) => t.user !== "")));
  if (v.problems.length > 0) return { problems: v.problems };
  return { config: { file: ctx.file, ssh, vms, repository, targets }, problems: [] };
}

/** `--chown` needs a super-user receiver: refused up front rather than rsync failing on every file. */
export function ownershipProblems(repository: Pick<RepositorySettings, "owner" | "group">, targets: Target[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const t of targets) {
    for (const k of ["owner", "group"] as const) {
      if (repository[k] !== undefined && !t.sudo && t.user !== "root") {
        problems.push({ key: `repository.${k}`, message: `needs root on ${t.vm} to set ownership (it logs in as ${t.user}): set vms.${t.vm}.sudo: true or repository.sudo: true, or log in as root` });
      }
    }
  }
  return problems;
}

type Mapping = Record<string, unknown>;

class Validator {
  readonly problems: ConfigProblem[] = [];
  private defaultKeyPath = "";
  /** Every id under `vms`, also those whose entry has problems (reported there). */
  private listed = new Set<string>();
  /** `ssh.config_path`, and which of the `ssh` section's connection keys the document sets. */
  private sshConfig?: { path: string; keyPath: boolean; jumpHosts: boolean; knownHostsPath: boolean };
  private readonly camel: boolean;

  constructor(private readonly ctx: PathContext) {
    this.camel = ctx.naming === "camel";
  }

  /** A key as the document writes it. */
  name(key: string): string {
    return this.camel ? camelName(key) : key;
  }

  /** The value of YAML key `key` in `m` (read under its camelCase name in a typed document). */
  at(m: Mapping, key: string): unknown {
    return m[this.name(key)];
  }

  /** `prefix.key` with the key as the document writes it. */
  path(prefix: string, key: string): string {
    return `${prefix}.${this.name(key)}`;
  }

  add(key: string, message: string): void {
    this.problems.push({ key, message });
  }

  mapping(value: unknown, key: string, required = true): Mapping | undefined {
    if (value === undefined || value === null) {
      if (required) this.add(key, "is missing (expected a mapping)");
      return undefined;
    }
    if (typeof value !== "object" || Array.isArray(value)) {
      this.add(key, `must be a mapping, got ${describe(value)}`);
      return undefined;
    }
    return value as Mapping;
  }

  /** Keys of `m` that the schema's `section` does not have: each a problem, with the nearest known key. */
  unknownKeys(m: Mapping, section: Section, prefix: string): void {
    const allowed = sectionKeys(section).map((k) => this.name(k));
    for (const k of Object.keys(m)) {
      if (!allowed.includes(k)) {
        const near = allowed.find((a) => editDistance(a.toLowerCase(), k.toLowerCase()) <= 2);
        this.add(`${prefix}.${k}`, `is not a known key${near ? ` (did you mean \`${near}\`?)` : ""}; known: ${allowed.join(", ")}`);
      }
    }
  }

  /**
   * A scalar setting of `section` read from `m`: valid value, its schema default when left out
   * (undefined when it has none; "is missing" when required), undefined with a problem when invalid.
   */
  value(m: Mapping, section: Section, key: string, prefix: string, opts: { optional?: boolean } = {}): unknown {
    const s = setting(section, key);
    const val = this.at(m, key);
    if (!given(val)) {
      if (s.required && !opts.optional) this.add(this.path(prefix, key), "is missing");
      return s.default;
    }
    const why = valueProblem(s, val);
    if (why) {
      this.add(this.path(prefix, key), why);
      return undefined;
    }
    return val;
  }

  str(m: Mapping, section: Section, key: string, prefix: string, opts: { optional?: boolean } = {}): string | undefined {
    const v = this.value(m, section, key, prefix, opts);
    return typeof v === "string" ? v : undefined;
  }

  bool(m: Mapping, section: Section, key: string, prefix: string): boolean {
    const v = this.value(m, section, key, prefix);
    return typeof v === "boolean" ? v : setting(section, key).default === true;
  }

  int(m: Mapping, section: Section, key: string, prefix: string): number | undefined {
    const v = this.value(m, section, key, prefix);
    return typeof v === "number" ? v : undefined;
  }

  /** An optional string setting: `{ [camelCase key]: value }` when set and valid, else nothing. */
  optional(m: Mapping, section: Section, key: string, prefix: string): Record<string, string> {
    const s = this.str(m, section, key, prefix);
    return s ? { [camelName(key)]: s } : {};
  }

  localPath(p: string): string {
    const expanded = p === "~" ? this.ctx.homeDir : p.startsWith("~/") ? path.join(this.ctx.homeDir, p.slice(2)) : p;
    return path.resolve(this.ctx.baseDir, expanded);
  }

  /** A local file handed to OpenSSH (key, known_hosts): resolved, and refused when ssh would mangle it. */
  sshFilePath(p: string, key: string): string {
    const resolved = this.localPath(p);
    const why = invalidSshFilePathReason(resolved);
    if (why) this.add(key, `${JSON.stringify(resolved)} ${why}`);
    return resolved;
  }

  ssh(value: unknown): SshSettings | undefined {
    const m = this.mapping(value, "ssh", false) ?? {};
    this.unknownKeys(m, "ssh", "ssh");
    const keyPath = this.str(m, "ssh", "key_path", "ssh");
    const known = this.str(m, "ssh", "known_hosts_path", "ssh");
    const timeout = this.int(m, "ssh", "connect_timeout_s", "ssh");
    const acceptNew = this.bool(m, "ssh", "accept_new_host_keys", "ssh");
    if (!keyPath || !known || timeout === undefined) return undefined;
    this.defaultKeyPath = this.sshFilePath(keyPath, this.path("ssh", "key_path"));
    const jumpHosts = this.jumpHosts(this.at(m, "jump_hosts"), this.path("ssh", "jump_hosts")) ?? [];
    const configPath = this.str(m, "ssh", "config_path", "ssh");
    // Given but unusable: its problem is listed, and the VMs are not also told they lack a user.
    if (given(this.at(m, "config_path"))) {
      this.sshConfig = { path: configPath ? this.sshFilePath(configPath, this.path("ssh", "config_path")) : "", keyPath: given(this.at(m, "key_path")), jumpHosts: given(this.at(m, "jump_hosts")), knownHostsPath: given(this.at(m, "known_hosts_path")) };
    }
    return {
      keyPath: this.defaultKeyPath, knownHostsPath: this.sshFilePath(known, this.path("ssh", "known_hosts_path")), connectTimeoutS: timeout, acceptNewHostKeys: acceptNew, jumpHosts,
      ...(this.sshConfig ? { configPath: this.sshConfig.path } : {}),
    };
  }

  /** A list of hops: `[user@]host[:port]` strings or `{ host, port?, user?, key_path? }` mappings. */
  jumpHosts(value: unknown, key: string): JumpHostSpec[] | undefined {
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) {
      this.add(key, `must be a list of jump hosts ([user@]host[:port], first hop first), got ${describe(value)}`);
      return undefined;
    }
    const out: JumpHostSpec[] = [];
    value.forEach((item: unknown, i) => {
      const k = `${key}[${i}]`;
      let spec: JumpHostSpec | undefined;
      if (typeof item === "string") {
        const parsed = parseJumpHost(item);
        if ("problem" in parsed) this.add(k, parsed.problem);
        else spec = parsed;
      } else {
        const m = this.mapping(item, k);
        if (!m) return;
        this.unknownKeys(m, "hop", k);
        const host = this.str(m, "hop", "host", k);
        const port = given(this.at(m, "port")) ? this.int(m, "hop", "port", k) : undefined;
        const user = given(this.at(m, "user")) ? this.str(m, "hop", "user", k) : undefined;
        const keyPath = this.str(m, "hop", "key_path", k);
        if (host !== undefined) spec = { host, ...(port !== undefined ? { port } : {}), ...(user ? { user } : {}), ...(keyPath ? { keyPath: this.sshFilePath(keyPath, this.path(k, "key_path")) } : {}) };
      }
      if (!spec) return;
      const hostWhy = invalidHostReason(spec.host);
      if (hostWhy) this.add(`${k}`, `host ${JSON.stringify(spec.host)} ${hostWhy}`);
      const userWhy = spec.user === undefined ? undefined : invalidUserReason(spec.user);
      if (userWhy && typeof item === "string") this.add(`${k}`, `user ${JSON.stringify(spec.user)} ${userWhy}`);
      out.push(spec);
    });
    if (out.length > MAX_HOPS) this.add(key, `lists ${out.length} hops; at most ${MAX_HOPS} are supported`);
    return out;
  }

  /**
   * The source VM's id, or undefined when the source is the machine running repo-sync (no `vms`
   * entry needed). Unset `source_vm` means none, except in the original layout: a `vms.vm04` with no
   * `vm_repo_paths.vm04` is the source (so configs written for it never push to their source).
   */
  sourceVm(repoValue: unknown, vmsValue: unknown): string | undefined {
    const repo = isMapping(repoValue) ? repoValue : {};
    const vms = isMapping(vmsValue) ? vmsValue : undefined;
    if (!given(this.at(repo, "source_vm"))) {
      const pathsValue = this.at(repo, "vm_repo_paths");
      const paths = isMapping(pathsValue) ? pathsValue : {};
      return vms && "vm04" in vms && !("vm04" in paths) ? "vm04" : undefined;
    }
    const id = this.str(repo, "repository", "source_vm", "repository");
    if (id !== undefined && vms && !(id in vms)) {
      this.add(this.path("repository", "source_vm"), `names ${JSON.stringify(id)}, which is not under vms (have: ${Object.keys(vms).join(", ") || "none"}); leave ${this.name("source_vm")} out when the checkout is on the machine running repo-sync`);
    }
    return id;
  }

  vms(value: unknown, sourceVm?: string): Record<string, VmSettings> | undefined {
    const m = this.mapping(value, "vms");
    if (!m) return undefined;
    if (Object.keys(m).length === 0) this.add("vms", "is empty; list at least one VM to push to");
    this.listed = new Set(Object.keys(m));
    const out: Record<string, VmSettings> = {};
    for (const [id, raw] of Object.entries(m)) {
      const prefix = `vms.${id}`;
      if (!VM_ID.test(id)) this.add(prefix, "is not a valid VM id (letters, digits, `_`, `-`)");
      const vm = this.mapping(raw, prefix);
      if (!vm) continue;
      this.unknownKeys(vm, "vm", prefix);
      // The source VM is never connected to: its host and user may be left out.
      const isSource = id === sourceVm;
      const host = (this.ctx.hostsSupplied || isSource) && !given(vm.host) ? "" : this.str(vm, "vm", "host", prefix);
      const hostWhy = host === undefined || host === "" ? undefined : invalidHostReason(host);
      if (hostWhy) this.add(`${prefix}.host`, `${JSON.stringify(host)} ${hostWhy}`);
      // With ssh.config_path, a user the document leaves out comes from that file (filled in by load.ts);
      // a user the program supplies comes from its Input.
      const userLater = this.sshConfig !== undefined || isSource || this.ctx.usersSupplied?.has(id) === true;
      const user = userLater && !given(this.at(vm, "ssh_user")) ? "" : this.str(vm, "vm", "ssh_user", prefix);
      const port = this.int(vm, "vm", "ssh_port", prefix);
      const enabled = this.bool(vm, "vm", "enabled", prefix);
      const key = this.str(vm, "vm", "ssh_key_path", prefix);
      const bwlimit = this.int(vm, "vm", "bwlimit_kbps", prefix);
      const jumps = this.jumpHosts(this.at(vm, "jump_hosts"), this.path(prefix, "jump_hosts"));
      const sudo = given(vm.sudo) ? this.bool(vm, "vm", "sudo", prefix) : undefined;
      const post = this.str(vm, "vm", "post_sync_command", prefix);
      const hostKey = this.str(vm, "vm", "host_key", prefix);
      // Written but left blank (a template that came out empty): never the known_hosts route by accident.
      if (this.name("host_key") in vm && vm[this.name("host_key")] === null) this.add(this.path(prefix, "host_key"), "is empty: give the VM's public host key (ssh-ed25519 AAAA...), or remove the key to use known_hosts");
      const health = this.healthCheck(this.at(vm, "health_check"), this.path(prefix, "health_check"));
      if (host !== undefined && user !== undefined && (user !== "" || userLater) && port !== undefined) {
        out[id] = {
          id, host, user, port, enabled,
          keyPath: key ? this.sshFilePath(key, this.path(prefix, "ssh_key_path")) : this.defaultKeyPath,
          postSyncCommand: post,
          bwlimitKbps: bwlimit,
          ...(jumps !== undefined ? { jumpHosts: jumps } : {}),
          ...(sudo !== undefined ? { sudo } : {}),
          ...(hostKey !== undefined ? { hostKey } : {}),
          ...(health ? { healthCheck: health } : {}),
          ...(this.sshConfig ? { explicit: { user: user !== "", port: given(this.at(vm, "ssh_port")), keyPath: given(this.at(vm, "ssh_key_path")) || this.sshConfig.keyPath, jumpHosts: given(this.at(vm, "jump_hosts")) || this.sshConfig.jumpHosts, knownHostsPath: this.sshConfig.knownHostsPath } } : {}),
        };
      }
    }
    return out;
  }

  repository(value: unknown, vms: Record<string, VmSettings> | undefined, sourceVm: string | undefined): RepositorySettings | undefined {
    const m = this.mapping(value, "repository");
    if (!m) return undefined;
    const P = "repository";
    const R = "repository" as const;
    this.unknownKeys(m, R, P);
    const known = vms ?? {};
    const mainRepo = this.str(m, R, "main_repo_path", P);
    const branch = this.str(m, R, "default_branch", P);

    const pathsKey = this.path(P, "vm_repo_paths");
    const pathsRaw = this.mapping(this.at(m, "vm_repo_paths"), pathsKey);
    const vmRepoPaths: Record<string, string> = {};
    for (const [id, p] of Object.entries(pathsRaw ?? {})) {
      const key = `${pathsKey}.${id}`;
      if (vms && !this.listed.has(id)) this.add(key, `names VM ${JSON.stringify(id)}, which is not under vms`);
      if (typeof p !== "string") {
        this.add(key, `must be a string path, got ${describe(p)}`);
        continue;
      }
      const why = unsafeTargetPathReason(p);
      if (why) this.add(key, `${JSON.stringify(p)} ${why}`);
      else vmRepoPaths[id] = p;
    }

    const excludesKey = this.path(P, "rsync_excludes");
    const excludes = this.stringList(this.at(m, "rsync_excludes"), excludesKey) ?? [];
    excludes.forEach((e, i) => {
      const why = invalidExcludeReason(e);
      if (why) this.add(`${excludesKey}[${i}]`, `${JSON.stringify(e)} ${why}`);
    });

    let pushTargets: string[];
    const targetsKey = this.path(P, "push_targets");
    const explicitTargets = this.stringList(this.at(m, "push_targets"), targetsKey);
    if (explicitTargets) {
      pushTargets = explicitTargets;
      explicitTargets.forEach((id, i) => {
        const key = `${targetsKey}[${i}]`;
        // A VM listed with problems of its own has them reported under vms.<id>: not "not under vms".
        if (!this.listed.has(id)) this.add(key, `names VM ${JSON.stringify(id)}, which is not under vms`);
        else if (known[id] && !known[id].enabled) this.add(key, `names VM ${id}, which is disabled (vms.${id}.${this.name("enabled")}: false); enable it or drop it from ${this.name("push_targets")}`);
        if (id === sourceVm) this.add(key, `names the source VM ${id}; the source is never a push target`);
      });
      if (new Set(explicitTargets).size !== explicitTargets.length) this.add(targetsKey, "lists a VM twice");
    } else {
      pushTargets = Object.values(known).filter((vm) => vm.enabled && vm.id !== sourceVm).map((vm) => vm.id);
    }
    // A VM whose own entry has problems is reported there: not also as "no push target".
    if (pushTargets.length === 0 && vms && Object.keys(known).length === this.listed.size) this.add(targetsKey, `no push target: enable a VM${sourceVm ? " other than the source VM" : ""}, or list ${this.name("push_targets")}`);
    for (const id of pushTargets) {
      if (known[id] && !(id in vmRepoPaths) && !(pathsRaw && id in pathsRaw)) {
        this.add(`${pathsKey}.${id}`, `is missing: push target ${id} needs a target path`);
      }
    }

    const S = "scan" as const;
    const SP = this.path(P, "secret_scanning");
    const scanRaw = this.mapping(this.at(m, "secret_scanning"), SP, false) ?? {};
    this.unknownKeys(scanRaw, S, SP);
    this.str(scanRaw, S, "tool", SP); // one choice: checked, nothing to keep
    const scanConfig = this.str(scanRaw, S, "config_path", SP);

    const mode = this.str(m, R, "source_mode", P);
    const layout = this.str(m, R, "layout", P);
    // Releases share each excluded path between releases (target/shared.ts): a pattern names none.
    if (layout === "releases") {
      for (const { index, reason } of sharedPathsProblems(excludes)) {
        if (!invalidExcludeReason(excludes[index])) this.add(`${excludesKey}[${index}]`, `${JSON.stringify(excludes[index])} ${reason}`);
      }
    }
    const result: RepositorySettings = {
      ...(sourceVm !== undefined ? { sourceVm } : {}),
      layout: layout === "releases" ? "releases" : "in_place",
      keepReleases: this.int(m, R, "keep_releases", P) ?? range(R, "keep_releases").default ?? 0,
      mainRepoPath: mainRepo ? this.localPath(mainRepo) : "",
      vmRepoPaths,
      defaultBranch: branch ?? "",
      excludeDotGit: this.bool(m, R, "exclude_dot_git", P),
      rsyncExcludes: excludes,
      pushTargets,
      secretScanning: {
        enabled: this.bool(scanRaw, S, "enabled", SP),
        tool: "gitleaks",
        configPath: scanConfig ? this.localPath(scanConfig) : undefined,
        blockOnSecrets: this.bool(scanRaw, S, "block_on_secrets", SP),
        ignoreInlineAllow: this.bool(scanRaw, S, "ignore_inline_allow", SP),
      },
      sourceMode: mode === "worktree" ? "worktree" : "commit",
      allowDirty: this.bool(m, R, "allow_dirty", P),
      maxDelete: this.int(m, R, "max_delete", P),
      bwlimitKbps: this.int(m, R, "bwlimit_kbps", P),
      sudo: this.bool(m, R, "sudo", P),
      ...this.optional(m, R, "rsync_path", P),
      ...this.optional(m, R, "owner", P),
      ...this.optional(m, R, "group", P),
      ...this.optional(m, R, "chmod", P),
      adoptExisting: this.bool(m, R, "adopt_existing", P),
      parallelism: this.int(m, R, "parallelism", P) ?? range(R, "parallelism").default ?? 1,
      lockTimeoutS: this.int(m, R, "lock_timeout_s", P) ?? range(R, "lock_timeout_s").default ?? 0,
      ioTimeoutS: this.int(m, R, "io_timeout_s", P) ?? range(R, "io_timeout_s").default ?? 0,
      ...this.rolloutOf(this.at(m, "rollout"), this.path(P, "rollout"), layout === "releases" ? "releases" : "in_place"),
      ...this.healthOf(this.at(m, "health_check"), this.path(P, "health_check")),
    };
    return mainRepo && branch ? result : undefined;
  }

  /** `{ rollout }` when the document has a valid `rollout` mapping, else nothing (its problems listed). */
  rolloutOf(value: unknown, key: string, layout: Layout): { rollout?: RolloutSettings } {
    if (!given(value)) return {};
    const m = this.mapping(value, key);
    if (!m) return {};
    const O = "rollout" as const;
    this.unknownKeys(m, O, key);
    const waves = this.waves(this.at(m, "waves"), this.path(key, "waves"));
    const maxFailures = this.amount(this.at(m, "max_failures"), this.path(key, "max_failures"), { minCount: 0, minPercent: 0 }) ?? { count: 0 };
    const bakeS = this.int(m, O, "bake_s", key);
    const onFailure = this.str(m, O, "on_failure", key);
    if (onFailure === "rollback" && layout !== "releases") {
      this.add(this.path(key, "on_failure"), `rollback needs ${this.path("repository", "layout")}: releases; in place nothing is kept to go back to (set ${this.name("layout")}: releases, or ${this.name("on_failure")}: stop)`);
    }
    if (!waves || bakeS === undefined || (onFailure !== "stop" && onFailure !== "rollback")) return {};
    return { rollout: { waves, maxFailures, bakeS, onFailure } };
  }

  /** Wave sizes: a list (or one size alone) of whole numbers of VMs and `N%` strings. */
  waves(value: unknown, key: string): Amount[] | undefined {
    if (!given(value)) return [{ percent: 100 }];
    const list: unknown[] = Array.isArray(value) ? value : [value];
    if (list.length === 0) {
      this.add(key, 'is an empty list; give at least one wave size (e.g. [1, "100%"])');
      return undefined;
    }
    const out = list.map((v, i) => this.amount(v, Array.isArray(value) ? `${key}[${i}]` : key, { minCount: 1, minPercent: 1 }));
    return out.every((a) => a !== undefined) ? (out as Amount[]) : undefined;
  }

  /** A number of VMs or `N%` (waves.ts); undefined when left out or invalid (its problem listed). */
  amount(value: unknown, key: string, limits: { minCount: number; minPercent: number }): Amount | undefined {
    if (!given(value)) return undefined;
    const a = parseAmount(value, limits);
    if ("problem" in a) {
      this.add(key, a.problem);
      return undefined;
    }
    return a;
  }

  /** `{ healthCheck }` when the document has a valid `health_check` mapping at `key`, else nothing. */
  healthOf(value: unknown, key: string): { healthCheck?: HealthCheckSettings } {
    const h = this.healthCheck(value, key);
    return h ? { healthCheck: h } : {};
  }

  /** A `health_check` mapping (the repository's or a VM's); undefined when left out or invalid (its problems listed). */
  healthCheck(value: unknown, key: string): HealthCheckSettings | undefined {
    if (!given(value)) return undefined;
    const m = this.mapping(value, key);
    if (!m) return undefined;
    const H = "health" as const;
    this.unknownKeys(m, H, key);
    const command = this.str(m, H, "command", key);
    const timeoutS = this.int(m, H, "timeout_s", key);
    const retries = this.int(m, H, "retries", key);
    const intervalS = this.int(m, H, "interval_s", key);
    if (command === undefined || timeoutS === undefined || retries === undefined || intervalS === undefined) return undefined;
    return { command, timeoutS, retries, intervalS };
  }

  stringList(value: unknown, key: string): string[] | undefined {
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value) || value.some((x) => typeof x !== "string")) {
      this.add(key, `must be a list of strings, got ${describe(value)}`);
      return undefined;
    }
    return value as string[];
  }
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

function isMapping(v: unknown): v is Mapping {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Whether the YAML sets a key (null counts as left out, like everywhere else). */
function given(v: unknown): boolean {
  return v !== undefined && v !== null;
}

/** A VM's hops, completed with its user, port 22 and its key; nothing when it is reached directly. */
function hopsOf(vm: VmSettings, ssh: SshSettings): { jumpHosts?: JumpHost[] } {
  const specs = vm.jumpHosts ?? ssh.jumpHosts;
  if (specs.length === 0) return {};
  return { jumpHosts: specs.map((h) => ({ host: h.host, port: h.port ?? range("hop", "port").default ?? 22, user: h.user ?? vm.user, keyPath: h.keyPath ?? vm.keyPath })) };
}
