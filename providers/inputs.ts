/**
 * The RepoSyncTarget's inputs as the provider receives them (plain values), their validation in
 * `check()` (property + reason), and their mapping onto the library's Target and transfer spec.
 * Pure: no I/O.
 */
import { invalidExcludeReason, invalidHostReason, invalidSshFilePathReason, unsafeTargetPathReason } from "../lib/config/safety";
import { comparedInputs, defaultOf, SETTINGS, valueProblem, VM_ID } from "../lib/config/schema";
import type { JumpHost, SourceSettings, Target } from "../lib/config/types";
import { jumpHostProblem } from "../lib/remote/jumpHosts";
import { describeRef, invalidRefReason } from "../lib/source/ref";
import { sharedPaths, sharedPathsProblems } from "../lib/config/sharedPaths";
import type { DeployOutcome } from "../lib/sync/waveGate";
import type { Drift } from "./drift";

/** The engine's placeholder for a value not known yet (preview of an Output from another resource). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Secret-scan settings of one target. */
export interface SecretScanInputs {
  enabled: boolean;
  configPath?: string;
  blockOnSecrets: boolean;
  /**
   * `repository.secret_scanning.ignore_inline_allow`: `gitleaks:allow` comments hide nothing. Present
   * only when true, so that targets created before the option existed see no change in their inputs.
   */
  ignoreInlineAllow?: boolean;
}

/** Plain inputs of a RepoSyncTarget: how to reach the target (the library's Target), and what to push. */
export interface TargetInputs extends Omit<Target, "postSyncCommand" | "hostKeyFile"> {
  /** Owner, group and modes of what lands (rsync --chown/--chmod): desired state. */
  owner?: string;
  group?: string;
  chmod?: string;
  repoPath: string;
  branch: string;
  /** What named `commit` and its kind (source/ref.ts), when the program was given a `ref`: for messages, not compared. */
  ref?: string;
  refKind?: string;
  commit: string;
  excludes: string[];
  excludeDotGit: boolean;
  secretScan: SecretScanInputs;
  /** Trigger: any change re-syncs even a matching target. */
  force: string;
  adoptExisting: boolean;
  maxDelete?: number;
  lockTimeoutS: number;
  ioTimeoutS: number;
  /** On delete, remove the synced tree instead of only the markers. */
  removeOnDelete: boolean;
  /** Probe by content (a probe option: not compared as desired state). */
  checksum: boolean;
  /** Live state seen by `check()`, as a sentence: why an update is planned, or that the target is in sync. */
  observed?: string;
  /** The same live state's kind (TargetState["kind"]): what diff() decides on. */
  observedState?: string;
  /** File listing every target of this run, probed together (see probePlan.ts). */
  probePlan?: string;
  /** This resource's URN, where the provider logs its messages (see engineLog.ts); not desired state. */
  logUrn?: string;
  /**
   * The run id of a rollout whose wave gates decide (lib/sync/waveGate.ts): the target then reports a
   * failed sync as its `deployment` outcome instead of failing. Not desired state: never compared.
   */
  rolloutRun?: string;
}

/** Outputs beyond the inputs. */
export interface TargetOutputs extends TargetInputs {
  /** Commit the target holds ("" when none). */
  revision: string;
  filesTransferred: number;
  bytesTransferred: number;
  syncedAt: string;
  /** How the tree differs from `revision`'s, as last seen (see drift.ts). */
  drift: Drift;
  /** In a gated rollout: what the last switch or failure was (see {@link TargetInputs.rolloutRun}). */
  deployment?: DeployOutcome;
}

/** A check failure: property + reason. */
export interface InputFailure {
  property: string;
  reason: string;
}

/** Drops undefined values: the engine's protobuf Struct cannot carry them ("Unexpected struct type"). */
export function plain<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** True when any input is still unknown (preview with Outputs of other resources). */
export function hasUnknowns(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(hasUnknowns);
  if (v && typeof v === "object") return Object.values(v).some(hasUnknowns);
  return false;
}

