/**
 * Applies `ssh.config_path` to every target whose host the YAML names: runs `ssh -G` for the VM and
 * each of its hops and merges the result (config/sshConfig.ts). Runs at load time, so every later
 * step (config check, status, sync, the Pulumi inputs) sees the resolved host, port, user, key, hops
 * and known_hosts, and the connections themselves read no client config (`-F /dev/null`).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import { invalidHostReason, invalidSshFilePathReason, invalidUserReason } from "./safety";
import { configuredValues, expandSshPath, mergeConnection, mergeHop, parseProxyJump, parseSshG, sshGArgs, type SshConfigValues } from "./sshConfig";
import type { Config, ConfigProblem, JumpHost, JumpHostSpec, Target } from "./types";
import { ownershipProblems } from "./validate";

/** The most hops a chain may have, as for `jump_hosts`. */
const MAX_HOPS = 8;
/** `ssh -G` reads files only, unless the file has `Match exec`: bounded anyway. */
const SSH_G_TIMEOUT_MS = 10_000;

/** Runs `ssh` with the given arguments: the output, or why it failed (replaceable in tests). */
export type SshGRunner = (args: string[]) => { stdout: string } | { problem: string };

/** The real runner: OpenSSH's `ssh -G`, which reads configuration and connects nowhere. */
export function runSshG(args: string[]): { stdout: string } | { problem: string } {
  const r = spawnSync("ssh", args, { encoding: "utf8", timeout: SSH_G_TIMEOUT_MS, stdio: ["ignore", "pipe", "pipe"] });
  const shown = `\`ssh ${args.join(" ")}\``;
  if (r.error) return { problem: `${shown} could not run: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}` };
  if (r.status !== 0) return { problem: `${shown} failed (exit ${r.status ?? r.signal}): ${r.stderr.replace(/\r/g, "").trim().split("\n").slice(-3).join(" / ") || "no message"}` };
  return { stdout: r.stdout };
}

/**
 * The config with each named VM's connection taken from `ssh.config_path` where the YAML is silent,
 * and problems (each naming the VM, the alias and the ssh command) when the file cannot be used.
 */
