/**
 * Exports exactly the tree of one commit into a cached folder: what is pushed is that tree, not
 * whatever else lies in the checkout (untracked `.env`, build output). Each commit is exported once,
 * derived from the last export (hard links plus the paths that changed) when there is one, so that a
 * new commit costs what changed, not the size of the tree.
 *
 * An export is the commit's blobs as git stores them (see blobWriter.ts): no clean/smudge filter,
 * end-of-line or `ident` conversion, no `export-subst`/`export-ignore`. It is a function of the commit
 * alone, so every route that builds it (from scratch, derived, any number of changed paths) gives the
 * same bytes, and the secret scan reads exactly those bytes. A cached export is checked against its
 * commit before each use, and before a new one is derived from it (exportCheck.ts), and built again
 * when it was changed.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { RepoSyncError } from "../errors";
import { writeTreeEntries } from "./blobWriter";
import { exportProblem, listExport, type ExportEntry } from "./exportCheck";
import { runProgram } from "../process/run";
import { runGit } from "./runGit";
import { displayPath, fsPath, isCheckoutSafePath, listCommitTree, TreePath, TreeRow } from "./treeListing";

/** Exports kept per repository (trees and history folders together). */
const KEEP_EXPORTS = 8;

/** Where a repository's exports are cached. */
export function exportRoot(cacheDir: string, repoPath: string): string {
  const id = createHash("sha256").update(path.resolve(repoPath)).digest("hex").slice(0, 16);
  return path.join(cacheDir, "exports", id);
}

/** Options for {@link exportCommitTree}. */
export interface ExportOptions {
  /**
   * The commit's listing (listCommitTree) when the caller lists it anyway; a promise lets the export's
   * own git and file work start while the listing is checked. Nothing of the commit is written before
   * it resolved.
   */
  rows?: TreeRow[] | Promise<TreeRow[]>;
  /** Told when a cached export had been changed and is built again. */
  warn?: (message: string) => void;
  /** Check cached exports byte for byte (hash every file), not only by name, type, mtime and mode. */
  full?: boolean;
}

/**
 * Returns a folder holding exactly `commit`'s tree, exporting it on first use. The folder is complete
 * when it exists (it is renamed into place at the end), so a crashed export is never reused; a cached
 * one is checked first (exportCheck.ts).
 */