/** Fills defaults into raw inputs. */
export function normalizeInputs(raw: Record<string, unknown>): TargetInputs {
  const scan = (raw.secretScan ?? {}) as Partial<SecretScanInputs>;
  return {
    vm: String(raw.vm ?? ""),
    host: String(raw.host ?? ""),
    port: typeof raw.port === "number" ? raw.port : defaultOf<number>("vm", "ssh_port"),
    user: String(raw.user ?? ""),
    keyPath: String(raw.keyPath ?? ""),
    knownHostsPath: String(raw.knownHostsPath ?? ""),
    // Absent when not given (existing stacks keep identical inputs); given, even empty, it is kept for
    // validateInputs to judge: never the known_hosts route by accident.
    ...(raw.hostKey !== undefined && raw.hostKey !== null ? { hostKey: typeof raw.hostKey === "string" ? raw.hostKey : JSON.stringify(raw.hostKey) } : {}),
    connectTimeoutS: typeof raw.connectTimeoutS === "number" ? raw.connectTimeoutS : defaultOf<number>("ssh", "connect_timeout_s"),
    acceptNewHostKeys: raw.acceptNewHostKeys === true,
    path: String(raw.path ?? ""),
    repoPath: String(raw.repoPath ?? ""),
    branch: String(raw.branch ?? defaultOf<string>("repository", "default_branch")),
    commit: String(raw.commit ?? ""),
    excludes: Array.isArray(raw.excludes) ? raw.excludes.map(String) : [],
    excludeDotGit: raw.excludeDotGit !== false,
    secretScan: {
      enabled: scan.enabled !== false,
      configPath: scan.configPath || undefined,
      blockOnSecrets: scan.blockOnSecrets !== false,
      // Left out when false: the stored state must compare equal to what the program sends (see index.ts).
      ...(scan.ignoreInlineAllow === true ? { ignoreInlineAllow: true } : {}),
    },
    force: raw.force === undefined || raw.force === null ? "" : String(raw.force),
    adoptExisting: raw.adoptExisting === true,
    maxDelete: typeof raw.maxDelete === "number" ? raw.maxDelete : undefined,
    // Left out when unset: stacks that never used it keep identical inputs.
    ...(typeof raw.bwlimitKbps === "number" ? { bwlimitKbps: raw.bwlimitKbps } : {}),
    ...(Array.isArray(raw.jumpHosts) && raw.jumpHosts.length > 0 ? { jumpHosts: raw.jumpHosts.map(jumpHostOf) } : {}),
    ...(raw.sudo === true ? { sudo: true } : {}),
    ...(raw.noUserSshConfig === true ? { noUserSshConfig: true } : {}),
    // Any other value is kept, for validateInputs to name it (never taken as in place silently).
    ...(raw.layout !== undefined && raw.layout !== null && raw.layout !== "in_place" ? { layout: String(raw.layout) as "releases", keepReleases: typeof raw.keepReleases === "number" ? raw.keepReleases : defaultOf<number>("repository", "keep_releases") } : {}),
    ...optionalStrings(raw, ["rsyncPath", "owner", "group", "chmod", "ref", "refKind"]),
    lockTimeoutS: typeof raw.lockTimeoutS === "number" ? raw.lockTimeoutS : defaultOf<number>("repository", "lock_timeout_s"),
    ioTimeoutS: typeof raw.ioTimeoutS === "number" ? raw.ioTimeoutS : defaultOf<number>("repository", "io_timeout_s"),
    removeOnDelete: raw.removeOnDelete === true,
    checksum: raw.checksum === true,
    observed: typeof raw.observed === "string" ? raw.observed : undefined,
    observedState: typeof raw.observedState === "string" ? raw.observedState : undefined,
    probePlan: typeof raw.probePlan === "string" && raw.probePlan !== UNKNOWN ? raw.probePlan : undefined,
    logUrn: typeof raw.logUrn === "string" && raw.logUrn.startsWith("urn:pulumi:") ? raw.logUrn : undefined,
    ...(typeof raw.rolloutRun === "string" && raw.rolloutRun !== "" && raw.rolloutRun !== UNKNOWN ? { rolloutRun: raw.rolloutRun } : {}),
  };
}

/** The named keys of `raw` that hold non-empty strings (absent ones stay absent: stable inputs). */
function optionalStrings<K extends string>(raw: Record<string, unknown>, keys: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const k of keys) if (typeof raw[k] === "string" && raw[k] !== "") out[k] = raw[k];
  return out;
}

/** A hop as the engine hands it back (a plain object). */
function jumpHostOf(raw: unknown): JumpHost {
  const h = (raw ?? {}) as Record<string, unknown>;
  return { host: String(h.host ?? ""), port: typeof h.port === "number" ? h.port : defaultOf<number>("hop", "port"), user: String(h.user ?? ""), keyPath: String(h.keyPath ?? "") };
}

