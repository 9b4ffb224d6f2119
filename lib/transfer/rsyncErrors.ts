/**
 * Maps a failed rsync run to an error kind, a reason and a fix (pure). stderr is read first: when ssh
 * dies, rsync reports either 255 or 12 depending on which end noticed first, so the exit code alone
 * does not tell a stalled link from a broken stream.
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

/**
 * Transfer-level failures. A failed SSH connection (host key, key, refused, unreachable) is read
 * first, with the target's own names, by remote/sshErrors.ts.
 */
const RULES: Array<{ test: RegExp; cls: FailureClass }> = [
  {
    test: /io timeout|Timeout, server .* not responding|timed out/i,
    cls: { kind: "timeout", reason: "the connection timed out", hint: "the link stalled; raise repository.io_timeout_s for slow links (or ssh.connect_timeout_s)" },
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

/** The owner or group that rsync's receiver could not map (`Unknown --usermap name on receiver: x`). */
export function unknownOwner(stderr: string): { kind: "owner" | "group"; name: string } | undefined {
  const m = /Unknown --(usermap|groupmap) name on receiver: (\S+)/.exec(stderr);
  return m ? { kind: m[1] === "usermap" ? "owner" : "group", name: m[2] } : undefined;
}
