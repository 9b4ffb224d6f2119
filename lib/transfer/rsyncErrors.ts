/**
 * Maps a failed rsync/ssh run to an error kind, a reason and a fix (pure). stderr is read first: when
 * ssh dies, rsync reports either 255 or 12 depending on which end noticed first, so the exit code alone
 * does not tell a refused host key from a broken stream.
 */
import type { ErrorKind } from "../errors";

/** What a failure means for the user. */
export interface FailureClass {
  kind: ErrorKind;
  reason: string;
  hint: string;
}

/** rsync's documented exit codes. */
export const RSYNC_EXIT_CODES: Record<number, string> = {
  1: "syntax or usage error",
  2: "protocol incompatibility",
  3: "errors selecting input/output files or directories",
  4: "requested action not supported",
  5: "error starting client-server protocol",
  10: "error in socket I/O",
  11: "error in file I/O",
  12: "error in rsync protocol data stream",
  13: "errors with program diagnostics",
  14: "error in IPC code",
  20: "received SIGUSR1 or SIGINT",
  21: "some error returned by waitpid()",
  22: "error allocating core memory buffers",
  23: "partial transfer due to error",
  24: "partial transfer due to vanished source files",
  25: "the --max-delete limit stopped deletions",
  30: "timeout in data send/receive",
  35: "timeout waiting for daemon connection",
  255: "ssh failed",
};

const RULES: Array<{ test: RegExp; cls: FailureClass }> = [
  {
    test: /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i,
    cls: { kind: "host-key", reason: "the host key changed since it was pinned in known_hosts", hint: "if the VM was reinstalled, verify its new fingerprint, then `ssh-keygen -R HOST -f KNOWN_HOSTS` and add the new key (ssh-keyscan); otherwise treat it as a possible attack" },
  },
  {
    test: /Host key verification failed|No [A-Z0-9-]+ host key is known/i,
    cls: { kind: "host-key", reason: "the host key is not in known_hosts", hint: "add the VM's key to known_hosts after checking its fingerprint (`ssh-keyscan -p PORT HOST >> KNOWN_HOSTS`), or set ssh.accept_new_host_keys: true to trust on first use" },
  },
  {
    test: /Permission denied \(publickey|Too many authentication failures|no mutual signature/i,
    cls: { kind: "auth", reason: "the VM refused our SSH key", hint: "add the public key to ~/.ssh/authorized_keys of the ssh_user on the VM, and check ssh_user and the key path" },
  },
  {
    test: /Connection refused/i,
    cls: { kind: "unreachable", reason: "connection refused (no SSH server listening)", hint: "check that the VM is up and sshd listens on that address and port" },
  },
  {
    test: /Could not resolve hostname|No route to host|Network is unreachable|Name or service not known/i,
    cls: { kind: "unreachable", reason: "the host cannot be reached", hint: "check the host address in vms.<id>.host and the network path to it" },
  },
  {
    test: /timed out|Timeout, server .* not responding|io timeout/i,
    cls: { kind: "timeout", reason: "the connection timed out", hint: "check that the VM answers on that port (a firewall dropping packets looks like this); raise ssh.connect_timeout_s or repository.io_timeout_s for slow links" },
  },
  {
    test: /Read-only file system|No space left on device|Disk quota exceeded|Permission denied|Not a directory|Operation not permitted/i,
    cls: { kind: "target-io", reason: "the target refused a write", hint: "check that the target path is a directory writable by the ssh_user and that its file system has room" },
  },
];

/** Classifies a failed run from its exit code and stderr. */
export function classifyRsyncFailure(exitCode: number, stderr: string): FailureClass {
  for (const r of RULES) if (r.test.test(stderr)) return r.cls;
  const what = RSYNC_EXIT_CODES[exitCode] ?? "unknown error";
  if (exitCode === 25) return { kind: "unsafe-target", reason: `rsync stopped: ${what}`, hint: "the run would delete more files than repository.max_delete allows; check the target path, then raise the limit if the deletions are expected" };
  if (exitCode === 23 || exitCode === 24) return { kind: "partial-transfer", reason: `rsync: ${what}`, hint: "see stderr for the files that failed; the target keeps its previous .sync_rev state" };
  if (exitCode === 30 || exitCode === 35) return { kind: "timeout", reason: `rsync: ${what}`, hint: "the link stalled; raise repository.io_timeout_s for slow links" };
  if (exitCode === 255 || exitCode === 12 || exitCode === 10 || exitCode === 5) {
    return { kind: "transfer", reason: `the SSH connection failed or closed (rsync: ${what})`, hint: "check that the VM is up and reachable; the next run resumes the transfer" };
  }
  return { kind: "transfer", reason: `rsync failed: ${what}`, hint: "see stderr above" };
}
