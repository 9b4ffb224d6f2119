/**
 * Exports exactly the tree of one commit into a cached folder: what is pushed is that tree, not
 * whatever else lies in the checkout (untracked `.env`, build output). Each commit is exported once,
 * derived from the last export (hard links plus the paths that changed) when there is one, so that a
 * new commit costs what changed, not the size of the tree.
 *
 * File times are derived from each blob's hash, so that two exports of the same content carry the same
 * mtime: rsync's quick check (size + mtime) then skips unchanged files across commits, and a file that
 * changed gets a different mtime even when its size did not.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { RepoSyncError } from "../errors";
import { runProgram } from "../process/run";

/** mtime base (2001-01-01) and span (about 20 years) for blob-derived file times. */
const MTIME_BASE_S = 978_307_200;
const MTIME_SPAN_S = 20 * 365 * 86_400;
/** Exports kept per repository (trees and history folders together). */
const KEEP_EXPORTS = 8;

/** The deterministic mtime (seconds) for a blob. */
export function blobMtime(blobHash: string): number {
  return MTIME_BASE_S + (parseInt(blobHash.slice(0, 8), 16) % MTIME_SPAN_S);
}

/** Parses `git ls-tree -r -z` output into [mode, type, hash, path] rows (pure). */
export function parseLsTree(z: string): Array<{ mode: string; type: string; hash: string; path: string }> {
  return z
    .split("\0")
    .filter((rec) => rec.length > 0)
    .map((rec) => {
      const tab = rec.indexOf("\t");
      const [mode, type, hash] = rec.slice(0, tab).split(" ");
      return { mode, type, hash, path: rec.slice(tab + 1) };
    });
}

/**
 * The files of a commit that gitleaks reads (regular files: it does not follow symlinks; submodule
 * pointers have no content here), each with its blob hash.
 */
export async function commitFiles(repoPath: string, commit: string): Promise<Array<{ path: string; id: string }>> {
  const listing = await git(repoPath, ["ls-tree", "-r", "-z", "--full-tree", commit], {});
  return parseLsTree(listing)
    .filter((row) => row.type === "blob" && row.mode !== "120000")
    .map((row) => ({ path: row.path, id: row.hash }));
}

/** Where a repository's exports are cached. */
export function exportRoot(cacheDir: string, repoPath: string): string {
  const id = createHash("sha256").update(path.resolve(repoPath)).digest("hex").slice(0, 16);
  return path.join(cacheDir, "exports", id);
}

/**
 * Returns a folder holding exactly `commit`'s tree, exporting it on first use. The folder is complete
 * when it exists (it is renamed into place at the end), so a crashed export is never reused.
 */