export async function exportCommitTree(repoPath: string, commit: string, cacheDir: string, opts: ExportOptions = {}): Promise<string> {
  if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(commit)) throw new RepoSyncError("source", `not a commit hash: ${JSON.stringify(commit)}`);
  const rowsP = Promise.resolve(opts.rows ?? listCommitTree(repoPath, commit));
  rowsP.catch(() => undefined); // awaited below; a refusal is thrown from there
  const root = exportRoot(cacheDir, repoPath);
  const final = path.join(root, commit);
  const found = lstatOrUndefined(final);
  if (found && !found.isDirectory()) {
    // A file or a link under an export's name was not made by repo-sync: never followed, never used.
    opts.warn?.(`the cached export of ${commit.slice(0, 12)} in ${final} is not a folder: it is built again from git`);
    fs.rmSync(final, { force: true });
  } else if (found && (await usable(final, commit, await rowsP, opts))) {
    touch(final);
    return final;
  }
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  const tmp = fs.mkdtempSync(path.join(root, `.tmp-${commit.slice(0, 12)}-`));
  const tree = path.join(tmp, "tree");
  try {
    await build();
  } catch (err) {
    throw sourceIoError(err, `building the export of ${commit.slice(0, 12)} in ${root}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  prune(root, final);
  return final;

  async function build(): Promise<void> {
    const base = latestExport(root, commit);
    if (!(base && (await deriveExport(repoPath, base, commit, tree, rowsP, opts)))) {
      const rows = await rowsP;
      fs.rmSync(tree, { recursive: true, force: true });
      fs.mkdirSync(tree);
      await writeTreeEntries(repoPath, tree, rows);
    }
    try {
      fs.renameSync(tree, final);
    } catch (err) {
      // Another run exported the same commit meanwhile: its copy is used once it passes the check.
      if (!(fs.existsSync(final) && (await usable(final, commit, await rowsP, opts)))) throw err;
    }
  }
}

/** A file-system failure while building from git, as a named error (a RepoSyncError passes as it is). */
export function sourceIoError(err: unknown, what: string): unknown {
  if (err instanceof RepoSyncError || !(err instanceof Error)) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const hint = code === "ENOSPC" ? "the disk of repo-sync's cache is full: free space there (or point REPO_SYNC_CACHE at another disk)"
    : code === "ENAMETOOLONG" || /name too long/i.test(err.message) ? "a path of the tree is longer than this file system allows: shorten it in the repository"
    : "check that the cache folder is writable and the repository intact (git fsck)";
  const message = err.message.length > 300 ? `${err.message.slice(0, 300)}...` : err.message;
  return new RepoSyncError("source", `${what} failed: ${message}`, { hint, cause: err });
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

/**
 * True when a cached export still holds exactly the commit's tree; otherwise it is removed, with a
 * warning, to be built again.
 */
async function usable(dir: string, commit: string, rows: TreeRow[], opts: ExportOptions, listed?: ExportEntry[]): Promise<boolean> {
  let problem: string | undefined;
  try {
    problem = await exportProblem(dir, rows, opts.full, listed);
  } catch (err) {
    problem = `it cannot be read: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (!problem) return true;
  opts.warn?.(`the cached export of ${commit.slice(0, 12)} in ${dir} was changed (${problem}): it is built again from git`);
  fs.rmSync(dir, { recursive: true, force: true });
  return false;
}

/** One line of `git diff --raw -z`: modes, blobs, status letter and path. */
export interface RawChange {
  oldMode: string;
  newMode: string;
  oldHash: string;
  newHash: string;
  status: string;
  path: TreePath;
}

/** Parses `git diff --raw -z --no-renames` output, decoded one char per byte (pure). */
export function parseRawDiff(z: string): RawChange[] {
  const parts = z.split("\0");
  const out: RawChange[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const m = /^:(\d{6}) (\d{6}) ([0-9a-f]+) ([0-9a-f]+) ([A-Z])\d*$/.exec(parts[i]);
    if (!m) break;
    out.push({ oldMode: m[1], newMode: m[2], oldHash: m[3], newHash: m[4], status: m[5], path: parts[i + 1] });
  }
  return out;
}

/** The most recently used complete export other than `commit`'s (the base to derive from). */
function latestExport(root: string, commit: string): { dir: string; commit: string } | undefined {
  let best: { dir: string; commit: string; t: number } | undefined;
  for (const name of fs.readdirSync(root)) {
    if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(name) || name === commit) continue;
    const dir = path.join(root, name);
    const st = lstatOrUndefined(dir);
    if (!st?.isDirectory()) continue; // never derive from (or through) anything but a real folder
    const t = st.mtimeMs;
    if (!best || t > best.t) best = { dir, commit: name, t };
  }
  return best;
}

/**
 * Builds `tree` for `commit` from an earlier export: a hard-linked copy of it (cheap: no file data is
 * copied), then only the paths `git diff --raw` names are removed and written again. Files are never
 * changed in place (they are shared with the base): a changed path is unlinked first and written as
 * a new file. Returns false (nothing usable built) when the base commit is unknown to the repository
 * or its export was changed, so that the caller exports from scratch.
 */