export function resolveSshConfig(config: Config, homeDir: string, run: SshGRunner = runSshG): { config: Config; problems: ConfigProblem[] } {
  const file = config.ssh.configPath;
  if (!file) return { config, problems: [] };
  const problems: ConfigProblem[] = [];
  const cache = new Map<string, SshConfigValues | { problem: string }>();
  const lookup = (alias: string): SshConfigValues | { problem: string } => {
    let v = cache.get(alias);
    if (!v) {
      const mine = run(sshGArgs(file, alias));
      const dflt = "problem" in mine ? mine : run(sshGArgs("/dev/null", alias));
      v = "problem" in mine ? mine : "problem" in dflt ? dflt : configuredValues(parseSshG(mine.stdout), parseSshG(dflt.stdout), alias);
      cache.set(alias, v);
    }
    return v;
  };
  const local = os.userInfo();
  const targets = config.targets.map((t): Target => {
    const vm = config.vms[t.vm];
    if (t.host === "" || !vm.explicit) return t; // a host supplied by the program is used as given
    const key = `vms.${t.vm}.host`;
    const fail = (message: string): Target => {
      problems.push({ key, message: `${t.vm} (${JSON.stringify(t.host)} in ssh.config_path ${file}): ${message}` });
      return t;
    };
    const v = lookup(t.host);
    if ("problem" in v) return fail(v.problem);
    if (v.proxyCommand && v.proxyJump === undefined) {
      return fail(`sets ProxyCommand, which repo-sync cannot use (every hop must be pinned and named): write the hops as ProxyJump, or as vms.${t.vm}.jump_hosts`);
    }
    const tokens = (hostname: string, port: number, user: string, alias: string) => ({ home: homeDir, localUser: local.username, uid: local.uid, localHost: os.hostname(), alias, hostname, port, user });
    const yaml = { user: t.user, port: t.port, keyPath: t.keyPath, knownHostsPath: t.knownHostsPath, explicit: vm.explicit };
    // The paths' % tokens stand for the connection's final host, port and user.
    const base = mergeConnection(yaml, v, {}, local.username);
    const tok = tokens(base.host, base.port, base.user, t.host);
    const identity = firstPath(v.identityFiles ?? [], tok, fs.existsSync);
    const knownHosts = v.userKnownHostsFiles === undefined ? undefined : knownHostsPath(v.userKnownHostsFiles, tok, fs.existsSync);
    if (identity && "problem" in identity) return fail(identity.problem);
    if (knownHosts && "problem" in knownHosts) return fail(knownHosts.problem);
    const merged = mergeConnection(yaml, v, { identity: identity?.path, knownHosts: knownHosts?.path }, local.username);
    const why = connectionProblem(merged);
    if (why) return fail(why);
    let specs: JumpHostSpec[];
    if (vm.explicit.jumpHosts) specs = vm.jumpHosts ?? config.ssh.jumpHosts;
    else {
      const parsed = v.proxyJump === undefined ? [] : parseProxyJump(v.proxyJump);
      if ("problem" in parsed) return fail(parsed.problem);
      specs = parsed;
    }
    const hops: JumpHost[] = [];
    for (const spec of specs) {
      const hv = lookup(spec.host);
      if ("problem" in hv) return fail(`jump host ${JSON.stringify(spec.host)}: ${hv.problem}`);
      const hopBase = mergeHop(spec, hv, undefined, merged);
      const hopIdentity = firstPath(hv.identityFiles ?? [], tokens(hopBase.host, hopBase.port, hopBase.user, spec.host), fs.existsSync);
      if (hopIdentity && "problem" in hopIdentity) return fail(`jump host ${JSON.stringify(spec.host)}: ${hopIdentity.problem}`);
      const hop = mergeHop(spec, hv, hopIdentity?.path, merged);
      const hopWhy = connectionProblem({ ...hop, knownHostsPath: merged.knownHostsPath });
      if (hopWhy) return fail(`jump host ${JSON.stringify(spec.host)}: ${hopWhy}`);
      hops.push(hop);
    }
    if (hops.length > MAX_HOPS) return fail(`reaches the VM through ${hops.length} hops; at most ${MAX_HOPS} are supported`);
    const { jumpHosts: _yamlHops, ...rest } = t;
    return { ...rest, ...merged, ...(hops.length > 0 ? { jumpHosts: hops } : {}), noUserSshConfig: true };
  });
  problems.push(...ownershipProblems(config.repository, targets));
  return { config: { ...config, targets }, problems };
}

/** Why a resolved connection cannot be used, or undefined. */
function connectionProblem(c: { host: string; port: number; user: string; keyPath: string; knownHostsPath: string }): string | undefined {
  const host = invalidHostReason(c.host);
  if (host) return `HostName ${JSON.stringify(c.host)} ${host}`;
  const user = invalidUserReason(c.user);
  if (user) return `User ${JSON.stringify(c.user)} ${user}`;
  if (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535) return `Port ${c.port} is not from 1 to 65535`;
  for (const [name, p] of [["IdentityFile", c.keyPath], ["UserKnownHostsFile", c.knownHostsPath]] as const) {
    const why = invalidSshFilePathReason(p);
    if (why) return `${name} ${JSON.stringify(p)} ${why}`;
  }
  return undefined;
}

/** The IdentityFile ssh would offer first: the first that exists, else the first listed (its absence is reported by the key check). */
function firstPath(list: string[], tok: Parameters<typeof expandSshPath>[1], exists: (p: string) => boolean): { path: string } | { problem: string } | undefined {
  const expanded: string[] = [];
  for (const raw of list) {
    const e = expandSshPath(raw, tok);
    if (typeof e !== "string") return e;
    expanded.push(e);
  }
  if (expanded.length === 0) return undefined;
  return { path: expanded.find(exists) ?? expanded[0] };
}

/**
 * The first UserKnownHostsFile. `ssh -G` prints the list joined by spaces, and a path may hold spaces
 * too: the shortest run of words that names an existing file wins, else the first word.
 */
function knownHostsPath(printed: string, tok: Parameters<typeof expandSshPath>[1], exists: (p: string) => boolean): { path: string } | { problem: string } {
  const words = printed.split(" ");
  for (let n = 1; n <= words.length; n++) {
    const e = expandSshPath(words.slice(0, n).join(" "), tok);
    if (typeof e === "string" && exists(e)) return { path: e };
  }
  const first = expandSshPath(words[0], tok);
  return typeof first === "string" ? { path: first } : first;
}
