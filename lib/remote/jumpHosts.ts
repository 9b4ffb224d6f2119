/**
 * Jump hosts (bastions): the hops of a Target, as OpenSSH's ProxyJump, with each hop pinned and keyed
 * like the VM itself. OpenSSH applies command-line `-o` options to the destination only; a ProxyJump
 * hop's own ssh is started with nothing but the `-F` file of its parent. So every hop gets a `Host`
 * block in a config file written for the connection (next to its control socket), and the chain is
 * `ProxyJump` from block to block (pure, apart from the caller writing the file).
 */
import { invalidHostReason, invalidSshFilePathReason, invalidUserReason } from "../config/safety";
import type { JumpHost, Target } from "../config/types";
import { sshWhere } from "./sshErrors";
import { pinnedOptions, sshFileValue } from "./sshOptions";

/** The config file of a connection, beside its control socket (`<socket>.jump.conf`). */
export function jumpConfigPath(controlPath: string): string {
  return `${controlPath}.jump.conf`;
}

/** The alias of hop `i` in that file. */
export function hopAlias(i: number): string {
  return `repo-sync-hop-${i}`;
}

/** Why a complete hop cannot be used, or undefined (pure). */
export function jumpHostProblem(h: JumpHost): string | undefined {
  const host = invalidHostReason(h.host);
  if (host) return `host ${JSON.stringify(h.host)} ${host}`;
  const user = invalidUserReason(h.user);
  if (user) return `user ${JSON.stringify(h.user)} ${user}`;
  if (!Number.isInteger(h.port) || h.port < 1 || h.port > 65535) return `port ${h.port} is not from 1 to 65535`;
  const key = invalidSshFilePathReason(h.keyPath);
  if (key) return `key ${JSON.stringify(h.keyPath)} ${key}`;
  return undefined;
}

/** The `-F` file for a target with hops: one block per hop, each jumping through the one before. */
export function jumpConfigText(t: Target): string {
  const hops = t.jumpHosts ?? [];
  const blocks = hops.map((h, i) => {
    const why = jumpHostProblem(h);
    if (why) throw new Error(`${t.vm}: jump host ${i + 1}: ${why}`);
    return [
      `Host ${hopAlias(i)}`,
      `  HostName ${h.host}`,
      `  Port ${h.port}`,
      `  User ${h.user}`,
      `  IdentityFile ${sshFileValue("IdentityFile", h.keyPath)}`,
      ...pinnedOptions(t).map(([name, value]) => `  ${name} ${value}`),
      "  ControlMaster no",
      "  ControlPath none",
      "  LogLevel ERROR",
      ...(i > 0 ? [`  ProxyJump ${hopAlias(i - 1)}`] : []),
    ].join("\n");
  });
  // Nothing else: the user's ~/.ssh/config is not read for a connection with hops (-F replaces it).
  return `# written by repo-sync for ${t.vm}: its jump hosts, first hop first\n${blocks.join("\n\n")}\n`;
}

/** `user@host:port` of every hop, as messages name the path. */
export function describeHops(t: Target): string {
  return (t.jumpHosts ?? []).map(sshWhere).join(" -> ");
}