async function deriveExport(repoPath: string, base: { dir: string; commit: string }, commit: string, tree: string, rowsP: Promise<TreeRow[]>, opts: ExportOptions): Promise<boolean> {
  // Side by side: the diff, the base's listing (to check it), the hard-linked copy (thrown away if the
  // base fails its check) and the commit's own listing. Nothing of the commit is written before all are in.
  const [diffR, listedR, copiedR, rowsR] = await Promise.allSettled([
    runGit(repoPath, ["diff", "--raw", "-z", "--no-renames", "--no-abbrev", "--ignore-submodules=none", "--no-ext-diff", base.commit, commit, "--"]),
    listExport(base.dir),
    copyLinked(base.dir, tree),
    rowsP,
  ]);
  if (rowsR.status === "rejected") throw rowsR.reason;
  const rows = rowsR.value;
  if (diffR.status === "rejected" || diffR.value.exitCode !== 0 || copiedR.status === "rejected" || !copiedR.value || listedR.status === "rejected") {
    fs.rmSync(tree, { recursive: true, force: true });
    return false;
  }
  const changes = parseRawDiff(diffR.value.stdoutBytes.toString("latin1"));
  // The listing was checked whole; a diff path outside it would be a bug, and is refused as one.
  const unsafe = changes.find((c) => !isCheckoutSafePath(c.path));
  if (unsafe) throw new RepoSyncError("source", `git diff named the path ${JSON.stringify(displayPath(unsafe.path))} between ${base.commit.slice(0, 12)} and ${commit.slice(0, 12)}; nothing was exported`, { hint: "run `git fsck`; please report this to repo-sync" });
  // The base is checked (its listing is this commit's, with the diff's paths as they were there):
  // whatever was planted in it would otherwise be carried into every later export.
  if (!(await usable(base.dir, base.commit, baseRows(rows, changes), opts, listedR.value))) {
    fs.rmSync(tree, { recursive: true, force: true });
    return false;
  }
  for (const c of changes) {
    fs.rmSync(fsPath(tree, c.path), { recursive: true, force: true });
    if (c.newMode === "000000") pruneEmptyParents(tree, c.path);
  }
  const byPath = new Map<TreePath, TreeRow>(rows.map((r) => [r.path, r]));
  const added: TreeRow[] = [];
  for (const c of changes) {
    if (c.newMode === "000000") continue;
    const row = byPath.get(c.path);
    if (!row || row.hash !== c.newHash) throw new RepoSyncError("source", `git diff and git ls-tree disagree on ${JSON.stringify(displayPath(c.path))} in ${commit.slice(0, 12)}; nothing was exported`, { hint: "run `git fsck`" });
    added.push(row);
  }
  await writeTreeEntries(repoPath, tree, added);
  return true;
}

/** The base commit's listing from the new one and the diff between them (pure). */
export function baseRows(rows: TreeRow[], changes: RawChange[]): TreeRow[] {
  const changed = new Set(changes.map((c) => c.path));
  const out = rows.filter((r) => !changed.has(r.path));
  for (const c of changes) if (c.oldMode !== "000000") out.push({ mode: c.oldMode, hash: c.oldHash, path: c.path });
  return out;
}

/** `cp -al`: a copy of the folder whose files are hard links (no data copied); false on failure. */
async function copyLinked(from: string, to: string): Promise<boolean> {
  const cp = await runProgram("cp", ["-al", "--", from, to], { timeoutMs: 600_000 });
  if (cp.exitCode === 0) return true;
  fs.rmSync(to, { recursive: true, force: true });
  return false;
}

/** Removes the folders that deleting `rel` left empty (git has no empty folders), up to the top. */
function pruneEmptyParents(tree: string, rel: TreePath): void {
  for (let i = rel.lastIndexOf("/"); i > 0; i = rel.lastIndexOf("/", i - 1)) {
    try {
      fs.rmdirSync(fsPath(tree, rel.slice(0, i)));
    } catch {
      return; // not empty (or already gone): its parents are not empty either
    }
  }
}

function touch(p: string): void {
  const now = new Date();
  fs.utimesSync(p, now, now);
}

/** An export used this recently may still be pushed by another run: not pruned yet. */
const IN_USE_MS = 15 * 60_000;

/**
 * Keeps the most recently used exports; removes older ones (never `keep`, nor one another run used in
 * the last {@link IN_USE_MS}: it may be in the middle of its transfer).
 */
function prune(root: string, keep: string): void {
  const entries = fs
    .readdirSync(root)
    .filter((n) => /^([0-9a-f]{40}|[0-9a-f]{64})(\.history)?$/.test(n)) // trees, and the .git built for a commit
    .map((n) => ({ p: path.join(root, n), t: lstatOrUndefined(path.join(root, n))?.mtimeMs ?? 0 }))
    .sort((a, b) => b.t - a.t);
  const now = Date.now();
  for (const e of entries.slice(KEEP_EXPORTS)) {
    if (e.p !== keep && now - e.t > IN_USE_MS) fs.rmSync(e.p, { recursive: true, force: true });
  }
}