export async function exportCommitTree(repoPath: string, commit: string, cacheDir: string): Promise<string> {
  if (!/^[0-9a-f]{40}$/.test(commit)) throw new RepoSyncError("source", `not a commit hash: ${JSON.stringify(commit)}`);
  const root = exportRoot(cacheDir, repoPath);
  const final = path.join(root, commit);
  if (fs.existsSync(final)) {
    touch(final);
    return final;
  }
  fs.mkdirSync(root, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(root, `.tmp-${commit.slice(0, 12)}-`));
  const index = path.join(tmp, ".index");
  const tree = path.join(tmp, "tree");
  try {
    const env = { GIT_INDEX_FILE: index };
    // The commit's full index, read only when git has to check out many paths (or all of them).
    const readIndex = () => git(repoPath, ["read-tree", commit], env);
    const base = latestExport(root);
    if (!(base && (await deriveExport(repoPath, base, commit, tree, readIndex, env)))) {
      await readIndex();
      await git(repoPath, ["checkout-index", "--all", "--force", `--prefix=${tree}/`], env);
      fs.mkdirSync(tree, { recursive: true }); // an empty commit still exports a folder
      const listing = await git(repoPath, ["ls-tree", "-r", "-z", "--full-tree", commit], {});
      for (const row of parseLsTree(listing)) setBlobMtime(tree, row.path, row.mode, row.hash);
    }
    try {
      fs.renameSync(tree, final);
    } catch (err) {
      // Another run exported the same commit meanwhile: its copy is complete and identical.
      if (!fs.existsSync(final)) throw err;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  prune(root, final);
  return final;
}

/** Sets a checked-out blob's deterministic mtime (symlink times are not synced: rsync -J). */
function setBlobMtime(tree: string, rel: string, mode: string, hash: string): void {
  if (mode === "120000" || mode === "160000" || mode === "040000") return;
  const t = blobMtime(hash);
  fs.utimesSync(path.join(tree, rel), t, t);
}

/**
 * True for a tree path git would check out: relative, no empty, `.` or `..` component, no `.git`
 * component in any letter case (pure).
 */
export function isCheckoutSafePath(p: string): boolean {
  if (p === "" || p.startsWith("/")) return false;
  return p.split("/").every((part) => part !== "" && part !== "." && part !== ".." && part.toLowerCase() !== ".git");
}

/** One line of `git diff --raw -z`: modes, blobs, status letter and path. */
export interface RawChange {
  oldMode: string;
  newMode: string;
  newHash: string;
  status: string;
  path: string;
}

/** Parses `git diff --raw -z --no-renames` output (pure). */
export function parseRawDiff(z: string): RawChange[] {
  const parts = z.split("\0");
  const out: RawChange[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const m = /^:(\d{6}) (\d{6}) [0-9a-f]+ ([0-9a-f]+) ([A-Z])\d*$/.exec(parts[i]);
    if (!m) break;
    out.push({ oldMode: m[1], newMode: m[2], newHash: m[3], status: m[4], path: parts[i + 1] });
  }
  return out;
}

/**
 * The most recently used complete export (the base a new export is derived from), or undefined.
 */
function latestExport(root: string): { dir: string; commit: string } | undefined {
  let best: { dir: string; commit: string; t: number } | undefined;
  for (const name of fs.readdirSync(root)) {
    if (!/^[0-9a-f]{40}$/.test(name)) continue;
    const dir = path.join(root, name);
    const t = fs.statSync(dir).mtimeMs;
    if (!best || t > best.t) best = { dir, commit: name, t };
  }
  return best;
}

/** Up to this many changed paths are written blob by blob; more are checked out by git from an index. */
const BLOB_BY_BLOB_MAX = 16;

/**
 * Builds `tree` for `commit` from an earlier export: a hard-linked copy of it (cheap: no file data is
 * copied), then only the paths `git diff --raw` names are removed and written again. Files are never
 * changed in place (they are shared with the base): a changed path is unlinked first and written as
 * a new file. Returns false (nothing usable built) when the base commit is unknown to the repository,
 * so that the caller exports from scratch.
 */
async function deriveExport(repoPath: string, base: { dir: string; commit: string }, commit: string, tree: string, readIndex: () => Promise<unknown>, env: Record<string, string>): Promise<boolean> {
  const diff = await runProgram("git", ["-C", repoPath, "diff", "--raw", "-z", "--no-renames", "--no-abbrev", "--ignore-submodules=none", "--no-ext-diff", base.commit, commit, "--"], { timeoutMs: 600_000 });
  if (diff.exitCode !== 0) return false;
  const changes = parseRawDiff(diff.stdout);
  // git's checkout refuses these; written by hand they would land outside the export (or in a .git).
  const unsafe = changes.find((c) => !isCheckoutSafePath(c.path));
  if (unsafe) {
    throw new RepoSyncError("source", `commit ${commit.slice(0, 12)} holds the path ${JSON.stringify(unsafe.path)}, which git itself refuses to check out; nothing was exported`, { hint: "the commit was crafted or the repository is damaged: run `git fsck` and remove the entry" });
  }
  const cp = await runProgram("cp", ["-al", "--", base.dir, tree], { timeoutMs: 600_000 });
  if (cp.exitCode !== 0) {
    fs.rmSync(tree, { recursive: true, force: true });
    return false;
  }
  for (const c of changes) {
    fs.rmSync(path.join(tree, c.path), { recursive: true, force: true });
    if (c.newMode === "000000") pruneEmptyParents(tree, c.path);
  }
  const added = changes.filter((c) => c.newMode !== "000000");
  if (added.length > 0 && added.length <= BLOB_BY_BLOB_MAX) {
    // A few paths (the usual new commit): reading the commit's whole index would cost more than they do.
    for (const c of added) await writeEntry(repoPath, tree, c);
  } else if (added.length > 0) {
    await readIndex();
    const r = await runProgram("git", ["-C", repoPath, "checkout-index", "--force", "-z", "--stdin", `--prefix=${tree}/`], { env, input: added.map((c) => c.path).join("\0") + "\0", timeoutMs: 600_000 });
    if (r.exitCode !== 0) {
      throw new RepoSyncError("source", `git checkout-index failed while exporting ${commit.slice(0, 12)} from the export of ${base.commit.slice(0, 12)}`, { command: r.command, exitCode: r.exitCode, stderr: r.stderr, hint: "check that the repository is intact (git fsck)" });
    }
    for (const c of added) setBlobMtime(tree, c.path, c.newMode, c.newHash);
  }
  return true;
}

/**
 * Writes one tree entry as `git checkout-index` would: a file (mode 644 or 755 after the umask) with
 * the blob streamed from git, a symlink, or an empty folder for a submodule pointer.
 */
async function writeEntry(repoPath: string, tree: string, c: RawChange): Promise<void> {
  const dest = path.join(tree, c.path);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  if (c.newMode === "160000") {
    fs.mkdirSync(dest);
  } else if (c.newMode === "120000") {
    fs.symlinkSync(await blobBytes(repoPath, c.newHash), dest);
  } else {
    await writeBlobFile(repoPath, c.newHash, dest, c.newMode === "100755");
    setBlobMtime(tree, c.path, c.newMode, c.newHash);
  }
}

/**
 * Writes a blob into a new file (O_EXCL: never through an existing name or link), streamed from git;
 * mode 666 or 777 less the umask, as git checks files out. The parent folder must exist.
 */
export async function writeBlobFile(repoPath: string, blob: string, dest: string, executable: boolean): Promise<void> {
  const fd = fs.openSync(dest, "wx", executable ? 0o777 : 0o666);
  try {
    const r = await runProgram("git", ["-C", repoPath, "cat-file", "blob", blob], { timeoutMs: 600_000, stdoutFd: fd });
    if (r.exitCode !== 0) throw catFileError(dest, r);
  } finally {
    fs.closeSync(fd);
  }
}

/** A (small) blob's bytes, e.g. a tree's `.gitleaksignore` or a symlink's target. */
export async function blobBytes(repoPath: string, blob: string): Promise<Buffer> {
  const r = await runProgram("git", ["-C", repoPath, "cat-file", "blob", blob], { timeoutMs: 60_000 });
  if (r.exitCode !== 0) throw catFileError(blob, r);
  return r.stdoutBytes;
}

function catFileError(what: string, r: { command: readonly string[]; exitCode: number; stderr: string }): RepoSyncError {
  return new RepoSyncError("source", `git cat-file failed while exporting ${what}`, { command: r.command, exitCode: r.exitCode, stderr: r.stderr, hint: "check that the repository is intact (git fsck)" });
}

/** Removes the folders that deleting `rel` left empty (git has no empty folders), up to the top. */
function pruneEmptyParents(tree: string, rel: string): void {
  for (let dir = path.dirname(rel); dir !== "." && dir !== "/"; dir = path.dirname(dir)) {
    try {
      fs.rmdirSync(path.join(tree, dir));
    } catch {
      return; // not empty (or already gone): its parents are not empty either
    }
  }
}

async function git(repoPath: string, args: string[], env: Record<string, string>): Promise<string> {
  const r = await runProgram("git", ["-C", repoPath, ...args], { env, timeoutMs: 600_000 });
  if (r.exitCode !== 0) {
    throw new RepoSyncError("source", `git ${args[0]} failed while exporting the tree of ${repoPath}`, {
      command: r.command,
      exitCode: r.exitCode,
      stderr: r.stderr,
      hint: "check that the repository is intact (git fsck)",
    });
  }
  return r.stdout;
}

function touch(p: string): void {
  const now = new Date();
  fs.utimesSync(p, now, now);
}

/** Keeps the most recently used exports; removes older ones (never `keep`). */
function prune(root: string, keep: string): void {
  const entries = fs
    .readdirSync(root)
    .filter((n) => /^[0-9a-f]{40}(\.history)?$/.test(n)) // trees, and the .git built for a commit
    .map((n) => ({ p: path.join(root, n), t: fs.statSync(path.join(root, n)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const e of entries.slice(KEEP_EXPORTS)) {
    if (e.p !== keep) fs.rmSync(e.p, { recursive: true, force: true });
  }
}
