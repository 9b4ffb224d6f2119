/**
 * `ssh.config_path`: the user's OpenSSH client config, read the way OpenSSH itself reads it. `ssh -G`
 * evaluates the file for a host (Host and Match blocks, first value wins, `%h` in HostName) and prints
 * the result; run once more with `-F /dev/null`, it prints OpenSSH's defaults, so the lines that differ
 * are what the file sets. This module builds those arguments, parses the output and merges the result
 * into a VM's connection settings (pure); config/resolveSshConfig.ts runs ssh.
 */
import { parseJumpHost } from "./jumpHost";
import type { ExplicitKeys, JumpHost, JumpHostSpec } from "./types";

/** The options repo-sync takes from the file: the ones that decide where and as whom it connects. */
export interface SshConfigValues {
  /** Always present: the alias itself when the file sets no HostName. */
  hostname: string;
  port?: number;
  user?: string;
  /** IdentityFile entries as written (`~` and `%` tokens not yet expanded). */
  identityFiles?: string[];
  /** ProxyJump as written (`none`: direct). */
  proxyJump?: string;
  /** ProxyCommand, which repo-sync cannot honour (its hops must be pinned and named). */
  proxyCommand?: string;
  /** UserKnownHostsFile as printed: paths separated by spaces (a path may hold spaces too). */
  userKnownHostsFiles?: string;
}

/** `ssh -G` for one host: `/dev/null` as `configPath` gives OpenSSH's defaults (pure). */
export function sshGArgs(configPath: string, host: string): string[] {
  return ["-G", "-F", configPath, "--", host];
}

/** `ssh -G` output: `keyword value` lines, keywords in lower case, repeated keywords kept in order (pure). */
export function parseSshG(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const m = /^([a-z0-9]+) (.*)$/.exec(line.replace(/\r$/, ""));
    if (!m) continue;
    const list = out.get(m[1]) ?? [];
    list.push(m[2]);
    out.set(m[1], list);
  }
  return out;
}

/**
 * What the file sets for a host: the options whose values differ from OpenSSH's defaults (pure).
 * `configured` is `ssh -G -F <file>`'s parsed output, `defaults` that of `ssh -G -F /dev/null`.
 */
export function configuredValues(configured: Map<string, string[]>, defaults: Map<string, string[]>, alias: string): SshConfigValues {
  const differs = (k: string): string[] | undefined => {
    const a = configured.get(k);
    return a !== undefined && a.join("\n") !== (defaults.get(k) ?? []).join("\n") ? a : undefined;
  };
  const port = differs("port")?.[0];
  const proxyJump = configured.get("proxyjump")?.[0];
  return {
    hostname: configured.get("hostname")?.[0] ?? alias,
    ...(port !== undefined ? { port: Number(port) } : {}),
    ...(differs("user") ? { user: differs("user")?.[0] } : {}),
    ...(differs("identityfile") ? { identityFiles: differs("identityfile") } : {}),
    ...(proxyJump !== undefined ? { proxyJump } : {}),
    ...(configured.get("proxycommand") ? { proxyCommand: configured.get("proxycommand")?.[0] } : {}),
    ...(differs("userknownhostsfile") ? { userKnownHostsFiles: differs("userknownhostsfile")?.[0] } : {}),
  };
}

/** What `%` tokens and `~` in IdentityFile / UserKnownHostsFile stand for, as OpenSSH expands them. */
export interface TokenValues {
  home: string;
  localUser: string;
  uid: number;
  localHost: string;
  /** The alias as written (`%n`). */
  alias: string;
  hostname: string;
  port: number;
  user: string;
}

/** Expands `~` and the `%` tokens OpenSSH allows in these paths; an unknown token is an error (pure). */
export function expandSshPath(value: string, v: TokenValues): string | { problem: string } {
  const tokens: Record<string, string> = {
    "%": "%", d: v.home, h: v.hostname, i: String(v.uid), l: v.localHost, L: v.localHost.split(".")[0],
    n: v.alias, p: String(v.port), r: v.user, u: v.localUser,
  };
  let bad: string | undefined;
  const expanded = value.replace(/%(.)/g, (all, t: string) => {
    if (t in tokens) return tokens[t];
    bad ??= all;
    return all;
  });
  if (bad) return { problem: `${JSON.stringify(value)} uses the token ${bad}, which repo-sync does not expand (supported: %% %d %h %i %l %L %n %p %r %u)` };
  if (/%$/.test(value.replace(/%%/g, ""))) return { problem: `${JSON.stringify(value)} ends in a lone %` };
  return expanded === "~" ? v.home : expanded.startsWith("~/") ? `${v.home}/${expanded.slice(2)}` : expanded;
}

/**
 * ProxyJump as hops, first hop first: `none` is direct; each of `[user@]host[:port]` or
 * `ssh://[user@]host[:port]`, comma-separated (pure).
 */
export function parseProxyJump(value: string): JumpHostSpec[] | { problem: string } {
  if (value === "none") return [];
  const hops: JumpHostSpec[] = [];
  for (const part of value.split(",")) {
    const parsed = parseJumpHost(part.trim().replace(/^ssh:\/\//, "").replace(/\/$/, ""));
    if ("problem" in parsed) return { problem: `ProxyJump ${JSON.stringify(value)}: ${parsed.problem}` };
    hops.push(parsed);
  }
  return hops;
}

/** A VM's connection as the YAML left it: `""` user when the YAML does not set one. */
export interface YamlConnection {
  user: string;
  port: number;
  keyPath: string;
  knownHostsPath: string;
  explicit: ExplicitKeys;
}

/**
 * The VM's connection with the file's values where the YAML sets nothing (pure): the YAML wins like
 * ssh's command line; OpenSSH's defaults (local user name, port 22) stand in for what neither sets.
 * `identity` and `knownHosts` are the file's values already expanded; `localUser` is ssh's default user.
 */
export function mergeConnection(y: YamlConnection, file: SshConfigValues, expanded: { identity?: string; knownHosts?: string }, localUser: string): { host: string; port: number; user: string; keyPath: string; knownHostsPath: string } {
  return {
    host: file.hostname,
    port: y.explicit.port ? y.port : file.port ?? y.port,
    user: y.explicit.user ? y.user : file.user ?? localUser,
    keyPath: y.explicit.keyPath ? y.keyPath : expanded.identity ?? y.keyPath,
    knownHostsPath: y.explicit.knownHostsPath ? y.knownHostsPath : expanded.knownHosts ?? y.knownHostsPath,
  };
}

/** A hop completed from the spec, then the file's values for its alias, then the VM's user and key (pure). */
export function mergeHop(spec: JumpHostSpec, file: SshConfigValues, identity: string | undefined, vm: { user: string; keyPath: string }): JumpHost {
  return {
    host: file.hostname,
    port: spec.port ?? file.port ?? 22,
    user: spec.user ?? file.user ?? vm.user,
    keyPath: spec.keyPath ?? identity ?? vm.keyPath,
  };
}
