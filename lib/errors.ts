/**
 * One error type for everything repo-sync reports, with a `kind` that callers branch on. Every
 * message says what failed, where (VM, path), the command, why, and how to fix it. Keys and secrets
 * never appear: callers pass redacted text only.
 */

/** What went wrong, as far as a caller needs to act differently. */
export type ErrorKind =
  | "config" // the configuration or an input is invalid; nothing was touched
  | "source" // the source repo cannot give a commit/tree
  | "secrets" // the secret scan found something; nothing was pushed
  | "scan" // the scanner itself failed (missing binary, bad rules)
  | "unreachable" // TCP connect refused or timed out
  | "host-key" // the host key is unknown or changed
  | "auth" // the server refused our key
  | "timeout" // no progress within the allowed time
  | "locked" // another run holds the target's lock
  | "unsafe-target" // the target directory is not one repo-sync may --delete into
  | "target-io" // the target refused a write (permission, read-only, not a directory)
  | "partial-transfer" // rsync could not transfer everything
  | "health" // the VM's health check did not pass (rollouts)
  | "transfer"; // any other rsync/ssh failure

/** Details kept on an error for callers and logs. */
export interface ErrorDetails {
  vm?: string;
  /** argv of the command that failed (already redacted). */
  command?: readonly string[];
  exitCode?: number;
  /** The failing command's stderr (already redacted, trimmed). */
  stderr?: string;
  /** How to fix it, in one or two sentences. */
  hint?: string;
  cause?: unknown;
}

/** Marks every RepoSyncError, also one made by another copy of this module (the provider loads its own). */
const BRAND = Symbol.for("repo-sync.RepoSyncError");

/** The base error. `message` is complete on its own (reason, VM, command, stderr, hint). */
export class RepoSyncError extends Error {
  readonly [BRAND] = true;
  readonly kind: ErrorKind;
  readonly vm?: string;
  readonly command?: readonly string[];
  readonly exitCode?: number;
  readonly stderr?: string;
  readonly hint?: string;
  /** The short reason, without the command/stderr/hint lines. */
  readonly reason: string;

  constructor(kind: ErrorKind, reason: string, details: ErrorDetails = {}) {
    super(formatMessage(reason, details), details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name; // subclasses keep theirs (ConfigError, SecretsFoundError)
    this.kind = kind;
    this.reason = reason;
    this.vm = details.vm;
    this.command = details.command;
    this.exitCode = details.exitCode;
    this.stderr = details.stderr;
    this.hint = details.hint;
  }
}

/** Control characters but line feed and tab (C0, DEL, C1), and the bidi controls that reorder what is shown. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Builds the full message: `<vm>: <reason>` then command, exit code, stderr and hint lines. Control
 * characters are shown as `\u001b`-style escapes: a VM's stderr (a hook's, a check's, a hostile
 * server's) or a file name from it must not drive the terminal that shows the message.
 */
export function formatMessage(reason: string, d: ErrorDetails): string {
  const lines = [d.vm ? `${d.vm}: ${reason}` : reason];
  if (d.command) lines.push(`  command: ${d.command.map(quoteForDisplay).join(" ")}`);
  if (d.exitCode !== undefined) lines.push(`  exit code: ${d.exitCode}`);
  if (d.stderr) lines.push(`  stderr: ${d.stderr.trim().split("\n").slice(-8).join("\n          ")}`);
  if (d.hint) lines.push(`  fix: ${d.hint}`);
  return lines.join("\n").replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Quotes one argv element for a message, so that a reader can paste the command. */
export function quoteForDisplay(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** True for a RepoSyncError or a subclass (also across module copies, where instanceof fails). */
export function isRepoSyncError(err: unknown): err is RepoSyncError {
  return err instanceof RepoSyncError || (err instanceof Error && (err as Error & { [BRAND]?: unknown })[BRAND] === true);
}

/** The message of anything thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
