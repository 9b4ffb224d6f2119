/**
 * Where repo-sync keeps its caches (exports, scan verdicts, probe plans): a private folder of the user
 * who runs it, outside any work tree. Everything in it is trusted later (an export is pushed, a verdict
 * skips a scan), so a folder another user could write, or aim through a link, is refused, never used.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RepoSyncError } from "./errors";

const HINT = "set REPO_SYNC_CACHE to an absolute path of a folder only you can write (it is created, mode 700, if missing)";

/**
 * The cache folder's path (pure but for the environment): `$REPO_SYNC_CACHE` (absolute), else
 * `$XDG_CACHE_HOME/repo-sync` (when absolute: the XDG spec ignores a relative one), else
 * `<home>/.cache/repo-sync`, the home from `$HOME` when absolute, else from the password database.
 */
export function cachePath(env: NodeJS.ProcessEnv = process.env, passwdHome: () => string = () => os.userInfo().homedir): string {
  const given = env.REPO_SYNC_CACHE;
  if (given) {
    if (!path.isAbsolute(given)) throw new RepoSyncError("config", `REPO_SYNC_CACHE=${JSON.stringify(given)} is relative: the cache would move with the current folder (and could land in a tree that is pushed)`, { hint: HINT });
    return path.resolve(given);
  }
  if (env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME)) return path.join(path.resolve(env.XDG_CACHE_HOME), "repo-sync");
  let home = env.HOME && path.isAbsolute(env.HOME) ? env.HOME : "";
  if (!home) {
    try {
      home = passwdHome();
    } catch {
      home = "";
    }
  }
  if (!home || !path.isAbsolute(home) || path.resolve(home) === "/") {
    throw new RepoSyncError("config", `no home folder to keep the cache in (HOME=${JSON.stringify(env.HOME ?? "")})`, { hint: HINT });
  }
  return path.join(path.resolve(home), ".cache", "repo-sync");
}

/** What {@link privateDirProblem} looks at: lstat fields. */
export interface DirStat {
  isDirectory: boolean;
  isSymbolicLink: boolean;
  uid: number;
  mode: number;
}

/**
 * Why an existing cache folder must not be used (pure), or undefined: a link (another user may have
 * put it there, aimed anywhere), not a folder, another user's, or writable by group or others.
 */
export function privateDirProblem(st: DirStat, uid: number): string | undefined {
  if (st.isSymbolicLink) return "is a symbolic link; repo-sync does not follow a link for its cache (whoever made it chooses where repo-sync writes)";
  if (!st.isDirectory) return "exists and is not a folder";
  if (st.uid !== uid) return `belongs to another user (uid ${st.uid}, repo-sync runs as uid ${uid}); what it holds could have been planted`;
  if ((st.mode & 0o022) !== 0) return `is writable by ${st.mode & 0o002 ? "every user" : "its group"} (mode ${(st.mode & 0o777).toString(8)}); what it holds could have been planted: check it, then chmod 700 it`;
  return undefined;
}

/**
 * Why a folder above the cache lets another user swap the cache for another folder (pure), or
 * undefined: owned by someone other than root and us, or writable by all without the sticky bit.
 */
export function ancestorProblem(st: Omit<DirStat, "isSymbolicLink">, uid: number): string | undefined {
  if (!st.isDirectory) return "is not a folder";
  if (st.uid !== 0 && st.uid !== uid) return `belongs to another user (uid ${st.uid}), who could replace the cache inside it`;
  if ((st.mode & 0o002) !== 0 && (st.mode & 0o1000) === 0) return `is writable by every user without the sticky bit (mode ${(st.mode & 0o7777).toString(8)}), so anyone could replace the cache inside it`;
  return undefined;
}

const checked = new Set<string>();

/**
 * Makes sure `dir` is a private folder repo-sync can write: created (mode 700, each missing level one
 * at a time) when missing, refused (a `config` RepoSyncError naming the path and the reason) when it
 * is a link, a file, another user's, writable by others, below a folder another user controls, or
 * cannot be written (read-only, `/proc`). Checked once per process and path. Returns `dir`.
 */
export function ensurePrivateDir(dir: string): string {
  const abs = path.resolve(dir);
  if (checked.has(abs)) return abs;
  const uid = process.getuid?.() ?? -1;
  const fail = (reason: string, cause?: unknown): never => {
    throw new RepoSyncError("config", `cache folder ${abs} ${reason}`, { hint: HINT, cause });
  };
  // Every folder above must be one no other user can rename the cache out of.
  for (let up = path.dirname(abs); ; up = path.dirname(up)) {
    let link: fs.Stats | undefined;
    let st: fs.Stats | undefined;
    try {
      link = fs.lstatSync(up);
      st = fs.statSync(up);
    } catch {
      st = undefined; // created below
    }
    // A link another user owns can be aimed elsewhere at any time.
    if (link?.isSymbolicLink() && link.uid !== 0 && link.uid !== uid) fail(`cannot be kept private: ${up} is a symbolic link of another user (uid ${link.uid})`);
    const why = st && ancestorProblem({ isDirectory: st.isDirectory(), uid: st.uid, mode: st.mode }, uid);
    if (why) fail(`cannot be kept private: ${up} ${why}`);
    if (up === path.dirname(up)) break;
  }
  createMissing(abs, fail);
  const st = fs.lstatSync(abs);
  const why = privateDirProblem({ isDirectory: st.isDirectory(), isSymbolicLink: st.isSymbolicLink(), uid: st.uid, mode: st.mode }, uid);
  if (why) fail(why);
  try {
    // A write, not a permission bit: root passes every access check, yet not on a read-only mount or /proc.
    fs.rmdirSync(fs.mkdtempSync(path.join(abs, ".write-test-")));
  } catch (err) {
    fail(`cannot be written (${(err as NodeJS.ErrnoException).code ?? String(err)})`, err);
  }
  checked.add(abs);
  return abs;
}

/** Creates the missing levels of `abs` top-down, one mkdir each (Node's recursive mkdir spins under /proc). */
function createMissing(abs: string, fail: (reason: string, cause?: unknown) => never): void {
  const missing: string[] = [];
  for (let p = abs; ; p = path.dirname(p)) {
    try {
      fs.lstatSync(p);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") fail(`cannot be looked at (${(err as NodeJS.ErrnoException).code})`, err);
      if (p === path.dirname(p)) break;
      missing.unshift(p);
    }
  }
  for (const p of missing) {
    try {
      fs.mkdirSync(p, { mode: 0o700 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "EEXIST") fail(`cannot be created: mkdir ${p} failed (${code ?? String(err)})`, err);
    }
  }
}

/** The cache folder (see {@link cachePath}), checked and created private by {@link ensurePrivateDir}. */
export function cacheDir(): string {
  return ensurePrivateDir(cachePath());
}

/** True when `p` is a directory (following links, as a path given by the user is); false when it is missing. */
export function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
