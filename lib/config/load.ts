/**
 * Reads `configs/config.yml`, validates it, and checks the local files it names (keys, known_hosts,
 * the source repo) so that every problem is reported at once, before anything touches a VM.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RepoSyncError } from "../errors";
import { findHostKeys, KnownHostEntry, parseKnownHosts } from "./knownHosts";
import { overlapProblems, sameAddress } from "./overlap";
import { resolveSshConfig } from "./resolveSshConfig";
import type { Config, ConfigProblem } from "./types";
import { validateConfig } from "./validate";
import { MAX_CONFIG_BYTES, parseYamlText } from "./yamlText";
import { isDirectory } from "../paths";

export { MAX_CONFIG_BYTES } from "./yamlText";

/** The default config location, relative to the project. */
export const DEFAULT_CONFIG_PATH = "configs/config.yml";
/** A ConfigError message lists at most this many problems; `problems` keeps them all. */
const MAX_LISTED_PROBLEMS = 50;

/** A configuration that failed validation; `problems` lists each key and what is wrong with it. */
export class ConfigError extends RepoSyncError {
  readonly problems: ConfigProblem[];
  /** @param hint the fix line (default: the YAML file's). */
  constructor(file: string, problems: ConfigProblem[], hint = "fix the keys listed above; the README's settings table documents every key (configs/config.example.yml is a typical file)") {
    // A generated or hostile file can hold tens of thousands of problems; the message (also put
    // into `--json` output) stays readable, and the caller still gets every one in `problems`.
    const listed = problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => `  - ${p.key}: ${p.message}`);
    if (problems.length > MAX_LISTED_PROBLEMS) listed.push(`  - ... and ${problems.length - MAX_LISTED_PROBLEMS} more`);
    const list = listed.join("\n");
    super("config", `invalid configuration in ${file} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${list}`, {
      hint,
    });
    this.problems = problems;
  }
}

/** Options for {@link loadConfig}. */
export interface LoadOptions {
  /** Also check keys, known_hosts and the source repo on disk (default true). */
  checkLocalFiles?: boolean;
  homeDir?: string;
  /** The program supplies hosts: `vms.<id>.host` is optional (see PathContext.hostsSupplied). */
  hostsSupplied?: boolean;
  /** Where relative paths of an inline document resolve (default: the current folder). */
  baseDir?: string;
  /** VMs whose login user the program supplies (see PathContext.usersSupplied). */
  usersSupplied?: ReadonlySet<string>;
  /** `camel`: the document is the component's typed arguments (see PathContext.naming). */
  naming?: "yaml" | "camel";
}

