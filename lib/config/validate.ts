/**
 * Turns the parsed YAML document into a {@link Config}, collecting every problem at once (each named
 * by its key path) instead of stopping at the first. Pure: no file system, no network.
 */
import { BWLIMIT_KBPS, DEFAULT_BRANCH, NUMBERS, VM_ID } from "./defaults";
import * as path from "node:path";
import { invalidBranchReason, invalidChmodReason, invalidExcludeReason, invalidHostReason, invalidRsyncPathReason, invalidSshFilePathReason, invalidUserReason, unsafeTargetPathReason } from "./safety";
import { parseJumpHost } from "./jumpHost";
import { KEEP_RELEASES } from "../target/releases";
import { sharedPaths, sharedPathsProblems } from "../target/shared";
import type { Config, ConfigProblem, JumpHost, JumpHostSpec, RepositorySettings, SshSettings, Target, VmSettings } from "./types";

/** Where relative paths and `~` resolve. */
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
}

/** The result of {@link validateConfig}: a config when there is no problem. */
export type ValidationResult = { config: Config; problems: [] } | { config?: undefined; problems: ConfigProblem[] };

const SSH_KEYS = ["key_path", "known_hosts_path", "connect_timeout_s", "accept_new_host_keys", "jump_hosts", "config_path"];
const HOP_KEYS = ["host", "port", "user", "key_path"];
const VM_KEYS = ["host", "ssh_user", "ssh_port", "enabled", "ssh_key_path", "post_sync_command", "bwlimit_kbps", "jump_hosts", "sudo", "description", "role"];
const REPO_KEYS = [
  "source_vm", "main_repo_path", "vm_repo_paths", "default_branch", "exclude_dot_git", "rsync_excludes",
  "push_targets", "secret_scanning", "source_mode", "allow_dirty", "max_delete", "bwlimit_kbps", "adopt_existing",
  "parallelism", "lock_timeout_s", "io_timeout_s", "sudo", "rsync_path", "owner", "group", "chmod",
  "layout", "keep_releases",
];
const SCAN_KEYS = ["enabled", "tool", "config_path", "block_on_secrets", "ignore_inline_allow"];

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
  /** `ssh.config_path`, and which of the `ssh` section's connection keys the YAML sets. */
  private sshConfig?: { path: string; keyPath: boolean; jumpHosts: boolean; knownHostsPath: boolean };

  constructor(private readonly ctx: PathContext) {}

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

  unknownKeys(m: Mapping, allowed: string[], prefix: string): void {
    for (const k of Object.keys(m)) {
      if (!allowed.includes(k)) {
        const near = allowed.find((a) => editDistance(a, k) <= 2);
        this.add(`${prefix}.${k}`, `is not a known key${near ? ` (did you mean \`${near}\`?)` : ""}; known: ${allowed.join(", ")}`);
      }
    }
  }

  str(m: Mapping, k: string, prefix: string, dflt?: string): string | undefined {
    const val = m[k];
    if (val === undefined || val === null) {
      if (dflt === undefined) this.add(`${prefix}.${k}`, "is missing");
      return dflt;
    }
    if (typeof val !== "string" || val.trim() === "") {
      this.add(`${prefix}.${k}`, `must be a non-empty string, got ${describe(val)}`);
      return undefined;
    }
    return val;
  }

  bool(m: Mapping, k: string, prefix: string, dflt: boolean): boolean {
    const val = m[k];
    if (val === undefined || val === null) return dflt;
    if (typeof val !== "boolean") {
      this.add(`${prefix}.${k}`, `must be true or false, got ${describe(val)}`);
      return dflt;
    }
    return val;
  }

  int(m: Mapping, k: string, prefix: string, dflt: number | undefined, min: number, max: number): number | undefined {
    const val = m[k];
    if (val === undefined || val === null) return dflt;
    if (typeof val !== "number" || !Number.isInteger(val) || val < min || val > max) {
      this.add(`${prefix}.${k}`, `must be an integer from ${min} to ${max}, got ${describe(val)}`);
      return dflt;
    }
    return val;
  }

  /** A numeric setting shared with the resource inputs: its default and range from defaults.ts. */
  number(m: Mapping, k: string, prefix: string, name: keyof typeof NUMBERS): number {
    const { default: dflt, min, max } = NUMBERS[name];
    return this.int(m, k, prefix, dflt, min, max) ?? dflt;
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
    this.unknownKeys(m, SSH_KEYS, "ssh");
    const keyPath = this.str(m, "key_path", "ssh", "~/.ssh/id_ed25519");
    const known = this.str(m, "known_hosts_path", "ssh", "~/.ssh/known_hosts");
    const timeout = this.number(m, "connect_timeout_s", "ssh", "connectTimeoutS");
    const acceptNew = this.bool(m, "accept_new_host_keys", "ssh", false);
    if (!keyPath || !known || timeout === undefined) return undefined;
    this.defaultKeyPath = this.sshFilePath(keyPath, "ssh.key_path");
    const jumpHosts = this.jumpHosts(m.jump_hosts, "ssh.jump_hosts") ?? [];
    const configPath = this.str(m, "config_path", "ssh", "");
    // Given but unusable: its problem is listed, and the VMs are not also told they lack a user.
    if (given(m.config_path)) {
      this.sshConfig = { path: configPath ? this.sshFilePath(configPath, "ssh.config_path") : "", keyPath: given(m.key_path), jumpHosts: given(m.jump_hosts), knownHostsPath: given(m.known_hosts_path) };
    }
    return {
      keyPath: this.defaultKeyPath, knownHostsPath: this.sshFilePath(known, "ssh.known_hosts_path"), connectTimeoutS: timeout, acceptNewHostKeys: acceptNew, jumpHosts,
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
        this.unknownKeys(m, HOP_KEYS, k);
        const host = this.str(m, "host", k);
        const port = this.int(m, "port", k, undefined, NUMBERS.sshPort.min, NUMBERS.sshPort.max);
        const user = this.str(m, "user", k, "");
        const keyPath = this.str(m, "key_path", k, "");
        if (host !== undefined) spec = { host, ...(port !== undefined ? { port } : {}), ...(user ? { user } : {}), ...(keyPath ? { keyPath: this.sshFilePath(keyPath, `${k}.key_path`) } : {}) };
      }
      if (!spec) return;
      const hostWhy = invalidHostReason(spec.host);
      if (hostWhy) this.add(`${k}`, `host ${JSON.stringify(spec.host)} ${hostWhy}`);
      const userWhy = spec.user === undefined ? undefined : invalidUserReason(spec.user);
      if (userWhy) this.add(`${k}`, `user ${JSON.stringify(spec.user)} ${userWhy}`);
      out.push(spec);
    });
    if (out.length > 8) this.add(key, `lists ${out.length} hops; at most 8 are supported`);
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
    if (!given(repo.source_vm)) {
      const paths = isMapping(repo.vm_repo_paths) ? repo.vm_repo_paths : {};
      return vms && "vm04" in vms && !("vm04" in paths) ? "vm04" : undefined;
    }
    const id = this.str(repo, "source_vm", "repository");
    if (id !== undefined && vms && !(id in vms)) {
      this.add("repository.source_vm", `names ${JSON.stringify(id)}, which is not under vms (have: ${Object.keys(vms).join(", ") || "none"}); leave source_vm out when the checkout is on the machine running repo-sync`);
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
      this.unknownKeys(vm, VM_KEYS, prefix);
      // The source VM is never connected to: its host and user may be left out.
      const isSource = id === sourceVm;
      const host = (this.ctx.hostsSupplied || isSource) && !given(vm.host) ? "" : this.str(vm, "host", prefix);
      const hostWhy = host === undefined || host === "" ? undefined : invalidHostReason(host);
      if (hostWhy) this.add(`${prefix}.host`, `${JSON.stringify(host)} ${hostWhy}`);
      // With ssh.config_path, a user the YAML leaves out comes from that file (filled in by load.ts).
      const user = (this.sshConfig || isSource) && !given(vm.ssh_user) ? "" : this.str(vm, "ssh_user", prefix);
      const userWhy = user === undefined || user === "" ? undefined : invalidUserReason(user);
      if (userWhy) this.add(`${prefix}.ssh_user`, `${JSON.stringify(user)} ${userWhy}`);
      const port = this.number(vm, "ssh_port", prefix, "sshPort");
      const enabled = this.bool(vm, "enabled", prefix, true);
      const key = this.str(vm, "ssh_key_path", prefix, "");
      const bwlimit = this.int(vm, "bwlimit_kbps", prefix, undefined, BWLIMIT_KBPS.min, BWLIMIT_KBPS.max);
      const jumps = this.jumpHosts(vm.jump_hosts, `${prefix}.jump_hosts`);
      const sudo = vm.sudo === undefined ? undefined : this.bool(vm, "sudo", prefix, false);
      const post = vm.post_sync_command;
      if (post !== undefined && (typeof post !== "string" || post.trim() === "")) {
        this.add(`${prefix}.post_sync_command`, `must be a non-empty string, got ${describe(post)}`);
      }
      if (host !== undefined && user !== undefined && (user !== "" || this.sshConfig || isSource) && port !== undefined) {
        out[id] = {
          id, host, user, port, enabled,
          keyPath: key ? this.sshFilePath(key, `${prefix}.ssh_key_path`) : this.defaultKeyPath,
          postSyncCommand: typeof post === "string" && post.trim() ? post : undefined,
          bwlimitKbps: bwlimit,
          ...(jumps !== undefined ? { jumpHosts: jumps } : {}),
          ...(sudo !== undefined ? { sudo } : {}),
          ...(this.sshConfig ? { explicit: { user: user !== "", port: given(vm.ssh_port), keyPath: given(vm.ssh_key_path) || this.sshConfig.keyPath, jumpHosts: given(vm.jump_hosts) || this.sshConfig.jumpHosts, knownHostsPath: this.sshConfig.knownHostsPath } } : {}),
        };
      }
    }
    return out;
  }

  repository(value: unknown, vms: Record<string, VmSettings> | undefined, sourceVm: string | undefined): RepositorySettings | undefined {
    const m = this.mapping(value, "repository");
    if (!m) return undefined;
    const P = "repository";
    this.unknownKeys(m, REPO_KEYS, P);
    const known = vms ?? {};
    const mainRepo = this.str(m, "main_repo_path", P);
    const branch = this.str(m, "default_branch", P, DEFAULT_BRANCH);
    const branchWhy = branch === undefined ? undefined : invalidBranchReason(branch);
    if (branchWhy) this.add(`${P}.default_branch`, `${JSON.stringify(branch)} ${branchWhy}`);

    const pathsRaw = this.mapping(m.vm_repo_paths, `${P}.vm_repo_paths`);
    const vmRepoPaths: Record<string, string> = {};
    for (const [id, p] of Object.entries(pathsRaw ?? {})) {
      const key = `${P}.vm_repo_paths.${id}`;
      if (vms && !this.listed.has(id)) this.add(key, `names VM ${JSON.stringify(id)}, which is not under vms`);
      if (typeof p !== "string") {
        this.add(key, `must be a string path, got ${describe(p)}`);
        continue;
      }
      const why = unsafeTargetPathReason(p);
      if (why) this.add(key, `${JSON.stringify(p)} ${why}`);
      else vmRepoPaths[id] = p;
    }

    const excludes = this.stringList(m.rsync_excludes, `${P}.rsync_excludes`) ?? [];
    excludes.forEach((e, i) => {
      const why = invalidExcludeReason(e);
      if (why) this.add(`${P}.rsync_excludes[${i}]`, `${JSON.stringify(e)} ${why}`);
    });

    let pushTargets: string[];
    const explicitTargets = this.stringList(m.push_targets, `${P}.push_targets`);
    if (explicitTargets) {
      pushTargets = explicitTargets;
      explicitTargets.forEach((id, i) => {
        const key = `${P}.push_targets[${i}]`;
        // A VM listed with problems of its own has them reported under vms.<id>: not "not under vms".
        if (!this.listed.has(id)) this.add(key, `names VM ${JSON.stringify(id)}, which is not under vms`);
        else if (known[id] && !known[id].enabled) this.add(key, `names VM ${id}, which is disabled (vms.${id}.enabled: false); enable it or drop it from push_targets`);
        if (id === sourceVm) this.add(key, `names the source VM ${id}; the source is never a push target`);
      });
      if (new Set(explicitTargets).size !== explicitTargets.length) this.add(`${P}.push_targets`, "lists a VM twice");
    } else {
      pushTargets = Object.values(known).filter((vm) => vm.enabled && vm.id !== sourceVm).map((vm) => vm.id);
    }
    if (pushTargets.length === 0 && vms) this.add(`${P}.push_targets`, `no push target: enable a VM${sourceVm ? " other than the source VM" : ""}, or list push_targets`);
    for (const id of pushTargets) {
      if (known[id] && !(id in vmRepoPaths) && !(pathsRaw && id in pathsRaw)) {
        this.add(`${P}.vm_repo_paths.${id}`, `is missing: push target ${id} needs a target path`);
      }
    }

    const scanRaw = this.mapping(m.secret_scanning, `${P}.secret_scanning`, false) ?? {};
    this.unknownKeys(scanRaw, SCAN_KEYS, `${P}.secret_scanning`);
    const tool = this.str(scanRaw, "tool", `${P}.secret_scanning`, "gitleaks");
    if (tool !== undefined && tool !== "gitleaks") this.add(`${P}.secret_scanning.tool`, `${JSON.stringify(tool)} is not supported; the only scanner is gitleaks`);
    const scanConfig = this.str(scanRaw, "config_path", `${P}.secret_scanning`, "");

    const mode = this.str(m, "source_mode", P, "commit");
    if (mode !== undefined && mode !== "commit" && mode !== "worktree") this.add(`${P}.source_mode`, `must be "commit" or "worktree", got ${JSON.stringify(mode)}`);

    const layout = this.str(m, "layout", P, "in_place");
    if (layout !== undefined && layout !== "in_place" && layout !== "releases") this.add(`${P}.layout`, `must be "in_place" or "releases", got ${JSON.stringify(layout)}`);
    // Releases share each excluded path between releases (target/shared.ts): a pattern names none.
    if (layout === "releases") {
      for (const { index, reason } of sharedPathsProblems(excludes)) {
        if (!invalidExcludeReason(excludes[index])) this.add(`${P}.rsync_excludes[${index}]`, `${JSON.stringify(excludes[index])} ${reason}`);
      }
    }
    const result: RepositorySettings = {
      ...(sourceVm !== undefined ? { sourceVm } : {}),
      layout: layout === "releases" ? "releases" : "in_place",
      keepReleases: this.int(m, "keep_releases", P, KEEP_RELEASES.default, KEEP_RELEASES.min, KEEP_RELEASES.max) ?? KEEP_RELEASES.default,
      mainRepoPath: mainRepo ? this.localPath(mainRepo) : "",
      vmRepoPaths,
      defaultBranch: branch ?? DEFAULT_BRANCH,
      excludeDotGit: this.bool(m, "exclude_dot_git", P, true),
      rsyncExcludes: excludes,
      pushTargets,
      secretScanning: {
        enabled: this.bool(scanRaw, "enabled", `${P}.secret_scanning`, true),
        tool: "gitleaks",
        configPath: scanConfig ? this.localPath(scanConfig) : undefined,
        blockOnSecrets: this.bool(scanRaw, "block_on_secrets", `${P}.secret_scanning`, true),
        ignoreInlineAllow: this.bool(scanRaw, "ignore_inline_allow", `${P}.secret_scanning`, false),
      },
      sourceMode: mode === "worktree" ? "worktree" : "commit",
      allowDirty: this.bool(m, "allow_dirty", P, false),
      maxDelete: this.int(m, "max_delete", P, undefined, 0, 100_000_000),
      bwlimitKbps: this.int(m, "bwlimit_kbps", P, undefined, BWLIMIT_KBPS.min, BWLIMIT_KBPS.max),
      sudo: this.bool(m, "sudo", P, false),
      ...this.checked(m, "rsync_path", P, invalidRsyncPathReason),
      ...this.checked(m, "owner", P, invalidUserReason),
      ...this.checked(m, "group", P, invalidUserReason),
      ...this.checked(m, "chmod", P, invalidChmodReason),
      adoptExisting: this.bool(m, "adopt_existing", P, false),
      parallelism: this.int(m, "parallelism", P, 4, 1, 64) ?? 4,
      lockTimeoutS: this.number(m, "lock_timeout_s", P, "lockTimeoutS"),
      ioTimeoutS: this.number(m, "io_timeout_s", P, "ioTimeoutS"),
    };
    return mainRepo ? result : undefined;
  }

  /** An optional string setting `k` checked by `why`, as `{ [camelCase k]: value }` when set and valid. */
  checked(m: Mapping, k: string, prefix: string, why: (s: string) => string | undefined): Record<string, string> {
    const s = this.str(m, k, prefix, "");
    if (!s) return {};
    const problem = why(s);
    if (problem) {
      this.add(`${prefix}.${k}`, `${JSON.stringify(s)} ${problem}`);
      return {};
    }
    return { [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())]: s };
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

/** A short description of a value's type for messages: `a number (22)`, `a list`. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `a string (${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v)})`;
  return `a ${typeof v} (${String(v)})`;
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
  return { jumpHosts: specs.map((h) => ({ host: h.host, port: h.port ?? NUMBERS.sshPort.default, user: h.user ?? vm.user, keyPath: h.keyPath ?? vm.keyPath })) };
}