/** The value of a dotted input name (`secretScan.enabled`) in `i`. */
function inputValue(i: TargetInputs, name: string): unknown {
  return name.split(".").reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined), i);
}

/** Scalar settings that reach a target's inputs, once per input (`keyPath` has two rows, one check). */
const CHECKED_INPUTS = SETTINGS.filter((s, n) => s.input && ["boolean", "integer", "string", "choice", "path", "sshFile"].includes(s.kind.type) && SETTINGS.findIndex((r) => r.input === s.input) === n);

/**
 * Validates inputs; every problem is returned (unknown values are skipped). Each setting's own check
 * comes from the schema, as the YAML's does; what is checked here is what the resource adds (absolute
 * paths, the commit, the ref) or what spans inputs.
 */
export function validateInputs(i: TargetInputs): InputFailure[] {
  const f: InputFailure[] = [];
  const known = (v: unknown) => v !== UNKNOWN;
  const add = (property: string, reason: string) => f.push({ property, reason: `${i.vm || "target"}: ${reason}` });
  if (!VM_ID.test(i.vm)) add("vm", `${JSON.stringify(i.vm)} is not a valid VM id`);
  for (const s of CHECKED_INPUTS) {
    const v = inputValue(i, s.input ?? "");
    // "" is how an optional string input is left out (force, rsyncPath...).
    if (v === undefined || !known(v) || (v === "" && !s.required)) continue;
    const why = valueProblem(s, v, "input");
    if (why) add(s.input ?? "", why);
  }
  // Given but empty (an Output that resolved to ""): never the known_hosts route by accident.
  if (i.hostKey === "") add("hostKey", "hostKey is empty: give the VM's public host key (ssh-ed25519 AAAA...), or leave hostKey out to use known_hosts");
  if (known(i.host)) {
    const why = invalidHostReason(i.host);
    if (why) add("host", `${JSON.stringify(i.host)} ${why}`);
  }
  if (known(i.path)) {
    const why = unsafeTargetPathReason(i.path);
    if (why) add("path", `target path ${JSON.stringify(i.path)} ${why}`);
  }
  if (i.ref !== undefined && known(i.ref)) {
    const why = invalidRefReason(i.ref);
    if (why) add("ref", `ref ${JSON.stringify(i.ref)} ${why}`);
  }
  if (i.refKind !== undefined && known(i.refKind) && !["branch", "tag", "commit"].includes(i.refKind)) add("refKind", `${JSON.stringify(i.refKind)} is not a ref kind (branch, tag or commit)`);
  if (known(i.commit) && !/^[0-9a-f]{40}$/.test(i.commit)) add("commit", `${JSON.stringify(i.commit)} is not a full 40-hex commit hash (resolve it in the program)`);
  i.excludes.forEach((e, n) => {
    const why = known(e) ? invalidExcludeReason(e) : undefined;
    if (why) add(`excludes[${n}]`, `${JSON.stringify(e)} ${why}`);
  });
  for (const [prop, v] of [["keyPath", i.keyPath], ["knownHostsPath", i.knownHostsPath], ["repoPath", i.repoPath]] as const) {
    if (known(v) && !v.startsWith("/")) add(prop, `${JSON.stringify(v)} must be an absolute path`);
  }
  for (const [prop, v] of [["keyPath", i.keyPath], ["knownHostsPath", i.knownHostsPath]] as const) {
    const why = known(v) ? invalidSshFilePathReason(v) : undefined;
    if (why) add(prop, `${JSON.stringify(v)} ${why}`);
  }
  (i.jumpHosts ?? []).forEach((h, n) => {
    const why = jumpHostProblem(h);
    if (why) add(`jumpHosts[${n}]`, `jump host ${n + 1}: ${why}`);
  });
  if (i.layout === "releases" && i.excludes.every(known)) {
    for (const { index, reason } of sharedPathsProblems(i.excludes)) if (!invalidExcludeReason(i.excludes[index])) add(`excludes[${index}]`, `${JSON.stringify(i.excludes[index])} ${reason}`);
  }
  // Ownership needs root on the VM: a user that came from another resource is checked here.
  for (const k of ["owner", "group"] as const) {
    if (i[k] !== undefined && known(i.user) && i.user !== "root" && !i.sudo) add(k, `needs root on ${i.vm} to set ownership (it logs in as ${i.user}): set sudo, or log in as root`);
  }
  return f;
}