/** Reads, parses and validates a config file; throws {@link ConfigError} listing every problem. */
export function loadConfig(file: string, options: LoadOptions = {}): Config {
  const abs = path.resolve(file);
  let text: string;
  try {
    const st = fs.statSync(abs);
    if (!st.isFile()) throw new ConfigError(abs, [{ key: "(file)", message: "is not a regular file" }]);
    if (st.size > MAX_CONFIG_BYTES) {
      throw new ConfigError(abs, [{ key: "(file)", message: `is ${st.size} bytes; a config larger than ${MAX_CONFIG_BYTES} bytes is refused` }]);
    }
    text = fs.readFileSync(abs, "utf8");
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new RepoSyncError("config", `cannot read config file ${abs}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      hint: `create it (copy configs/config.example.yml) or pass --config PATH`,
      cause: err,
    });
  }
  return parseConfigText(text, abs, options);
}

/**
 * Parses and validates config text (the file name is used for messages and relative paths).
 *
 * Every YAML failure, including the size, alias and nesting bounds, is thrown as a
 * {@link ConfigError} with the key `(yaml)`; the work is linear in the size of the text.
 */
export function parseConfigText(text: string, file: string, options: LoadOptions = {}): Config {
  const { data, problems } = parseYamlText(text);
  if (problems) throw new ConfigError(file, problems);
  return parseConfigDocument(data, file, { baseDir: path.dirname(file), ...options });
}

/**
 * Validates a config document that is already data (the YAML's shape: `ssh`, `vms`, `repository`),
 * e.g. settings given inline to the RepoSync component: the same schema, defaults and messages as a
 * file. `file` names it in messages ("<inline>").
 */
export function parseConfigDocument(data: unknown, file: string, options: LoadOptions = {}): Config {
  const ctx = { baseDir: options.baseDir ?? process.cwd(), homeDir: options.homeDir ?? os.homedir(), file, hostsSupplied: options.hostsSupplied, usersSupplied: options.usersSupplied, naming: options.naming };
  const result = validateConfig(data, ctx);
  if (!result.config) throw new ConfigError(file, result.problems);
  const resolved = resolveSshConfig(result.config, ctx.homeDir);
  if (resolved.problems.length > 0) throw new ConfigError(file, resolved.problems);
  // After ssh.config_path: two aliases may name one HostName.
  const overlapping = overlapProblems(resolved.config.targets, sameAddress);
  if (overlapping.length > 0) throw new ConfigError(file, overlapping);
  if (options.checkLocalFiles !== false) {
    const problems = checkLocalFiles(resolved.config);
    if (problems.length > 0) throw new ConfigError(file, problems);
  }
  return resolved.config;
}

/** Problems with the local files a config names: keys, known_hosts, source repo, gitleaks rules. */
export function checkLocalFiles(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const keysSeen = new Set<string>();
  for (const t of config.targets) {
    if (keysSeen.has(t.keyPath)) continue;
    keysSeen.add(t.keyPath);
    const vmKey = config.vms[t.vm].keyPath;
    const key = t.keyPath !== vmKey ? `vms.${t.vm}.host (IdentityFile in ssh.config_path)` : vmKey === config.ssh.keyPath ? "ssh.key_path" : `vms.${t.vm}.ssh_key_path`;
    const why = privateKeyProblem(t.keyPath);
    if (why) problems.push({ key, message: why });
  }
  for (const t of config.targets) {
    for (const [i, hop] of (t.jumpHosts ?? []).entries()) {
      if (keysSeen.has(hop.keyPath)) continue;
      keysSeen.add(hop.keyPath);
      const why = privateKeyProblem(hop.keyPath);
      if (why) problems.push({ key: `${jumpKey(config, t.vm)}[${i}]`, message: `key ${why}` });
    }
  }
  // Usually one known_hosts for all; ssh.config_path can name one per VM (UserKnownHostsFile).
  const byFile = new Map<string, typeof config.targets>();
  for (const t of config.targets) byFile.set(t.knownHostsPath, [...(byFile.get(t.knownHostsPath) ?? []), t]);
  for (const [file, targets] of byFile) problems.push(...knownHostsProblems(config, file, targets, problems));
  problems.push(...overlapProblems(config.targets, sameMachine()));
  const repo = config.repository.mainRepoPath;
  if (!isDirectory(repo)) problems.push({ key: "repository.main_repo_path", message: `${repo} is not a directory` });
  const rules = config.repository.secretScanning.configPath;
  if (config.repository.secretScanning.enabled && rules && !fs.existsSync(rules)) {
    problems.push({ key: "repository.secret_scanning.config_path", message: `${rules} does not exist (relative paths resolve against the config file's folder)` });
  }
  return problems;
}

/**
 * One machine behind two push targets: the same address, or a host key both are pinned to (one sshd
 * under two names or addresses; or machines cloned with one host key, which can impersonate each other).
 */
function sameMachine(): (a: Config["targets"][number], b: Config["targets"][number]) => string | undefined {
  const files = new Map<string, KnownHostEntry[]>();
  const keysOf = (t: Config["targets"][number]): Set<string> => {
    let entries = files.get(t.knownHostsPath);
    if (!entries) {
      try {
        entries = parseKnownHosts(fs.readFileSync(t.knownHostsPath, "utf8"));
      } catch {
        entries = []; // reported by knownHostsProblems
      }
      files.set(t.knownHostsPath, entries);
    }
    return new Set(findHostKeys(entries, t.host, t.port).filter((e) => !e.revoked).map((e) => `${e.keyType} ${e.key}`));
  };
  return (a, b) => {
    const byAddress = sameAddress(a, b);
    if (byAddress) return byAddress;
    const mine = keysOf(a);
    const shared = [...keysOf(b)].find((k) => mine.has(k));
    return shared ? `both pinned to one ${shared.split(" ")[0]} host key in known_hosts; if they are two machines cloned with one host key, give each its own (ssh-keygen -A on each, then update known_hosts)` : undefined;
  };
}

/** Targets (and their hops) whose host keys `file` does not pin. */
function knownHostsProblems(config: Config, file: string, targets: Config["targets"], found: ConfigProblem[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const fileKey = file === config.ssh.knownHostsPath ? "ssh.known_hosts_path" : "ssh.config_path";
  const named = fileKey === "ssh.config_path" ? `UserKnownHostsFile ${file} (from ${config.ssh.configPath})` : file;
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    // Hosts supplied by the program (not known yet) are checked against the file when connecting:
    // their keys may well be added by the step that creates the VMs.
    // A VM with a host key of its own needs no line here (its hops still do).
    if (!config.ssh.acceptNewHostKeys && targets.some((t) => t.host !== "" && (t.hostKey === undefined || (t.jumpHosts?.length ?? 0) > 0))) {
      problems.push({
        key: fileKey,
        message: `${named} cannot be read; create it with \`ssh-keyscan -p PORT HOST >> ${file}\` (check the fingerprints) or set ssh.accept_new_host_keys: true to trust on first use`,
      });
    }
    return problems;
  }
  if (config.ssh.acceptNewHostKeys) return problems;
  const entries = parseKnownHosts(text);
  for (const t of targets) {
    // A host that comes from another stack is checked when the provider connects.
    for (const [i, hop] of (t.jumpHosts ?? []).entries()) {
      const key = `${jumpKey(config, t.vm)}[${i}]`;
      if (findHostKeys(entries, hop.host, hop.port).length === 0 && ![...found, ...problems].some((p) => p.key === key)) {
        problems.push({ key, message: `jump host ${hop.host}:${hop.port} has no key in ${named}; add it with \`ssh-keyscan -p ${hop.port} ${hop.host} >> ${file}\` after checking the fingerprint` });
      }
    }
    if (t.host !== "" && t.hostKey === undefined && findHostKeys(entries, t.host, t.port).length === 0) {
      problems.push({
        key: `vms.${t.vm}.host`,
        message: `${t.host}:${t.port} has no key in ${named}; add it with \`ssh-keyscan -p ${t.port} ${t.host} >> ${file}\` after checking the fingerprint`,
      });
    }
  }
  return problems;
}

/** Why a private key file cannot be used (missing, not a file, readable by others), or undefined. */
export function privateKeyProblem(keyPath: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(keyPath);
  } catch {
    return `${keyPath} does not exist; generate one with \`ssh-keygen -t ed25519 -f ${keyPath}\` and authorize it on the VMs`;
  }
  if (!st.isFile()) return `${keyPath} is not a file`;
  if ((st.mode & 0o077) !== 0) {
    return `${keyPath} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); OpenSSH refuses such keys: run \`chmod 600 ${keyPath}\``;
  }
  return undefined;
}

/** The key that set a VM's hops: its own `jump_hosts`, or the shared one. */
function jumpKey(config: Config, vm: string): string {
  if (config.ssh.configPath && !config.vms[vm].explicit?.jumpHosts) return `vms.${vm}.host (ProxyJump in ssh.config_path)`;
  return config.vms[vm].jumpHosts !== undefined ? `vms.${vm}.jump_hosts` : "ssh.jump_hosts";
}
