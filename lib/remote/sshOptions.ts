/**
 * The OpenSSH options that pin and bound every connection repo-sync makes, written once: as `-o`
 * arguments for the VM itself (transfer/rsyncArgs.ts) and as config lines for each jump host, whose
 * ssh reads only a `-F` file (remote/jumpHosts.ts). Pure.
 */
import { invalidSshFilePathReason } from "../config/safety";
import type { Target } from "../config/types";
import { RepoSyncError } from "../errors";
import { pinnedHostName } from "../config/hostKey";

/**
 * A local path as the value of an OpenSSH option: double-quoted (ssh splits values at spaces) with
 * `%` doubled (ssh expands `%` tokens in IdentityFile and UserKnownHostsFile). Paths that cannot be
 * carried literally are refused.
 */
export function sshFileValue(name: string, p: string): string {
  const why = invalidSshFilePathReason(p);
  if (why) throw new RepoSyncError("config", `the ${name} path ${JSON.stringify(p)} ${why}`, { hint: "rename the file or move it to a path without quotes, backslashes or `${`" });
  return `"${p.replace(/%/g, "%%")}"`;
}

/** `Name="path"` for `-o` (see {@link sshFileValue}). */
export function sshFileOption(name: string, p: string): string {
  return `${name}=${sshFileValue(name, p)}`;
}

/** Key-only, non-interactive, pinned host keys, bounded waits: the same for the VM and every hop. */
export function pinnedOptions(t: Pick<Target, "acceptNewHostKeys" | "knownHostsPath" | "connectTimeoutS">): Array<[string, string]> {
  return [
    ["BatchMode", "yes"],
    ["IdentitiesOnly", "yes"],
    ["StrictHostKeyChecking", t.acceptNewHostKeys ? "accept-new" : "yes"],
    ["UserKnownHostsFile", sshFileValue("UserKnownHostsFile", t.knownHostsPath)],
    ["GlobalKnownHostsFile", "/dev/null"],
    ["ConnectTimeout", String(t.connectTimeoutS)],
    ["ServerAliveInterval", "5"],
    ["ServerAliveCountMax", "3"],
    // Pinned keys stay readable (Debian's ssh_config hashes them), like the ones repo-sync's config check reads.
    ["HashKnownHosts", "no"],
  ];
}

/**
 * The options for the VM itself: {@link pinnedOptions} against known_hosts, or, for a target with a
 * given host key, against its private file alone (remote/pinnedHostKey.ts), strictly whatever
 * `accept_new_host_keys` says (that setting is for keys nobody gave). The lookup name is fixed by
 * `HostKeyAlias` (however ssh or a user's config would spell the host), and every other way ssh
 * could learn or trust a key is off: the IP's own line, keys the server announces, DNS, a command.
 */
export function targetOptions(t: Target): Array<[string, string]> {
  if (t.hostKey === undefined) return pinnedOptions(t);
  if (!t.hostKeyFile) {
    throw new RepoSyncError("config", `a connection to ${t.vm} with a given hostKey has no pinned known_hosts file (a bug in repo-sync; please report it)`, { vm: t.vm });
  }
  return [
    ...pinnedOptions({ ...t, knownHostsPath: t.hostKeyFile, acceptNewHostKeys: false }),
    ["HostKeyAlias", pinnedHostName(t.host, t.port)],
    ["CheckHostIP", "no"],
    ["UpdateHostKeys", "no"],
    ["VerifyHostKeyDNS", "no"],
    ["KnownHostsCommand", "none"],
  ];
}