/**
 * The Target fields a RepoSyncTarget takes as inputs of the same name: how to reach the VM and how its
 * directory is laid out. One list for both directions (the component's Target -> inputs, the
 * provider's inputs -> Target); test/unit/settingsSchema.test.ts checks it against what the config
 * loader builds, so a new connection setting cannot be left out of one of them.
 */
export const TARGET_INPUTS = [
  "vm", "host", "port", "user", "keyPath", "knownHostsPath", "hostKey", "connectTimeoutS", "acceptNewHostKeys", "path",
  "bwlimitKbps", "jumpHosts", "sudo", "rsyncPath", "noUserSshConfig", "layout", "keepReleases",
] as const satisfies readonly (keyof Target)[];

/** The {@link TARGET_INPUTS} of `from` that are set (an unset one stays absent: stable inputs for older stacks). */
export function targetInputsOf(from: Pick<Target, (typeof TARGET_INPUTS)[number]>): Pick<Target, (typeof TARGET_INPUTS)[number]> {
  const out: Record<string, unknown> = {};
  for (const k of TARGET_INPUTS) if (from[k] !== undefined) out[k] = from[k];
  // Every required field is set (the argument's type says so); optional ones only when given.
  return out as Pick<Target, (typeof TARGET_INPUTS)[number]>;
}

/** The library Target for these inputs. */
export function toTarget(i: TargetInputs): Target {
  const shared = i.layout === "releases" && i.excludes.length > 0 ? { shared: sharedPaths(i.excludes) } : {};
  return { ...targetInputsOf(i), ...shared };
}

/** What the source side needs for this target's commit (export, scan, transfer spec). */
export function toSourceSettings(i: TargetInputs): SourceSettings {
  return {
    mainRepoPath: i.repoPath, defaultBranch: i.branch, excludeDotGit: i.excludeDotGit, rsyncExcludes: i.excludes,
    // A resource pushes one resolved commit: never a worktree.
    sourceMode: "commit", allowDirty: false,
    secretScanning: { enabled: i.secretScan.enabled, tool: "gitleaks", configPath: i.secretScan.configPath, blockOnSecrets: i.secretScan.blockOnSecrets, ignoreInlineAllow: i.secretScan.ignoreInlineAllow === true },
    maxDelete: i.maxDelete, ioTimeoutS: i.ioTimeoutS, owner: i.owner, group: i.group, chmod: i.chmod,
  };
}

/** "1a2b3c4d5e6f (tag v1)": the commit a target is converged onto and the ref that named it. */
export function deployedFrom(i: Pick<TargetInputs, "commit" | "branch" | "ref" | "refKind">): string {
  const kind = i.refKind === "tag" || i.refKind === "commit" ? i.refKind : "branch";
  return `${i.commit.slice(0, 12)} (${describeRef(kind, i.ref ?? i.branch)})`;
}

/** Inputs whose change means a different target: replace instead of update. */
export const REPLACE_ON = ["host", "port", "path"] as const;

/**
 * Inputs compared for "the user changed something" (observed is live state, not a user input): the
 * schema's desired state, plus the VM and the commit. `hostKey` (a schema row) is how to reach the VM,
 * yet compared: a new key is shown in the preview (a key change is never taken in silently: check()
 * also probes with it, and a VM that shows another key fails there), and the update stores it, so that
 * `refresh` and `destroy`, which connect with the state's key, trust the new one. Absent on both sides
 * (no key given) compares equal: no diff for older stacks.
 */
export const COMPARED_INPUTS: readonly string[] = ["vm", "commit", ...comparedInputs()];

/**
 * The diff decision (pure): replace when the target moved, update when an input changed or the live
 * probe of this run (`observedState`) did not find the target in sync at the commit. Unknown live
 * state (inputs not known in preview) counts as a change: never a silent "no changes".
 */
export function decideDiff(olds: Record<string, unknown>, news: Record<string, unknown>): { changes: boolean; replaces: string[]; deleteBeforeReplace: boolean } {
  const replaces = REPLACE_ON.filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
  const inputsChanged = COMPARED_INPUTS.some((k) => JSON.stringify(olds[k] ?? null) !== JSON.stringify(news[k] ?? null));
  const live = news.observedState !== "in-sync" || olds.revision !== news.commit;
  return { changes: replaces.length > 0 || inputsChanged || live, replaces, deleteBeforeReplace: false };
}
