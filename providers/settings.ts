/**
 * The RepoSync component's settings, however the program gives them: a YAML file (`configPath`), the
 * typed camelCase arguments (`ssh`, `vms`, `repository`: providers/settingsArgs.ts, generated from the
 * schema), or the YAML's data inline (`config`). One validation for all three (config/validate.ts),
 * with messages that name the keys as the program wrote them. Values that come from other resources
 * (a VM's host, port, user: `vms.<id>` Inputs or `hosts`) are taken out before validation and
 * checked by the provider when they are known.
 */
import * as pulumi from "@pulumi/pulumi";
import { checkLocalFiles, ConfigError, loadConfig, parseConfigDocument } from "../lib/config/load";
import { overlapProblems, sameAddress } from "../lib/config/overlap";
import { camelPath } from "../lib/config/schema";
import { invalidHostKeyReason } from "../lib/config/hostKey";
import type { Config, ConfigProblem } from "../lib/config/types";
import type { RepositoryArgs, SshArgs, VmArgs } from "./settingsArgs";

/** A VM's address and, optionally, its host key: each an Input (an Output of the resource that creates the VM). */
export interface HostAddress {
  host: pulumi.Input<string>;
  port?: pulumi.Input<number>;
  /**
   * The VM's public host key, `ssh-ed25519 AAAA...` (a comment may follow), as @pulumi/command's
   * `connection.hostKey` takes it. Every connection to the VM (sync, probes, refresh, destroy, the
   * post-sync hook) then trusts exactly this key, and needs no known_hosts line for it (jump hosts
   * still do). A wrong key is refused as a changed host key, and nothing moves on that VM.
   */
  hostKey?: pulumi.Input<string>;
}

/** A VM's address: a host (an Output of the resource that creates the VM), or host, port and host key. */
export type HostInput = pulumi.Input<string> | HostAddress;

/** Where the settings come from: one of `configPath`, the typed `ssh`/`vms`/`repository`, or `config`. */
export interface SettingsArgs {
  /** The YAML config file (configs/config.yml format); relative to the program's folder. */
  configPath?: string;
  /** How every VM is reached (typed settings; YAML `ssh`). */
  ssh?: SshArgs;
  /** The VMs, by id (typed settings; YAML `vms`). */
  vms?: Record<string, VmArgs>;
  /** What is pushed, and how (typed settings; YAML `repository`). */
  repository?: RepositoryArgs;
  /**
   * The YAML document's data inline (`{ ssh, vms, repository }`, snake_case keys).
   * @deprecated use the typed `ssh`, `vms` and `repository` arguments (checked by the compiler).
   */
  config?: Record<string, unknown>;
  /**
   * Addresses per VM id, typically Outputs of the resources that create the VMs; they win over
   * `vms.<id>.host`, which may then be left out. The VM's targets wait on them.
   */
  hosts?: Record<string, HostInput>;
}

/** What the program supplies for a VM as Inputs (known, at the latest, when the VM exists). */
export interface SuppliedVm {
  host?: pulumi.Input<string>;
  port?: pulumi.Input<number>;
  user?: pulumi.Input<string>;
  hostKey?: pulumi.Input<string>;
}

/** The validated settings, and what the program supplies per VM. */
export interface LoadedSettings {
  config: Config;
  supplied: Record<string, SuppliedVm>;
}

/** True for a value that is not known yet when the program runs (an Output or a Promise). */
function isPending(v: unknown): boolean {
  return pulumi.Output.isInstance(v) || v instanceof Promise;
}

/** The typed `vms`, with the Inputs that are not plain values taken out (validated later by the provider). */
function splitVms(vms: Record<string, VmArgs>): { plain: Record<string, unknown>; supplied: Record<string, SuppliedVm> } {
  const plain: Record<string, unknown> = {};
  const supplied: Record<string, SuppliedVm> = {};
  for (const [id, vm] of Object.entries(vms)) {
    if (typeof vm !== "object" || vm === null) {
      plain[id] = vm;
      continue;
    }
    const rest: Record<string, unknown> = { ...vm };
    const s: SuppliedVm = {};
    if (isPending(vm.host)) (s.host = vm.host), delete rest.host;
    if (isPending(vm.sshPort)) (s.port = vm.sshPort), delete rest.sshPort;
    if (isPending(vm.sshUser)) (s.user = vm.sshUser), delete rest.sshUser;
    if (isPending(vm.hostKey)) (s.hostKey = vm.hostKey), delete rest.hostKey;
    plain[id] = rest;
    if (Object.keys(s).length > 0) supplied[id] = s;
  }
  return { plain, supplied };
}

