/**
 * Turns a failed OpenSSH connection (its exit code and stderr) into a RepoSyncError that names the VM,
 * the host, the known_hosts file and the command that fixes it (pure). rsync failures are classified
 * by transfer/rsyncErrors.ts; this is the same knowledge with the target's own paths filled in, for
 * the connection that carries the target session.
 */
import type { Target } from "../config/types";
import { RepoSyncError } from "../errors";
import { classifyRsyncFailure } from "../transfer/rsyncErrors";

/** `user@host:port`, as messages name a target. */
export function sshWhere(t: Target): string {
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

/** The error for an OpenSSH connection to `t` that ended with `exitCode` and `stderr` (pure). */
export function sshFailure(t: Target, exitCode: number | null, stderr: string, command: readonly string[]): RepoSyncError {
  const vm = t.vm;
  const details = { vm, command, exitCode: exitCode ?? undefined, stderr: stderr.trim() || undefined };
  const problem = hostKeyProblem(stderr);
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
  // Before auth: a key that cannot be loaded ends in "Permission denied" too.
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
  const cls = classifyRsyncFailure(exitCode ?? 255, stderr);
  if (cls.kind === "unreachable" || cls.kind === "timeout") return new RepoSyncError(cls.kind, `SSH connection to ${sshWhere(t)} failed: ${cls.reason}`, { ...details, hint: cls.hint });
  return new RepoSyncError("unreachable", `SSH connection to ${sshWhere(t)} failed${exitCode === 255 ? "" : ` (ssh exited ${exitCode})`}`, { ...details, hint: "check that the VM is up and reachable; stderr above says what ssh saw" });
}
