/**
 * Pure checks for values that end up in argv or in a remote command: target paths (which receive
 * `rsync --delete`), hosts, users, branch names and exclude patterns. Each returns undefined when the
 * value is acceptable, otherwise the reason it is refused.
 */

/** Directories whose contents a `--delete` must never be aimed at, even though they are absolute. */
const PROTECTED_DIRS = new Set([
  "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/media", "/mnt", "/opt",
  "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/snap",
  "/usr/bin", "/usr/lib", "/usr/local", "/usr/sbin", "/usr/share", "/usr/src", "/usr/local/bin",
  "/var/lib", "/var/log", "/var/tmp", "/var/www", "/var/cache", "/var/backups", "/var/spool", "/var/mail",
]);

/**
 * Why a remote target path is unsafe for `rsync --delete`, or undefined when it is fine. A safe path is
 * absolute and normal (no `.`/`..`/empty segments), at least two levels deep, not a system directory
 * or a home directory itself, and free of characters a shell would interpret.
 */
export function unsafeTargetPathReason(p: string): string | undefined {
  if (p.length === 0) return "is empty";
  if (p.length > 1024) return "is longer than 1024 characters";
  if (/[\x00-\x1f\x7f]/.test(p)) return "contains control characters";
  if (/[$`\\'"]/.test(p)) return "contains a quote, backslash, `$` or backtick; use a plain directory name";
  // rsync expands wildcards in remote paths itself (even with --protect-args): `app[1]` would reach app1.
  if (/[*?[\]{}]/.test(p)) return "contains a wildcard character (* ? [ ] { }), which rsync would expand on the VM; use a plain directory name";
  if (p.startsWith("~")) return "starts with `~`; write the absolute path (targets run no shell expansion)";
  if (!p.startsWith("/")) return "is relative; write an absolute path such as /home/thadmin/th_timmy";
  if (PROTECTED_DIRS.has(p)) return `is the system directory ${p}; rsync --delete there would wipe it`;
  const segments = p.split("/").slice(1);
  if (segments[segments.length - 1] === "") return "ends with `/`; write it without the trailing slash";
  if (segments.some((s) => s === "")) return "contains an empty segment (`//`)";
  if (segments.some((s) => s === "." || s === "..")) return "contains `.` or `..` segments";
  if (segments.some((s) => s.startsWith("-"))) return "has a segment starting with `-`";
  if (segments.length < 2) return "is a top-level directory; use a dedicated directory at least two levels deep";
  if (segments.length === 2 && segments[0] === "home") return `is the home directory ${p} itself; use a subdirectory such as ${p}/th_timmy`;
  return undefined;
}

/**
 * Why a local file named to OpenSSH (a private key, a known_hosts file) cannot be passed literally, or
 * undefined. ssh expands `%` tokens (escaped as `%%`) and `${VAR}` in these paths and splits them at
 * spaces unless double-quoted, so quotes, backslashes and `${` cannot be carried through.
 */
export function invalidSshFilePathReason(p: string): string | undefined {
  if (p.length === 0) return "is empty";
  if (/[\x00-\x1f\x7f]/.test(p)) return "contains control characters";
  if (/["'\\]/.test(p)) return "contains a quote or backslash, which OpenSSH's option parser would take apart; move the file to a plain path";
  if (p.includes("${")) return "contains `${`, which OpenSSH expands as an environment variable; move the file to a plain path";
  return undefined;
}

/** Why a host is not acceptable (hostname, IPv4 or IPv6 literal), or undefined. */
export function invalidHostReason(host: string): string | undefined {
  if (host.length === 0) return "is empty";
  if (host.startsWith("-")) return "starts with `-` and would be read as an option";
  if (/^[A-Za-z0-9.-]+$/.test(host) && host.length <= 253) return undefined;
  if (/^[0-9A-Fa-f:.]+$/.test(host) && host.includes(":")) return undefined;
  return "is not a hostname or IP address";
}

/** Why an rsync `--chmod` value is not acceptable (`D2775,F664`, `Dg+s,ug+w,Fo-w`), or undefined. */
export function invalidChmodReason(c: string): string | undefined {
  const item = /^[DF]?(?:[0-7]{3,4}|[ugoa]*[-+=][rwxXst]*)$/;
  return c.length > 0 && c.length <= 200 && c.split(",").every((i) => item.test(i)) ? undefined : "is not an rsync --chmod value (comma-separated items such as D2775,F664 or Dg+s,ug+w,Fo-w)";
}

/** Why a remote rsync program path is not acceptable (an absolute path, plain characters), or undefined. */
export function invalidRsyncPathReason(p: string): string | undefined {
  return /^\/[A-Za-z0-9._/+-]{1,200}$/.test(p) && !p.includes("..") ? undefined : "is not an absolute path of plain characters (letters, digits, `._/+-`)";
}

/** Why a login user name is not acceptable, or undefined. */
export function invalidUserReason(user: string): string | undefined {
  if (/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(user)) return undefined;
  return "is not a valid login name (letters, digits, `_`, `.`, `-`; not starting with `-`)";
}

/** Why a branch name is not acceptable (the rules of git check-ref-format --branch), or undefined. */
export function invalidBranchReason(b: string): string | undefined {
  if (b.length === 0) return "is empty";
  if (b.startsWith("-")) return "starts with `-` and would be read as an option";
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(b)) return "contains a space, control character or one of ~ ^ : ? * [ \\";
  if (b.includes("..") || b.includes("@{") || b.includes("//")) return "contains `..`, `@{` or `//`";
  if (b.startsWith("/") || b.endsWith("/") || b.endsWith(".") || b.endsWith(".lock") || b === "@") {
    return "is not a valid git branch name";
  }
  if (b.split("/").some((s) => s.startsWith("."))) return "has a component starting with `.`";
  return undefined;
}

/** Why an rsync exclude pattern is not acceptable, or undefined. */
export function invalidExcludeReason(pattern: string): string | undefined {
  if (pattern.length === 0) return "is empty";
  if (/[\r\n\x00]/.test(pattern)) return "contains a line break or NUL";
  if (/^[-+!]/.test(pattern)) return "starts with `-`, `+` or `!`, which rsync or a reader would take as an option or filter rule";
  return undefined;
}