/** `hosts` entries as supplied addresses. */
function fromHosts(hosts: Record<string, HostInput>): Record<string, SuppliedVm> {
  const out: Record<string, SuppliedVm> = {};
  for (const [vm, h] of Object.entries(hosts)) {
    out[vm] = typeof h === "object" && h !== null && "host" in h ? { host: h.host, ...(h.port !== undefined ? { port: h.port } : {}), ...(h.hostKey !== undefined ? { hostKey: h.hostKey } : {}) } : { host: h };
  }
  return out;
}

/** A supplied address given as plain values (not Outputs), or nothing. */
function plainAddress(s: SuppliedVm | undefined): { host: string; port?: number } | undefined {
  if (typeof s?.host !== "string") return undefined;
  return { host: s.host, ...(typeof s.port === "number" ? { port: s.port } : {}) };
}

/** What names the typed settings in messages, and the fix line for them. */
const TYPED = "the RepoSync arguments";
const TYPED_HINT = "fix the settings listed above; each is documented on its type (SshArgs, VmArgs, RepositoryArgs) and in the README's settings table";

/** The error for problems of the typed settings: their keys named as the program wrote them. */
function typedError(problems: ConfigProblem[]): ConfigError {
  return new ConfigError(TYPED, problems.map((p) => ({ ...p, key: camelPath(p.key) })), TYPED_HINT);
}

/** Runs `fn`; a ConfigError it throws names its keys as the typed arguments write them. */
function camelProblems<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConfigError) throw typedError(err.problems);
    throw err;
  }
}

/**
 * The settings, with every problem at once: the schema's, a `hosts` entry for a VM that is not a
 * push target, a push target with no host anywhere, then the local files (keys, known_hosts of the
 * hosts known now, source repo). A VM whose host is supplied is checked against known_hosts on connect.
 */
export function loadSettings(args: SettingsArgs): LoadedSettings {
  const typed = args.ssh !== undefined || args.vms !== undefined || args.repository !== undefined;
  const given = [args.configPath !== undefined && "configPath", args.config !== undefined && "config", typed && "ssh/vms/repository"].filter((x): x is string => x !== false);
  if (given.length > 1) throw new ConfigError(TYPED, [{ key: "(arguments)", message: `give the settings one way, not ${given.join(" and ")}` }], "keep one of them");
  const { plain, supplied: fromVms } = typed ? splitVms(args.vms ?? {}) : { plain: {}, supplied: {} };
  const hosts = fromHosts(args.hosts ?? {});
  const supplied: Record<string, SuppliedVm> = { ...fromVms };
  for (const [vm, s] of Object.entries(hosts)) supplied[vm] = { ...supplied[vm], ...s };
  const usersSupplied = new Set(Object.entries(supplied).filter(([, s]) => s.user !== undefined).map(([vm]) => vm));
  const options = { hostsSupplied: true, checkLocalFiles: false, usersSupplied };
  const file = typed || args.config ? "<inline>" : (args.configPath ?? "configs/config.yml");
  const loaded = typed
    ? camelProblems(() => parseConfigDocument({ ssh: args.ssh, vms: plain, repository: args.repository }, file, { ...options, naming: "camel" }))
    : args.config ? parseConfigDocument(args.config, file, options) : loadConfig(file, options);
  const config: Config = { ...loaded, targets: loaded.targets.map((t) => (supplied[t.vm]?.host !== undefined ? { ...t, host: "" } : t)) };
  const problems: ConfigProblem[] = [];
  const targetIds = new Set(config.targets.map((t) => t.vm));
  for (const vm of Object.keys(hosts)) {
    if (!targetIds.has(vm)) problems.push({ key: `hosts.${vm}`, message: `names no push target (push targets: ${[...targetIds].join(", ")})` });
  }
  // A key given as a plain value is checked now, named where it was given (an Output: by the provider).
  for (const [vm, h] of Object.entries(hosts)) {
    const why = typeof h.hostKey === "string" ? invalidHostKeyReason(h.hostKey) : undefined;
    if (why) problems.push({ key: `hosts.${vm}.hostKey`, message: why });
  }
  for (const t of config.targets) {
    if (t.host === "" && supplied[t.vm]?.host === undefined) problems.push({ key: `vms.${t.vm}.host`, message: "is not set, and RepoSync's `hosts` has no entry for it; set one of the two" });
  }
  problems.push(...checkLocalFiles(config));
  // Hosts the program gives as plain values are known now: the same overlap check as the YAML's.
  const plainTargets = config.targets.map((t) => ({ ...t, ...plainAddress(supplied[t.vm]) }));
  problems.push(...overlapProblems(plainTargets, sameAddress).filter((p) => !problems.some((q) => q.message === p.message)));
  if (problems.length > 0) throw typed ? typedError(problems) : new ConfigError(loaded.file, problems);
  return { config, supplied };
}
