/**
 * Reads why an OpenSSH connection failed (its exit code and stderr) and says it with the target's own
 * names: the VM, `user@host:port`, the known_hosts file and the command that fixes it (pure). The one
 * place for connection failures, whoever ran ssh: our target session, or rsync (whose transfer-level
 * failures are classified in transfer/rsyncErrors.ts).
 */
import type { JumpHost, Target } from "../config/types";
import { RepoSyncError } from "../errors";
import { hostKeyFingerprint, parseHostKey } from "../config/hostKey";

/** `user@host:port`, as messages name a target. */
export function sshWhere(t: Pick<Target, "user" | "host" | "port">): string {
  return `${t.user}@${t.host}:${t.port}`;
}

/** What OpenSSH said about the host key, when that is why it stopped. */
export type HostKeyProblem = "changed" | "unknown" | "revoked";

/** Reads a host key refusal out of OpenSSH's stderr (pure). */
export function hostKeyProblem(stderr: string): HostKeyProblem | undefined {
  if (/REVOKED HOST KEY|marked as revoked/i.test(stderr)) return "revoked";
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(stderr)) return "changed";
  if (/Host key verification failed|No [A-Z0-9-]+ host key is known/i.test(stderr)) return "unknown";
  return undefined;
}

/**
 * The error when stderr shows that the SSH connection to `t` itself failed (host key, key, refused,
 * unreachable, handshake timeout); undefined when it shows no such failure (pure).
 */
export function connectionFailure(t: Target, exitCode: number | null, stderr: string, command: readonly string[]): RepoSyncError | undefined {
  if (t.jumpHosts?.length) {
    const viaHop = hopFailure(t, exitCode, stderr, command);
    if (viaHop) return viaHop;
  }
  const vm = t.vm;
  const details = { vm, command, exitCode: exitCode ?? undefined, stderr: stderr.trim() || undefined };
  if (/^cannot start ssh: /m.test(stderr)) {
    return new RepoSyncError("transfer", "the OpenSSH client (ssh) cannot be started on this machine", { ...details, hint: "install it (apt-get install openssh-client)" });
  }
  const problem = hostKeyProblem(stderr);
  if (problem && t.hostKey !== undefined) return givenKeyRefused(t, details);
  if (problem) {
    const reason = {
      changed: `the host key of ${sshWhere(t)} does not match the one pinned in ${t.knownHostsPath} (possible man in the middle, or a reinstalled VM)`,
      unknown: `the host key of ${sshWhere(t)} is not in ${t.knownHostsPath}`,
      revoked: `the host key of ${sshWhere(t)} is marked @revoked in ${t.knownHostsPath}`,
    }[problem];
    const name = t.port === 22 ? t.host : `'[${t.host}]:${t.port}'`;
    return new RepoSyncError("host-key", reason, {
      ...details,
      hint:
        problem === "unknown"
          ? `check the VM's fingerprint, then \`ssh-keyscan -p ${t.port} ${t.host} >> ${t.knownHostsPath}\` (or set ssh.accept_new_host_keys: true to trust on first use)`
          : `if the VM was reinstalled, verify its new fingerprint, then \`ssh-keygen -R ${name} -f ${t.knownHostsPath}\` and add the new key`,
    });
  }
  const sudo = sudoProblem(t, stderr);
  if (sudo) return new RepoSyncError(sudo.kind, sudo.reason, { ...details, hint: sudo.hint });
  // Before auth: a key that cannot be loaded ends in "Permission denied" too.
  if (/Load key .*: bad permissions|UNPROTECTED PRIVATE KEY FILE/i.test(stderr)) {
    return new RepoSyncError("config", `the SSH key ${t.keyPath} is accessible by group or others; OpenSSH ignores such keys`, { ...details, hint: `run \`chmod 600 ${t.keyPath}\`` });
  }
  if (/Load key .*(passphrase|invalid format|error in libcrypto)|incorrect passphrase/i.test(stderr)) {
    return new RepoSyncError("config", `the SSH key ${t.keyPath} cannot be used (encrypted or not a private key)`, { ...details, hint: "use a key without a passphrase for automation, restricted on the VM (authorized_keys options)" });
  }
  if (/Permission denied \(publickey|Too many authentication failures|no mutual signature/i.test(stderr)) {
    return new RepoSyncError("auth", `${sshWhere(t)} refused the SSH key ${t.keyPath}`, {
      ...details,
      hint: `add the public key to ~${t.user}/.ssh/authorized_keys on the VM, and check ssh_user and the key path`,
    });
  }
  if (/Connection timed out during banner exchange|Connection timed out|Operation timed out/i.test(stderr)) {
    return new RepoSyncError("timeout", `no SSH handshake with ${sshWhere(t)} within ${t.connectTimeoutS} s`, { ...details, hint: "check that the VM answers on that port (a firewall dropping packets looks like this), or raise ssh.connect_timeout_s" });
  }
  if (/Connection refused/i.test(stderr)) {
    return new RepoSyncError("unreachable", `connection to ${sshWhere(t)} refused (no SSH server listening)`, { ...details, hint: "check that the VM is up and sshd listens on that address and port" });
  }
  if (/Could not resolve hostname|No route to host|Network is unreachable|Name or service not known/i.test(stderr)) {
    return new RepoSyncError("unreachable", `${t.host} cannot be reached`, { ...details, hint: "check vms.<id>.host and the network path" });
  }
  return undefined;
}

/**
 * A VM pinned to a given host key (Target.hostKey) that shows another: whether OpenSSH saw a changed
 * key or one of a type the pin lacks, the VM is not the one the program named (pure).
 */
function givenKeyRefused(t: Target, details: { vm: string; command: readonly string[]; exitCode?: number; stderr?: string }): RepoSyncError {
  const parsed = parseHostKey(t.hostKey);
  const given = "key" in parsed ? `${parsed.key.type} ${hostKeyFingerprint(parsed.key)}` : "unparsable";
  const shown = shownFingerprint(details.stderr ?? "");
  return new RepoSyncError("host-key", `the host key of ${sshWhere(t)} has changed: it is not the hostKey given for ${t.vm} (${given})${shown ? `; the VM shows ${shown}` : ""}; refused (possible man in the middle, or a VM recreated with new keys)`, {
    ...details,
    // OpenSSH's advice names repo-sync's private pin file ("Add correct host key in ...", "remove with
    // ssh-keygen -R"): not the user's to edit. The fix is the hostKey input.
    stderr: withoutPinAdvice(details.stderr),
    hint: `if ${t.vm} was recreated or its keys rotated, pass its new public host key as its hostKey (from the resource that creates it, or its /etc/ssh/ssh_host_*_key.pub checked out of band)`,
  });
}

/** "SHA256:..." of the key the server sent, as OpenSSH's changed-key warning names it (pure). */
export function shownFingerprint(stderr: string): string | undefined {
  const m = /The fingerprint for the (\S+) key sent by the remote host is\s*\n?\s*(SHA256:[A-Za-z0-9+/]+)/.exec(stderr);
  return m ? `${m[1]} ${m[2]}` : undefined;
}

/** OpenSSH's stderr without its advice to edit the known_hosts file (pure). */
function withoutPinAdvice(stderr: string | undefined): string | undefined {
  if (stderr === undefined) return undefined;
  return stderr.split("\n").filter((l) => !/^(Add correct host key in |Offending .* key in |\s*remove with:|\s*ssh-keygen -f )/.test(l)).join("\n");
}

/** The error for an OpenSSH connection to `t` that ended before its script answered (pure). */
export function sshFailure(t: Target, exitCode: number | null, stderr: string, command: readonly string[]): RepoSyncError {
  return (
    connectionFailure(t, exitCode, stderr, command) ??
    new RepoSyncError("unreachable", `SSH connection to ${sshWhere(t)} failed${exitCode === 255 ? "" : ` (ssh exited ${exitCode})`}`, {
      vm: t.vm, command, exitCode: exitCode ?? undefined, stderr: stderr.trim() || undefined,
      hint: "check that the VM is up and reachable; stderr above says what ssh saw",
    })
  );
}

/** The hop of `t` that OpenSSH's stderr speaks of (by its address), with its index. */
function hopNamed(t: Target, stderr: string): { hop: JumpHost; index: number } | undefined {
  const hops = t.jumpHosts ?? [];
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  for (const [index, hop] of hops.entries()) {
    const h = esc(hop.host);
    const forms = [`host ${h} port ${hop.port}\\b`, `\\[${h}\\]:${hop.port}\\b`, ...(hop.port === 22 ? [`(?:for|to) ${h}(?![\\w.:])`] : [])];
    if (forms.some((f) => new RegExp(f).test(stderr))) return { hop, index };
  }
  return undefined;
}

/**
 * A failure on the way to a VM behind jump hosts: a hop that could not be reached, verified or logged
 * into (named by its place in the chain), or the last hop unable to reach the VM (pure).
 */
function hopFailure(t: Target, exitCode: number | null, stderr: string, command: readonly string[]): RepoSyncError | undefined {
  const hops = t.jumpHosts ?? [];
  const named = hopNamed(t, stderr);
  if (named) {
    const { hop, index } = named;
    // A hop is pinned in known_hosts, never by the VM's given key.
    const asTarget: Target = { ...t, host: hop.host, port: hop.port, user: hop.user, keyPath: hop.keyPath, jumpHosts: undefined, hostKey: undefined, hostKeyFile: undefined };
    const e = connectionFailure(asTarget, exitCode, stderr, command);
    if (e) {
      return new RepoSyncError(e.kind, `jump host ${index + 1} of ${hops.length} on the way to ${t.vm} (${sshWhere(asTarget)}): ${e.reason}`, {
        vm: t.vm, command, exitCode: exitCode ?? undefined, stderr: stderr.trim() || undefined, hint: e.hint,
      });
    }
  }
  if (/stdio forwarding failed|open failed: (connect failed|administratively prohibited)/i.test(stderr)) {
    const last = hops[hops.length - 1];
    return new RepoSyncError("unreachable", `the jump host ${sshWhere(last)} could not open a connection to ${sshWhere(t)}`, {
      vm: t.vm, command, exitCode: exitCode ?? undefined, stderr: stderr.trim() || undefined,
      hint: "check that the VM is up and that the jump host may reach it (its sshd's AllowTcpForwarding/PermitOpen, a firewall between them)",
    });
  }
  return undefined;
}

/** sudo on the VM refusing to run repo-sync's commands without a prompt (pure). */
function sudoProblem(t: Target, stderr: string): { kind: "auth" | "config"; reason: string; hint: string } | undefined {
  if (!t.sudo || !/\bsudo: /.test(stderr)) return undefined;
  const rule = `${t.user} ALL=(root) NOPASSWD: /bin/sh, ${t.rsyncPath ?? "/usr/bin/rsync"}`;
  if (/a password is required|a terminal is required/i.test(stderr)) {
    return { kind: "auth", reason: `sudo on ${t.vm} asks ${t.user} for a password (repo-sync runs \`sudo -n\`: it never answers a prompt)`, hint: `allow it without a password in /etc/sudoers.d on the VM: \`${rule}\`, or set sudo: false for ${t.vm}` };
  }
  if (/not in the sudoers file|is not allowed to execute|may not run sudo/i.test(stderr)) {
    return { kind: "auth", reason: `sudo on ${t.vm} does not allow ${t.user} to run repo-sync's commands as root`, hint: `add \`${rule}\` in /etc/sudoers.d on the VM` };
  }
  if (/sudo: (command )?not found|sudo: not found/i.test(stderr)) {
    return { kind: "config", reason: `${t.vm} has no sudo`, hint: `install it on the VM, or set sudo: false and log in as a user who may write ${t.path}` };
  }
  return undefined;
}
